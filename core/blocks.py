"""What the blocks of a method share: the batch they see, the counted work they may do, the
typed fields they report.

A method (core.methods) is a direction rule (core.directions) and a step-size rule
(core.stepsizes). Each is data plus pure functions over a batch of B starts:

    state = rule.init(n, B, options)                         # explicit arrays, leading axis B
    proposal = rule.propose(at, state, work)                 # direction rules
    step = rule.size(at, direction, state, work)             # step-size rules

``at`` holds the starts still running (those that stopped are gone); the state given to a rule
is theirs, row for row, and the state it returns replaces it. What a step decided is
returned as typed fields (one value per active start), never as text: the trace keeps them as
columns, and a method's ``describe`` turns a row of them into the sentence a person reads.
A start that cannot go on is named in ``stops`` (local row -> status and message); the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .options import Options

EPS = float(np.finfo(float).eps)
State = dict[str, np.ndarray]
COUNT_NAMES = ("nfev", "ngev", "nhev", "nsolve")
Stops = dict[int, tuple[str, str]]  # local row -> (status, message)


@dataclass(frozen=True)
class Field:
    """A typed column a rule reports per step: ``kind`` float (nan when not applicable), int
    (-1 when not applicable) or bool; ``labels`` name the values of a categorical int."""

    kind: type
    description: str
    labels: tuple[str, ...] = ()

    @property
    def fill(self) -> Any:
        return {float: np.nan, int: -1, bool: False}[self.kind]

    def empty(self, size: int) -> np.ndarray:
        return np.full(size, self.fill, dtype=self.kind)


@dataclass
class Batch:
    """The iterates of the starts a rule works on at step k: x (b, n), f (b,), g (b, n), and H
    (b, n, n) when the method reads it."""

    x: np.ndarray
    f: np.ndarray
    g: np.ndarray
    hessian: np.ndarray | None
    k: int

    @property
    def size(self) -> int:
        return self.x.shape[0]

    def subset(self, keep: np.ndarray) -> "Batch":
        return Batch(self.x[keep], self.f[keep], self.g[keep], None if self.hessian is None else self.hessian[keep], self.k)


@dataclass
class Counts:
    """Work done per start, like scipy's nfev/njev/nhev (arrays over the starts still running)."""

    nfev: np.ndarray
    ngev: np.ndarray
    nhev: np.ndarray
    nsolve: np.ndarray  # linear solves and eigendecompositions of an n x n matrix

    @classmethod
    def zeros(cls, size: int) -> "Counts":
        return cls(*(np.zeros(size, dtype=np.int64) for _ in range(4)))

    def table(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), 4): the counts of those rows, columns in COUNT_NAMES order."""
        return np.stack([self.nfev[rows], self.ngev[rows], self.nhev[rows], self.nsolve[rows]], axis=1)

    def subset(self, keep: np.ndarray) -> "Counts":
        return Counts(self.nfev[keep], self.ngev[keep], self.nhev[keep], self.nsolve[keep])


@dataclass
class Work:
    """Counted access to the problem for the starts a rule works on, and their options.

    Rules evaluate through here (``values``, ``gradients``, ``hessians`` of the rows given, in
    the rule's own numbering), so that every evaluation is counted for the start it was made
    for. ``rows`` maps the rule's numbering to the run loop's (None: the same)."""

    problem: Any  # core.problem.Problem (not imported: no cycle)
    options: Options
    counts: Counts
    rows: np.ndarray | None = None
    per_start: dict[str, np.ndarray] = field(default_factory=dict)  # option values that differ per start

    def subset(self, keep: np.ndarray) -> "Work":
        rows = keep if self.rows is None else self.rows[keep]
        return Work(self.problem, self.options, self.counts, rows, self.per_start)

    def _rows(self, local: Any) -> Any:
        return local if self.rows is None else self.rows[local]

    def option(self, name: str) -> Any:
        """The option's value for the rule's rows: a float, or an array when it differs per
        start (a learning-rate sweep)."""
        if name in self.per_start:
            values = self.per_start[name]
            return values if self.rows is None else values[self.rows]
        return getattr(self.options, name)

    def values(self, local: Any, X: np.ndarray) -> np.ndarray:
        self.counts.nfev[self._rows(local)] += 1
        return self.problem.batch_values(X)

    def gradients(self, local: Any, X: np.ndarray) -> np.ndarray:
        self.counts.ngev[self._rows(local)] += 1
        return self.problem.batch_gradients(X)

    def hessians(self, local: Any, X: np.ndarray) -> np.ndarray:
        self.counts.nhev[self._rows(local)] += 1
        return self.problem.batch_hessians(X)

    def solved(self, local: Any) -> None:
        self.counts.nsolve[self._rows(local)] += 1


@dataclass
class Proposal:
    """A direction rule's answer: d (b, n), its fields, the starts it stops, its new state."""

    direction: np.ndarray
    info: dict[str, np.ndarray]
    stops: Stops
    state: State


@dataclass
class StepSize:
    """A step-size rule's answer: eta (b,) and the direction actually taken (a trust region
    replaces it), fields, stops, new state, and f / g at x + eta d where the rule already
    evaluated them (None when it evaluated none, nan rows where it did not: the run loop
    evaluates what is missing)."""

    eta: np.ndarray
    direction: np.ndarray
    info: dict[str, np.ndarray]
    stops: Stops
    state: State
    f_next: np.ndarray | None = None
    g_next: np.ndarray | None = None


class Rule:
    """Base of direction and step-size rules: declarations, and no state by default."""

    needs_hessian: bool = False
    memoryless: bool = True  # the step depends on x alone: once x + step == x, x never moves again
    # How the rule's own arithmetic per step grows with n: 1 for vectors, 2 for an n x n matrix
    # times a vector, 3 for a solve or an eigendecomposition (evaluating H is n^2 on its own).
    work_power: int = 1
    options: tuple[str, ...] = ()
    fields: dict[str, Field] = {}

    # What a picture of one step can show of this rule (core.line): "search" (trials along d,
    # replayed), "model" (the quadratic model's minimum along d), or "" (nothing along a line).
    line_view: str = ""

    # Beside fixed-step GD's factors 1 - eta*lambda per eigen-direction (the learning-rate page):
    # what a direction rule's step does beyond them ('' for -g itself, whose steps they describe).
    beyond_gd_factors: str = ""

    def init(self, n: int, size: int, options: Options) -> State:
        return {}

    def state_at(self, trace: Any, k: int, options: Options) -> State:
        """The rule's state (one start) at step k of a trace, to replay that step: the initial
        state for rules whose step depends on x alone; a rule with memory rebuilds it here."""
        return self.init(trace.x.shape[1], 1, options)

    def describe(self, info: dict[str, Any]) -> str:
        """The sentence for one step's fields ('' when there is nothing to say)."""
        return ""


def select(state: State, keep: np.ndarray) -> State:
    return {name: values[keep] for name, values in state.items()}

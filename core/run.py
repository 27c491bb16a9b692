"""The one run loop and the one trace every table and chart reads."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import fairshare
from .blocks import COUNT_NAMES, Batch, Counts, Work, select
from .linalg import MAX_CONDITION, signs
from .methods import get_method
from .options import Options, OptionsError
from .problem import EvaluationError, Problem

STATUSES: dict[str, str] = {
    "converged": "converged",
    "max_iter": "stopped at max_iter",
    "diverged": "diverged",
    "singular_hessian": "singular Hessian",
    "negative_curvature": "g'Hg <= 0",
    "domain_error": "outside the domain",
    "line_search_failed": "line search failed",
    "precision_limit": "stopped at the precision limit",
    "stalled": "stalled: the step is below float resolution",
    "time_limit": "stopped by the time budget",
}
# "flat": ||g|| <= tol where f is merely flat (an asymptote), with no stationary point in reach.
STATIONARY_KINDS = ("minimum", "maximum", "saddle", "degenerate", "flat")

# f has "blown up" once it moved this many times its starting scale away from f(x_0): far
# beyond anything a converging run does, reached within a few hundred steps by a diverging one.
BLOW_UP_FACTOR = 1e12
MAX_NORM_X = 1e100
STOP_CHECK_EVERY = 16  # steps between two calls of a run's should_stop (it may cost a lock)
STALL_STEPS = 100  # a method with state (momentum, BFGS) is stalled after this many steps with x unchanged
FLAT_PROBE_STEPS = 3  # Newton steps taken from the end point to tell a degenerate point from a flat region
FLAT_SHRINK = 0.8  # ... they must shrink at least this much per step to be heading for a point


class RunCancelled(Exception):
    """The caller's should_stop() said to give up (e.g. the visitor left): no trace is made, so
    nothing partial can be cached."""


@dataclass(frozen=True, eq=False)
class Trace:
    """One row per iterate k = 0..K, stored column-wise.

    Row k holds x_k, f(x_k), g(x_k) and the step taken *from* x_k (direction d_k, step size
    eta_k, dx_k = eta_k d_k); the last row has no step (nan). ``iterations`` = K = steps taken.
    """

    method: str
    variables: tuple[str, ...]
    options: dict[str, Any]
    x: np.ndarray  # (K+1, n)
    f: np.ndarray  # (K+1,)
    grad: np.ndarray  # (K+1, n)
    direction: np.ndarray  # (K+1, n)
    step_size: np.ndarray  # (K+1,)
    info: dict[str, np.ndarray]  # the method's typed fields per step (core.methods.Method.fields), (K+1,) each
    status: str
    message: str
    stationary_point: str | None  # classification of x_K when converged
    seconds: float = math.nan  # wall time of the run (of the whole batch it ran in)
    counts: dict[str, int] = field(default_factory=dict)  # nfev, ngev, nhev, nsolve of this start
    per_start: dict[str, float] = field(default_factory=dict)  # options that were this start's own (a sweep's
    # lr); ``options`` holds them too

    @cached_property
    def decision(self) -> tuple[str, ...]:
        """What each step decided, in words (derived from ``info``); '' on the last row."""
        method = get_method(self.method)
        names = list(self.info)
        rows = zip(*(self.info[name].tolist() for name in names)) if names else ((),) * self.iterations
        words = [method.describe(dict(zip(names, row))) for _, row in zip(range(self.iterations), rows)]
        return (*words, "")

    @property
    def iterations(self) -> int:
        return len(self.f) - 1

    @property
    @np.errstate(over="ignore")  # a huge gradient's norm is inf, not a warning
    def grad_norm(self) -> np.ndarray:
        return np.linalg.norm(self.grad, axis=1)

    @property
    @np.errstate(over="ignore")
    def dx(self) -> np.ndarray:
        return self.step_size[:, None] * self.direction

    @property
    @np.errstate(over="ignore")
    def dx_norm(self) -> np.ndarray:
        return np.linalg.norm(self.dx, axis=1)

    @property
    def angle_deg(self) -> np.ndarray:
        """Angle between the step dx_k and the steepest-descent direction -g_k, in degrees."""
        # Kahan's form 2 atan2(|a^ - b^|, |a^ + b^|) stays exact near 0 deg, where arccos of a
        # cosine rounds 1 - 1e-16 into a spurious 1e-6 deg.
        with np.errstate(all="ignore"):
            a = self.dx / self.dx_norm[:, None]
            b = -self.grad / self.grad_norm[:, None]
            return np.degrees(2 * np.arctan2(np.linalg.norm(a - b, axis=1), np.linalg.norm(a + b, axis=1)))

    @property
    def final_x(self) -> np.ndarray:
        return self.x[-1]

    def columns(self) -> dict[str, np.ndarray | list]:
        """The iteration table, tidy: one entry per row k. Variable names label the x columns
        (prefixed 'x:' when one collides with a fixed column name)."""
        fixed = ["k", "f", "grad_norm", "step_size", "dx_norm", "angle_deg", *self.info, "decision"]
        table: dict[str, Any] = {"k": np.arange(len(self.f))}
        for j, name in enumerate(self.variables):
            table[f"x:{name}" if name in fixed else name] = self.x[:, j]
        table.update(f=self.f, grad_norm=self.grad_norm, step_size=self.step_size,
                     dx_norm=self.dx_norm, angle_deg=self.angle_deg)
        table.update({name: self._info_column(name) for name in self.info})
        table["decision"] = list(self.decision)
        return table

    def _info_column(self, name: str) -> list:
        """A typed field as table cells: None where it does not apply (the last row, -1, nan)."""
        values = self.info[name]
        if values.dtype == bool:
            return [bool(v) for v in values[:-1]] + [None]
        if values.dtype.kind == "i":
            return [int(v) if v >= 0 else None for v in values]
        return [float(v) if math.isfinite(v) else None for v in values]

    def records(self) -> list[dict[str, Any]]:
        """Rows as JSON-ready dicts (nan -> None)."""
        def clean(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        grad_norm, dx_norm, angle = self.grad_norm, self.dx_norm, self.angle_deg
        info = {name: self._info_column(name) for name in self.info}
        return [
            {"k": k, "x": [clean(v) for v in self.x[k]], "f": clean(self.f[k]),
             "grad": [clean(v) for v in self.grad[k]], "grad_norm": clean(grad_norm[k]),
             "direction": [clean(v) for v in self.direction[k]] if k < self.iterations else None,
             "step_size": clean(self.step_size[k]), "dx_norm": clean(dx_norm[k]),
             "angle_deg": clean(angle[k]), **{name: cells[k] for name, cells in info.items()},
             "decision": self.decision[k]}
            for k in range(len(self.f))
        ]


def classify_stationary_point(hessian: np.ndarray) -> str:
    """minimum / maximum / saddle from the signs of H's eigenvalues; 'degenerate' when one is
    zero to working precision (core.linalg: the conditioning beyond which Newton's solve is
    refused) and the others do not already make it a saddle."""
    positive, negative = signs(np.linalg.eigvalsh(hessian))
    if positive.any() and negative.any():
        return "saddle"
    if positive.all():
        return "minimum"
    if negative.all():
        return "maximum"
    return "degenerate"


# A minimum/maximum is only called so when the Newton step there is this small (relative to
# max(1, ||x||)): with ||g|| below tol but a Newton step of size ~1 (exp(x) far to the left, or
# the degenerate minimum of x^4) f is merely flat, not at a clear extremum.
FLAT_NEWTON_STEP = 1e-4


def _newton_steps(problem: Problem, x: np.ndarray, g: np.ndarray, hessian: np.ndarray) -> list[float]:
    """Lengths of up to FLAT_PROBE_STEPS pure Newton steps from x (fewer where one fails)."""
    lengths = []
    for _ in range(FLAT_PROBE_STEPS):
        try:
            step = np.linalg.solve(hessian, -g)
            lengths.append(float(np.linalg.norm(step)))
            x = x + step
            g, hessian = problem.gradient(x), problem.hessian(x)
        except (EvaluationError, np.linalg.LinAlgError):
            break
    return lengths


def _classify_end(problem: Problem, x: np.ndarray, g: np.ndarray) -> tuple[str | None, str]:
    """Kind of stationary point at the last iterate, and the remark for the message.

    Where H says minimum or maximum but the Newton step is not small (the curvature is as small as
    the gradient), f is flat here. Newton steps from x then tell which flat: steps that shrink
    head for a point where H is singular (x^4 near 0: a degenerate minimum); steps that do not
    shrink head nowhere (exp(x) far to the left: steps of length 1 for ever): a flat region.
    """
    try:
        hessian = problem.hessian(x)
        kind = classify_stationary_point(hessian)
        if kind in ("minimum", "maximum"):
            newton_step = float(np.linalg.norm(np.linalg.solve(hessian, g)))
            if newton_step > FLAT_NEWTON_STEP * max(1.0, float(np.linalg.norm(x))):
                lengths = _newton_steps(problem, x, g, hessian)
                shown = ", ".join(f"{v:.2g}" for v in lengths)
                if len(lengths) < 2 or lengths[-1] > FLAT_SHRINK ** (len(lengths) - 1) * lengths[0]:
                    return "flat", (f"; a flat region, not a {kind}: g and H both nearly vanish here and Newton "
                                    f"steps from x do not shrink (lengths {shown}): f keeps changing slowly "
                                    "with no stationary point within reach")
                return "degenerate", (f"; degenerate: the curvature is as small as the gradient here (Newton "
                                      f"steps {shown} shrink towards a point where H is singular): f is flat "
                                      f"rather than at a clear {kind}")
    except (EvaluationError, np.linalg.LinAlgError):
        return None, ""
    if kind == "degenerate":
        return kind, "; degenerate stationary point (H singular there)"
    return kind, f"; a {kind} of f"


def _classify_ends(problem: Problem, X: np.ndarray, G: np.ndarray) -> list[tuple[str | None, str]]:
    """_classify_end for many end points at once: H, its eigenvalues and the Newton step of every
    row in one batched call each; the rows that need more (H not finite, a minimum or maximum with
    a Newton step that is not small: the flat-region probes) go through _classify_end."""
    out: list[tuple[str | None, str] | None] = [None] * len(X)
    if not len(X):
        return []
    with np.errstate(all="ignore"):
        hessians = problem.hessians(X)
    finite = np.isfinite(hessians).all(axis=(1, 2))
    rows = np.flatnonzero(finite)
    if rows.size:
        eigenvalues = np.linalg.eigvalsh(hessians[rows])
        magnitudes = np.abs(eigenvalues)
        top = magnitudes.max(axis=1, keepdims=True)
        keep = (magnitudes > 0) & (magnitudes * MAX_CONDITION >= top)  # core.linalg.significant, row-wise
        positive, negative = keep & (eigenvalues > 0), keep & (eigenvalues < 0)
        saddle = positive.any(axis=1) & negative.any(axis=1)
        all_positive = positive.all(axis=1)
        extreme_rows = ~saddle & (all_positive | negative.all(axis=1))
        for row in rows[saddle]:
            out[row] = ("saddle", "; a saddle of f")
        for row in rows[~saddle & ~extreme_rows]:
            out[row] = ("degenerate", "; degenerate stationary point (H singular there)")
        extreme = np.flatnonzero(extreme_rows)
        if extreme.size:
            steps = np.linalg.solve(hessians[rows[extreme]], G[rows[extreme]][..., None])[..., 0]
            lengths = np.sqrt(np.einsum("ij,ij->i", steps, steps))
            scale = np.maximum(1.0, np.sqrt(np.einsum("ij,ij->i", X[rows[extreme]], X[rows[extreme]])))
            for i, length, limit in zip(extreme, lengths, FLAT_NEWTON_STEP * scale):
                if length <= limit:
                    kind = "minimum" if all_positive[i] else "maximum"
                    out[rows[i]] = (kind, f"; a {kind} of f")
    return [result if result is not None else _classify_end(problem, X[i], G[i]) for i, result in enumerate(out)]


def format_point(x: Sequence[float] | np.ndarray, digits: int = 6) -> str:
    """A point as the messages, panels and legends write it: (1.5, -2), each coordinate to
    ``digits`` significant digits."""
    return "(" + ", ".join(f"{float(v):.{digits}g}" for v in x) + ")"


class _Record:
    """Each step's rows, for the starts running at that step only (compact: no fill for the
    starts already stopped); each start's trace is gathered from them at the end."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: list[np.ndarray] = []  # step k: indices (into the batch) of the starts running
        self.columns: dict[str, list[np.ndarray]] = {}

    def add(self, rows: np.ndarray, **columns: np.ndarray) -> None:
        self.rows.append(rows)
        for name, values in columns.items():
            self.columns.setdefault(name, []).append(values)

    def gather(self, last_k: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per start i: its rows k = 0..last_k[i] of every column."""
        if self.size == 1:  # the batch of one: every step holds just it
            stacked = {name: np.concatenate(values) for name, values in self.columns.items()}
            return [stacked]
        steps = len(self.rows)
        offsets = np.cumsum([0] + [r.size for r in self.rows[:-1]])
        position = np.full((steps, self.size), -1)
        for k, rows in enumerate(self.rows):
            position[k, rows] = np.arange(rows.size)
        flat = {name: np.concatenate(values) for name, values in self.columns.items()}
        out = []
        for i in range(self.size):
            end = int(last_k[i]) + 1
            index = offsets[:end] + position[:end, i]
            out.append({name: values[index] for name, values in flat.items()})
        return out


def _describe_stop(status: str, k: int, g: np.ndarray, tol: float) -> str:
    norm = math.hypot(*g.tolist())  # scaled: sqrt(g'g) would say inf for ||g|| = 5e307
    if status == "converged":
        return f"converged in {k} step{'' if k == 1 else 's'}: ||g|| = {norm:.2e} <= tol = {tol:g}"
    return f"stopped at max_iter = {k} steps with ||g|| = {norm:.3g} (tol = {tol:g})"


def _message(status: str, k: int, g: np.ndarray, tol: float, note: str) -> str:
    """A run's closing sentence. The loop writes a failure's whole sentence as its note; a
    converged or max_iter run's sentence is made here, once per trace asked for (40,000 starts
    of a basin picture need none), the converged one followed by its classification remark."""
    if status in ("converged", "max_iter"):
        return _describe_stop(status, k, g, tol) + note
    return note


@dataclass(frozen=True, eq=False)
class BatchEnds:
    """Where each start of a batch ended: row i is the last row of the trace :func:`run` gives
    for start i alone (its x, f, g, status, steps, counts), without the rows before it.

    What a picture of many starts needs (a basin map: 40,000 starts) at a fraction of the cost of
    40,000 traces: the iterations are the same, only the per-step rows are not kept.
    """

    method: str
    variables: tuple[str, ...]
    options: dict[str, Any]
    starts: np.ndarray  # (B, n)
    x: np.ndarray  # (B, n): x_K of each start
    f: np.ndarray  # (B,): f(x_K), nan where it was not finite
    grad: np.ndarray  # (B, n)
    iterations: np.ndarray  # (B,): K, the steps each start took
    status: np.ndarray  # (B,): a STATUSES key per start
    stationary_point: np.ndarray  # (B,): the kind of x_K (STATIONARY_KINDS) where converged, else None
    counts: dict[str, np.ndarray]  # nfev, ngev, nhev, nsolve: (B,) each
    seconds: float  # wall time of the whole batch
    notes: tuple[str, ...] = field(repr=False, default=())  # see _message

    @property
    def size(self) -> int:
        return len(self.status)

    def message(self, i: int) -> str:
        """Start i's closing sentence, word for word the message of its trace."""
        return _message(str(self.status[i]), int(self.iterations[i]), self.grad[i], float(self.options["tol"]), self.notes[i])


def run_batch(problem: Problem, starts: Sequence[Sequence[float]] | np.ndarray, method: str,
              options: Options | None = None, *, per_start: Mapping[str, Sequence[float]] | None = None,
              deadline: float | None = None, wall_deadline: float | None = None,
              should_stop: Callable[[], bool] | None = None) -> list[Trace]:
    """Iterate ``method`` from every row of ``starts`` (B, n) at once, each start until
    ||g|| <= tol, max_iter, a failure of its own, or the budget; one trace per start.

    Each start's trace is the one :func:`run` gives for it alone (run is the batch of one).
    ``per_start`` gives options that differ per start (``{"lr": [...]}``: a learning-rate sweep).
    ``deadline`` is a ``time.thread_time()`` instant (CPU time of the calling thread: what the run
    costs, the same on a busy machine as on an idle one) and ``wall_deadline`` a
    :func:`fairshare.wall_clock` one (time.monotonic() less the time this thread spent letting
    other visitors' page runs go first: a backstop for a starved machine): starts still going at either end
    with the status ``time_limit``. ``should_stop`` is polled every STOP_CHECK_EVERY steps; when
    it returns True the run raises RunCancelled. Never raises for numeric trouble: each trace ends
    with a status and a message. Raises OptionsError only for caller mistakes.
    """
    return _run(problem, starts, method, options, per_start, deadline, wall_deadline, should_stop, keep_steps=True)


def run_ends(problem: Problem, starts: Sequence[Sequence[float]] | np.ndarray, method: str,
             options: Options | None = None, *, per_start: Mapping[str, Sequence[float]] | None = None,
             deadline: float | None = None, wall_deadline: float | None = None,
             should_stop: Callable[[], bool] | None = None) -> BatchEnds:
    """:func:`run_batch` keeping only where each start ended (:class:`BatchEnds`): the same
    steps, statuses and counts, without a row per step per start."""
    return _run(problem, starts, method, options, per_start, deadline, wall_deadline, should_stop, keep_steps=False)


def _run(problem: Problem, starts: Sequence[Sequence[float]] | np.ndarray, method: str, options: Options | None,
         per_start: Mapping[str, Sequence[float]] | None, deadline: float | None, wall_deadline: float | None,
         should_stop: Callable[[], bool] | None, keep_steps: bool) -> Any:
    options = options or Options()
    spec = get_method(method)
    X = np.array(starts, dtype=float)
    if X.ndim != 2 or X.shape[1] != problem.n:
        got = X.shape[-1] if X.ndim else 1
        raise OptionsError(f"the start point has {got} coordinates but f has {problem.n} variable{'' if problem.n == 1 else 's'} "
                           f"({', '.join(problem.variable_names)})")
    if not np.isfinite(X).all():
        raise OptionsError("the start point must be finite numbers")
    overrides = {}
    for name, values in (per_start or {}).items():
        values = np.asarray(values, dtype=float)
        if values.shape != (X.shape[0],):
            raise OptionsError(f"per-start option {name} needs one value per start ({X.shape[0]}), got shape {values.shape}")
        for value in np.unique(values):
            replace(options, **{name: float(value)})  # each value passes the option's checks
        overrides[name] = values
    # Overflow in g'g, x'x or a step is inf, which the loop's checks turn into a status; numpy's
    # warnings on top would make a diverging run raise where warnings are errors.
    with np.errstate(all="ignore"):
        return _iterate(problem, X, spec, options, overrides, deadline, wall_deadline, should_stop, keep_steps)


def _iterate(problem: Problem, X: np.ndarray, spec: Any, options: Options, overrides: dict[str, np.ndarray],
             deadline: float | None, wall_deadline: float | None, should_stop: Callable[[], bool] | None,
             keep_steps: bool) -> list[Trace] | BatchEnds:
    """The loop of run_batch and run_ends. Everything is kept for the running starts only:
    ``active`` maps their rows to the batch; x, f, g, states, counts and options shrink with it.
    Each start's last row (x, f, g, counts, k) is kept as it ends; the rows before it only
    with ``keep_steps``."""
    started, cpu_started = time.monotonic(), time.thread_time()
    size, n = X.shape
    counts = Counts.zeros(size)
    end_x, end_f, end_g = np.full((size, n), np.nan), np.full(size, np.nan), np.full((size, n), np.nan)
    end_counts = np.zeros((size, 4), dtype=np.int64)
    direction_state = spec.direction.init(n, size, options)
    step_state = spec.step.init(n, size, options)
    fields = spec.fields
    tol_squared = options.tol ** 2
    stall_after = 1 if spec.memoryless else STALL_STEPS
    statuses: list[str | None] = [None] * size
    messages: list[str] = [""] * size
    last_k = np.full(size, -1)
    record = _Record(size)
    active = np.arange(size)
    x = X.copy()
    f0 = np.full(size, np.nan)
    unchanged = np.zeros(size, dtype=np.int64)
    previous_dx = np.zeros(size)
    known_f = known_g = None  # f, g at x from the step-size rule (nan rows: not evaluated)
    per_start = dict(overrides)
    nan_row = np.full(n, np.nan)
    blow_limit = np.zeros(size)  # |f - f0| beyond this is a blow-up (set at k = 0)
    any_unchanged = False  # some start's last step left x where it was
    count = -1

    for k in range(options.max_iter + 1):
        if active.size != count:  # the running starts changed: their work and numbering too
            count = active.size
            work = Work(problem, options, counts, None, per_start)
            every = np.arange(count)
        if known_f is None:
            f = work.values(slice(None), x)
        else:
            f = known_f
            missing = np.isnan(f)
            if missing.any():
                f[missing] = work.values(np.flatnonzero(missing), x[missing])
        if known_g is None:
            g = work.gradients(slice(None), x)
        else:
            g = known_g
            missing = np.isnan(g).any(axis=1)
            if missing.any():
                g[missing] = work.gradients(np.flatnonzero(missing), x[missing])
        gg = np.einsum("ij,ij->i", g, g)
        ending: dict[int, tuple[str, str]] = {}  # local row -> status, message
        finite = np.isfinite(f) & np.isfinite(g).all(axis=1)  # not gg: g'g of a finite g may overflow
        if k == 0:
            f0 = f.copy()
            blow_limit = BLOW_UP_FACTOR * np.maximum(1.0, np.abs(f0))
            blown = np.zeros(count, dtype=bool)
        else:
            blown = finite & ((np.abs(f - f0) > blow_limit) | ~(np.einsum("ij,ij->i", x, x) <= MAX_NORM_X ** 2))
        done = finite & (gg <= tol_squared)
        stalled = unchanged >= stall_after
        trouble = ~finite  # one .any() for the four tests (each call costs about 2 us)
        trouble |= blown
        trouble |= done
        trouble |= stalled
        if trouble.any():
            for i in np.flatnonzero(~finite):
                # overflow after some steps is a blow-up; at the start point nothing has blown
                # up yet: f is simply not finite there, like log of a negative
                err = problem.error(x[i], "f" if not math.isfinite(f[i]) else "the gradient")
                f[i], g[i] = np.nan, nan_row
                if err.kind == "domain" or k == 0:
                    ending[i] = ("domain_error", f"{err} at x_{k} = {format_point(x[i])}"
                                 + (": choose a start point where f is finite" if k == 0 else ""))
                else:
                    ending[i] = ("diverged", f"diverged at step {k}: {err} at x_{k} = {format_point(x[i])}")
            for i in np.flatnonzero(blown):
                ending[i] = ("diverged", f"diverged at step {k}: f went from {f0[i]:.6g} to {f[i]:.6g}")
            for i in np.flatnonzero(done):
                ending.setdefault(i, ("converged", ""))  # the sentence: _message
            for i in np.flatnonzero(stalled):
                if i in ending:
                    continue
                spacing = float(np.spacing(np.abs(x[i]).max()))
                steps = int(unchanged[i])
                ending[i] = ("stalled", f"stalled at k = {k}: the step ||Δx|| = {previous_dx[i]:.2g} is below the spacing "
                                        f"of floating-point numbers at x ({spacing:.2g}), so x_{k} = x_{k - 1}"
                                        + (f" (for {steps} steps)" if steps > 1 else "")
                                        + f"; ||g|| = {math.sqrt(float(gg[i])):.3g}")
        out_of_time = k < options.max_iter and len(ending) < count and (
            (deadline is not None and time.thread_time() >= deadline)
            or (wall_deadline is not None and fairshare.wall_clock() >= wall_deadline))
        if k == options.max_iter or out_of_time:
            spent, wall = time.thread_time() - cpu_started, time.monotonic() - started
            for i in range(count):
                if i not in ending:
                    ending[i] = ("max_iter", "") if not out_of_time else (
                        "time_limit", f"stopped after {spent:.2g} CPU-s ({wall:.2g} s) at k = {k}: the work budget of "
                                      f"this page ran out (||g|| = {math.sqrt(float(gg[i])):.3g}, tol = {options.tol:g})")
        if should_stop is not None and k % STOP_CHECK_EVERY == 0 and len(ending) < count and should_stop():
            raise RunCancelled(f"{spec.id} cancelled at k = {k}")

        # the step, for the starts that go on
        taken = every[:0]
        d_rec = eta_rec = None
        info_rec: dict[str, np.ndarray] = {}
        if len(ending) < count:
            rows = every
            if ending:
                go = np.ones(count, dtype=bool)
                go[list(ending)] = False
                rows = np.flatnonzero(go)
            step_work = work if rows.size == count else work.subset(rows)
            at = Batch(x, f, g, None, k) if rows.size == count else Batch(x[rows], f[rows], g[rows], None, k)
            if spec.needs_hessian:
                at.hessian = step_work.hessians(slice(None), at.x)
                broken = ~np.isfinite(at.hessian).all(axis=(1, 2))
                if broken.any():
                    for i in np.flatnonzero(broken):
                        err = problem.error(at.x[i], "the Hessian")
                        ending[int(rows[i])] = ("domain_error" if err.kind == "domain" else "diverged",
                                                f"{err} at x_{k} = {format_point(at.x[i])}")
                    keep = ~broken
                    rows, at, step_work = rows[keep], at.subset(keep), step_work.subset(np.flatnonzero(keep))
            if rows.size:
                states = [direction_state, step_state]
                if rows.size != count:
                    states = [select(state, rows) for state in states]
                moved, direction, eta, info, f_next, g_next, states = _step(spec, at, step_work, *states, ending, rows, k)
                direction_state, step_state = states
                taken = rows if moved.size == rows.size else rows[moved]
                if taken.size == count:  # every start moved: the step's arrays are the record's
                    d_rec, eta_rec, info_rec = direction, eta, info
                else:
                    d_rec, eta_rec = np.full((count, n), np.nan), np.full(count, np.nan)
                    d_rec[taken], eta_rec[taken] = direction, eta
                    for name, values in info.items():
                        info_rec[name] = fields[name].empty(count)
                        info_rec[name][taken] = values
        if d_rec is None:
            d_rec, eta_rec = np.full((count, n), np.nan), np.full(count, np.nan)
        for name, spec_field in fields.items():
            if name not in info_rec:
                info_rec[name] = spec_field.empty(count)
        if keep_steps:
            record.add(active, x=x, f=f, g=g, d=d_rec, eta=eta_rec, **{"info:" + name: v for name, v in info_rec.items()})

        if ending:
            local = np.fromiter(ending, dtype=np.intp, count=len(ending))
            ended = active[local]
            last_k[ended], end_x[ended], end_f[ended], end_g[ended] = k, x[local], f[local], g[local]
            end_counts[ended] = counts.table(local)
            for i, (status, message) in ending.items():
                row = active[i]
                statuses[row], messages[row] = status, message
        if not taken.size:
            break
        everyone = taken.size == count
        x_next = x + eta_rec[:, None] * d_rec if everyone else x[taken] + eta_rec[taken, None] * d_rec[taken]
        x_taken = x if everyone else x[taken]
        same = np.all(x_next == x_taken, axis=1)
        overflowed = ~np.isfinite(x_next).all(axis=1)
        unusual = bool((same | overflowed).any())  # one .any() for both in the common case
        if unusual and overflowed.any():  # one more row for them, with no f or g, and they end there
            lost = taken[overflowed]
            if keep_steps:
                record.add(active[lost], x=x_next[overflowed], f=np.full(lost.size, np.nan),
                           g=np.full((lost.size, n), np.nan), d=np.full((lost.size, n), np.nan),
                           eta=np.full(lost.size, np.nan), **{"info:" + name: field.empty(lost.size) for name, field in fields.items()})
            ended = active[lost]
            last_k[ended], end_x[ended], end_counts[ended] = k + 1, x_next[overflowed], counts.table(lost)
            for row in ended:
                statuses[row], messages[row] = "diverged", f"diverged at step {k + 1}: the iterate overflowed"
            keep = ~overflowed
            taken, x_next, same, x_taken = taken[keep], x_next[keep], same[keep], x_taken[keep]
            direction_state, step_state = select(direction_state, keep), select(step_state, keep)
            f_next = None if f_next is None else f_next[keep]
            g_next = None if g_next is None else g_next[keep]
        if taken.size != count:
            counts = counts.subset(taken)
            per_start = {name: values[taken] for name, values in per_start.items()}
        if taken.size != count:
            unchanged, f0, blow_limit, active = unchanged[taken], f0[taken], blow_limit[taken], active[taken]
        if unusual and same.any():
            unchanged = np.where(same, unchanged + 1, 0)
            previous_dx = np.abs(eta_rec[taken]) * np.linalg.norm(d_rec[taken], axis=1)  # for a stall's message
            any_unchanged = True
        elif any_unchanged:
            unchanged = np.zeros(taken.size, dtype=np.int64)
            any_unchanged = False
        x = x_next
        known_f, known_g = f_next, g_next
        if not active.size:
            break

    if any(status is None for status in statuses):
        raise AssertionError("a start ended without a status")
    seconds = time.monotonic() - started
    converged = np.flatnonzero(np.array(statuses) == "converged")
    stationary: list[str | None] = [None] * size
    for i, (kind, remark) in zip(converged, _classify_ends(problem, end_x[converged], end_g[converged])):
        stationary[i], messages[i] = kind, remark
    base_options = asdict(options)
    if not keep_steps:
        return BatchEnds(
            method=spec.id, variables=problem.variable_names, options=base_options, starts=X, x=end_x, f=end_f,
            grad=end_g, iterations=last_k, status=np.array(statuses), stationary_point=np.array(stationary, dtype=object),
            counts=dict(zip(COUNT_NAMES, end_counts.T)), seconds=seconds, notes=tuple(messages))
    traces = []
    variables = problem.variable_names
    for i, columns in enumerate(record.gather(last_k)):
        direction, step_size = columns["d"], columns["eta"]
        direction[-1], step_size[-1] = np.nan, np.nan  # the last row takes no step
        info = {name: columns["info:" + name] for name in fields}
        for name, values in info.items():
            values[-1] = fields[name].fill
        own = {name: float(values[i]) for name, values in overrides.items()}
        traces.append(Trace(
            method=spec.id, variables=variables, options={**base_options, **own},
            x=columns["x"], f=columns["f"], grad=columns["g"], direction=direction, step_size=step_size, info=info,
            status=statuses[i], message=_message(statuses[i], int(last_k[i]), end_g[i], options.tol, messages[i]),
            stationary_point=stationary[i], seconds=seconds, counts=dict(zip(COUNT_NAMES, end_counts[i].tolist())),
            per_start=own,
        ))
    return traces


def _step(spec: Any, at: Batch, work: Work, direction_state: dict, step_state: dict, ending: dict, rows: np.ndarray,
          k: int) -> tuple:
    """The direction rule then the step-size rule for the starts in ``at`` (``rows`` of the
    running ones). A start a rule stops goes into ``ending``. Returns which of ``at``'s rows
    moved, their directions, step sizes, fields, the f and g the step-size rule evaluated at
    x + eta d (or None), and the two states for those rows."""
    proposal = spec.direction.propose(at, direction_state, work)
    info = proposal.info
    direction, direction_state = proposal.direction, proposal.state
    moved = np.arange(at.size)
    if proposal.stops:
        keep = np.ones(at.size, dtype=bool)
        for i, (status, text) in proposal.stops.items():
            ending[int(rows[i])] = (status, f"{text} (at x_{k} = {format_point(at.x[i])})")
            keep[i] = False
        info = {name: values[keep] for name, values in info.items()}
        direction, direction_state = direction[keep], select(direction_state, keep)
        step_state = select(step_state, keep)
        at, work, rows = at.subset(keep), work.subset(np.flatnonzero(keep)), rows[keep]
        moved = np.flatnonzero(keep)
    size = spec.step.size(at, direction, step_state, work)
    info = {**info, **size.info}
    direction, eta, f_next, g_next = size.direction, size.eta, size.f_next, size.g_next
    states = [direction_state, size.state]
    if size.stops:
        keep = np.ones(at.size, dtype=bool)
        for i, (status, text) in size.stops.items():
            ending[int(rows[i])] = (status, f"{text} (at x_{k} = {format_point(at.x[i])})")
            keep[i] = False
        info = {name: values[keep] for name, values in info.items()}
        direction, eta, moved = direction[keep], eta[keep], moved[keep]
        f_next = None if f_next is None else f_next[keep]
        g_next = None if g_next is None else g_next[keep]
        states = [select(state, keep) for state in states]
    return moved, direction, eta, info, f_next, g_next, states


def run(problem: Problem, x0: Sequence[float], method: str, options: Options | None = None, *,
        deadline: float | None = None, wall_deadline: float | None = None,
        should_stop: Callable[[], bool] | None = None) -> Trace:
    """Iterate ``method`` from ``x0``: the batch of one (:func:`run_batch`, whose docstring says
    how it stops and what the deadlines mean)."""
    x = np.array(x0, dtype=float).reshape(-1)
    if x.size != problem.n:
        raise OptionsError(f"the start point has {x.size} coordinates but f has {problem.n} variable{'' if problem.n == 1 else 's'} "
                           f"({', '.join(problem.variable_names)})")
    return run_batch(problem, x[None], method, options, deadline=deadline, wall_deadline=wall_deadline,
                     should_stop=should_stop)[0]


def run_all(problem: Problem, x0: Sequence[float], methods: Sequence[str],
            options: Options | None = None, *, deadline: float | None = None, wall_deadline: float | None = None,
            should_stop: Callable[[], bool] | None = None) -> dict[str, Trace]:
    """Run each method from the same start; one trace per method id (shared deadlines)."""
    return {method: run(problem, x0, method, options, deadline=deadline, wall_deadline=wall_deadline,
                        should_stop=should_stop) for method in methods}


def best_value(traces: Sequence[Trace]) -> float:
    """The lowest finite f any trace reached (the f_best of convergence plots), nan if none."""
    finite = [t.f[np.isfinite(t.f)] for t in traces]
    finite = [v for v in finite if v.size]
    return float(min(v.min() for v in finite)) if finite else math.nan

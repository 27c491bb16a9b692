"""The learning-rate sweep: one fixed-rate run per η over a grid, each with an outcome (converged /
crawl / oscillating / diverged / failed) decided by :data:`OSCILLATION_RULE` and the evidence that
decided it; the default range and the marks (2/λmax, best rate) drawn on the sweep. Every run goes
through :func:`core.run.run_batch`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import fairshare
from .analysis import local_analysis
from .blocks import EPS
from .methods import METHODS, Options, OptionsError, get_method
from .problem import EvaluationError, Problem
from .quadratic import NOT_QUADRATIC, quadratic_constants
from .run import Trace, run_batch


OUTCOMES: dict[str, str] = {
    "converged": "converged",
    "crawl": "max_iter: crawling",
    "oscillating": "max_iter: oscillating",
    "diverged": "diverged",
    "failed": "failed",
    "unfinished": "stopped by the time budget",
    "stalled": "stalled: the step is below float resolution",
}

OSCILLATION_WINDOW = 50  # the last this-many steps of a run are examined
REVERSAL_SHARE = 0.8  # (a): the step reverses along the dominant eigen-direction this often
RISE_SHARE = 0.25  # (b): f goes up on at least this share of the examined steps

OSCILLATION_RULE = (
    f"A run **oscillates** when, over its last W = min({OSCILLATION_WINDOW}, K) steps, "
    f"(a) the step's component along one eigen-direction of H (H at the run's last iterate; the "
    f"direction that carries most of those steps) changes sign on at least {REVERSAL_SHARE:.0%} of "
    f"consecutive steps, or (b) f goes up on at least {RISE_SHARE:.0%} of those steps. On a quadratic, "
    "fixed-step GD reverses along eigen-direction i exactly when η·λᵢ > 1. "
    "Outcome: **converged** when ‖g‖ ≤ tol within max_iter; **diverged** when the run blew up "
    "(f moved 10¹² times its start scale, or x overflowed) or stopped at max_iter with f above f(x₀); "
    "otherwise a run that stopped at max_iter is **oscillating** if it oscillates and **crawling** if not; "
    "**failed** when it left the domain of f."
)


@dataclass(frozen=True)
class Oscillation:
    """The evidence for (or against) oscillation in the tail of one run."""

    oscillating: bool
    window: int  # steps examined
    reversals: int  # sign changes of the step along the dominant direction
    pairs: int  # consecutive step pairs examined (window - 1)
    rises: int  # examined steps where f went up (beyond rounding)
    direction: np.ndarray | None  # the dominant eigen-direction (unit vector)
    eigenvalue: float | None  # its eigenvalue of H (None in the coordinate-axes fallback)
    basis: str  # which directions were examined
    evidence: str  # one sentence: what was counted


def _last_finite_x(trace: Trace) -> np.ndarray:
    finite = np.isfinite(trace.x).all(axis=1)
    return trace.x[np.flatnonzero(finite)[-1]]


def detect_oscillation(problem: Problem, trace: Trace, window: int = OSCILLATION_WINDOW) -> Oscillation:
    """Apply the oscillation rule (:data:`OSCILLATION_RULE`) to the last ``window`` steps."""
    steps = trace.dx[:-1]
    steps = steps[np.isfinite(steps).all(axis=1)]
    count = min(window, len(steps))
    if count < 3:
        return Oscillation(False, count, 0, max(count - 1, 0), 0, None, None, "",
                           f"too few steps to tell ({count})")
    tail = steps[-count:]
    try:
        hessian = problem.hessian(_last_finite_x(trace))
        eigenvalues, vectors = np.linalg.eigh(hessian)
        basis = "eigen-directions of H at the last iterate"
    except (EvaluationError, np.linalg.LinAlgError):
        eigenvalues, vectors = None, np.eye(problem.n)
        basis = "coordinate axes (H is not defined at the last iterate)"
    components = tail @ vectors
    dominant = int(np.argmax(np.abs(components).sum(axis=0)))
    along = components[:, dominant]
    pairs = count - 1
    reversals = int(np.count_nonzero(along[1:] * along[:-1] < 0))
    f = trace.f[np.isfinite(trace.f)]
    f_tail = f[-(count + 1):]
    tiny = 4 * EPS * np.maximum(np.abs(f_tail[1:]), np.abs(f_tail[:-1]))
    rises = int(np.count_nonzero(np.diff(f_tail) > tiny))
    rule_a = reversals >= REVERSAL_SHARE * pairs
    rule_b = rises >= RISE_SHARE * len(np.diff(f_tail)) if len(f_tail) > 1 else False
    eigenvalue = None if eigenvalues is None else float(eigenvalues[dominant])
    where = f"v(λ = {eigenvalue:.4g})" if eigenvalue is not None else f"axis {dominant + 1}"
    evidence = (f"last {count} steps: step along {where} reversed {reversals}/{pairs} times, "
                f"f rose {rises}/{len(f_tail) - 1}")
    return Oscillation(bool(rule_a or rule_b), count, reversals, pairs, rises, vectors[:, dominant].copy(),
                       eigenvalue, basis, evidence)


def classify_run(problem: Problem, trace: Trace) -> tuple[str, Oscillation]:
    """The outcome of one fixed-rate run (a key of :data:`OUTCOMES`) and its oscillation evidence."""
    oscillation = detect_oscillation(problem, trace)
    if trace.status == "converged":
        return "converged", oscillation
    if trace.status == "diverged":
        return "diverged", oscillation
    if trace.status == "max_iter":
        f = trace.f[np.isfinite(trace.f)]
        if f[-1] > f[0]:
            return "diverged", oscillation
        return ("oscillating" if oscillation.oscillating else "crawl"), oscillation
    if trace.status == "time_limit":
        return "unfinished", oscillation
    if trace.status == "stalled":
        return "stalled", oscillation
    return "failed", oscillation


@dataclass(frozen=True)
class SweepRun:
    """One learning rate of a sweep: a summary of its run and how it was classified (the trace
    itself only when the sweep was asked to keep it: a cached sweep of 60 runs of 20,000 steps
    would otherwise hold hundreds of MB)."""

    eta: float
    outcome: str
    oscillation: Oscillation
    status: str
    message: str
    iterations: int
    final_grad_norm: float  # ||g|| at the last iterate where it could be evaluated
    f_first: float
    f_last: float  # f at the last iterate where it could be evaluated
    trace: Trace | None = None

    @classmethod
    def summarise(cls, eta: float, trace: Trace, outcome: str, oscillation: Oscillation,
                  keep_trace: bool) -> "SweepRun":
        norms = trace.grad_norm[np.isfinite(trace.grad_norm)]
        f = trace.f[np.isfinite(trace.f)]
        return cls(eta, outcome, oscillation, trace.status, trace.message, trace.iterations,
                   float(norms[-1]) if norms.size else math.nan,
                   float(f[0]) if f.size else math.nan, float(f[-1]) if f.size else math.nan,
                   trace if keep_trace else None)

    @property
    def converged_in(self) -> int | None:
        """Steps to reach ||g|| <= tol, None when the run did not converge."""
        return self.iterations if self.status == "converged" else None

    def reason(self) -> str:
        """How the outcome was decided, in one line."""
        if self.outcome == "converged":
            text = f"‖g‖ ≤ tol after {self.iterations} steps"
            if self.oscillation.oscillating:
                text += f"; zig-zags: {self.oscillation.evidence}"
            return text
        if self.outcome == "diverged" and self.status == "max_iter":
            return f"stopped at max_iter with f = {self.f_last:.4g} above f(x₀) = {self.f_first:.4g}"
        if self.outcome in ("oscillating", "crawl"):
            return self.oscillation.evidence
        return self.message


@dataclass(frozen=True)
class Sweep:
    """A fixed-rate method run once per learning rate, all from the same start and options."""

    method: str
    x0: tuple[float, ...]
    options: Options
    runs: tuple[SweepRun, ...]
    seconds: float  # wall time of the whole sweep

    @property
    def etas(self) -> np.ndarray:
        return np.array([r.eta for r in self.runs])

    def nearest(self, eta: float) -> SweepRun:
        """The run whose learning rate is closest to ``eta`` (on a log scale)."""
        return self.runs[int(np.argmin(np.abs(np.log(self.etas) - math.log(eta))))]

    def rows(self) -> list[dict]:
        """One plain dict per learning rate (for tables and charts)."""
        return [{
            "eta": r.eta, "outcome": r.outcome, "steps": r.iterations, "converged_in": r.converged_in,
            "final_grad_norm": r.final_grad_norm, "oscillates": r.oscillation.oscillating,
            "reversals": r.oscillation.reversals, "pairs": r.oscillation.pairs, "rises": r.oscillation.rises,
            "reason": r.reason(),
        } for r in self.runs]


def learning_rate_grid(low: float, high: float, count: int, include: Sequence[float] = ()) -> np.ndarray:
    """``count`` log-spaced rates from ``low`` to ``high`` (both exact), plus any ``include``
    values inside [low, high]; sorted, duplicates removed. Raises OptionsError for a bad range."""
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise OptionsError(f"the learning-rate range must satisfy 0 < low < high (got {low:g} .. {high:g})")
    if not 2 <= int(count) <= 200:
        raise OptionsError(f"the number of learning rates must be between 2 and 200 (got {count})")
    grid = np.geomspace(low, high, int(count))
    grid[0], grid[-1] = low, high
    extra = [float(v) for v in include if v is not None and math.isfinite(v) and low <= v <= high]
    return np.unique(np.concatenate([grid, np.array(extra, dtype=float)]))


SWEEP_RATE_BOUNDS = (1e-12, 100.0)  # what a learning-rate sweep may span (inside the option lr's range)


def default_rate_range(problem: Problem, x0: Sequence[float],
                       bounds: tuple[float, float] = SWEEP_RATE_BOUNDS) -> tuple[float, float, str]:
    """A range that shows all behaviours: from 1/25 of the local stability limit 2/lambda_max(H(x0))
    to 4 % beyond it, clamped into ``bounds`` (what the page's inputs accept) with low < high.
    Returns (low, high, how it was chosen)."""
    try:
        eigenvalues = np.linalg.eigvalsh(problem.hessian(np.asarray(x0, dtype=float)))
    except (EvaluationError, np.linalg.LinAlgError):
        eigenvalues = np.array([math.nan])
    top = float(np.max(eigenvalues))
    if math.isfinite(top) and top > 0:
        limit = 2.0 / top
        low, high = limit / 25, limit * 26 / 25
        how = f"from (2/λmax)/25 to 1.04·(2/λmax), λmax = {top:.4g} of H(x₀)"
    else:
        low, high = 1e-3, 1.0
        how = "H(x₀) has no positive eigenvalue: a generic range 0.001 .. 1"
    floor, ceiling = bounds
    clamped_low = min(max(low, floor), ceiling / 26)  # keep room for a range above it
    clamped_high = min(max(high, clamped_low * 26), ceiling)
    if (clamped_low, clamped_high) != (low, high):
        how += f", clamped into the allowed {floor:g} .. {ceiling:g}"
    return clamped_low, clamped_high, how


def sweep_learning_rates(problem: Problem, x0: Sequence[float], etas: Sequence[float],
                         options: Options | None = None, method: str = "gd", *, keep_traces: bool = True,
                         cpu_budget_s: float | None = None, wall_factor: float = 4.0,
                         should_stop: Callable[[], bool] | None = None) -> Sweep:
    """Run ``method`` (a method that reads ``lr``) from x0 at every eta at once, one start per
    eta in one batch (:func:`core.run.run_batch`), and classify each run (:func:`classify_run`).

    With a ``cpu_budget_s`` (CPU seconds of this thread) the batch stops there, every rate at the
    same step (``wall_factor`` times it in wall time as a backstop). ``should_stop`` is passed on
    (RunCancelled ends the sweep)."""
    if "lr" not in get_method(method).options_used:
        fixed = ", ".join(m for m, spec in METHODS.items() if "lr" in spec.options_used)
        raise OptionsError(f"a learning-rate sweep needs a method with a fixed rate ({fixed}), not {method!r}")
    options = options or Options()
    start = time.perf_counter()
    deadline = wall_deadline = None
    if cpu_budget_s is not None:
        deadline, wall_deadline = time.thread_time() + cpu_budget_s, fairshare.wall_clock() + wall_factor * cpu_budget_s
    etas = [float(eta) for eta in etas]
    starts = np.tile(np.asarray(x0, dtype=float).reshape(1, -1), (len(etas), 1))
    traces = run_batch(problem, starts, method, options, per_start={"lr": etas}, deadline=deadline,
                       wall_deadline=wall_deadline, should_stop=should_stop) if etas else []
    runs = []
    for eta, trace in zip(etas, traces):
        outcome, oscillation = classify_run(problem, trace)
        runs.append(SweepRun.summarise(eta, trace, outcome, oscillation, keep_traces))
    return Sweep(method, tuple(float(v) for v in x0), options, tuple(runs), time.perf_counter() - start)


@dataclass(frozen=True)
class RateMark:
    """A learning rate worth marking on the sweep, with what it is."""

    key: str
    label: str
    eta: float
    note: str


def rate_marks(problem: Problem, x0: Sequence[float], lr: float | None = None) -> tuple[list[RateMark], list[str]]:
    """The rates to mark on a sweep and the reasons for any that are missing.

    Always: the rate gd-optimal takes at x0 (g'g/g'Hg); for a quadratic with positive definite
    H: 2/lambda_max and 2/(lambda_min + lambda_max); and ``lr`` (the user's own rate) if given.
    """
    marks: list[RateMark] = []
    missing: list[str] = []
    x0 = np.asarray(x0, dtype=float)
    try:
        local = local_analysis(problem, x0)
        if local.optimal_rate is not None:
            marks.append(RateMark("optimal_start", "η of gd-optimal at x₀", local.optimal_rate,
                                  "g'g / g'Hg at the start: the step gd-optimal takes first"))
        else:
            missing.append("gd-optimal has no rate at x₀: g'Hg ≤ 0 there (or g = 0)")
    except EvaluationError as err:
        missing.append(f"f, g or H is not defined at x₀ ({err})")
    constants = quadratic_constants(problem, x0)
    if constants is None:
        missing.append(NOT_QUADRATIC)
    elif not constants.positive_definite:
        missing.append("no stability limit or best fixed rate: " + constants.reason)
    else:
        marks.append(RateMark("limit", "2/λmax", constants.stability_limit,
                              "stability limit: fixed-step GD converges iff η < 2/λmax"))
        marks.append(RateMark("best", "2/(λmin+λmax)", constants.best_rate,
                              "best fixed rate: minimises max|1 − ηλᵢ|"))
    if lr is not None:
        marks.append(RateMark("yours", "your η", float(lr), "the learning rate set in the sidebar"))
    return marks, missing


__all__ = ["OUTCOMES", "OSCILLATION_RULE", "Oscillation", "detect_oscillation", "classify_run", "SweepRun", "Sweep",
           "learning_rate_grid", "SWEEP_RATE_BOUNDS", "default_rate_range", "sweep_learning_rates", "RateMark",
           "rate_marks"]

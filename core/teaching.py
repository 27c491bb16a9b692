"""Numbers for the teaching pages: learning-rate sweeps, measured vs textbook rates, and the
1-D identity "optimal-rate gradient descent is Newton".

Pure Python + numpy (no streamlit). Every iteration comes from :func:`core.run.run` and is read
from its :class:`core.run.Trace`; local facts (g, H, eigenvalues, Newton's direction) come from
:func:`core.analysis.local_analysis`. Nothing here iterates a method on its own.

Three groups of functions:

* Quadratic constants (:func:`quadratic_constants`): for f with a constant Hessian, lambda_min,
  lambda_max, the stability limit 2/lambda_max, the best fixed rate 2/(lambda_min + lambda_max),
  the Kantorovich bound, and the exact minimiser.
* Learning-rate sweep (:func:`learning_rate_grid`, :func:`sweep_learning_rates`,
  :func:`classify_run`, :func:`detect_oscillation`): one fixed-rate run per eta, each with an
  outcome (converged / crawl / oscillating / diverged / failed) decided by the rule in
  :data:`OSCILLATION_RULE` and the evidence that decided it.
* Theory vs measurement (:func:`observed_rates`, :func:`predict`, :func:`verdict`) and the 1-D
  lesson (:func:`compare_steps`, :func:`compare_traces`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .analysis import LocalAnalysis, definiteness, local_analysis
from .linalg import condition, numerically_singular
from .methods import METHODS, Options, OptionsError, get_method
from .problem import EvaluationError, Problem
from .run import Trace, run_batch

EPS = float(np.finfo(float).eps)

# --------------------------------------------------------------------------------------------
# Quadratic constants
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuadraticConstants:
    """What the constant Hessian of a quadratic f says about gradient methods.

    The rate fields are None when they do not apply; ``reason`` then says why (H not positive
    definite). ``minimiser`` is the stationary point x* = x - H^-1 g(x) (exact for a quadratic),
    None when H is singular.
    """

    hessian: np.ndarray
    eigenvalues: np.ndarray  # ascending
    eigenvectors: np.ndarray  # columns, matching eigenvalues
    definiteness: str
    stationary_point: np.ndarray | None
    f_star: float | None  # f at the stationary point
    stability_limit: float | None  # 2 / lambda_max: fixed-step GD converges iff 0 < eta < this
    best_rate: float | None  # 2 / (lambda_min + lambda_max)
    best_contraction: float | None  # (kappa - 1) / (kappa + 1) = max|1 - eta lambda| at best_rate
    steepest_descent_bound: float | None  # ((kappa - 1)/(kappa + 1))^2 per step on f - f*
    condition: float  # lambda_max / lambda_min when positive definite, else max|l| / min|l|
    reason: str  # "" when H is positive definite, else why the rates do not apply

    @property
    def positive_definite(self) -> bool:
        return self.definiteness == "positive definite"

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    def contraction(self, eta: float) -> float:
        """max_i |1 - eta lambda_i|: the per-step factor of fixed-step GD on the error in x."""
        return float(np.max(np.abs(1.0 - eta * self.eigenvalues)))

    def factors(self, eta: float) -> np.ndarray:
        """1 - eta lambda_i for each eigen-direction (ascending lambda)."""
        return 1.0 - eta * self.eigenvalues


def quadratic_constants(problem: Problem, x0: Sequence[float] | None = None) -> QuadraticConstants | None:
    """Constants of a quadratic f (``problem.is_quadratic``), None for any other f.

    ``x0`` only serves to locate the stationary point (x* = x0 - H^-1 g(x0)); any point works.
    """
    if not problem.is_quadratic:
        return None
    x = np.zeros(problem.n) if x0 is None else np.asarray(x0, dtype=float)
    hessian = problem.hessian(x)
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    kind = definiteness(eigenvalues)
    kappa = condition(eigenvalues)
    stationary = f_star = None
    if not numerically_singular(eigenvalues):
        # Any point locates it (f is quadratic); where g overflows at x0 (x0 near 1e308) the
        # origin does.
        for origin in (x, np.zeros(problem.n)):
            try:
                stationary = origin - np.linalg.solve(hessian, problem.gradient(origin))
                f_star = problem.value(stationary)
                break
            except EvaluationError:
                stationary = f_star = None
    if kind == "positive definite":
        lo, hi = float(eigenvalues[0]), float(eigenvalues[-1])
        kappa = hi / lo
        contraction = (kappa - 1.0) / (kappa + 1.0)
        return QuadraticConstants(
            hessian=hessian, eigenvalues=eigenvalues, eigenvectors=eigenvectors, definiteness=kind,
            stationary_point=stationary, f_star=f_star, stability_limit=2.0 / hi, best_rate=2.0 / (lo + hi),
            best_contraction=contraction, steepest_descent_bound=contraction ** 2, condition=kappa, reason="")
    values = ", ".join(f"{v:.4g}" for v in eigenvalues)
    if kind == "indefinite":
        reason = (f"H is indefinite (eigenvalues {values}): f has no minimum, and along an eigen-direction "
                  "with λ < 0 every fixed step multiplies the error by |1 − ηλ| > 1")
    elif kind.startswith("positive semidefinite"):
        reason = (f"H is singular (eigenvalues {values}): along the zero-curvature direction gradient "
                  "methods make no progress and kappa is infinite")
    else:
        reason = f"H is {kind} (eigenvalues {values}): f has no minimum"
    return QuadraticConstants(
        hessian=hessian, eigenvalues=eigenvalues, eigenvectors=eigenvectors, definiteness=kind,
        stationary_point=stationary, f_star=f_star, stability_limit=None, best_rate=None,
        best_contraction=None, steepest_descent_bound=None, condition=kappa, reason=reason)


NOT_QUADRATIC = ("f is not quadratic: its Hessian changes with x, so there is no single stability limit "
                 "or contraction factor for the whole run")


# --------------------------------------------------------------------------------------------
# Learning-rate sweep
# --------------------------------------------------------------------------------------------

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
        deadline, wall_deadline = time.thread_time() + cpu_budget_s, time.monotonic() + wall_factor * cpu_budget_s
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


# --------------------------------------------------------------------------------------------
# Observed rates and order
# --------------------------------------------------------------------------------------------

SETTLED_HESSIAN = 0.1  # H at the last two iterates differs by < 10 % of its smallest |eigenvalue|


def hessian_settled(problem: Problem, trace: Trace) -> tuple[bool, str]:
    """Is the run's limit a non-degenerate stationary point, as far as the trace can tell?

    Yes when H is non-singular at the last iterate and barely changed over the last step
    (||H_K - H_{K-1}|| < 10 % of min|lambda(H_K)|): then the quadratic model at x_K is the
    model at x*. For x^4 near 0, H = 12x^2 keeps shrinking with x: a degenerate minimum.
    """
    if trace.status != "converged":
        return False, f"the run did not converge ({trace.message})"
    if trace.iterations == 0:
        return False, "the run started at a stationary point (no steps)"
    try:
        last = problem.hessian(trace.x[-1])
        before = problem.hessian(trace.x[-2])
    except EvaluationError as err:
        return False, f"H is not defined at the last iterates ({err})"
    eigenvalues = np.linalg.eigvalsh(last)
    smallest = float(np.min(np.abs(eigenvalues)))
    change = float(np.linalg.norm(last - before, 2))
    if numerically_singular(eigenvalues):
        return False, "H is singular at the last iterate (a degenerate stationary point)"
    if change >= SETTLED_HESSIAN * smallest:
        return False, (f"H still changes by {change / smallest:.0%} of its smallest eigenvalue over the last step: "
                       "the limit looks degenerate (H(x*) singular or nearly so)")
    return True, f"H is non-singular and settled at the last iterate (changed {change / smallest:.1%} over the last step)"


@dataclass(frozen=True)
class ObservedRates:
    """Per-step ratios measured on one trace, and their summaries.

    ``f_ratio[k] = (f_{k+1} - f*) / (f_k - f*)``, ``grad_ratio[k] = ||g_{k+1}|| / ||g_k||``,
    ``x_ratio[k] = ||x_{k+1} - x*|| / ||x_k - x*||`` (nan where a ratio is not resolved above
    rounding, or x* is unknown). A rate is the geometric mean of the ratios over the last half
    of the resolved steps (an even number of them, so a 2-step zig-zag averages out); ``order``
    is the log-log slope of :func:`loglog_order` on ||x_k - x*|| when x* is known, else ||g_k||.
    """

    method: str
    steps: int
    f_star: float
    f_star_source: str
    x_star: np.ndarray | None
    x_star_source: str
    f_ratio: np.ndarray
    grad_ratio: np.ndarray
    x_ratio: np.ndarray
    f_rate: float
    grad_rate: float
    x_rate: float
    order: float
    order_error: str  # which error measure the order was measured on
    order_note: str


def _ratios(errors: np.ndarray, floor: np.ndarray | float) -> np.ndarray:
    errors = np.asarray(errors, dtype=float)
    floor = np.broadcast_to(np.asarray(floor, dtype=float), errors.shape)
    with np.errstate(all="ignore"):
        ratio = errors[1:] / errors[:-1]
    ok = (np.isfinite(ratio) & (errors[:-1] > floor[:-1]) & (errors[1:] > floor[1:]))
    return np.where(ok, ratio, np.nan)


def tail_rate(ratios: np.ndarray) -> float:
    """Geometric mean of the last half of the resolved ratios (an even count when >= 2)."""
    resolved = ratios[np.isfinite(ratios) & (ratios > 0)]
    if resolved.size == 0:
        return math.nan
    m = max(1, resolved.size // 2)
    if m >= 2 and m % 2:
        m -= 1
    return float(np.exp(np.mean(np.log(resolved[-m:]))))


def loglog_order(errors: np.ndarray, floor: float = 0.0) -> tuple[float, str]:
    """Least-squares slope of log e_{k+1} against log e_k over the last half (at least 3, when
    there are) of the successive pairs of errors above ``floor``: about 1 for linear and 2 for
    quadratic convergence. nan, with the reason, when there are fewer than 2 pairs, when the
    fitted errors span less than a factor of 10 (the slope is then undetermined), or when the
    points do not lie on a line (R^2 < 0.9: no single order describes them)."""
    e = np.asarray(errors, dtype=float)
    usable = np.isfinite(e) & (e > floor)
    starts = np.flatnonzero(usable[:-1] & usable[1:])
    if starts.size < 2:
        return math.nan, f"needs at least 3 successive errors above rounding (has {starts.size + 1 if starts.size else int(usable.sum())})"
    m = max(min(3, starts.size), math.ceil(starts.size / 2))
    starts = starts[-m:]
    xs, ys = np.log(e[starts]), np.log(e[starts + 1])
    if xs.max() - xs.min() < math.log(10):
        return math.nan, "the fitted errors span less than a factor of 10: the slope is undetermined"
    slope, intercept = np.polyfit(xs, ys, 1)
    residual = ys - (slope * xs + intercept)
    spread = float(np.sum((ys - ys.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual ** 2)) / spread if spread > 0 else 0.0
    where = f"fit over k = {starts[0]}..{starts[-1] + 1}"
    if r2 < 0.9:
        return math.nan, f"log e_(k+1) vs log e_k is not a line ({where}, R² = {r2:.2f}): no single order"
    return float(slope), where


@np.errstate(over="ignore", invalid="ignore")  # a start near 1e308: errors of inf are not rates (nan below)
def observed_rates(problem: Problem, trace: Trace, f_best: float | None = None) -> ObservedRates:
    """Measured convergence ratios, rates and order of one trace.

    The reference point x*, f*: the exact stationary point for a quadratic with non-singular H;
    else, for a converged run whose Hessian has settled (:func:`hessian_settled`), one Newton
    correction from the last iterate (x_K - H_K^-1 g_K, f_K - g_K'H_K^-1 g_K / 2, exact up to
    O(||x_K - x*||^3)); else f* = ``f_best`` (e.g. the lowest f any run reached) or the run's own
    lowest f, and no x*.
    """
    x_star: np.ndarray | None = None
    f_star = math.nan
    own = trace.f[np.isfinite(trace.f)]
    constants = quadratic_constants(problem, trace.x[0])
    if constants is not None and constants.stationary_point is not None:
        x_star, f_star = constants.stationary_point, float(constants.f_star)
        x_source = f_source = "the exact stationary point of the quadratic"
    else:
        settled, why = hessian_settled(problem, trace)
        if settled:
            local = local_analysis(problem, trace.x[-1])
            if local.newton is not None:
                x_star = trace.x[-1] + local.newton
                f_star = float(trace.f[-1] + 0.5 * float(local.g @ local.newton))
                x_source = f_source = "one Newton correction from the last iterate"
        if x_star is None:
            if f_best is not None and math.isfinite(f_best) and own.size:
                f_star, f_source = float(f_best), "f_best, the lowest f any run reached"
            else:
                f_star, f_source = (float(own.min()) if own.size else math.nan), "the run's own lowest f"
            if own.size and f_star == own.min():
                f_source += " (this run's own: its last steps, within 100× of its smallest gap, are left out)"
            x_source = f"unknown: {why}"
    gap = np.abs(trace.f - f_star)  # |.|: a run may converge to a maximum or a saddle
    gap0 = gap[0] if math.isfinite(gap[0]) else 0.0
    f_floor = 64 * EPS * (np.abs(trace.f) + abs(f_star)) + 1e-14 * gap0
    if x_star is None and own.size and f_star == own.min():
        # f* is this run's own last word: near the end f_k - f* mostly measures how far the run
        # still had to go, so keep only gaps well above the run's smallest one.
        positive = gap[np.isfinite(gap) & (gap > 0)]
        if positive.size:
            f_floor = np.maximum(f_floor, 100 * positive.min())
    f_ratio = _ratios(gap, f_floor)
    grad = trace.grad_norm
    grad_floor = 1e-14 * (grad[0] if math.isfinite(grad[0]) else 0.0)
    grad_ratio = _ratios(grad, grad_floor)
    if x_star is not None:
        x_error = np.linalg.norm(trace.x - x_star, axis=1)
        x_floor = 1e3 * EPS * max(float(np.linalg.norm(x_star)), 1e-300) + 1e-14 * float(x_error[0])
        x_ratio = _ratios(x_error, x_floor)
        order, note = loglog_order(x_error, x_floor)
        order_error = "‖x_k − x*‖"
    else:
        x_ratio = np.full(len(trace.f) - 1, np.nan)
        order, note = loglog_order(grad, grad_floor)
        order_error = "‖g_k‖"
    return ObservedRates(
        method=trace.method, steps=trace.iterations, f_star=f_star, f_star_source=f_source,
        x_star=x_star, x_star_source=x_source, f_ratio=f_ratio, grad_ratio=grad_ratio, x_ratio=x_ratio,
        f_rate=tail_rate(f_ratio), grad_rate=tail_rate(grad_ratio), x_rate=tail_rate(x_ratio),
        order=order, order_error=order_error, order_note=note)


# --------------------------------------------------------------------------------------------
# Textbook predictions
# --------------------------------------------------------------------------------------------

# What a prediction speaks about: a per-step rate on f - f*, on ||x - x*||, an order, a step count.
QUANTITIES = ("f_rate", "x_rate", "order", "steps")


@dataclass(frozen=True)
class Prediction:
    """What the textbook says about one run, or why it says nothing here.

    ``kind``: "bound" (observed <= value), "asymptotic" (the per-step ratio tends to value),
    "exact" (value steps). When ``applies`` is False, ``value`` is None and ``reason`` says why.
    """

    method: str
    claim: str
    latex: str
    quantity: str | None
    value: float | None
    kind: str
    applies: bool
    reason: str


def _momentum_radius(eigenvalues: np.ndarray, eta: float, beta: float) -> float:
    """Spectral radius of heavy ball on a quadratic: max over lambda of the roots of
    z^2 - (1 + beta - eta lambda) z + beta = 0."""
    radius = 0.0
    for lam in eigenvalues:
        roots = np.roots([1.0, -(1.0 + beta - eta * lam), beta])
        radius = max(radius, float(np.max(np.abs(roots))))
    return radius


def _nesterov_radius(eigenvalues: np.ndarray, eta: float, beta: float) -> float:
    """Spectral radius of Nesterov's method on a quadratic: max over lambda of the roots of
    z^2 - (1 + beta)(1 - eta lambda) z + beta (1 - eta lambda) = 0."""
    radius = 0.0
    for lam in eigenvalues:
        shrink = 1.0 - eta * lam
        roots = np.roots([1.0, -(1.0 + beta) * shrink, beta * shrink])
        radius = max(radius, float(np.max(np.abs(roots))))
    return radius


def distinct_count(eigenvalues: np.ndarray, relative: float = 1e-9) -> int:
    """How many eigenvalues differ (to ``relative`` of the largest magnitude)."""
    values = np.sort(np.asarray(eigenvalues, dtype=float))
    scale = max(float(np.abs(values).max()), np.finfo(float).tiny) if values.size else 1.0
    return int(1 + np.count_nonzero(np.diff(values) > relative * scale)) if values.size else 0


def _not(method: str, claim: str, latex: str, reason: str) -> Prediction:
    return Prediction(method, claim, latex, None, None, "", False, reason)


def predict(problem: Problem, trace: Trace) -> Prediction:
    """The textbook prediction for ``trace.method`` on this f from this start, or why none applies."""
    method, options = trace.method, trace.options
    constants = quadratic_constants(problem, trace.x[0])
    pd_quadratic = constants is not None and constants.positive_definite
    why_not = NOT_QUADRATIC if constants is None else constants.reason
    if method == "gd":
        eta = float(options["lr"])
        claim = "fixed-step GD contracts the error in x by max|1 − ηλᵢ| per step"
        latex = r"\|x_{k+1}-x^*\| \le \max_i |1-\eta\lambda_i|\,\|x_k-x^*\|"
        if not pd_quadratic:
            return _not(method, claim, latex, "does not apply because " + why_not)
        rho = constants.contraction(eta)
        if rho >= 1:
            claim = (f"no contraction: η = {eta:.4g} ≥ 2/λmax = {constants.stability_limit:.4g}, so the error along "
                     "the top eigen-direction does not shrink")
        return Prediction(method, claim, latex, "x_rate", rho, "asymptotic", True,
                          "f is quadratic with positive definite H (the rate is reached unless x₀ − x* has no "
                          "component along the slowest eigen-direction)")
    if method in ("gd-optimal", "gd-exact"):  # on a quadratic the exact line minimum is g'g/g'Hg
        claim = "steepest descent with exact steps contracts f − f* by at most ((κ−1)/(κ+1))² per step"
        latex = r"\frac{f(x_{k+1})-f^*}{f(x_k)-f^*} \le \left(\frac{\kappa-1}{\kappa+1}\right)^2"
        if not pd_quadratic:
            return _not(method, claim, latex, "does not apply because " + why_not)
        return Prediction(method, claim, latex, "f_rate", constants.steepest_descent_bound, "bound", True,
                          f"f is quadratic with positive definite H, κ = {constants.condition:.4g} (Kantorovich)")
    if method in ("newton", "newton-damped"):
        if constants is not None:
            claim = "Newton solves a quadratic in one step"
            latex = r"x_1 = x_0 - H^{-1} g_0 = x^*"
            if pd_quadratic:
                return Prediction(method, claim, latex, "steps", 1.0, "exact", True,
                                  "f is quadratic with positive definite H: the model is f itself")
            if method == "newton" and constants.stationary_point is not None:
                return Prediction(method, "Newton jumps to the stationary point of a quadratic in one step "
                                          f"(here a {'saddle' if constants.definiteness == 'indefinite' else 'maximum'}, "
                                          "not a minimum)", latex, "steps", 1.0, "exact", True,
                                  f"f is quadratic and H is non-singular ({constants.definiteness})")
            return _not(method, claim, latex, "does not apply because " + constants.reason)
        claim = "Newton converges quadratically (order 2) near a non-degenerate minimum"
        latex = r"\|x_{k+1}-x^*\| \le M\,\|x_k-x^*\|^2"
        settled, why = hessian_settled(problem, trace)
        if not settled:
            return _not(method, claim, latex, "does not apply because " + why)
        if method == "newton-damped" and not (trace.step_size[-2] == 1.0):
            return _not(method, claim, latex, "does not apply because the line search still shortened the last "
                                              "step (quadratic convergence needs full steps η = 1)")
        kind = trace.stationary_point or "stationary point"
        note = "" if kind == "minimum" else f" (x_K is a {kind}: Newton converges as fast to any non-degenerate stationary point)"
        return Prediction(method, claim, latex, "order", 2.0, "asymptotic", True, why + note)
    if method == "momentum":
        eta, beta = float(options["lr"]), float(options["beta"])
        claim = "heavy ball contracts the error by the spectral radius of its 2×2 iteration per eigenvalue"
        latex = (r"\rho = \max_i \rho\!\begin{pmatrix}1+\beta-\eta\lambda_i & -\beta\\ 1 & 0\end{pmatrix}")
        if not pd_quadratic:
            return _not(method, claim, latex, "does not apply because " + why_not)
        return Prediction(method, claim, latex, "x_rate", _momentum_radius(constants.eigenvalues, eta, beta),
                          "asymptotic", True, "f is quadratic with positive definite H (Polyak)")
    if method == "gd-armijo":
        return _not(method, "linear convergence on a strongly convex f", "",
                    "no single textbook number: η_k is chosen by backtracking at every step, so the "
                    "contraction depends on c₁, the shrink factor and κ")
    if method in ("bfgs", "lbfgs"):
        return _not(method, "superlinear near a non-degenerate minimum", "",
                    "no single textbook number: BFGS is superlinear (ratios → 0, order between 1 and 2) "
                    "once its Hessian estimate is good, which the theory does not time"
                    + ("; L-BFGS, keeping m pairs, is linear in general and fast in practice" if method == "lbfgs" else ""))
    if method == "nesterov":
        eta, beta = float(options["lr"]), float(options["beta"])
        claim = "Nesterov's method contracts the error by the spectral radius of its 2×2 iteration per eigenvalue"
        latex = (r"\rho = \max_i \rho\!\begin{pmatrix}(1+\beta)(1-\eta\lambda_i) & -\beta(1-\eta\lambda_i)\\ 1 & 0"
                 r"\end{pmatrix}")
        if not pd_quadratic:
            return _not(method, claim, latex, "does not apply because " + why_not)
        return Prediction(method, claim, latex, "x_rate", _nesterov_radius(constants.eigenvalues, eta, beta),
                          "asymptotic", True, "f is quadratic with positive definite H (constant β)")
    if method == "cg":
        claim = ("conjugate gradient with exact line searches ends in at most as many steps as H has distinct "
                 "eigenvalues (at most n)")
        latex = r"x_m = x^*,\quad m \le \#\{\text{distinct }\lambda_i\} \le n"
        if not pd_quadratic:
            return _not(method, claim, latex, "does not apply because " + why_not)
        return Prediction(method, claim, latex, "steps", float(distinct_count(constants.eigenvalues)), "bound", True,
                          "f is quadratic with positive definite H (in exact arithmetic: rounding can add a step)")
    if method == "trust-region":
        return _not(method, "global convergence to a point where H ⪰ 0; quadratic near a non-degenerate minimum", "",
                    "no single textbook number: the radius decides how many steps stay on the boundary before "
                    "the Newton step fits, after which it converges as Newton does")
    if method == "adam":
        return _not(method, "", "", "no textbook rate: Adam rescales every coordinate by its running mean of g², "
                                    "and with a constant η it need not even converge (Reddi, Kale & Kumar 2018)")
    return _not(method, "", "", "no textbook prediction is implemented for this method")


def observed_value(observed: ObservedRates, quantity: str | None, trace: Trace) -> float:
    """The measured number a prediction of ``quantity`` should be compared with."""
    if quantity == "f_rate":
        return observed.f_rate
    if quantity == "x_rate":
        return observed.x_rate
    if quantity == "order":
        return observed.order
    if quantity == "steps":
        return float(trace.iterations) if trace.status == "converged" else math.nan
    return math.nan


def verdict(prediction: Prediction, observed: ObservedRates, trace: Trace) -> str:
    """One line comparing the measurement with the prediction."""
    if not prediction.applies:
        return "no prediction"
    value = observed_value(observed, prediction.quantity, trace)
    target = float(prediction.value)
    if prediction.quantity == "steps":
        if trace.status == "converged" and trace.iterations <= target:
            return f"matches: converged in {trace.iterations} step{'s' if trace.iterations != 1 else ''}"
        return f"does not match: {trace.message}"
    if not math.isfinite(value):
        if prediction.quantity == "f_rate" and trace.status == "converged" and trace.iterations <= 1:
            return "consistent: solved in one step (ratio 0)"
        return "not measurable on this run (too few resolved steps)"
    if prediction.kind == "bound":
        return (f"consistent: {value:.4g} ≤ {target:.4g}" if value <= target * (1 + 1e-9) + 1e-15
                else f"above the bound: {value:.4g} > {target:.4g}")
    if prediction.quantity == "order":
        return (f"consistent: order {value:.2f} ≈ 2" if 1.6 <= value <= 2.6
                else f"differs: order {value:.2f}, expected 2")
    return (f"matches: {value:.4g} ≈ {target:.4g}" if abs(value - target) <= 0.02 * max(target, 1e-300)
            else f"differs: {value:.4g} vs {target:.4g}")


# --------------------------------------------------------------------------------------------
# The 1-D lesson: when optimal-rate GD is Newton
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepComparison:
    """Newton's step and the optimal-rate step along -g at one point, in H's eigenbasis.

    With g = sum_i c_i v_i, Newton's step is -sum_i (c_i / lambda_i) v_i and the optimal-rate step
    is -eta sum_i c_i v_i: one scale for every direction. They agree exactly when all c_i != 0
    belong to one eigenvalue (g is an eigenvector of H), in particular always when n = 1.
    """

    local: LocalAnalysis
    eigenvectors: np.ndarray  # columns, ascending eigenvalues
    components: np.ndarray  # c_i = v_i' g
    newton_step: np.ndarray | None  # -H^-1 g
    optimal_step: np.ndarray | None  # -(g'g / g'Hg) g
    difference: float  # ||newton_step - optimal_step|| (nan when one is missing)

    @property
    def same_step(self) -> bool:
        """The two steps agree to rounding."""
        if self.newton_step is None or self.optimal_step is None:
            return False
        scale = max(float(np.linalg.norm(self.newton_step)), 1e-300)
        return self.difference <= 1e-9 * scale

    @property
    def inverse_curvature(self) -> float | None:
        """1 / f''(x) for a 1-variable f (None when f'' = 0 or n > 1)."""
        h = self.local.hessian
        return float(1.0 / h[0, 0]) if h.shape == (1, 1) and h[0, 0] != 0 else None


def compare_steps(problem: Problem, x: Sequence[float]) -> StepComparison:
    """Newton's step vs the optimal-rate step at ``x``; raises core.EvaluationError where f, g
    or H is undefined."""
    local = local_analysis(problem, np.asarray(x, dtype=float))
    _, vectors = np.linalg.eigh(local.hessian)
    components = vectors.T @ local.g
    optimal = None if local.optimal_rate is None else -local.optimal_rate * local.g
    newton = local.newton
    difference = (float(np.linalg.norm(newton - optimal)) if newton is not None and optimal is not None
                  else math.nan)
    return StepComparison(local, vectors, components, newton, optimal, difference)


@dataclass(frozen=True)
class TraceComparison:
    """Two traces iterate by iterate (over their common length)."""

    length: int  # iterates compared
    same_length: bool
    max_difference: float  # max_k ||x_k(a) - x_k(b)||
    relative_difference: float  # the same divided by max ||x_k||
    identical: bool  # same length and equal to within rounding (relative 1e-12)


def compare_traces(a: Trace, b: Trace) -> TraceComparison:
    """Are two traces the same sequence of iterates (to rounding)?"""
    n = min(len(a.f), len(b.f))
    xa, xb = a.x[:n], b.x[:n]
    with np.errstate(all="ignore"):
        difference = float(np.nanmax(np.linalg.norm(xa - xb, axis=1))) if n else 0.0
        scale = float(np.nanmax(np.linalg.norm(xa, axis=1))) if n else 0.0
    relative = difference / scale if scale > 0 else difference
    same = len(a.f) == len(b.f)
    return TraceComparison(n, same, difference, relative, bool(same and relative <= 1e-12))


__all__ = [
    "QuadraticConstants", "quadratic_constants", "NOT_QUADRATIC",
    "OUTCOMES", "OSCILLATION_RULE", "Oscillation", "detect_oscillation", "classify_run",
    "SweepRun", "Sweep", "learning_rate_grid", "default_rate_range", "sweep_learning_rates",
    "RateMark", "rate_marks",
    "hessian_settled", "ObservedRates", "observed_rates", "tail_rate", "loglog_order",
    "Prediction", "predict", "observed_value", "verdict",
    "StepComparison", "compare_steps", "TraceComparison", "compare_traces",
]


# --------------------------------------------------------------------------------------------
# Cost: what each run paid (the other half of seed 001's question)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """What a run paid, from its counts: totals and per step (evaluations of f, g and H, linear
    solves or eigendecompositions of an n x n matrix) and its wall time."""

    method: str
    steps: int
    nfev: int
    ngev: int
    nhev: int
    nsolve: int
    seconds: float

    def per_step(self, name: str) -> float:
        return getattr(self, name) / self.steps if self.steps else math.nan

    @property
    def per_step_text(self) -> str:
        """'1 f, 1 g, 1 H, 1 solve' (averages, rounded to 0.1)."""
        parts = []
        for name, label in (("nfev", "f"), ("ngev", "g"), ("nhev", "H"), ("nsolve", "solve")):
            value = self.per_step(name)
            if math.isfinite(value) and value > 0:
                parts.append(f"{value:.3g} {label}")
        return ", ".join(parts) if parts else "no step"


def cost_of(trace: Trace) -> Cost:
    c = trace.counts
    return Cost(trace.method, trace.iterations, c.get("nfev", 0), c.get("ngev", 0), c.get("nhev", 0),
                c.get("nsolve", 0), float(trace.seconds))

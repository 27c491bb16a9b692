"""Theory vs measurement: the rates observed on one trace (per-step ratios of f − f*, ‖g‖ and
‖x − x*‖, their tail rate, the log-log order), the textbook prediction for it (each method's own:
core.predictions), the verdict comparing the two, and what the run cost (evaluations, solves,
seconds)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .analysis import local_analysis
from .blocks import EPS
from .methods import get_method
from .predictions import Prediction, Situation, hessian_settled
from .problem import Problem
from .quadratic import NOT_QUADRATIC, quadratic_constants
from .run import Trace

# Observed rates and order

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


def distances_to_limit(trace: Trace, observed: ObservedRates, last: int = 4) -> np.ndarray:
    """||x_k - x*|| for the last ``last`` iterates (x* as the observed rates took it)."""
    return np.linalg.norm(trace.x - observed.x_star, axis=1)[-last:]


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



def predict(problem: Problem, trace: Trace) -> Prediction:
    """The textbook prediction for ``trace.method`` on this f from this start, or why none applies
    (the method's own ``prediction``)."""
    constants = quadratic_constants(problem, trace.x[0])
    why_not = NOT_QUADRATIC if constants is None else constants.reason
    return get_method(trace.method).prediction(Situation(problem, trace, constants, why_not))


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


# What a run paid (the other half of seed 001's question)


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


__all__ = ["ObservedRates", "observed_rates", "tail_rate", "loglog_order", "predict", "observed_value", "verdict",
           "Cost", "cost_of"]

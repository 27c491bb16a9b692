"""One step along its line, for a picture: phi(eta) = f(x_k + eta d_k), the trials a line search
made (replayed), the Armijo line, and for the optimal rate the quadratic model along d.

A line search's trials are not kept in the trace (a run of 20,000 steps would carry them all);
the step is replayed instead: the method's step-size rule runs again at x_k along d_k, with its
state at k (Rule.state_at), counting nothing and recording every point it evaluates. The replay
must take the very step the trace took, or no trials are shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .blocks import Batch, Counts, Work
from .methods import get_method
from .options import Options
from .problem import Problem
from .run import Trace

LINE_POINTS = 240  # phi is drawn from this many values
LOG_SPAN = 30  # trials spread over more than this factor are drawn on a log eta axis (backtracking from 1)


@dataclass(frozen=True)
class Trial:
    eta: float
    f: float  # inf where f is not defined or overflows
    accepted: bool


@dataclass(frozen=True)
class LineView:
    """Step k of a trace along its line."""

    method: str
    k: int
    view: str  # "search" or "model" (the rule's line_view)
    f0: float
    slope: float  # phi'(0) = g'd
    eta: float  # the step size taken
    trials: tuple[Trial, ...]  # a search's evaluations, in order (empty for "model")
    c1: float
    c2: float | None  # the curvature constant where the rule checks it (Wolfe)
    curvature: float  # d'Hd (nan unless the rule reads H)
    etas: np.ndarray  # where phi is drawn (geometric when log_eta)
    log_eta: bool
    phi: np.ndarray  # f(x_k + eta d_k) there (nan where not finite)
    true_minimum: float  # the eta of phi's least value on the drawn range, refined (nan if none)

    def armijo(self, etas: np.ndarray) -> np.ndarray:
        """The sufficient-decrease line f_k + c1 eta g'd: an accepted trial lies on or below it."""
        return self.f0 + self.c1 * etas * self.slope

    def model(self, etas: np.ndarray) -> np.ndarray:
        """The quadratic model along d: f_k + eta g'd + eta^2 d'Hd / 2."""
        return self.f0 + etas * self.slope + 0.5 * etas ** 2 * self.curvature

    @property
    def model_eta(self) -> float:
        """-g'd / d'Hd: the model's minimum along d (nan without positive curvature)."""
        return -self.slope / self.curvature if self.curvature > 0 else math.nan


class _Recorder:
    """The problem, recording every point the replayed rule evaluates f at."""

    def __init__(self, problem: Problem) -> None:
        self.problem, self.points, self.values = problem, [], []

    def batch_values(self, X: np.ndarray) -> np.ndarray:
        values = self.problem.batch_values(X)
        self.points.append(np.array(X)), self.values.append(np.array(values))
        return values

    def __getattr__(self, name: str) -> Any:
        return getattr(self.problem, name)


def line_at(problem: Problem, trace: Trace, k: int) -> LineView | None:
    """Step k of ``trace`` along its line, or None when its method's step is not a line (a fixed
    rate, a trust region) or no step was taken from x_k."""
    spec = get_method(trace.method)
    view = spec.step.line_view
    if not view or k >= trace.iterations:
        return None
    x, d, eta = trace.x[k], trace.direction[k], float(trace.step_size[k])
    if not (np.isfinite(x).all() and np.isfinite(d).all() and math.isfinite(eta)) or not d.any():
        return None
    options = Options(**{name: value for name, value in trace.options.items() if name in Options.__dataclass_fields__})
    f0, g = float(trace.f[k]), trace.grad[k]
    slope = float(g @ d)
    with np.errstate(all="ignore"):
        hessian = problem.hessians(x[None]) if (spec.step.needs_hessian or view == "model") else None
        curvature = float(d @ hessian[0] @ d) if hessian is not None else math.nan
        trials: tuple[Trial, ...] = ()
        if view == "search":
            recorder = _Recorder(problem)
            work = Work(recorder, options, Counts.zeros(1))
            at = Batch(x[None], np.array([f0]), g[None], hessian, k)
            replayed = spec.step.size(at, d[None], spec.step.state_at(trace, k, options), work)
            if float(replayed.eta[0]) != eta:
                return None  # the replay did not retrace the run: show no trials rather than other ones
            points = np.concatenate(recorder.points) if recorder.points else np.zeros((0, x.size))
            values = np.concatenate(recorder.values) if recorder.values else np.zeros(0)
            etas_tried = (points - x) @ d / (d @ d)  # to rounding; the accepted one is known by its point
            taken = np.flatnonzero(np.all(points == x + eta * d, axis=1))
            trials = tuple(Trial(float(e), float(v) if math.isfinite(v) else math.inf, bool(taken.size and i == taken[-1]))
                           for i, (e, v) in enumerate(zip(etas_tried, values)))
        tried = [t.eta for t in trials if math.isfinite(t.eta) and t.eta > 0]
        reach = max([eta] + tried)
        if view == "model" and curvature > 0:
            reach = max(reach, 2 * (-slope / curvature))
        log_eta = bool(tried) and max(tried) / min(tried) > LOG_SPAN
        etas = np.geomspace(min(tried) / 2, 1.15 * reach, LINE_POINTS) if log_eta else np.linspace(0.0, 1.15 * reach, LINE_POINTS)
        phi = problem.values(x + etas[:, None] * d)
        phi = np.where(np.isfinite(phi), phi, np.nan)
        true_minimum = _refined_minimum(problem, x, d, etas, phi)
    c2 = float(options.c2) if "c2" in spec.step.options else None
    return LineView(trace.method, k, view, f0, slope, eta, trials, float(options.c1), c2, curvature, etas, log_eta, phi,
                    true_minimum)


def _refined_minimum(problem: Problem, x: np.ndarray, d: np.ndarray, etas: np.ndarray, phi: np.ndarray) -> float:
    """The eta of phi's least drawn value, refined between its neighbours by bisection on the sign
    of phi'(eta) = g(x + eta d)'d (to the last digits: f's values alone only give sqrt(eps))."""
    if not np.isfinite(phi).any():
        return math.nan
    i = int(np.nanargmin(phi))
    lo, hi = float(etas[max(i - 1, 0)]), float(etas[min(i + 1, len(etas) - 1)])

    def slope(eta: float) -> float:
        return float(problem.gradients((x + eta * d)[None])[0] @ d)
    if not (slope(lo) < 0 < slope(hi)):
        return float(etas[i])  # the least value sits at an end of the drawn range, or phi' is not usable
    for _ in range(200):
        middle = (lo + hi) / 2
        if middle in (lo, hi):
            break
        value = slope(middle)
        if not math.isfinite(value):
            break
        lo, hi = (middle, hi) if value < 0 else (lo, middle)
    return (lo + hi) / 2

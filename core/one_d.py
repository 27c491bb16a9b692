"""The 1-D lesson: when optimal-rate gradient descent is Newton (its step and Newton's at one
point, in H's eigenbasis; two traces compared step by step)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .analysis import LocalAnalysis, local_analysis
from .problem import Problem
from .run import Trace


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


def second_derivatives(problem: Problem, trace: Trace, rows: slice = slice(None)) -> np.ndarray:
    """f''(x_k) for the iterates ``rows`` of a 1-variable trace (nan where it is not defined), so a
    table shows the optimal rate η_k = 1/f''(x_k) beside it: only the rows asked for are evaluated."""
    xs = trace.x[rows]
    second = np.full(len(xs), np.nan)
    finite = np.isfinite(xs).all(axis=1)
    if finite.any():
        second[finite] = problem.hessians(xs[finite])[:, 0, 0]
    return np.where(np.isfinite(second), second, np.nan)  # not defined there (overflow, domain): no number


__all__ = ["StepComparison", "compare_steps", "TraceComparison", "compare_traces", "second_derivatives"]

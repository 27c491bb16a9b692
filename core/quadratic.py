"""Quadratic constants: what the constant Hessian of a quadratic f says about gradient methods
(eigenvalues, the stability limit 2/λmax, the best fixed rate, the Kantorovich bound, the exact
minimiser). Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .analysis import definiteness
from .linalg import condition, numerically_singular
from .problem import EvaluationError, Problem


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


__all__ = ["QuadraticConstants", "quadratic_constants", "NOT_QUADRATIC"]

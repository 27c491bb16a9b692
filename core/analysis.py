"""Local analysis at a point: what g and H say, and how Newton's step differs from -g."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .linalg import condition, numerically_singular, signs
from .problem import Problem
from .run import classify_stationary_point


@dataclass(frozen=True)
class LocalAnalysis:
    x: np.ndarray
    f: float
    g: np.ndarray
    hessian: np.ndarray
    eigenvalues: np.ndarray  # ascending
    condition: float  # max|lambda| / min|lambda| (inf when H is singular)
    definiteness: str  # positive definite / negative definite / indefinite / ... semidefinite
    steepest: np.ndarray  # -g
    newton: np.ndarray | None  # solves H d = -g; None when H is singular
    angle_deg: float  # between the Newton direction and -g (nan when undefined)
    optimal_rate: float | None  # g'g / g'Hg when g'Hg > 0

    @property
    def steepest_descent_bound(self) -> float | None:
        """((κ−1)/(κ+1))², Kantorovich's factor on f − f* per exact step, for the quadratic model
        at x (None unless H is positive definite there)."""
        if self.definiteness != "positive definite" or not math.isfinite(self.condition):
            return None
        return ((self.condition - 1.0) / (self.condition + 1.0)) ** 2

    @property
    def grad_norm(self) -> float:
        return float(np.linalg.norm(self.g))

    @property
    def gradient_products(self) -> tuple[float, float]:
        """(g'g, g'Hg): the numerator and denominator of the optimal rate."""
        return float(self.g @ self.g), float(self.g @ self.hessian @ self.g)

    @property
    def newton_point(self) -> np.ndarray | None:
        """x + d with H d = -g: the model's stationary point (its minimum when H is positive
        definite, its centre in every case: where Newton's step lands)."""
        return None if self.newton is None else self.x + self.newton

    @property
    def optimal_point(self) -> np.ndarray | None:
        """x - eta g with eta = g'g / g'Hg: the minimum of the model along -g, where the line
        along -g touches a contour of the model (where the optimal rate's step lands)."""
        return None if self.optimal_rate is None else self.x - self.optimal_rate * self.g

    def model_levels(self, count: int = 6) -> np.ndarray:
        """Levels at which to draw the model's contours: f(x) (the contour through x), the level
        the optimal-rate step touches, and, where the model has a minimum, levels spaced
        geometrically down to it (the ellipses shrink onto the Newton point). Empty when H is
        not positive definite: the caller picks levels from the model's values on its picture."""
        if self.definiteness != "positive definite" or self.newton_point is None:
            return np.array([self.f])
        lowest = float(self.model(self.newton_point[None])[0])
        levels = [lowest + (self.f - lowest) * 0.45 ** j for j in range(count)]
        if self.optimal_point is not None:
            levels.append(float(self.model(self.optimal_point[None])[0]))
        return np.unique(np.array(levels))

    def model(self, points: np.ndarray) -> np.ndarray:
        """The second-order model m(p) = f + g'(p − x) + ½ (p − x)'H(p − x) at points of shape
        (P, n): f's Taylor expansion at x, the function Newton minimises."""
        step = np.asarray(points, dtype=float) - self.x
        return self.f + step @ self.g + 0.5 * np.einsum("pi,ij,pj->p", step, self.hessian, step)


def unit(v: np.ndarray) -> np.ndarray:
    """v / ||v|| (v itself when it is zero)."""
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def definiteness(eigenvalues: np.ndarray) -> str:
    """Definiteness of a symmetric matrix from its eigenvalues; an eigenvalue below the shared
    conditioning threshold (core.linalg) counts as zero."""
    positive, negative = signs(eigenvalues)
    if positive.all():
        return "positive definite"
    if negative.all():
        return "negative definite"
    if positive.any() and negative.any():
        return "indefinite"
    return "positive semidefinite (singular)" if positive.any() else \
        "negative semidefinite (singular)" if negative.any() else "zero"


def angle_between(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between two vectors (nan if one is zero)."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norms == 0 or not math.isfinite(norms):
        return math.nan
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)  # Kahan's form: exact near 0 and 180 deg
    return math.degrees(2 * math.atan2(float(np.linalg.norm(a - b)), float(np.linalg.norm(a + b))))


def local_analysis(problem: Problem, x: np.ndarray) -> LocalAnalysis:
    """g, H, eigenvalues, conditioning, definiteness and both directions at x.

    Raises core.EvaluationError when f, g or H is not defined at x.
    """
    x = np.asarray(x, dtype=float)
    f, g, hessian = problem.value(x), problem.gradient(x), problem.hessian(x)
    eigenvalues = np.linalg.eigvalsh(hessian)
    kappa = condition(eigenvalues)
    try:
        newton = None if numerically_singular(eigenvalues) else np.linalg.solve(hessian, -g)
    except np.linalg.LinAlgError:
        newton = None
    curvature = float(g @ hessian @ g)
    return LocalAnalysis(
        x=x, f=f, g=g, hessian=hessian, eigenvalues=eigenvalues, condition=kappa,
        definiteness=definiteness(eigenvalues), steepest=-g, newton=newton,
        angle_deg=angle_between(newton, -g) if newton is not None else math.nan,
        optimal_rate=float(g @ g) / curvature if curvature > 0 else None,
    )


__all__ = ["LocalAnalysis", "local_analysis", "definiteness", "angle_between", "classify_stationary_point"]

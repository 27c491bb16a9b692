"""Textbook predictions, one function per method: each :class:`core.methods.Method` carries its own
as ``prediction`` (core.theory.predict asks the run's method). A prediction is made from a
:class:`Situation`: the problem, the run, and f's quadratic constants when f is quadratic.

Imports neither the run loop nor the methods (the methods import this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from .latex import number_latex, vector_latex
from .linalg import numerically_singular
from .problem import EvaluationError, Problem

if TYPE_CHECKING:
    from .quadratic import QuadraticConstants
    from .run import Trace

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
    with_numbers: str = ""  # the formula with this run's numbers put in (LaTeX), where there is one



@dataclass(frozen=True)
class Situation:
    """What a prediction is made from."""

    problem: Problem
    trace: Trace
    constants: QuadraticConstants | None  # None when f is not quadratic
    why_not: str  # why the quadratic rates do not apply ("" when H is positive definite)

    @property
    def pd_quadratic(self) -> bool:
        return self.constants is not None and self.constants.positive_definite

    def option(self, name: str) -> float:
        return float(self.trace.options[name])


Predictor = Callable[[Situation], Prediction]


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


def spectral_radius(eigenvalues: np.ndarray, characteristic: Callable[[float], tuple[float, float]]) -> float:
    """The largest |z| over the eigenvalues lambda of H, z a root of z^2 - b z + c = 0 with
    (b, c) = characteristic(lambda): the per-step factor of a two-step method on a quadratic."""
    radius = 0.0
    for lam in eigenvalues:
        b, c = characteristic(float(lam))
        radius = max(radius, float(np.max(np.abs(np.roots([1.0, -b, c])))))
    return radius


def distinct_count(eigenvalues: np.ndarray, relative: float = 1e-9) -> int:
    """How many eigenvalues differ (to ``relative`` of the largest magnitude)."""
    values = np.sort(np.asarray(eigenvalues, dtype=float))
    scale = max(float(np.abs(values).max()), np.finfo(float).tiny) if values.size else 1.0
    return int(1 + np.count_nonzero(np.diff(values) > relative * scale)) if values.size else 0


def _not(method: str, claim: str, latex: str, reason: str) -> Prediction:
    return Prediction(method, claim, latex, None, None, "", False, reason)


def fixed_rate_gd(s: Situation) -> Prediction:
    eta = s.option("lr")
    claim = "fixed-step GD contracts the error in x by max|1 − ηλᵢ| per step"
    latex = r"\|x_{k+1}-x^*\| \le \max_i |1-\eta\lambda_i|\,\|x_k-x^*\|"
    if not s.pd_quadratic:
        return _not(s.trace.method, claim, latex, "does not apply because " + s.why_not)
    rho = s.constants.contraction(eta)
    if rho >= 1:
        claim = (f"no contraction: η = {eta:.4g} ≥ 2/λmax = {s.constants.stability_limit:.4g}, so the error along "
                 "the top eigen-direction does not shrink")
    terms = ", ".join(rf"|1-{number_latex(eta, 4)}\cdot {number_latex(lam, 4)}|" for lam in s.constants.eigenvalues)
    return Prediction(s.trace.method, claim, latex, "x_rate", rho, "asymptotic", True,
                      "f is quadratic with positive definite H (the rate is reached unless x₀ − x* has no "
                      "component along the slowest eigen-direction)",
                      rf"\max\left({terms}\right) = {number_latex(rho, 6)}")


def steepest_descent_exact(s: Situation) -> Prediction:
    """gd-optimal and gd-exact: on a quadratic the exact line minimum is g'g/g'Hg."""
    claim = "steepest descent with exact steps contracts f − f* by at most ((κ−1)/(κ+1))² per step"
    latex = r"\frac{f(x_{k+1})-f^*}{f(x_k)-f^*} \le \left(\frac{\kappa-1}{\kappa+1}\right)^2"
    if not s.pd_quadratic:
        return _not(s.trace.method, claim, latex, "does not apply because " + s.why_not)
    c = s.constants
    with_numbers = (rf"\kappa = \frac{{\lambda_{{max}}}}{{\lambda_{{min}}}} = \frac{{{number_latex(c.lambda_max, 4)}}}"
                    rf"{{{number_latex(c.lambda_min, 4)}}} = {number_latex(c.condition, 4)},\quad "
                    rf"\left(\frac{{\kappa-1}}{{\kappa+1}}\right)^2 = {number_latex(c.steepest_descent_bound, 6)}")
    return Prediction(s.trace.method, claim, latex, "f_rate", c.steepest_descent_bound, "bound", True,
                      f"f is quadratic with positive definite H, κ = {c.condition:.4g} (Kantorovich)", with_numbers)


def _newton(s: Situation, full_steps_only: bool) -> Prediction:
    method, constants, trace = s.trace.method, s.constants, s.trace
    if constants is not None:
        claim = "Newton solves a quadratic in one step"
        latex = r"x_1 = x_0 - H^{-1} g_0 = x^*"
        if s.pd_quadratic and full_steps_only and s.option("c1") > 0.5:
            # on a quadratic the full step decreases f by exactly half of -g'd: Armijo with c1 > 1/2 refuses it
            return _not(method, claim, latex, f"does not apply because c₁ = {s.option('c1'):.3g} > 1/2: on a quadratic the "
                                              "full Newton step decreases f by exactly ½|g'd|, so Armijo shortens it")
        if s.pd_quadratic:
            return Prediction(method, claim, latex, "steps", 1.0, "exact", True,
                              "f is quadratic with positive definite H: the model is f itself", _first_step(trace))
        if not full_steps_only and constants.stationary_point is not None:
            return Prediction(method, "Newton jumps to the stationary point of a quadratic in one step "
                                      f"(here a {'saddle' if constants.definiteness == 'indefinite' else 'maximum'}, "
                                      "not a minimum)", latex, "steps", 1.0, "exact", True,
                              f"f is quadratic and H is non-singular ({constants.definiteness})", _first_step(trace))
        return _not(method, claim, latex, "does not apply because " + constants.reason)
    claim = "Newton converges quadratically (order 2) near a non-degenerate minimum"
    latex = r"\|x_{k+1}-x^*\| \le M\,\|x_k-x^*\|^2"
    settled, why = hessian_settled(s.problem, trace)
    if not settled:
        return _not(method, claim, latex, "does not apply because " + why)
    if full_steps_only and not (trace.step_size[-2] == 1.0):
        return _not(method, claim, latex, "does not apply because the line search still shortened the last "
                                          "step (quadratic convergence needs full steps η = 1)")
    kind = trace.stationary_point or "stationary point"
    note = "" if kind == "minimum" else f" (x_K is a {kind}: Newton converges as fast to any non-degenerate stationary point)"
    return Prediction(method, claim, latex, "order", 2.0, "asymptotic", True, why + note)


def _first_step(trace: Trace) -> str:
    """x_1 = x_0 + dx_0 with the run's numbers, and ||g(x_1)||: the one step, checked."""
    if trace.iterations >= 1 and np.isfinite(trace.x[1]).all():
        return (rf"x_1 = {vector_latex(trace.x[0])} + {vector_latex(trace.dx[0])} = {vector_latex(trace.x[1])},"
                rf"\quad \|g(x_1)\| = {number_latex(float(trace.grad_norm[1]), 3)}")
    return ""


def pure_newton(s: Situation) -> Prediction:
    return _newton(s, full_steps_only=False)


def damped_newton(s: Situation) -> Prediction:
    """Its line search only settles in minima, and quadratic convergence needs the full step."""
    return _newton(s, full_steps_only=True)


def _two_step(s: Situation, claim: str, latex: str, characteristic: Callable[[float, float, float], tuple[float, float]],
              source: str) -> Prediction:
    if not s.pd_quadratic:
        return _not(s.trace.method, claim, latex, "does not apply because " + s.why_not)
    eta, beta = s.option("lr"), s.option("beta")
    radius = spectral_radius(s.constants.eigenvalues, lambda lam: characteristic(lam, eta, beta))
    if radius >= 1:  # the same iteration, read truthfully: it does not contract
        claim = claim.replace("contracts the error by", "does not contract: the error grows by")
    with_numbers = rf"\rho = {number_latex(radius, 6)}\quad(\eta = {number_latex(eta, 4)},\ \beta = {number_latex(beta, 4)})"
    return Prediction(s.trace.method, claim, latex, "x_rate", radius, "asymptotic", True,
                      f"f is quadratic with positive definite H ({source})", with_numbers)


def heavy_ball(s: Situation) -> Prediction:
    return _two_step(s, "heavy ball contracts the error by the spectral radius of its 2×2 iteration per eigenvalue",
                     r"\rho = \max_i \rho\!\begin{pmatrix}1+\beta-\eta\lambda_i & -\beta\\ 1 & 0\end{pmatrix}",
                     lambda lam, eta, beta: (1.0 + beta - eta * lam, beta), "Polyak")


def nesterov(s: Situation) -> Prediction:
    return _two_step(s, "Nesterov's method contracts the error by the spectral radius of its 2×2 iteration per eigenvalue",
                     (r"\rho = \max_i \rho\!\begin{pmatrix}(1+\beta)(1-\eta\lambda_i) & -\beta(1-\eta\lambda_i)\\ 1 & 0"
                      r"\end{pmatrix}"),
                     lambda lam, eta, beta: ((1.0 + beta) * (1.0 - eta * lam), beta * (1.0 - eta * lam)), "constant β")


def conjugate_gradient(s: Situation) -> Prediction:
    claim = ("conjugate gradient with exact line searches ends in at most as many steps as H has distinct "
             "eigenvalues (at most n)")
    latex = r"x_m = x^*,\quad m \le \#\{\text{distinct }\lambda_i\} \le n"
    if not s.pd_quadratic:
        return _not(s.trace.method, claim, latex, "does not apply because " + s.why_not)
    distinct = distinct_count(s.constants.eigenvalues)
    shown = ", ".join(number_latex(float(lam), 4) for lam in s.constants.eigenvalues)
    return Prediction(s.trace.method, claim, latex, "steps", float(distinct), "bound", True,
                      "f is quadratic with positive definite H (in exact arithmetic: rounding can add a step)",
                      rf"\lambda = {shown}:\quad {distinct}\ \text{{distinct}}")


def none_because(claim: str, reason: str) -> Predictor:
    """A method for which the textbook gives no single number: say what it does say, and why."""
    return lambda s: _not(s.trace.method, claim, "", reason)


ARMIJO = none_because("linear convergence on a strongly convex f",
                      "no single textbook number: η_k is chosen by backtracking at every step, so the "
                      "contraction depends on c₁, the shrink factor and κ")
_SUPERLINEAR = ("no single textbook number: BFGS is superlinear (ratios → 0, order between 1 and 2) "
                "once its Hessian estimate is good, which the theory does not time")
BFGS = none_because("superlinear near a non-degenerate minimum", _SUPERLINEAR)
LBFGS = none_because("superlinear near a non-degenerate minimum",
                     _SUPERLINEAR + "; L-BFGS, keeping m pairs, is linear in general and fast in practice")
TRUST_REGION = none_because("global convergence to a point where H ⪰ 0; quadratic near a non-degenerate minimum",
                            "no single textbook number: the radius decides how many steps stay on the boundary "
                            "before the Newton step fits, after which it converges as Newton does")
ADAM = none_because("", "no textbook rate: Adam rescales every coordinate by its running mean of g², "
                        "and with a constant η it need not even converge (Reddi, Kale & Kumar 2018)")


__all__ = ["Prediction", "Situation", "Predictor", "QUANTITIES", "hessian_settled", "distinct_count",
           "fixed_rate_gd", "steepest_descent_exact", "pure_newton", "damped_newton", "heavy_ball", "nesterov",
           "conjugate_gradient", "none_because", "ARMIJO", "BFGS", "LBFGS", "TRUST_REGION", "ADAM"]

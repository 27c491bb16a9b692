"""Methods as small step rules, registered by id.

A method is a class with ``step(point) -> Step``; the instance holds whatever state the method
keeps between steps (momentum's velocity, BFGS's inverse-Hessian estimate). The run loop in
:mod:`core.run` owns everything else: evaluating f and g, recording, stopping, statuses.
A step rule that cannot go on raises :class:`MethodStop` with a status and a message.

Adding a method: one subclass of :class:`Method` decorated with ``@register``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from .linalg import MAX_CONDITION, condition
from .problem import EvaluationError, Problem

EPS = float(np.finfo(float).eps)



class OptionsError(ValueError):
    """An option value is out of range; the message names the option."""


@dataclass(frozen=True)
class Options:
    """Options shared by all methods; each method reads the ones it needs."""

    lr: float = 0.1  # fixed learning rate (gd, momentum)
    beta: float = 0.9  # momentum coefficient
    tol: float = 1e-8  # stop when ||g||_2 <= tol
    max_iter: int = 1000  # at most this many steps
    c1: float = 1e-4  # Armijo sufficient-decrease constant
    shrink: float = 0.5  # backtracking factor
    max_backtracks: int = 60  # 0.5^60 ~ 1e-18: beyond that no step is worth taking

    def __post_init__(self) -> None:
        checks = {
            "lr": math.isfinite(self.lr) and self.lr > 0,
            "beta": math.isfinite(self.beta) and 0 <= self.beta < 1,
            "tol": math.isfinite(self.tol) and self.tol > 0,
            "max_iter": type(self.max_iter) is int and 0 <= self.max_iter <= 100_000,  # not a bool
            "c1": 0 < self.c1 < 1,
            "shrink": 0 < self.shrink < 1,
            "max_backtracks": type(self.max_backtracks) is int and 1 <= self.max_backtracks <= 200,
        }
        ranges = {"lr": "> 0", "beta": "in [0, 1)", "tol": "> 0", "max_iter": "an integer in [0, 100000]",
                  "c1": "in (0, 1)", "shrink": "in (0, 1)", "max_backtracks": "an integer in [1, 200]"}
        for name, ok in checks.items():
            if not ok:
                raise OptionsError(f"option {name} must be {ranges[name]} (got {getattr(self, name)!r})")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Point:
    """What a step rule sees at x_k. ``hessian`` is None unless the method asks for it."""

    x: np.ndarray
    f: float
    g: np.ndarray
    hessian: np.ndarray | None = None


@dataclass(frozen=True)
class Step:
    """The step x_{k+1} = x_k + step_size * direction, and what the method decided."""

    direction: np.ndarray
    step_size: float
    decision: str = ""


class MethodStop(Exception):
    """A step rule cannot produce a step; ``status`` is one of core.run.STATUSES."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Method:
    """Base of all step rules. Subclasses set the class attributes and implement step()."""

    id: ClassVar[str]
    label: ClassVar[str]
    short_label: ClassVar[str]  # fits a chip or a legend
    update_latex: ClassVar[str]  # the update rule, shown beside the method's results
    needs_hessian: ClassVar[bool] = False
    options_used: ClassVar[tuple[str, ...]] = ()
    # The step depends on x alone (no state carried between steps): once x + step == x, every
    # later step is the same and x never moves again.
    memoryless: ClassVar[bool] = True

    def __init__(self, problem: Problem, options: Options) -> None:
        self.problem, self.options = problem, options

    def step(self, point: Point) -> Step:  # pragma: no cover - abstract
        raise NotImplementedError


METHODS: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method available under ``cls.id``."""
    if cls.id in METHODS:
        raise ValueError(f"method id {cls.id!r} registered twice")
    METHODS[cls.id] = cls
    return cls


def get_method(method_id: str) -> type[Method]:
    try:
        return METHODS[method_id]
    except KeyError:
        raise OptionsError(f"unknown method {method_id!r}; known: {', '.join(METHODS)}") from None


# Two values of f closer than this (relative) are the same number to f's own rounding: a sum of
# terms loses a few ulps of its largest term, so a few dozen eps, not one.
F_ROUNDING = 64 * EPS


def within_rounding(a: float, b: float) -> bool:
    """f cannot tell a from b: they differ by less than its rounding."""
    return abs(a - b) <= F_ROUNDING * max(abs(a), abs(b))


def backtracking(problem: Problem, point: Point, direction: np.ndarray, options: Options,
                 initial: float = 1.0) -> tuple[float, int, bool]:
    """Armijo backtracking: the first eta = initial * shrink^j with
    f(x + eta d) <= f(x) + c1 eta g'd (and f actually lower). Returns (eta, j, by_gradient).

    The precision-limit rule: where f(x + eta d) and f(x) are equal to f's rounding, f cannot
    judge the step (near a minimum the decrease c1 eta g'd falls below the last digit of f, and
    a constant added to f moves that digit), so the trial is judged by the gradient instead: it
    is accepted when ||g|| decreases by the factor 1 - c1 (``by_gradient`` True). Points where f
    is undefined fail.
    MethodStop('precision_limit') when no trial works and f could not resolve them;
    MethodStop('line_search_failed') when none works otherwise.
    """
    slope = float(point.g @ direction)
    if not slope < 0:
        raise MethodStop("line_search_failed", f"the direction is not a descent direction (g'd = {slope:.3g})")
    eta, unresolved = initial, 0
    grad_norm = float(np.linalg.norm(point.g))
    for backtracks in range(options.max_backtracks + 1):
        x_trial = point.x + eta * direction
        trial = problem.value_or_inf(x_trial)
        # Strict decrease too: when c1*eta*g'd is below the rounding of f (a large constant in
        # f), "trial <= f + c1 eta g'd" would accept trial == f and loop without progress.
        if trial <= point.f + options.c1 * eta * slope and trial < point.f:
            return eta, backtracks, False
        if math.isfinite(trial) and within_rounding(trial, point.f):
            unresolved += 1
            try:
                # a sufficient decrease of ||g|| too: a bare one accepted steps that flip across the
                # minimum and back with ||g|| shrinking by 1e-8 per step
                if float(np.linalg.norm(problem.gradient(x_trial))) <= (1 - options.c1) * grad_norm:
                    return eta, backtracks, True
            except EvaluationError:
                pass
        eta *= options.shrink
    if unresolved:
        raise MethodStop("precision_limit",
                         f"f cannot resolve a further decrease here (its changes along the step are below its "
                         f"rounding, |f| = {abs(point.f):.6g}) and no shorter step reduced ||g||: the precision "
                         f"limit is reached at ||g|| = {grad_norm:.2g}")
    raise MethodStop("line_search_failed",
                     f"no trial step decreased f enough after {options.max_backtracks} reductions of the step: "
                     "f is undefined or overflows at every trial point, or rises along the whole line")


def backtrack_note(backtracks: int, by_gradient: bool) -> str:
    """The decision text of a line-search step."""
    return f"{backtracks} backtracks" + ("; accepted on ||g|| (f's change is below its rounding)" if by_gradient else "")


def _newton_direction(hessian: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve H d = -g (never invert); MethodStop when H is singular or numerically so."""
    try:
        direction = np.linalg.solve(hessian, -g)
    except np.linalg.LinAlgError:
        raise MethodStop("singular_hessian", "the Hessian is singular here: H d = -g has no unique solution") from None
    condition = np.linalg.cond(hessian)
    if not np.isfinite(direction).all() or not condition <= MAX_CONDITION:
        raise MethodStop("singular_hessian",
                         f"the Hessian is numerically singular here (condition number {condition:.2e} > {MAX_CONDITION:.0e})")
    return direction


@register
class GradientDescent(Method):
    id = "gd"
    label = "Gradient descent, fixed rate"
    short_label = "GD fixed η"
    update_latex = r"x_{k+1} = x_k - \eta\, g_k"
    options_used = ("lr",)

    def step(self, point: Point) -> Step:
        return Step(-point.g, self.options.lr)


@register
class OptimalRateGradientDescent(Method):
    """Step along -g by the minimiser of the quadratic model along that line: eta = g'g / g'Hg."""

    id = "gd-optimal"
    label = "Gradient descent, optimal rate"
    short_label = "GD optimal η"
    update_latex = r"x_{k+1} = x_k - \frac{g_k^\top g_k}{g_k^\top H_k\, g_k}\, g_k"
    needs_hessian = True

    def step(self, point: Point) -> Step:
        g = point.g
        curvature = float(g @ point.hessian @ g)
        # g'Hg is computed with an error of about n eps ||g||^2 ||H||: a value below that is zero
        # to rounding (sqrt(x^2+y^2) from (1, 1): exactly 0, computed as 5e-35 -> eta = 2e34).
        allowance = 8 * g.size * EPS * float(g @ g) * float(np.linalg.norm(point.hessian))
        if not curvature > allowance:
            what = f"g'Hg = {curvature:.3g} <= 0" if curvature <= 0 else \
                f"g'Hg = {curvature:.3g} is zero to rounding (below 8n·eps·||g||²·||H|| = {allowance:.2g})"
            raise MethodStop("negative_curvature",
                             f"{what}: the quadratic model along -g has no minimum, "
                             "so the optimal rate g'g/g'Hg is undefined")
        return Step(-g, float(g @ g) / curvature)


@register
class Newton(Method):
    id = "newton"
    label = "Newton"
    short_label = "Newton"
    update_latex = r"x_{k+1} = x_k + d_k,\quad H_k d_k = -g_k"
    needs_hessian = True

    def step(self, point: Point) -> Step:
        return Step(_newton_direction(point.hessian, point.g), 1.0)


@register
class ArmijoGradientDescent(Method):
    id = "gd-armijo"
    label = "Gradient descent, backtracking (Armijo)"
    short_label = "GD Armijo"
    update_latex = (r"\begin{gathered}x_{k+1} = x_k - \eta_k g_k,\quad \eta_k = 2^{-j},\ j \text{ smallest with}\\"
                    r"f(x_k - \eta_k g_k) \le f_k - c_1 \eta_k \|g_k\|^2\end{gathered}")
    options_used = ("c1", "shrink")

    def step(self, point: Point) -> Step:
        eta, backtracks, by_gradient = backtracking(self.problem, point, -point.g, self.options)
        return Step(-point.g, eta, backtrack_note(backtracks, by_gradient))


@register
class DampedNewton(Method):
    """Newton direction with Armijo backtracking; where H is not positive definite, the
    saddle-free direction -|H|^-1 g (eigenvalues replaced by their absolute values)."""

    id = "newton-damped"
    label = "Damped Newton (line search, fallback)"
    short_label = "Damped Newton"
    update_latex = (r"\begin{gathered}x_{k+1} = x_k - \eta_k \tilde H_k^{-1} g_k\ \text{(backtracking } \eta_k)\\"
                    r"\tilde H_k = H_k \text{ if } H_k \succ 0, \text{ else } |H_k|\end{gathered}")
    needs_hessian = True
    options_used = ("c1", "shrink")

    def step(self, point: Point) -> Step:
        hessian = point.hessian
        eigenvalues, vectors = np.linalg.eigh(hessian)
        direction = None
        if eigenvalues.min() > 0:  # positive definite
            try:
                direction, decision = _newton_direction(hessian, point.g), "Newton direction"
            except MethodStop:  # ... but too ill-conditioned to solve: say so, not "not positive definite"
                why = f"H ill-conditioned, κ = {condition(eigenvalues):.2g} > {MAX_CONDITION:.0e}"
        else:
            why = f"H not positive definite, min eigenvalue {eigenvalues.min():.3g}"
        if direction is None:
            floor = 1e-8 * max(1.0, float(np.abs(eigenvalues).max()))
            direction = -vectors @ ((vectors.T @ point.g) / np.maximum(np.abs(eigenvalues), floor))
            decision = f"fallback |H| ({why})"
        eta, backtracks, by_gradient = backtracking(self.problem, point, direction, self.options)
        return Step(direction, eta, f"{decision}; {backtrack_note(backtracks, by_gradient)}")


@register
class Momentum(Method):
    """Heavy ball: v_{k+1} = beta v_k - g_k, x_{k+1} = x_k + eta v_{k+1}."""

    id = "momentum"
    label = "Momentum (heavy ball)"
    short_label = "Momentum"
    update_latex = r"\begin{gathered}v_{k+1} = \beta v_k - g_k\\ x_{k+1} = x_k + \eta\, v_{k+1}\end{gathered}"
    options_used = ("lr", "beta")
    memoryless = False  # the velocity keeps growing while x stands still

    def __init__(self, problem: Problem, options: Options) -> None:
        super().__init__(problem, options)
        self.velocity = np.zeros(problem.n)

    def step(self, point: Point) -> Step:
        self.velocity = self.options.beta * self.velocity - point.g
        return Step(self.velocity.copy(), self.options.lr)


@register
class BFGS(Method):
    """Quasi-Newton: d = -B_k g with B_k the BFGS inverse-Hessian estimate, Armijo line search."""

    id = "bfgs"
    label = "BFGS (quasi-Newton)"
    short_label = "BFGS"
    update_latex = (r"\begin{gathered}x_{k+1} = x_k - \eta_k B_k g_k\ \text{(backtracking } \eta_k)\\"
                    r"B_{k+1} = (I-\rho s y^\top) B_k (I-\rho y s^\top) + \rho s s^\top\\"
                    r"s, y = \Delta x_k, \Delta g_k,\ \rho = 1/y^\top s\end{gathered}")
    options_used = ("c1", "shrink")
    memoryless = False

    def __init__(self, problem: Problem, options: Options) -> None:
        super().__init__(problem, options)
        self.inverse_hessian: np.ndarray | None = None  # None until the first update
        self.previous: Point | None = None

    def step(self, point: Point) -> Step:
        n = point.x.size
        decision = "initial B = I"
        if self.previous is not None:
            s, y = point.x - self.previous.x, point.g - self.previous.g
            sy = float(s @ y)
            if sy > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(y)):
                if self.inverse_hessian is None:  # scale the first estimate (Nocedal & Wright 6.20)
                    self.inverse_hessian = np.eye(n) * sy / float(y @ y)
                rho = 1.0 / sy
                left = np.eye(n) - rho * np.outer(s, y)
                self.inverse_hessian = left @ self.inverse_hessian @ left.T + rho * np.outer(s, s)
                decision = "B updated"
            else:
                decision = "update skipped (s'y <= 0)"
        estimate = np.eye(n) if self.inverse_hessian is None else self.inverse_hessian
        direction = -estimate @ point.g
        if not float(point.g @ direction) < 0:  # rounding broke positive definiteness
            self.inverse_hessian, direction, decision = None, -point.g, "reset B = I"
        eta, backtracks, by_gradient = backtracking(self.problem, point, direction, self.options)
        self.previous = point
        return Step(direction, eta, f"{decision}; {backtrack_note(backtracks, by_gradient)}")

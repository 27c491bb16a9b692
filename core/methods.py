"""Named methods: a direction rule and a step-size rule, and what a person needs to know of them.

A :class:`Method` is data: its id (the CLI's ``--method``, the URL's ``methods``), labels, the
LaTeX update rule, its colour (one per id, never repeated), the two blocks it is made of
(core.directions, core.stepsizes) and its textbook prediction (core.predictions). The options it
reads, whether it needs H and whether its step depends on x alone follow from the blocks. The run loop (core.run) does everything else.

Adding a method = one ``register(Method(...))`` here (and its row in the methods x problems test).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import predictions
from .blocks import Field, Rule
from .predictions import Predictor
from .directions import (AdamDirection, ConjugateGradient, HeavyBall, InverseBFGS, LimitedMemoryBFGS, Nesterov,
                         NewtonDirection, SaddleFreeNewton, SteepestDescent)
from .options import Options, OptionsError
from .stepsizes import (F_ROUNDING, Backtracking, ExactLineSearch, FixedRate, ModelMinimum, TrustRegion, UnitStep,
                        Wolfe, within_rounding)

__all__ = ["Method", "METHODS", "register", "get_method", "Options", "OptionsError", "F_ROUNDING", "within_rounding"]


@dataclass(frozen=True)
class Method:
    """A named composition of a direction rule and a step-size rule."""

    id: str
    label: str
    short_label: str  # fits a chip or a legend
    update_latex: str  # the update rule, shown beside the method's results
    color: str
    direction: Rule
    step: Rule
    summary: str  # one sentence: how it chooses its steps
    prediction: Predictor  # what the textbook says of a run of it (core.predictions; Theory page)

    @property
    def needs_hessian(self) -> bool:
        return self.direction.needs_hessian or self.step.needs_hessian

    @property
    def work_power(self) -> int:
        """p in the O(n^p) growth of one step's work: evaluating H alone is n^2 entries."""
        return max(self.direction.work_power, self.step.work_power, 2 if self.needs_hessian else 1)

    @property
    def memoryless(self) -> bool:
        """The step depends on x alone (no state carried between steps): once x + step == x,
        every later step is the same and x never moves again."""
        return self.direction.memoryless and self.step.memoryless

    @property
    def options_used(self) -> tuple[str, ...]:
        extra = ("max_backtracks",) if isinstance(self.step, Backtracking) else ()
        return tuple(dict.fromkeys(self.direction.options + self.step.options + extra))

    @property
    def fields(self) -> dict[str, Field]:
        """The typed columns its steps report (direction's first)."""
        return {**self.direction.fields, **self.step.fields}

    def describe(self, info: dict[str, Any]) -> str:
        """The sentence for one step's fields."""
        parts = [self.direction.describe(info), self.step.describe(info)]
        return "; ".join(p for p in parts if p)


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Make a method available under ``method.id``; its id and colour must be new."""
    if method.id in METHODS:
        raise ValueError(f"method id {method.id!r} registered twice")
    taken = {m.color: m.id for m in METHODS.values()}
    if method.color in taken:
        raise ValueError(f"colour {method.color} of {method.id!r} is already {taken[method.color]!r}'s")
    METHODS[method.id] = method
    return method


def get_method(method_id: str) -> Method:
    try:
        return METHODS[method_id]
    except KeyError:
        raise OptionsError(f"unknown method {method_id!r}; known: {', '.join(METHODS)}") from None


_BACKTRACKING = r"\text{(backtracking } \eta_k)"

register(Method(
    "gd", "Gradient descent, fixed rate", "GD fixed η", r"x_{k+1} = x_k - \eta\, g_k", "#1f77b4",
    SteepestDescent(), FixedRate(), "steps along -g by the same η every time",
    predictions.fixed_rate_gd))
register(Method(
    "gd-optimal", "Gradient descent, optimal rate", "GD optimal η",
    r"x_{k+1} = x_k - \frac{g_k^\top g_k}{g_k^\top H_k\, g_k}\, g_k", "#ff7f0e",
    SteepestDescent(), ModelMinimum(), "steps along -g to the minimum of the quadratic model along that line",
    predictions.steepest_descent_exact))
register(Method(
    "newton", "Newton", "Newton", r"x_{k+1} = x_k + d_k,\quad H_k d_k = -g_k", "#2ca02c",
    NewtonDirection(), UnitStep(), "jumps to the stationary point of the quadratic model",
    predictions.pure_newton))
register(Method(
    "gd-armijo", "Gradient descent, backtracking (Armijo)", "GD Armijo",
    (r"\begin{gathered}x_{k+1} = x_k - \eta_k g_k\\ \eta_k = 2^{-j},\ j \text{ smallest with}\\"
     r"f(x_k - \eta_k g_k) \le f_k - c_1 \eta_k \|g_k\|^2\end{gathered}"), "#d62728",
    SteepestDescent(), Backtracking(), "steps along -g, halving η from 1 until f decreases enough",
    predictions.ARMIJO))
register(Method(
    "newton-damped", "Damped Newton (line search, fallback)", "Damped Newton",
    (r"\begin{gathered}x_{k+1} = x_k - \eta_k \tilde H_k^{-1} g_k\\" + _BACKTRACKING + r"\\"
     r"\tilde H_k = H_k \text{ if } H_k \succ 0, \text{ else } |H_k|\end{gathered}"), "#9467bd",
    SaddleFreeNewton(), Backtracking(), "Newton's direction (|H| where H is not positive definite), with backtracking",
    predictions.damped_newton))
register(Method(
    "momentum", "Momentum (heavy ball)", "Momentum",
    r"\begin{gathered}v_{k+1} = \beta v_k - g_k\\ x_{k+1} = x_k + \eta\, v_{k+1}\end{gathered}", "#8c564b",
    HeavyBall(), FixedRate(), "gradient steps that keep a fraction β of the previous velocity",
    predictions.heavy_ball))
register(Method(
    "bfgs", "BFGS (quasi-Newton)", "BFGS",
    (r"\begin{gathered}x_{k+1} = x_k - \eta_k B_k g_k\ \text{(Wolfe } \eta_k)\\"
     r"B_{k+1} = (I-\rho s y^\top) B_k (I-\rho y s^\top)\\ + \rho s s^\top,\quad "
     r"\rho = 1/y^\top s\\ s, y = \Delta x_k, \Delta g_k\end{gathered}"), "#e377c2",
    InverseBFGS(), Wolfe(), "Newton-like steps with an estimate of H⁻¹ built from gradient changes",
    predictions.BFGS))
register(Method(
    "nesterov", "Nesterov accelerated gradient", "Nesterov",
    r"\begin{gathered}v_{k+1} = \beta v_k - g_k\\ x_{k+1} = x_k + \eta\,(\beta v_{k+1} - g_k)\end{gathered}",
    "#17becf",
    Nesterov(), FixedRate(), "momentum that looks ahead: the gradient is taken where the velocity leads",
    predictions.nesterov))
register(Method(
    "adam", "Adam", "Adam",
    (r"\begin{gathered}m_{k+1} = \beta_1 m_k + (1-\beta_1) g_k\\ v_{k+1} = \beta_2 v_k + (1-\beta_2) g_k^2\\"
     r"x_{k+1} = x_k - \eta\, \frac{\hat m_{k+1}}{\sqrt{\hat v_{k+1}} + \varepsilon}\end{gathered}"), "#bcbd22",
    AdamDirection(), FixedRate(), "per-coordinate steps scaled by running means of g and g²",
    predictions.ADAM))
register(Method(
    "gd-exact", "Gradient descent, exact line search", "GD exact line",
    r"\begin{gathered}x_{k+1} = x_k - \eta_k g_k\\ \eta_k = \arg\min_{\eta > 0} f(x_k - \eta g_k)\end{gathered}", "#7f7f7f",
    SteepestDescent(), ExactLineSearch("model"), "steps along -g to the minimum of f itself along that line",
    predictions.steepest_descent_exact))
register(Method(
    "cg", "Conjugate gradient (Polak–Ribière+)", "CG",
    (r"\begin{gathered}d_k = -g_k + \beta_k d_{k-1}\\ \beta_k = \max\!\Big(0, \tfrac{g_k^\top (g_k - g_{k-1})}"
     r"{\|g_{k-1}\|^2}\Big)\\ x_{k+1} = x_k + \eta_k d_k\\ \eta_k\ \text{exact line minimum}\end{gathered}"),
    "#aec7e8", ConjugateGradient(), ExactLineSearch("previous"),
    "directions conjugate to the previous ones, each searched to its minimum",
    predictions.conjugate_gradient))
register(Method(
    "lbfgs", "L-BFGS (limited memory)", "L-BFGS",
    (r"\begin{gathered}x_{k+1} = x_k - \eta_k B_k g_k\ \text{(Wolfe } \eta_k)\\"
     r"B_k g_k \text{ from the last } m \text{ pairs } (s, y)\end{gathered}"),
    "#ffbb78", LimitedMemoryBFGS(), Wolfe(), "BFGS that keeps only the last m gradient changes",
    predictions.LBFGS))
register(Method(
    "trust-region", "Trust-region Newton (exact subproblem)", "Trust region",
    (r"\begin{gathered}p_k = \arg\min_{\|p\| \le \Delta_k} g_k^\top p + \tfrac12 p^\top H_k p\\"
     r"x_{k+1} = x_k + p_k\\ \Delta_{k+1} \text{ from } \rho_k = \frac{f_k - f(x_k + p_k)}{f_k - m_k(p_k)}"
     r"\end{gathered}"), "#98df8a",
    SteepestDescent(), TrustRegion(), "the model's minimum within a radius it trusts, grown or shrunk by how well the model predicted f",
    predictions.TRUST_REGION))

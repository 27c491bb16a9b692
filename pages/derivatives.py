"""Derivatives: f, g, H symbolically; at the start or any iterate, the numbers behind a step."""

import math

import numpy as np
import streamlit as st

from core import EvaluationError
from core.analysis import local_analysis, unit
from ui.compute import run_methods
from ui.latex import matrix_latex, number_latex, show_derivative_formula, show_formula, vector_latex
from ui.panels import iterate_picker
from ui.sidebar import require_ready
from ui.text import md_escape


def derivatives_page() -> None:
    active = require_ready()
    problem = active.problem
    names = problem.variable_names
    st.title("Derivatives", anchor=False)

    show_formula("f(" + ", ".join(names) + ")", problem.latex["f"], "f")
    symbolic = st.columns([1, 2])
    derivation = problem.derivation
    with symbolic[0]:
        st.markdown("**Gradient** g = ∇f")
        show_derivative_formula("g", problem.latex["gradient"], [[e] for e in derivation.latex_gradient_entries], names,
                                "deriv_g")
    with symbolic[1]:
        st.markdown("**Hessian** H = ∇²f")
        show_derivative_formula("H", problem.latex["hessian"], derivation.latex_hessian_entries, names, "deriv_h")

    st.divider()
    traces = run_methods(problem.text, active.x0, active.setup.methods, active.setup.options)
    where = st.radio("Evaluate at", ["the start point x₀", "an iterate of a method"], horizontal=True, key="deriv_where")
    if where == "the start point x₀":
        x, label = np.array(active.x0), "x_0"
    else:
        trace, k = iterate_picker(traces, "deriv")
        x, label = trace.x[k], f"x_{{{k}}}"

    try:
        local = local_analysis(problem, x)
    except EvaluationError as err:
        st.error(f"f, g or H is not defined at this point: {md_escape(str(err))}")
        st.stop()

    st.latex(label + " = " + vector_latex(local.x) + r",\quad f(" + label + ") = " + number_latex(local.f))
    numbers = st.columns([1, 2])
    with numbers[0]:
        st.latex(r"g = " + vector_latex(local.g) + r",\quad \|g\| = " + number_latex(local.grad_norm, 4))
    with numbers[1]:
        st.latex(r"H = " + matrix_latex(local.hessian))
    facts = st.columns(3)
    facts[0].metric("Eigenvalues of H", ", ".join(f"{v:.4g}" for v in local.eigenvalues))
    facts[1].metric("Condition number κ", "∞ (singular)" if math.isinf(local.condition) else f"{local.condition:.4g}")
    facts[2].metric("Definiteness", local.definiteness.split(" (")[0])
    if "(" in local.definiteness:
        facts[2].caption(local.definiteness[local.definiteness.index("(") + 1:-1])

    st.subheader("Newton direction vs steepest descent", anchor=False)
    if local.newton is None:
        st.warning("H is singular here: the Newton system H d = −g has no unique solution.")
    else:
        st.latex(r"d_{\text{Newton}} = -H^{-1} g = " + vector_latex(local.newton)
                 + r",\qquad -g = " + vector_latex(local.steepest))
        st.latex(r"\frac{d_{\text{Newton}}}{\|d_{\text{Newton}}\|} = " + vector_latex(unit(local.newton))
                 + r",\qquad \frac{-g}{\|g\|} = " + vector_latex(unit(local.steepest))
                 + (rf",\qquad \angle = {local.angle_deg:.4g}^\circ" if not math.isnan(local.angle_deg) else ""))
        if not math.isnan(local.angle_deg):
            if local.angle_deg < 1e-6:
                st.success("Here g is an eigenvector of H: the Newton step points straight down the gradient.")
            else:
                st.info(f"The Newton direction differs from steepest descent by {local.angle_deg:.4g}°: "
                        "H rescales each eigen-direction of g by 1/λ, which −g alone cannot do.")
    if local.optimal_rate is not None:
        st.caption(f"Optimal rate along −g here: η = g'g / g'Hg = {local.optimal_rate:.6g}")
    else:
        st.caption("g'Hg ≤ 0 here: the quadratic model has no minimum along −g (no optimal rate).")


derivatives_page()

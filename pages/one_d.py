"""1-D: when optimal-rate GD *is* Newton, and why it stops being true in 2-D."""

import numpy as np
import streamlit as st

from core import METHODS, Problem, Trace
from core.one_d import compare_traces
from ui.charts import legend_selection, picture_chart
from ui.compute import run_methods
from ui.frames import table_window
from ui.latex import show_formula
from ui.kcharts import session_memo
from ui.panels import iteration_slider, status_badge
from ui.sidebar import require_ready
from ui.teaching import eigen_table, expansion_at, taylor_derivation, trace_table
from ui.text import md_escape
from ui.style import sized_spec

def one_d_page() -> None:
    active = require_ready()
    problem = active.problem
    names = problem.variable_names
    st.title("1-D: when optimal-rate GD is Newton", anchor=False)
    st.caption("Seed 001 asks whether g'g/g'Hg · g is “H⁻¹g by shady mathematics”. The answer: in one dimension, yes; "
               "in more, only when g is an eigenvector of H. This page always runs GD with the optimal rate and Newton "
               "(the sidebar's method choice does not apply here).")
    show_formula("f(" + ", ".join(names) + ")", problem.latex["f"], "f")

    pair = ("gd-optimal", "newton")
    traces = run_methods(problem.text, active.x0, pair, active.setup.options)
    gd, newton = traces["gd-optimal"], traces["newton"]

    if problem.n > 2:
        st.warning(f"This lesson draws 1- and 2-variable functions; f has {problem.n} variables ({', '.join(names)}). "
                   "Below: the two steps compared at x₀, numbers only. Try `x^4` from 1, or `4x^2 + y^2` from 15, 15.",
                   icon=":material/warning:")
        comparison = expansion_at(problem, np.array(active.x0), "x₀")
        if comparison is None:
            st.stop()
        taylor_derivation(comparison, 0)
        st.dataframe(eigen_table(comparison, names), hide_index=True, key="one_d_eigen")
        st.stop()

    status = st.columns(2)
    for column, trace in zip(status, (gd, newton)):
        with column:
            st.markdown(f"**{METHODS[trace.method].label}**")
            status_badge(trace)
            st.caption(md_escape(trace.message))

    same = compare_traces(gd, newton)
    facts = st.columns(3)
    facts[0].metric("steps: GD optimal η / Newton", f"{gd.iterations} / {newton.iterations}")
    facts[1].metric("max over k of ‖x_k(GD) − x_k(Newton)‖", f"{same.max_difference:.3g}")
    facts[2].metric("the two traces", "identical" if same.identical else "same length" if same.same_length else "different",
                    help="identical: the same iterates to rounding (relative difference ≤ 1e-12); same length: as many "
                         "steps, different iterates")
    lesson(problem, traces, same.identical)


@st.fragment
def lesson(problem: Problem, traces: dict[str, Trace], identical: bool) -> None:
    # The iterate slider reruns only this part, with the arguments of the last full run.
    gd, newton = traces["gd-optimal"], traces["newton"]
    longest = max(gd.iterations, newton.iterations)
    names = problem.variable_names
    k = iteration_slider("Iterate k", longest, "one_d_k",
                         help="the dashed parabola is the second-order model of f at each method's x_k")
    row = min(k, gd.iterations)
    left, right = st.columns(2, gap="large")
    with left:
        picture = session_memo("one_d_picture", (problem, traces), lambda: picture_chart(problem, traces, gd.x[0],
                                                                                          legend_selection()))
        if picture is not None:
            st.vega_lite_chart(spec=sized_spec(picture.whole(k)), width="stretch")
        if identical:
            st.caption("The two paths are the same points: GD's (orange) lies exactly under Newton's (green). "
                       "Click a method in the legend to highlight it.")
    with right:
        comparison = expansion_at(problem, gd.x[row], f"GD's iterate x_{row}")
        if comparison is None:
            return
        taylor_derivation(comparison, row)
        if row != k:
            st.caption(f"GD with the optimal rate stopped at k = {gd.iterations}; shown at its last iterate.")
    if problem.n == 1:
        st.subheader("The two traces side by side", anchor=False)
        st.caption("GD's η_k column equals the 1/f'' column: that is the identity η = g'g/g'Hg = 1/f''(x). "
                   "Newton's η_k is 1 (its step is −f'/f'' itself).")
        tables = st.columns(2)
        config = {c: st.column_config.NumberColumn(c, format="%.6g") for c in
                  ("x_k", "f(x_k)", "f'(x_k)", "f''(x_k)", "η_k", "1/f''(x_k)")}
        config["k"] = st.column_config.NumberColumn("k", format="%d", width=40)
        for column, trace in zip(tables, (gd, newton)):
            with column:
                st.markdown(f"**{METHODS[trace.method].label}**")
                window = table_window(trace.iterations + 1, min(k, trace.iterations))
                st.dataframe(trace_table(problem, trace, window), hide_index=True, height=320, column_config=config,
                             key=f"one_d_table_{trace.method}")
                if window.stop - window.start < trace.iterations + 1:
                    st.caption(f"Rows k = {window.start}..{window.stop - 1} of 0..{trace.iterations} "
                               "(the table follows the slider).")
    else:
        st.subheader(f"Why it stops being true in 2-D (at x_{row} of GD with the optimal rate)", anchor=False)
        st.markdown("Write g in the eigenvectors of H: g = c₁v₁ + c₂v₂. Newton divides each component by its own "
                    "curvature λᵢ; the optimal rate multiplies both by the same η*. The two steps can only agree "
                    "when one λ covers every non-zero component, that is when g is an eigenvector of H.")
        st.dataframe(eigen_table(comparison, names), hide_index=True, key="one_d_eigen")
        if comparison.same_step:
            st.success("At this iterate g is an eigenvector of H: both methods take the same step.")
        else:
            st.info("Try a start on an eigenvector of H (for 4x² + y²: x₀ = 15, 0): then g stays an eigenvector, "
                    "the optimal rate is 1/λ and the two paths coincide.", icon=":material/lightbulb:")


one_d_page()

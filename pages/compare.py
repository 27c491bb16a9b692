"""Compare: one column per method, then the shared charts; an iteration slider steps through."""

import numpy as np
import streamlit as st

from core import Problem, Trace

from ui.compute import run_methods
from ui.latex import show_formula
from ui.panels import iteration_slider, method_panel, shared_charts
from ui.sidebar import require_ready
from ui.text import md_escape

def compare_page() -> None:
    active = require_ready()
    problem = active.problem
    st.title("Compare the methods", anchor=False)
    show_formula("f(" + ", ".join(problem.variable_names) + ")", problem.latex["f"], "f")
    if active.preset:
        st.info(f"**{md_escape(active.preset.label)}** · {md_escape(active.preset.lesson)}", icon=":material/lightbulb:")
    traces = run_methods(problem.text, active.x0, active.setup.methods, active.setup.options)
    iteration_view(problem, traces, np.array(active.x0))


@st.fragment
def iteration_view(problem: Problem, traces: dict[str, Trace], x0: np.ndarray) -> None:
    # Moving the slider reruns only this fragment, with the arguments of the last full run.
    longest = max(t.iterations for t in traces.values())
    k = iteration_slider("Iteration k", longest, "k", help="marks x_k on the paths and in every table")
    methods = list(traces)
    per_row = min(len(methods), 4 if len(methods) == 4 else 3)
    for start in range(0, len(methods), per_row):
        # Every row has per_row columns so panels keep one width; borders go on the panels
        # themselves, so the unused columns of a last, short row stay invisible.
        for column, method in zip(st.columns(per_row), methods[start:start + per_row]):
            with column, st.container(border=True):
                method_panel(traces[method], k, problem)
    st.subheader("All methods together", anchor=False)
    st.caption("Click a method in a legend to highlight it in every chart and panel (shift-click for several, "
               "double-click empty space to clear).")
    shared_charts(problem, traces, x0, k)


compare_page()

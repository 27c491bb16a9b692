"""Compare: one column per method, then the shared charts; the player moves k through the iterations."""

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core import Problem, Trace

from ui.compute import run_methods
from ui.latex import show_formula
from ui.lessons import lesson_card
from ui.kcharts import stack_style
from ui.panels import MethodPanel, SharedCharts, method_panel, shared_charts
from ui.player import frame_turn, is_playing, play_interval, player
from ui.sidebar import require_ready
from ui.style import large_text

def compare_page() -> None:
    active = require_ready()
    problem = active.problem
    st.title("Compare the methods", anchor=False)
    show_formula("f(" + ", ".join(problem.variable_names) + ")", problem.latex["f"], "f")
    traces = run_methods(problem.text, active.x0, active.setup.methods, active.setup.options)
    # One container with or without a lesson: what follows keeps its place in the page, and a
    # chart in the same place with the same spec keeps its Vega view (only its data replaced) when
    # a click on the picture leaves the preset, and with it the lesson.
    with st.container():
        if active.preset:
            lesson_card(active.preset, max(t.iterations for t in traces.values()))
        stack_style()
    # What does not change with k is drawn here, once; the fragment draws the parts at k into
    # these places, and moving k (slider, buttons, Play's frames) reruns only the fragment.
    controls = st.container()
    panels = method_panels(problem, traces)
    st.subheader("All methods together", anchor=False)
    st.caption("Click a method in a legend to highlight it in every chart and panel (shift-click for several, "
               "double-click empty space to clear).")
    shared = shared_charts(problem, traces, np.array(active.x0))
    st.fragment(at_iteration_k, run_every=play_interval("k"))(controls, panels, shared)


def method_panels(problem: Problem, traces: dict[str, Trace]) -> list[MethodPanel]:
    methods = list(traces)
    # Large text (a projector) fits two panels a row: three would cut the longer update rules.
    per_row = min(len(methods), 2 if large_text() else 4 if len(methods) == 4 else 3)
    panels = []
    for start in range(0, len(methods), per_row):
        # Every row has per_row columns so panels keep one width; borders go on the panels
        # themselves, so the unused columns of a last, short row stay invisible.
        for column, method in zip(st.columns(per_row), methods[start:start + per_row]):
            with column, st.container(border=True):
                panels.append(method_panel(traces[method], problem))
    return panels


def at_iteration_k(controls: DeltaGenerator, panels: list[MethodPanel], shared: SharedCharts) -> None:
    longest = max(panel.trace.iterations for panel in panels)
    with frame_turn("k"):  # a frame of Play takes its turn with every other visitor's frames
        with controls:
            k = player("Iteration k", longest, "k", help="marks x_k on the paths and in every table")
        for panel in panels:
            panel.at(k, playing=is_playing("k"))
        shared.at(k)


compare_page()

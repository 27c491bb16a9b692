"""Where does every start go? A grid of starts, every chosen method from each, each start coloured by
the stationary point its run reached (or how it failed)."""

import math
from dataclasses import astuple, replace

import streamlit as st

from core import METHODS, OptionsError
from core.basins import DEFAULT_GRID, View
from ui.basins import PICK, basin_chart, curve_over_interval, legend_chart, legend_frame, starts_of_pick, summary_frame
from ui.budget import BASINS_BUDGET_S
from ui.compute import run_basins
from ui.latex import show_formula
from ui.links import format_number
from ui.sidebar import open_page_with, require_ready
from ui.style import sized
from ui.text import md_escape

GRIDS = (50, 100, 150, 200, 300, 400)
OPEN_COMPARE_FROM = "basins_open_compare_from"  # a clicked pixel's start, for the next run


def default_half_width(x0: tuple[float, ...], axes: tuple[int, ...]) -> float:
    """A box about the origin holding x0 with room around it: at least 5 (Himmelblau's minima lie
    within 4), rounded up to 1, 2 or 5 times a power of ten."""
    wanted = min(max(5.0, 1.25 * max(abs(x0[a]) for a in axes)), 1e307)  # a start near 1e308 keeps a finite box
    power = 10.0 ** math.floor(math.log10(wanted))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= wanted)


def basins_page() -> None:
    active = require_ready()
    setup, problem, x0 = active.setup, active.problem, active.x0
    start = st.session_state.pop(OPEN_COMPARE_FROM, None)
    if start is not None:  # a pixel was clicked: Compare from its start, by the link that reproduces it
        open_page_with("pages/compare.py", replace(setup, x0_text=", ".join(format_number(v) for v in start)))
    names = problem.variable_names
    st.title("Where does every start go?", anchor=False)
    st.caption("Seed 001: Newton *“solves a positive definite quadratic in one step”*. Off the quadratic, pure Newton "
               "is drawn to any stationary point — saddles and maxima too — while a descent method with a line search "
               "settles in minima. Here every chosen method runs from every start of a grid (same options as the "
               "sidebar) and each start is coloured by where its run ended.")
    show_formula("f(" + ", ".join(names) + ")", problem.latex["f"], "f")

    controls = st.columns([1.2, 1.2, 1])
    if problem.n > 2:
        axes = (controls[0].selectbox("Horizontal axis", range(problem.n), format_func=lambda i: names[i], key="basins_ax"),
                controls[1].selectbox("Vertical axis", range(problem.n), index=1, format_func=lambda i: names[i], key="basins_ay"))
        if axes[0] == axes[1]:
            st.error("Choose two different variables for the picture's axes.")
            st.stop()
        fixed = ", ".join(f"{names[i]} = {format_number(x0[i])}" for i in range(problem.n) if i not in axes)
        st.caption(f"A **slice**: f has {problem.n} variables; the starts vary {names[axes[0]]} and {names[axes[1]]}, "
                   f"the others stay at x₀ ({md_escape(fixed)}).")
    else:
        axes = tuple(range(problem.n))
    grid = controls[2].select_slider("Starts per side", GRIDS, value=DEFAULT_GRID, key="basins_grid")

    # the starts vary the axes' coordinates; only the others come from x0 (a slice), so picking a
    # new x0 by a click does not change the picture
    off_axes = tuple(0.0 if i in axes else float(x0[i]) for i in range(problem.n))
    signature = (problem.text, axes, off_axes)
    if st.session_state.get("basins_box_for") != signature:
        half = default_half_width(x0, axes)
        st.session_state.update(basins_box_for=signature,
                                **{f"basins_box_{k}": float(v) for k, v in enumerate([-half, half] * len(axes))})
    box_columns = st.columns(2 * len(axes))
    box = []
    for k, column in enumerate(box_columns):
        axis_name = names[axes[k // 2]]
        box.append(column.number_input(f"{axis_name} {'from' if k % 2 == 0 else 'to'}", key=f"basins_box_{k}",
                                       format="%g", step=1.0))
    try:
        View(off_axes, axes, tuple(box), grid)
    except OptionsError as err:
        st.error(f"{md_escape(str(err))}. Type a box with 'from' below 'to' on each axis.")
        st.stop()

    picture = run_basins(problem.text, off_axes, axes, tuple(box), grid, setup.methods, astuple(setup.options))
    for note in picture.notes:
        st.info(md_escape(note), icon=":material/timer:")
    side = f"{picture.view.grid}×{picture.view.grid}" if len(axes) == 2 else f"{picture.view.grid}"
    st.caption(f"{side} starts per method; budget {BASINS_BUDGET_S:g} CPU-s for all methods together (computed once, "
               "then cached). Lighter = more iterations. Hover a pixel for its start, where it went and its steps; "
               "**click a pixel to open Compare from that start.**")

    def pick_start(method: str) -> None:
        """A click on a pixel: the next run opens Compare from that start (below)."""
        event = st.session_state.get(f"basins_chart_{method}")
        picked = (event.selection.get(PICK) if event is not None else None) or []
        start = starts_of_pick(picture, picked[0]) if picked else None
        if start is not None:
            st.session_state[OPEN_COMPARE_FROM] = start

    if len(axes) == 1:
        st.altair_chart(sized(curve_over_interval(problem, picture, names)), width="stretch")
    per_row = min(3, len(setup.methods)) if len(axes) == 2 else 1
    methods = list(picture.methods)
    for first in range(0, len(methods), per_row):
        for column, method in zip(st.columns(per_row), methods[first:first + per_row]):
            with column:
                chart = basin_chart(picture, method, names, f"{METHODS[method].short_label} ({method})")
                st.altair_chart(sized(chart), width="stretch", key=f"basins_chart_{method}", on_select=lambda m=method: pick_start(m),
                                selection_mode=PICK)

    st.subheader("Where the starts went", anchor=False)
    legend = legend_frame(picture)
    left, right = st.columns([1, 2])
    with left:
        st.altair_chart(sized(legend_chart(picture)), width="stretch")
    with right:
        st.dataframe(legend.drop(columns="colour"), hide_index=True, column_config={
            "reached": st.column_config.TextColumn("point reached / outcome", width="medium"),
            **{m: st.column_config.ProgressColumn(m, format="percent", min_value=0.0, max_value=1.0) for m in methods}})
    st.subheader("Per method", anchor=False)
    st.dataframe(summary_frame(picture), hide_index=True, column_config={
        **{k: st.column_config.NumberColumn(k, format="percent") for k in
           ("minimum", "saddle", "maximum", "degenerate", "flat / other", "failed")},
        "median iterations": st.column_config.NumberColumn("median iterations (converged)", format="%.0f"),
        "p90 iterations": st.column_config.NumberColumn("90th percentile", format="%.0f"),
        "seconds": st.column_config.NumberColumn("CPU seconds", format="%.2f")})
    st.caption("A stationary point is one colour on every method's picture: end points that agree to 1/1000 of the "
               "box's diagonal are one point. Kinds come from the signs of H's eigenvalues at the end point.")


basins_page()

"""Learning-rate explorer: one fixed-rate run per η, each outcome classified; pick one to see it."""

from dataclasses import astuple, replace

import numpy as np
import pandas as pd
import streamlit as st

from core import METHODS, Options, OptionsError, Problem, Trace
from core.analysis import local_analysis
from core.linalg import LinAlgError
from core.quadratic import QuadraticConstants, quadratic_constants
from core.sweep import (OSCILLATION_RULE, OUTCOMES, SWEEP_RATE_BOUNDS, RateMark, Sweep, default_rate_range, learning_rate_grid,
                        rate_marks)
from ui.charts import CONVERGENCE_QUANTITIES, convergence_chart, legend_selection, picture_chart
from ui.budget import RUNS_BUDGET_S
from ui.compute import run_method, run_sweep
from ui.latex import show_formula
from ui.kcharts import stack_style
from ui.panels import picture_with_starts, status_badge
from ui.sidebar import require_ready
from ui.teaching import OUTCOME_COLORS, PICK, rate_factors, sweep_chart, sweep_frame
from ui.text import md_escape
from ui.style import sized, sized_spec

FIXED_RATE = [m for m, spec in METHODS.items() if "lr" in spec.options_used]  # every method with a fixed η


def learning_rate_page() -> None:
    active = require_ready()
    setup, problem = active.setup, active.problem
    x0 = active.x0
    st.title("Learning-rate explorer", anchor=False)
    st.caption("Seed 002: *“pick too small a learning rate and gradient descent crawls; too large and it oscillates.”* "
               "Here that is measured on your f: one fixed-rate run per η, same start, same tolerance and max_iter.")
    show_formula("f(" + ", ".join(problem.variable_names) + ")", problem.latex["f"], "f")

    # The range follows the function and start point until the user changes it.
    signature = (problem.text, x0)
    low_default, high_default, how = default_rate_range(problem, x0, SWEEP_RATE_BOUNDS)
    if st.session_state.get("lr_sweep_for") != signature:
        st.session_state.update(lr_sweep_for=signature, lr_sweep_lo=float(f"{low_default:.3g}"),
                                lr_sweep_hi=float(f"{high_default:.3g}"))
    controls = st.columns([1.3, 1, 1, 1.2, 1.4])
    method = controls[0].radio("Fixed-rate method", FIXED_RATE, key="lr_sweep_method", horizontal=True,
                               format_func=lambda m: METHODS[m].short_label)
    low = controls[1].number_input("η from", key="lr_sweep_lo", min_value=SWEEP_RATE_BOUNDS[0], max_value=SWEEP_RATE_BOUNDS[1],
                                   format="%g", step=0.01)
    high = controls[2].number_input("η to", key="lr_sweep_hi", min_value=SWEEP_RATE_BOUNDS[0], max_value=SWEEP_RATE_BOUNDS[1],
                                    format="%g", step=0.01)
    count = controls[3].slider("Number of rates", 5, 60, 25, key="lr_sweep_n")
    quantity = controls[4].radio("Vertical axis", ["iterations", "final ‖g‖"], key="lr_sweep_y", horizontal=True)
    st.caption(f"Default range {md_escape(how)}. The marked rates below are added to the sweep when they fall inside it. "
               "On the chart, runs that did not converge sit on the max_iter line.")

    marks, missing = rate_marks(problem, x0, setup.options.lr)
    try:
        etas = learning_rate_grid(low, high, count, [m.eta for m in marks])
    except OptionsError as err:
        st.error(md_escape(str(err)))
        st.stop()

    metric_columns = st.columns(max(len(marks), 1))
    for column, mark in zip(metric_columns, marks):
        column.metric(mark.label, f"{mark.eta:.6g}", help=mark.note)
    for message in missing:
        st.info(md_escape(message), icon=":material/info:")
    constants = quadratic_constants(problem, x0)
    if constants is not None and constants.positive_definite:
        st.caption(f"f is quadratic: H is constant with eigenvalues λmin = {constants.lambda_min:.6g}, "
                   f"λmax = {constants.lambda_max:.6g}. Fixed-step GD converges iff 0 < η < 2/λmax; the best fixed "
                   f"rate 2/(λmin+λmax) contracts the error by (κ−1)/(κ+1) = {constants.best_contraction:.4g} per step.")

    sweep = run_sweep(problem.text, x0, tuple(float(v) for v in etas), method, astuple(setup.options))
    frame = sweep_frame(sweep)
    counts = frame["outcome"].value_counts()
    summary = " · ".join(f"{OUTCOMES[o]}: {counts[o]}" for o in OUTCOME_COLORS if o in counts)
    steps_run = int(frame["steps"].sum())
    st.caption(f"{len(frame)} runs, {steps_run:,} steps in {sweep.seconds:.2f} s (computed once, then cached) · {summary}")
    # Newton and the picked run share one page budget of runs (the sweep has its own).
    newton = run_method(problem.text, x0, "newton", astuple(setup.options), RUNS_BUDGET_S / 2)
    sweep_view(problem, x0, method, setup.options, sweep, frame, marks, quantity, newton, constants)

    st.subheader("Every run of the sweep", anchor=False)
    table = frame[["eta", "outcome_label", "steps", "converged_in", "final_grad_norm", "reason"]]
    st.dataframe(table, hide_index=True, height=320, column_config={
        "eta": st.column_config.NumberColumn("η", format="%.4g", width="small"),
        "outcome_label": st.column_config.TextColumn("outcome", width="small"),
        "steps": st.column_config.NumberColumn("steps run", format="%d", width="small"),
        "converged_in": st.column_config.NumberColumn("iterations to tol", format="%d", width="small"),
        "final_grad_norm": st.column_config.NumberColumn("final ‖g‖", format="%.3e", width="small"),
        "reason": st.column_config.TextColumn("how it was decided", width="large"),
    }, key="lr_sweep_table")


@st.fragment
def sweep_view(problem: Problem, x0: tuple[float, ...], method: str, options: Options, sweep: Sweep,
               frame: pd.DataFrame, marks: list[RateMark], quantity: str, newton: Trace,
               constants: QuadraticConstants | None) -> None:
    # Picking a run (slider or click) reruns only this part, with the arguments of the last full run.
    def copy_pick() -> None:
        """A click on a point of the sweep becomes the picked run."""
        event = st.session_state.get("lr_sweep_chart")
        picked = (event.selection.get(PICK) if event is not None else None) or []
        if picked and "run" in picked[0]:
            st.session_state["lr_pick"] = float(sweep.runs[int(picked[0]["run"])].eta)

    rates = [run.eta for run in sweep.runs]
    if st.session_state.get("lr_pick") not in rates:
        st.session_state["lr_pick"] = sweep.nearest(options.lr).eta
    selected_index = rates.index(st.session_state["lr_pick"])
    chart = sweep_chart(frame, marks, "iterations" if quantity == "iterations" else "grad", options.tol,
                        options.max_iter, selected_index)
    st.altair_chart(sized(chart), width="stretch", key="lr_sweep_chart", on_select=copy_pick, selection_mode=PICK)
    st.caption("Click a point to show that run. ● a run whose steps keep their direction, ▲ one whose steps reverse: "
               "oscillating = over the last 50 steps the step reverses along one eigen-direction of H on ≥ 80% of "
               "steps, or f rises on ≥ 25% of them. Each run's evidence is in the table below.")
    with st.expander("How each outcome was decided", expanded=False, icon=":material/rule:"):
        st.markdown(OSCILLATION_RULE)
    eta = st.select_slider("Show the run with η =", rates, key="lr_pick", format_func=lambda v: f"{v:.4g}")
    picked = sweep.runs[rates.index(eta)]
    # The sweep keeps summaries only; the picked run is run again (and cached) on its own.
    picked_trace = run_method(problem.text, x0, method, astuple(replace(options, lr=float(eta))),
                              RUNS_BUDGET_S / 2)
    traces = {method: picked_trace, "newton": newton}
    st.subheader(f"η = {eta:.4g}: {OUTCOMES[picked.outcome]}", anchor=False)
    left, right = st.columns([3, 2], gap="large")
    with left:
        status_badge(picked_trace)
        st.caption(md_escape(picked.reason()))
        picture = picture_chart(problem, traces, np.array(x0), legend_selection())
        if picture is not None:
            stack_style()
            picture_with_starts(picture, picked_trace.iterations, "lr_picture")
        else:
            st.caption(f"f has {problem.n} variables: no picture of f; the convergence curves tell the story.")
    with right:
        if constants is not None:
            rate_factors(constants.eigenvalues, eta, "(constant, f is quadratic)", method)
        else:
            try:
                eigenvalues = local_analysis(problem, np.array(x0, dtype=float)).eigenvalues
                rate_factors(eigenvalues, eta, "at x₀ (f is not quadratic: they change along the path)", method)
            except (ArithmeticError, LinAlgError) as err:
                st.warning(f"H cannot be evaluated at x₀ ({md_escape(str(err))}).")
    for column, curve in zip(st.columns(2), CONVERGENCE_QUANTITIES):
        with column:
            st.vega_lite_chart(spec=sized_spec(convergence_chart(traces, curve, legend_selection()).whole(picked_trace.iterations)),
                               width="stretch")


learning_rate_page()

"""Reusable page pieces: a method's panel, status badges, number formatting."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd
import streamlit as st

from core import METHODS, STATUSES, Trace
from core.analysis import LocalAnalysis, local_analysis
from core.line import line_at
from core.linalg import LinAlgError
from core.blocks import Field

from .charts import (CONVERGENCE_QUANTITIES, SELECTION, START_PICK, convergence_chart, legend_selection, line_chart,
                     picture_chart, step_size_chart)
from .links import format_number
from .frames import COLUMN_LABELS, csv_bytes, exact_zeros, iteration_table, table_window, thinning_note
from .text import md_escape

# Not failures, not minima: the run stopped before tol for a reason it names.
_BADGE_COLOR = {"max_iter": "orange", "time_limit": "orange", "stalled": "orange", "precision_limit": "orange"}


def status_text(trace: Trace) -> str:
    """Short status for a badge: 'converged in 1 step · minimum', 'diverged at k = 181', ..."""
    k = trace.iterations
    if trace.status == "converged":
        text = f"converged in {k} step{'' if k == 1 else 's'}"
        return f"{text} · {trace.stationary_point}" if trace.stationary_point else text
    if trace.status == "max_iter":
        return f"not converged after {k} steps"
    return f"{STATUSES[trace.status]} at k = {k}"


def badge_color(trace: Trace) -> str:
    """Green only when a minimum was reached: converging to a saddle, a maximum or a flat spot is
    told apart (blue), unfinished runs are orange, failures red."""
    if trace.status == "converged":
        return "green" if trace.stationary_point == "minimum" else "blue"
    return _BADGE_COLOR.get(trace.status, "red")


def status_badge(trace: Trace) -> None:
    color = badge_color(trace)
    st.badge(status_text(trace), color=color,
             icon=":material/check_circle:" if color == "green" else ":material/error:")


def vector_text(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:.6g}" for x in v) + ")"


def table_config(frame: pd.DataFrame, fields: Mapping[str, Field] | None = None) -> dict:
    """Labels and formats for an iteration table; the values themselves stay untouched. ``fields``
    are the method's typed step fields (core.blocks.Field): their description is the column's help."""
    config: dict = {"k": st.column_config.NumberColumn("k", format="%d", width=44, pinned=True),
                    "▶": st.column_config.TextColumn("", width=28, help="the selected iteration k", pinned=True)}
    for name, spec in (fields or {}).items():
        if name not in frame.columns:
            continue
        if spec.kind is bool:
            config[name] = st.column_config.CheckboxColumn(name, help=spec.description, width=70)
        elif spec.kind is int:
            config[name] = st.column_config.NumberColumn(name, help=spec.description, format="%d", width=70)
        else:
            config[name] = st.column_config.NumberColumn(name, help=spec.description, format="%.4g", width=86)
    for column in frame.columns:
        if column in config:
            continue
        if column in COLUMN_LABELS and column != "decision":
            fmt = "%.1f" if column == "angle_deg" else "scientific"
            config[column] = st.column_config.NumberColumn(COLUMN_LABELS[column], format=fmt, width=86)
        elif column == "decision":
            config[column] = st.column_config.TextColumn("decision", width="large")
        elif column not in config:  # a coordinate of x_k
            config[column] = st.column_config.NumberColumn(column, format="%.6g", width=86)
    return config


HIGHLIGHT = "highlighted_methods"


def highlighted() -> list[str]:
    return st.session_state.get(HIGHLIGHT, [])


def _copy_legend_pick(chart_key: str) -> None:
    """A legend click in one chart becomes the highlight of every chart and panel."""
    event = st.session_state.get(chart_key)
    picked = (event.selection.get(SELECTION) if event is not None else None) or []
    st.session_state[HIGHLIGHT] = [p["method"] for p in picked if "method" in p]


def _interactive_chart(chart, key: str) -> None:
    st.altair_chart(chart, width="stretch", key=key, on_select=lambda: _copy_legend_pick(key),
                    selection_mode=SELECTION)


START_CLICKED = "start_clicked"  # a click on a picture changed x0: the page reruns whole
_LAST_START_PICK = "last_start_pick"  # per chart: the click already taken (the selection stays in its state)


def _take_start_pick(chart_key: str) -> None:
    """A click on a picture: its (rounded) point becomes x0 in the sidebar and the link. A legend
    click on the same chart keeps its old job."""
    event = st.session_state.get(chart_key)
    selection = event.selection if event is not None else {}
    picked = selection.get(START_PICK) or []
    seen = st.session_state.setdefault(_LAST_START_PICK, {})
    if picked and picked[0] != seen.get(chart_key):
        seen[chart_key] = picked[0]
        point = [picked[0][axis] for axis in ("x", "y") if axis in picked[0]]
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in point):
            st.session_state["x0"] = ", ".join(format_number(float(v)) for v in point)
            st.session_state[START_CLICKED] = True
            return
    _copy_legend_pick(chart_key)


def picture_with_starts(chart, key: str) -> None:
    """A picture of f on which a click sets x0 (and a legend click highlights a method)."""
    st.altair_chart(chart, width="stretch", key=key, on_select=lambda: _take_start_pick(key),
                    selection_mode=[SELECTION, START_PICK])
    st.caption("Click anywhere on the picture to start every method there (x₀ follows, rounded to the grid's step).")
    if st.session_state.pop(START_CLICKED, False):
        st.rerun(scope="app")  # new x0: new runs, new tables (a fragment rerun would keep the old ones)


def model_at_iterate(problem, traces: dict[str, Trace], k: int) -> tuple[LocalAnalysis | None, str]:
    """The quadratic model to draw when asked (2 variables): at x_k of the highlighted method (the
    first one shown otherwise), and the caption saying what is drawn."""
    if problem.n != 2 or not st.toggle("Draw the quadratic model at x_k", key="show_model",
                                       help="m_k(x) = f_k + g'(x − x_k) + ½(x − x_k)'H(x − x_k): the function Newton minimises"):
        return None, ""
    method = next((m for m in highlighted() if m in traces), next(iter(traces)))
    trace = traces[method]
    row = min(k, trace.iterations)
    try:
        local = local_analysis(problem, trace.x[row])
    except (ArithmeticError, LinAlgError) as err:
        return None, f"No model at x_{row} of {method}: {err}."
    where = f"x_{row} of {METHODS[method].short_label}"
    parts = [f"Dashed purple: contours of the quadratic model at {where} ({local.definiteness} H)"]
    if local.newton_point is not None:
        parts.append("● Newton's step to the model's centre" + (" (its minimum)" if local.definiteness == "positive definite" else ""))
    if local.optimal_point is not None:
        parts.append(f"■ the optimal rate's step along −g, η = g'g/g'Hg = {local.optimal_rate:.4g}, to where −g touches a "
                     "model contour")
    return local, "; ".join(parts) + ". Highlight a method (legend) to draw the model at its iterate."


def shared_charts(problem, traces: dict[str, Trace], x0: np.ndarray, k: int) -> None:
    """The picture (contours or curve) and both convergence charts, highlight shared."""
    model, model_caption = model_at_iterate(problem, traces, k)
    picture = picture_chart(problem, traces, x0, k, legend_selection(highlighted()), model)
    if model_caption:
        st.caption(md_escape(model_caption))
    if picture is not None:
        # The picture gets a roughly square area (contours keep their shape), the two
        # convergence charts stack beside it; on a phone the columns stack.
        left, right = st.columns([3, 2])
        with left:
            picture_with_starts(picture, "chart_picture")
        slots = [right, right]
    else:
        st.caption(f"f has {problem.n} variables: no picture of f; the convergence curves tell the story.")
        slots = st.columns(2)
    legend = picture is None  # beside a picture, its legend serves; click a curve to pick it
    for slot, quantity, key in zip(slots, CONVERGENCE_QUANTITIES, ("chart_gap", "chart_grad")):
        with slot:
            selection = legend_selection(highlighted(), legend=legend)
            _interactive_chart(convergence_chart(traces, quantity, k, selection, legend=legend), key)
    note = thinning_note(traces)
    if note:
        st.caption(note)
    zeros = exact_zeros(traces)
    if zeros:
        st.caption("Not drawn on the log scales (0 has no logarithm): " + "; ".join(zeros) + ".")


def work_done(trace: Trace) -> str:
    """What the run cost, as scipy counts it: evaluations of f, g and H, and linear solves."""
    c = trace.counts
    text = f"Evaluations: f {c.get('nfev', 0)}, g {c.get('ngev', 0)}" + (f", H {c['nhev']}" if c.get("nhev") else "")
    if c.get("nsolve"):
        text += f"; linear solves {c['nsolve']}"
    return text + f" (over {trace.iterations} step{'' if trace.iterations == 1 else 's'})"


def line_view(problem, trace: Trace, k: int) -> None:
    """Step k along its line (core.line), for the methods whose step size is found along one."""
    row = min(k, trace.iterations)
    if not METHODS[trace.method].step.line_view or row >= trace.iterations:
        return
    with st.expander(f"Step k = {row} along its line", icon=":material/timeline:"):
        try:
            view = line_at(problem, trace, row)
        except (ArithmeticError, LinAlgError) as err:
            st.caption(md_escape(f"Cannot draw this step: {err}"))
            return
        if view is None:
            st.caption("No line to draw at this step.")
            return
        st.altair_chart(line_chart(view, METHODS[trace.method].color), width="stretch")
        if view.view == "model":
            gap = view.true_minimum - view.model_eta
            st.caption(md_escape(f"η = g'g/g'Hg = {view.model_eta:.6g} minimises the quadratic model along d; φ itself is "
                                 f"least at η = {view.true_minimum:.6g} ({gap:+.3g}): "
                                 + ("f is quadratic along this line, so they agree." if abs(gap) <= 1e-6 * abs(view.model_eta)
                                    else "f is not quadratic along this line.")))
        else:
            rejected = sum(not t.accepted for t in view.trials)
            st.caption(md_escape(f"{len(view.trials)} trial{'s' if len(view.trials) != 1 else ''} ({rejected} rejected), "
                                 f"η taken = {view.eta:.6g}. Accepted: on or below the Armijo line"
                                 + (f" and with |φ'(η)| ≤ c₂|φ'(0)|, c₂ = {view.c2:g} (the green fan: the slopes allowed)"
                                    if view.c2 is not None else "") + ". Replayed from x_k: the trace keeps no trials."))


def method_panel(trace: Trace, k: int, problem=None) -> None:
    """Update rule, status, row k, the iteration table (row k marked), CSV, step sizes, and (given
    the problem) the step along its line."""
    method = METHODS[trace.method]
    st.subheader(method.label, anchor=False)
    if trace.method in highlighted():
        st.badge("highlighted", color="violet", icon=":material/highlight:")
    st.latex(method.update_latex)
    status_badge(trace)
    st.caption(md_escape(trace.message))
    st.caption(md_escape(work_done(trace)))
    row = min(k, trace.iterations)
    note = "" if row == k else f" (its last iterate; it stopped at k = {trace.iterations})"
    st.markdown(f"**k = {row}**{note}: x = `{vector_text(trace.x[row])}`, f = `{trace.f[row]:.6g}`, "
                f"‖g‖ = `{trace.grad_norm[row]:.3e}`")
    window = table_window(trace.iterations + 1, row)
    shown = iteration_table(trace, window)
    shown.insert(1, "▶", np.where(shown["k"] == row, "▶", ""))
    st.dataframe(shown, hide_index=True, height=280, column_config=table_config(shown, method.fields),
                 key=f"table_{trace.method}")
    if window.stop - window.start < trace.iterations + 1:
        st.caption(f"Rows k = {window.start}..{window.stop - 1} of 0..{trace.iterations}: the table follows the "
                   "iteration slider; the CSV holds every row.")
    # The CSV is made only when asked for (a long run's table is megabytes).
    st.download_button("Download table (CSV)", lambda: csv_bytes(trace), file_name=f"{trace.method}.csv",
                       mime="text/csv", on_click="ignore", key=f"csv_{trace.method}",
                       icon=":material/download:")
    if np.isfinite(trace.step_size).any():
        st.altair_chart(step_size_chart(trace, k), width="stretch")
    if problem is not None:
        line_view(problem, trace, k)


def iteration_slider(label: str, longest: int, key: str, container=st, help: str | None = None) -> int:
    """A slider over k = 0..longest whose kept value is clamped first (the setup may have
    changed to a shorter run), disabled when there is no step to show."""
    if st.session_state.get(key, 0) > longest:
        st.session_state[key] = longest
    return container.slider(label, 0, max(longest, 1), key=key, disabled=longest == 0, help=help)


def iterate_picker(traces: dict[str, Trace], key: str) -> tuple[Trace, int]:
    """Pick a method and one of its iterates (keys ``{key}_method`` and ``{key}_k``)."""
    left, right = st.columns(2)
    method = left.selectbox("Method", list(traces), format_func=lambda m: METHODS[m].label, key=f"{key}_method")
    trace = traces[method]
    k = iteration_slider("Iterate k", trace.iterations, f"{key}_k", container=right)
    return trace, min(k, trace.iterations)


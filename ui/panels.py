"""Reusable page pieces: a method's panel, status badges, number formatting."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core import METHODS, STATUSES, Trace
from core.analysis import LocalAnalysis, local_analysis
from core.line import line_at
from core.run import format_point
from core.linalg import LinAlgError
from core.blocks import Field

from .charts import (CONVERGENCE_QUANTITIES, SELECTION, START_PICK, KChart, convergence_chart, legend_selection,
                     line_chart, model_rows, picture_chart, step_size_chart)
from .links import format_number
from .frames import COLUMN_LABELS, csv_bytes, exact_zeros, iteration_table, playing_window, table_window, thinning_note
from .kcharts import chart_stack, overlay_at, session_memo, trace_key
from .style import sized_spec
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


def table_config(columns: list[str], fields: Mapping[str, Field] | None = None) -> dict:
    """Labels and formats for an iteration table's ``columns``; the values themselves stay
    untouched. ``fields`` are the method's typed step fields (core.blocks.Field): their
    description is the column's help."""
    config: dict = {"k": st.column_config.NumberColumn("k", format="%d", width=44, pinned=True),
                    "▶": st.column_config.TextColumn("", width=28, help="the selected iteration k", pinned=True)}
    for name, spec in (fields or {}).items():
        if name not in columns:
            continue
        if spec.kind is bool:
            config[name] = st.column_config.CheckboxColumn(name, help=spec.description, width=70)
        elif spec.kind is int:
            config[name] = st.column_config.NumberColumn(name, help=spec.description, format="%d", width=70)
        else:
            config[name] = st.column_config.NumberColumn(name, help=spec.description, format="%.4g", width=86)
    for column in columns:
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


START_PICKS = "last_start_pick"  # per chart: the click already taken (the selection stays in its state)


def _take_start_pick(chart_key: str) -> None:
    """A click on a picture: its (rounded) point becomes x0 in the sidebar and the link (the page
    runs again whole, the sidebar first). A legend click on the same chart keeps its old job."""
    event = st.session_state.get(chart_key)
    selection = event.selection if event is not None else {}
    picked = selection.get(START_PICK) or []
    seen = st.session_state.setdefault(START_PICKS, {})
    if picked and picked[0] != seen.get(chart_key):
        seen[chart_key] = picked[0]
        point = [picked[0][axis] for axis in ("x", "y") if axis in picked[0]]
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in point):
            st.session_state["x0"] = ", ".join(format_number(float(v)) for v in point)
            return
    _copy_legend_pick(chart_key)


@dataclass(frozen=True)
class Stacked:
    """A chart on the page and the stack its part at iterate k goes in."""

    stack: DeltaGenerator
    chart: KChart
    key: str

    def at(self, k: int, extra: Mapping[str, pd.DataFrame] | None = None) -> None:
        overlay_at(self.stack, self.chart, k, self.key, extra)


def picture_stack(chart: KChart, key: str) -> Stacked:
    """A picture of f on which a click sets x0 (and a legend click highlights a method); its part
    at iterate k goes in with ``.at(k)``."""
    stack = chart_stack(chart, key, on_select=lambda: _take_start_pick(key), selection_mode=[SELECTION, START_PICK])
    st.caption("Click anywhere on the picture to start every method there (x₀ follows, rounded to the grid's step).")
    return Stacked(stack, chart, key)


def picture_with_starts(chart: KChart, k: int, key: str) -> None:
    """picture_stack with its part at iterate k (a page where k does not play)."""
    picture_stack(chart, key).at(k)


def model_at_iterate(problem, traces: dict[str, Trace], k: int) -> tuple[LocalAnalysis | None, str]:
    """The quadratic model to draw when asked (the toggle ``show_model``): at x_k of the highlighted
    method (the first one shown otherwise), and the caption saying what is drawn."""
    if problem.n != 2 or not st.session_state.get("show_model"):
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


@dataclass(frozen=True)
class SharedCharts:
    """The shared charts as the page's full run drew them; ``at(k)`` (a fragment) draws their part at k."""

    problem: object
    traces: dict[str, Trace]
    model_note: DeltaGenerator
    picture: Stacked | None
    curves: tuple[Stacked, ...]

    def at(self, k: int) -> None:
        model, caption = model_at_iterate(self.problem, self.traces, k)
        with self.model_note:
            if caption:
                st.caption(md_escape(caption))
        if self.picture is not None:
            self.picture.at(k, model_rows(model, self.picture.chart.box) if model is not None else None)
        for curve in self.curves:
            curve.at(k)


def shared_charts(problem, traces: dict[str, Trace], x0: np.ndarray) -> SharedCharts:
    """The picture (contours or curve) and both convergence charts, highlight shared; the model
    toggle (2 variables)."""
    if problem.n == 2:
        st.toggle("Draw the quadratic model at x_k", key="show_model",
                  help="m_k(x) = f_k + g'(x − x_k) + ½(x − x_k)'H(x − x_k): the function Newton minimises")
    model_note = st.container()
    highlight = tuple(highlighted())
    setup = (problem.text, x0.tobytes(), tuple(trace_key(t) for t in traces.values()), highlight)
    with_model = bool(st.session_state.get("show_model")) and problem.n == 2
    picture = session_memo("picture", (*setup, with_model),
                           lambda: picture_chart(problem, traces, x0, legend_selection(highlight), with_model))
    stacked_picture = None
    if picture is not None:
        # The picture gets a roughly square area (contours keep their shape), the two
        # convergence charts stack beside it; on a phone the columns stack.
        left, right = st.columns([3, 2])
        with left:
            stacked_picture = picture_stack(picture, "chart_picture")
        slots = [right, right]
    else:
        st.caption(f"f has {problem.n} variables: no picture of f; the convergence curves tell the story.")
        slots = st.columns(2)
    legend = picture is None  # beside a picture, its legend serves; click a curve to pick it
    curves = []
    for slot, quantity, key in zip(slots, CONVERGENCE_QUANTITIES, ("chart_gap", "chart_grad")):
        with slot:
            chart = session_memo(key, (*setup, legend), lambda quantity=quantity: convergence_chart(
                traces, quantity, legend_selection(highlight, legend=legend), legend=legend))
            stack = chart_stack(chart, key, on_select=lambda key=key: _copy_legend_pick(key), selection_mode=SELECTION)
            curves.append(Stacked(stack, chart, key))
    note = thinning_note(traces)
    if note:
        st.caption(note)
    zeros = exact_zeros(traces)
    if zeros:
        st.caption("Not drawn on the log scales (0 has no logarithm): " + "; ".join(zeros) + ".")
    return SharedCharts(problem, traces, model_note, stacked_picture, tuple(curves))


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
    # Opened on request only (on_change): it replays the step, which no frame of Play should pay for unseen.
    with st.expander(f"Step k = {row} along its line", icon=":material/timeline:", key=f"line_{trace.method}",
                     on_change="rerun") as expander:
        if not expander.open:
            return
        try:
            view = line_at(problem, trace, row)
        except (ArithmeticError, LinAlgError) as err:
            st.caption(md_escape(f"Cannot draw this step: {err}"))
            return
        if view is None:
            st.caption("No line to draw at this step.")
            return
        st.vega_lite_chart(spec=sized_spec(line_chart(view, METHODS[trace.method].color)), width="stretch")
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


@dataclass(frozen=True)
class MethodPanel:
    """A method's panel as the page's full run drew it (what does not change with k); ``at(k)``
    (a fragment) fills in its part at iterate k."""

    trace: Trace
    problem: object
    rows: DeltaGenerator  # row k and the table around it
    table: pa.Table  # the whole iteration table: a frame sends a slice of it with row k marked
    steps: Stacked | None  # the step sizes
    line: DeltaGenerator  # step k along its line

    def at(self, k: int, playing: bool = False) -> None:
        """Row k, the table (row k marked; ``playing``: a short window that keeps row k in view),
        the step-size chart's rule, the step along its line."""
        trace, method = self.trace, METHODS[self.trace.method]
        row = min(k, trace.iterations)
        with self.rows:
            note = "" if row == k else f" (its last iterate; it stopped at k = {trace.iterations})"
            st.markdown(f"**k = {row}**{note}: x = `{format_point(trace.x[row])}`, f = `{trace.f[row]:.6g}`, "
                        f"‖g‖ = `{trace.grad_norm[row]:.3e}`")
            window = (playing_window if playing else table_window)(trace.iterations + 1, row)
            shown = self.table.slice(window.start, window.stop - window.start)
            shown = shown.add_column(1, "▶", pa.array(np.where(np.arange(window.start, window.stop) == row, "▶", "")))
            st.dataframe(shown, hide_index=True, height=280, column_config=table_config(shown.column_names, method.fields),
                         key=f"table_{trace.method}")
            if window.stop - window.start < trace.iterations + 1:
                st.caption(f"Rows k = {window.start}..{window.stop - 1} of 0..{trace.iterations}: the table follows "
                           + ("k while it plays" if playing else "the iteration slider") + "; the CSV holds every row.")
        if self.steps is not None:
            self.steps.at(k)
        with self.line:
            line_view(self.problem, trace, k)


def method_panel(trace: Trace, problem) -> MethodPanel:
    """Update rule, status, what the run cost, the CSV, the step-size chart; room for the part at k."""
    method = METHODS[trace.method]
    st.subheader(method.label, anchor=False)
    if trace.method in highlighted():
        st.badge("highlighted", color="violet", icon=":material/highlight:")
    st.latex(method.update_latex)
    status_badge(trace)
    st.caption(md_escape(trace.message))
    st.caption(md_escape(work_done(trace)))
    rows = st.container()
    table = session_memo(f"table_{trace.method}", (trace_key(trace),),
                         lambda: pa.Table.from_pandas(iteration_table(trace), preserve_index=False)
                         .replace_schema_metadata(None))  # pandas' metadata: ~1 kB of every frame
    # The CSV is made only when asked for (a long run's table is megabytes).
    st.download_button("Download table (CSV)", lambda: csv_bytes(trace), file_name=f"{trace.method}.csv",
                       mime="text/csv", on_click="ignore", key=f"csv_{trace.method}",
                       icon=":material/download:")
    steps = None
    if np.isfinite(trace.step_size).any():
        key = f"steps_{trace.method}"
        chart = session_memo(key, (trace_key(trace),), lambda: step_size_chart(trace))
        steps = Stacked(chart_stack(chart, key), chart, key)
    return MethodPanel(trace, problem, rows, table, steps, st.container())


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


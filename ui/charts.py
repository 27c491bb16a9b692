"""Altair charts built from traces (no streamlit here: each function returns a chart).

Every method has one colour everywhere. Each chart carries a legend-bound selection named
SELECTION whose initial value is the page's current highlight, so a click in any legend can
be copied (by the page) into every other chart.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import altair as alt
import contourpy
import numpy as np
import pandas as pd

from core import METHODS, Problem, Trace
from core.analysis import LocalAnalysis, local_analysis
from core.line import LineView
from core.linalg import LinAlgError

from .frames import convergence_frame, long_iterates, thinned

alt.data_transformers.disable_max_rows()  # we bound sizes ourselves (contour lines, not grids)

GRID_POINTS = 140  # per axis for contour lines; the browser receives lines, not the grid


def method_color_scale(methods: Sequence[str]) -> alt.Scale:
    """Colours for the methods shown; a method keeps its colour whatever else is shown."""
    return alt.Scale(domain=list(methods), range=[method_color(m) for m in methods])


def method_color(method: str) -> str:
    return METHODS[method].color


SELECTION = "pick_method"
# Under the plot, not beside it: on a phone a side legend takes a third of the width.
LEGEND = alt.Legend(orient="bottom", direction="horizontal", columns=4)


def legend_selection(highlight: Sequence[str] = (), legend: bool = True) -> alt.Parameter:
    """Click a legend entry (or, for a chart without legend, a line) to highlight that method;
    starts from ``highlight``."""
    value = [{"method": m} for m in highlight] or alt.Undefined
    return alt.selection_point(fields=["method"], bind="legend" if legend else alt.Undefined,
                               name=SELECTION, value=value)


def _highlight(selection: alt.Parameter) -> alt.OpacityValue:
    return alt.condition(selection, alt.value(1.0), alt.value(0.12))


def view_box(traces: Mapping[str, Trace], x0: np.ndarray) -> np.ndarray:
    """[[lo, hi] per variable] around the iterates that stay near the start (a diverging run
    would otherwise zoom everything else into a dot); at least a unit-ish box."""
    with np.errstate(over="ignore", invalid="ignore"):  # a start near 1e308 overflows spans
        radius = 3.0 * (1.0 + float(np.abs(x0).max()))
        points = np.vstack([t.x[np.isfinite(t.x).all(axis=1)] for t in traces.values()] + [x0[None, :]])
        near = points[np.abs(points - x0).max(axis=1) <= radius]
        lo, hi = near.min(axis=0), near.max(axis=0)
        span = np.maximum(hi - lo, 0.25 * max(float((hi - lo).max()), 1.0))
        centre = lo / 2 + hi / 2
        box = np.stack([centre - 0.6 * span, centre + 0.6 * span], axis=1)
    if not np.isfinite(box).all() or not (box[:, 1] > box[:, 0]).all():
        # Beyond float range (or too large for a unit to register): a box the size of the
        # numbers' own spacing would be meaningless, so show the start with a relative margin.
        half = np.maximum(np.abs(x0) * 1e-3, 1.0)
        with np.errstate(over="ignore"):
            box = np.stack([x0 - half, x0 + half], axis=1)
        box = np.clip(box, -np.finfo(float).max, np.finfo(float).max)
    return box


def _grid(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xs = np.linspace(box[0, 0], box[0, 1], GRID_POINTS)
    ys = np.linspace(box[1, 0], box[1, 1], GRID_POINTS)
    return np.meshgrid(xs, ys)


def _lines(grid_x: np.ndarray, grid_y: np.ndarray, z: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Contour lines of z at ``values`` (contourpy), one row per vertex."""
    generator = contourpy.contour_generator(grid_x, grid_y, np.ma.masked_invalid(z), line_type="Separate")
    rows, line_id = [], 0
    for level in values:
        for line in generator.lines(level):
            rows.append(pd.DataFrame({"x": line[:, 0], "y": line[:, 1], "level": level,
                                      "line": line_id, "i": np.arange(len(line))}))
            line_id += 1
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["x", "y", "level", "line", "i"])


def _quantile_levels(z: np.ndarray, levels: int) -> np.ndarray | None:
    finite = z[np.isfinite(z)]
    if finite.size < 4 or finite.max() == finite.min():
        return None
    return np.unique(np.quantile(finite, np.linspace(0.0, 1.0, levels + 2)[1:-1] ** 2))


def contour_lines(problem: Problem, box: np.ndarray, levels: int = 16) -> pd.DataFrame:
    """Contour lines of f over the box (contourpy), levels denser near the bottom of f."""
    grid_x, grid_y = _grid(box)
    z = problem.grid_values(grid_x, grid_y)
    values = _quantile_levels(z, levels)
    if values is None:
        return pd.DataFrame(columns=["x", "y", "level", "line", "i"])
    return _lines(grid_x, grid_y, z, values)


def model_lines(local: LocalAnalysis, box: np.ndarray) -> pd.DataFrame:
    """Contours of the quadratic model at local.x over the box: its own levels (core.analysis:
    through x, the optimal step's tangent level, down to the minimum), or, without a minimum
    (hyperbolas), f(x) and levels spread over the model's values on the box."""
    grid_x, grid_y = _grid(box)
    z = local.model(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)).reshape(grid_x.shape)
    values = local.model_levels()
    if values.size == 1:
        spread = _quantile_levels(z, 8)
        values = np.unique(np.concatenate([values, spread if spread is not None else []]))
    return _lines(grid_x, grid_y, z, values)


MODEL_COLOR = "#6a3d9a"


def model_layers(local: LocalAnalysis, box: np.ndarray, x_scale: alt.Scale, y_scale: alt.Scale) -> list[alt.Chart]:
    """The quadratic model at x_k drawn: its contours (dashed), Newton's step to its centre and
    the optimal rate's step along -g to where -g touches a model contour."""
    x, y = alt.X("x:Q", scale=x_scale), alt.Y("y:Q", scale=y_scale)
    layers = [alt.Chart(model_lines(local, box)).mark_line(strokeDash=[5, 3], strokeWidth=1.2, opacity=0.8, clip=True,
                                                           color=MODEL_COLOR).encode(x=x, y=y, detail="line:N", order="i:Q")]
    steps = []
    for name, point in (("Newton step: to the model's centre", local.newton_point),
                        ("optimal rate: to the model's minimum along −g", local.optimal_point)):
        if point is not None and np.isfinite(point).all():
            steps += [{"step": name, "x": float(local.x[0]), "y": float(local.x[1]), "end": 0},
                      {"step": name, "x": float(point[0]), "y": float(point[1]), "end": 1}]
    if steps:
        frame = pd.DataFrame(steps)
        tooltip = ["step", alt.Tooltip("x:Q", format=".6g"), alt.Tooltip("y:Q", format=".6g")]
        shape = alt.Shape("step:N", scale=alt.Scale(range=["circle", "square"]), legend=None)
        layers += [alt.Chart(frame).mark_line(color=MODEL_COLOR, strokeWidth=2.2, clip=True).encode(
                       x=x, y=y, detail="step:N", order="end:Q"),
                   alt.Chart(frame[frame["end"] == 1]).mark_point(size=150, filled=True, color=MODEL_COLOR, clip=True).encode(
                       x=x, y=y, shape=shape, tooltip=tooltip)]
    return layers


START_PICK = "start_click"  # the click selection of a picture: its point becomes x0 (ui.panels)
START_GRID = 30  # about this many pickable starts per axis (60 made 20 pages on 2 cores render 1.5-3x slower: 3,721 SVG nodes each)


def round_step(span: float, count: int = START_GRID) -> float:
    """1, 2 or 5 times a power of ten, about span / count: starts picked by a click read as typed."""
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def start_grid(box: np.ndarray) -> pd.DataFrame:
    """The starts a click can pick: multiples of round_step inside the box, per axis (x, and y
    for a 2-D box), rounded so that 0.30000000000000004 reads 0.3."""
    axes = []
    for lo, hi in box:
        step = round_step(float(hi - lo))
        decimals = max(0, 1 - math.floor(math.log10(step)))
        axes.append(np.round(np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step, decimals))
    if len(axes) == 1:
        return pd.DataFrame({"x": axes[0]})
    xs, ys = np.meshgrid(*axes)
    return pd.DataFrame({"x": xs.ravel(), "y": ys.ravel()})


def start_layer(box: np.ndarray, x_scale: alt.Scale, y: alt.Y | None = None) -> alt.Chart:
    """Invisible points on start_grid: a click anywhere on the picture picks the nearest one
    (Vega's Voronoi cells: no need to hit a point). Goes first, under the paths, so their
    tooltips still answer."""
    grid = start_grid(box)
    fields = ["x", "y"] if y is not None else ["x"]
    if y is None:  # 1-D: one row of points at the top (a pixel position, no scale of its own):
        y = alt.value(0)  # their Voronoi cells are vertical strips, so a click picks by x alone
    pick = alt.selection_point(name=START_PICK, on="click", nearest=True, fields=fields, clear=False)
    return alt.Chart(grid).mark_point(opacity=0, size=1).encode(x=alt.X("x:Q", scale=x_scale), y=y).add_params(pick)


def _current_points(iterates: pd.DataFrame, k: int) -> pd.DataFrame:
    """Row min(k, K) of each method: where each run is at 'iteration k'."""
    last = iterates.groupby("method")["k"].transform("max")
    return iterates[iterates["k"] == np.minimum(k, last)]


def path_chart(problem: Problem, traces: Mapping[str, Trace], x0: np.ndarray, k: int,
               selection: alt.Parameter, model_at: LocalAnalysis | None = None) -> alt.Chart:
    """Contour lines of f with every method's path; x_k marked; with ``model_at``, the
    quadratic model there (model_layers). 2 variables only."""
    names = problem.variable_names
    box = view_box(traces, x0)
    x_scale = alt.Scale(domain=list(box[0]), nice=False)
    y_scale = alt.Scale(domain=list(box[1]), nice=False)
    lines = contour_lines(problem, box)
    contours = alt.Chart(lines).mark_line(strokeWidth=0.8, opacity=0.45, clip=True, color="#888888").encode(
        x=alt.X("x:Q", scale=x_scale, title=names[0]), y=alt.Y("y:Q", scale=y_scale, title=names[1]),
        detail="line:N", order="i:Q")
    iterates = long_iterates(traces, k).rename(columns={"x0": "x", "x1": "y"})
    iterates = iterates[np.isfinite(iterates["x"]) & np.isfinite(iterates["y"])]
    color = alt.Color("method:N", scale=method_color_scale(list(traces)), title="method", legend=LEGEND)
    tooltip = ["method", "k", alt.Tooltip("x:Q", format=".6g", title=names[0]),
               alt.Tooltip("y:Q", format=".6g", title=names[1]), alt.Tooltip("f:Q", format=".6g")]
    paths = alt.Chart(iterates).mark_line(point=alt.OverlayMarkDef(size=28), clip=True, strokeWidth=1.8).encode(
        x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale), color=color, order="k:Q",
        detail="method:N", opacity=_highlight(selection), tooltip=tooltip).add_params(selection)
    current = alt.Chart(_current_points(iterates, k)).mark_point(
        size=260, shape="diamond", filled=True, stroke="black", strokeWidth=1, clip=True).encode(
        x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale), color=color,
        opacity=_highlight(selection), tooltip=tooltip)
    starts = start_layer(box, x_scale, alt.Y("y:Q", scale=y_scale))
    model = model_layers(model_at, box, x_scale, y_scale) if model_at is not None else []
    return alt.layer(starts, contours, *model, paths, current).properties(
        title=f"Paths on the contours of f (◆ = iterate k = {k})", height=540)


def curve_chart(problem: Problem, traces: Mapping[str, Trace], x0: np.ndarray, k: int,
                selection: alt.Parameter) -> alt.Chart:
    """1 variable: f, the iterates on it, and each method's quadratic model at its x_k."""
    box = view_box(traces, x0)[0]
    t = np.linspace(box[0], box[1], 400)
    f_values = problem.grid_values(t)
    curve = pd.DataFrame({"x": t, "f": f_values})
    finite = f_values[np.isfinite(f_values)]
    y_lo, y_hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    pad = 0.08 * max(y_hi - y_lo, 1e-12)
    y_scale = alt.Scale(domain=[y_lo - pad, y_hi + pad], nice=False)
    x_scale = alt.Scale(domain=list(box), nice=False)
    name = problem.variable_names[0]
    color = alt.Color("method:N", scale=method_color_scale(list(traces)), title="method", legend=LEGEND)
    base = alt.Chart(curve).mark_line(color="#888888", strokeWidth=2, clip=True).encode(
        x=alt.X("x:Q", scale=x_scale, title=name), y=alt.Y("f:Q", scale=y_scale, title="f"))
    iterates = long_iterates(traces, k).rename(columns={"x0": "x"})
    iterates = iterates[np.isfinite(iterates["x"]) & np.isfinite(iterates["f"])]
    points = alt.Chart(iterates).mark_line(point=True, clip=True, strokeDash=[2, 2]).encode(
        x=alt.X("x:Q", scale=x_scale), y=alt.Y("f:Q", scale=y_scale), color=color, order="k:Q",
        opacity=_highlight(selection), tooltip=["method", "k", alt.Tooltip("x:Q", format=".6g"),
                                                alt.Tooltip("f:Q", format=".6g")]).add_params(selection)
    models = []
    for _, row in _current_points(iterates, k).iterrows():
        try:
            local = local_analysis(problem, np.array([row["x"]]))
        except (ArithmeticError, LinAlgError):
            continue
        models.append(pd.DataFrame({"method": row["method"], "x": t, "f": local.model(t[:, None])}))
    layers = [start_layer(np.array([box]), x_scale), base, points]
    if models:
        layers.append(alt.Chart(pd.concat(models)).mark_line(strokeDash=[6, 4], clip=True).encode(
            x=alt.X("x:Q", scale=x_scale), y=alt.Y("f:Q", scale=y_scale), color=color,
            opacity=_highlight(selection)))
    current = _current_points(iterates, k)
    layers.append(alt.Chart(current).mark_point(size=220, shape="diamond", filled=True, stroke="black",
                                                clip=True).encode(
        x=alt.X("x:Q", scale=x_scale), y=alt.Y("f:Q", scale=y_scale), color=color))
    return alt.layer(*layers).properties(
        title=f"f with the iterates; dashed: quadratic model at iterate k = {k}", height=460)


CONVERGENCE_QUANTITIES = ("f(x_k) − f_best", "‖g_k‖")


def convergence_chart(traces: Mapping[str, Trace], quantity: str, k: int, selection: alt.Parameter,
                      legend: bool = True) -> alt.Chart:
    """``quantity`` (one of CONVERGENCE_QUANTITIES) against k, log scale, all methods. Without
    ``legend`` (a picture beside it carries one) the plot keeps its height for the curves."""
    frame = convergence_frame(traces, k)
    frame = frame[frame["quantity"] == quantity]
    color = alt.Color("method:N", scale=method_color_scale(list(traces)), title="method",
                      legend=LEGEND if legend else None)
    chart = alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=16)).encode(
        x=alt.X("k:Q", title="iteration k"),
        y=alt.Y("value:Q", scale=alt.Scale(type="log"), title=quantity),
        color=color, opacity=_highlight(selection),
        tooltip=["method", "k", alt.Tooltip("value:Q", format=".3e", title=quantity)]).add_params(
        selection, alt.selection_interval(bind="scales", encodings=["x"]))  # drag/scroll to zoom in k
    rule = alt.Chart(pd.DataFrame({"k": [k]})).mark_rule(strokeDash=[4, 4], color="#888888").encode(x="k:Q")
    return alt.layer(chart, rule).properties(title=f"{quantity} (log scale)", height=300 if legend else 250)


def step_size_chart(trace: Trace, k: int) -> alt.Chart:
    """eta_k against k for one method, log scale (steps of size 0 are not drawn)."""
    rows, _ = thinned(len(trace.step_size), keep=(k,), values=trace.f)
    frame = pd.DataFrame({"k": rows, "eta": trace.step_size[rows]})
    frame = frame[np.isfinite(frame["eta"]) & (frame["eta"] > 0)]
    k_scale = alt.Scale(domain=[0, max(trace.iterations, 1)], nice=False)
    color = method_color(trace.method)  # the point overlay needs it too, or it takes the theme's colour
    line = alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(color=color), color=color).encode(
        x=alt.X("k:Q", title="k", scale=k_scale, axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("eta:Q", scale=alt.Scale(type="log"), title="η_k"),
        tooltip=["k", alt.Tooltip("eta:Q", format=".4e", title="η_k")])
    rule = alt.Chart(pd.DataFrame({"k": [k]})).mark_rule(strokeDash=[4, 4], color="#888888").encode(x="k:Q")
    return alt.layer(line, rule).properties(title="Step size η_k", height=180)


def picture_chart(problem: Problem, traces: Mapping[str, Trace], x0: np.ndarray, k: int,
                  selection: alt.Parameter, model_at: LocalAnalysis | None = None) -> alt.Chart | None:
    """The contour plot with paths (2 variables; with ``model_at``, the quadratic model there),
    the curve with models (1 variable), else None."""
    if problem.n == 2:
        return path_chart(problem, traces, x0, k, selection, model_at)
    if problem.n == 1:
        return curve_chart(problem, traces, x0, k, selection)
    return None


def line_chart(view: LineView, color: str) -> alt.Chart:
    """Step k along its line: phi(eta), the Armijo line, every trial (accepted or rejected), the
    eta taken; for Wolfe the allowed slopes at it; for the optimal rate the quadratic model along
    d, its minimum g'g/g'Hg and the true minimum of phi. A log eta axis when trials span decades."""
    etas, phi, log_axis = view.etas, view.phi, view.log_eta
    finite = phi[np.isfinite(phi)]
    low = float(min(finite.min(), view.f0)) if finite.size else view.f0
    span = max(view.f0 - low, abs(view.f0) * 1e-12, 1e-300)
    y_domain = [low - 0.15 * span, view.f0 + 1.5 * span]
    x_scale = alt.Scale(type="log" if log_axis else "linear", domain=[float(etas[0]), float(etas[-1])], nice=False)
    y_scale = alt.Scale(domain=y_domain, nice=False)
    x, y = alt.X("eta:Q", title="η", scale=x_scale), alt.Y("value:Q", title="φ(η) = f(x_k + η d_k)", scale=y_scale)
    curves = [pd.DataFrame({"eta": etas, "value": phi, "curve": "φ(η)"})]
    if view.view == "search":
        curves.append(pd.DataFrame({"eta": etas, "value": view.armijo(etas), "curve": f"Armijo line, c₁ = {view.c1:g}"}))
    if view.view == "model" and view.curvature > 0:
        curves.append(pd.DataFrame({"eta": etas, "value": view.model(etas), "curve": "quadratic model along d"}))
    frame = pd.concat(curves, ignore_index=True)
    names = list(dict.fromkeys(frame["curve"]))
    palette = {"φ(η)": color, "quadratic model along d": MODEL_COLOR}
    layers = [alt.Chart(frame).mark_line(clip=True).encode(
        x=x, y=y, color=alt.Color("curve:N", scale=alt.Scale(domain=names, range=[palette.get(n, "#888888") for n in names]),
                                  legend=alt.Legend(orient="bottom", title=None, direction="vertical", labelLimit=260)),
        strokeDash=alt.condition(alt.datum.curve == "φ(η)", alt.value([1, 0]), alt.value([5, 3])))]
    # φ itself reaches far above f_k where a trial overshoots: the picture keeps to f_k and below
    marks = [{"eta": view.eta, "what": "η taken"}]
    if view.view == "model":
        marks = [{"eta": view.model_eta, "what": "g'g/g'Hg (the model's minimum)"},
                 {"eta": view.true_minimum, "what": "the minimum of φ"}]
    marks = pd.DataFrame([m for m in marks if math.isfinite(m["eta"]) and m["eta"] > 0])
    if len(marks):
        layers.append(alt.Chart(marks).mark_rule(strokeDash=[2, 2], color="#888888").encode(
            x=alt.X("eta:Q", scale=x_scale), tooltip=["what", alt.Tooltip("eta:Q", format=".6g", title="η")]))
    if view.trials:
        top = y_domain[1]
        trials = pd.DataFrame([{"trial": j + 1, "eta": t.eta, "f": t.f, "value": min(t.f, top),
                                "verdict": "accepted" if t.accepted else "rejected"} for j, t in enumerate(view.trials)])
        trials = trials[trials["eta"] > 0]
        layers.append(alt.Chart(trials).mark_point(size=110, filled=False, strokeWidth=2.5, clip=True).encode(
            x=alt.X("eta:Q", scale=x_scale), y=alt.Y("value:Q", scale=y_scale),
            shape=alt.Shape("verdict:N", scale=alt.Scale(domain=["accepted", "rejected"], range=["circle", "cross"]),
                            legend=alt.Legend(orient="bottom", title=None, direction="vertical")),
            # stroke, not color: the curves' colour scale stays theirs (a shared one mixed the two legends)
            stroke=alt.Stroke("verdict:N", scale=alt.Scale(domain=["accepted", "rejected"], range=["#2ca02c", "#d62728"]),
                              legend=None),
            tooltip=["trial", alt.Tooltip("eta:Q", format=".6g", title="η"), alt.Tooltip("f:Q", format=".6g", title="φ(η)"),
                     "verdict"]))
    if view.c2 is not None and view.trials:
        # Wolfe's curvature condition at the step taken: |phi'(eta)| <= c2 |phi'(0)|, the allowed slopes
        taken = next((t for t in view.trials if t.accepted), None)
        if taken is not None and math.isfinite(taken.f):
            half = 0.08 * (float(etas[-1]) - float(etas[0])) if not log_axis else 0.25 * taken.eta
            slope = view.c2 * abs(view.slope)
            fan = pd.DataFrame([{"eta": taken.eta + s * half, "value": taken.f + sign * slope * s * half, "side": sign}
                                for sign in (-1, 1) for s in (-1, 1)])
            layers.append(alt.Chart(fan).mark_line(color="#2ca02c", strokeDash=[3, 2], clip=True).encode(
                x=alt.X("eta:Q", scale=x_scale), y=alt.Y("value:Q", scale=y_scale), detail="side:N"))
    return alt.layer(*layers).properties(height=300)

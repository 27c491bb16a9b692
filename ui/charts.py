"""Charts built from traces, as Vega-Lite specs written through ui.vega (no streamlit here: each
function returns a chart); Altair only for the colour scale and legend ui.teaching's charts share.

Every method has one colour everywhere. Each chart carries a legend-bound selection named
SELECTION whose initial value is the page's current highlight, so a click in any legend can
be copied (by the page) into every other chart.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import altair as alt
import contourpy
import numpy as np
import pandas as pd
import pyarrow as pa

from core import METHODS, Problem, Trace
from core.analysis import LocalAnalysis, local_analysis
from core.line import LineView
from core.linalg import LinAlgError

from . import vega as vl
from .frames import CONVERGENCE_QUANTITIES, convergence_frame, long_iterates, thinned

alt.data_transformers.disable_max_rows()  # we bound sizes ourselves (contour lines, not grids)
# Altair validates every object as it is made (its "debug mode"): half the cost of a chart, paid on
# every new setup. Our charts are built from numbers by this module; tests/test_kcharts.py
# validates each kind against the Vega-Lite schema.
alt.utils.schemapi.disable_debug_mode()

GRID_POINTS = 140  # per axis for contour lines; the browser receives lines, not the grid


def method_color_scale(methods: Sequence[str]) -> alt.Scale:
    """Colours for the methods shown; a method keeps its colour whatever else is shown."""
    return alt.Scale(**method_colors(methods))


def method_colors(methods: Sequence[str]) -> dict:
    """The scale of method_color_scale as a Vega-Lite dict."""
    return {"domain": list(methods), "range": [method_color(m) for m in methods]}


def method_color(method: str) -> str:
    return METHODS[method].color


SELECTION = "pick_method"
# Under the plot, not beside it: on a phone a side legend takes a third of the width.
LEGEND_PROPS = {"orient": "bottom", "direction": "horizontal", "columns": 4}
LEGEND = alt.Legend(**LEGEND_PROPS)


def legend_selection(highlight: Sequence[str] = (), legend: bool = True) -> dict:
    """Click a legend entry (or, for a chart without legend, a line) to highlight that method;
    starts from ``highlight``. A Vega-Lite parameter, declared on a layer by vega.on_view."""
    return vl.point_selection(SELECTION, ["method"], value=[{"method": m} for m in highlight],
                              bind="legend" if legend else None)


def _highlight(selection: dict) -> dict:
    return vl.when_selected(selection["name"], 1.0, 0.12)


def _method_color(methods: Sequence[str], legend: bool = True) -> dict:
    return vl.nominal("method", scale=method_colors(methods), title="method", legend=LEGEND_PROPS if legend else None)


AT_K = "at_k_"  # the named datasets drawn at iterate k: the only data that change while k plays
# The overlay draws only the AT_K data on a copy of the chart whose axes, legend and title are
# laid out as in the chart under it (same spec) but invisible.
_INVISIBLE = {"labelColor": "transparent", "titleColor": "transparent", "domainColor": "transparent",
              "tickColor": "transparent", "gridColor": "transparent"}
OVERLAY_CONFIG = {
    "axis": dict(_INVISIBLE),
    "legend": {"labelColor": "transparent", "titleColor": "transparent", "symbolOpacity": 0, "symbolStrokeColor": "transparent",
               "symbolFillColor": "transparent"},
    "title": {"color": "transparent", "subtitleColor": "transparent"},
    "view": {"stroke": "transparent", "fill": "transparent"},
}


DOMAIN = "domain_"  # a chart's scale domains, as data (vega.data_domain): a new setup keeps the spec


def at_k(name: str) -> str:
    """The dataset a layer draws at iterate k (filled per k by KChart.rows_at)."""
    return AT_K + name


def arrow_bytes(frame: pd.DataFrame | Mapping[str, np.ndarray] | bytes) -> bytes:
    """Rows (a frame, or columns as arrays) as Arrow IPC stream bytes: what Streamlit sends for a
    chart's dataset (column by column from numpy: pandas' own conversion costs ~1 ms a frame, too
    much at 20 frames a second); bytes are already that."""
    if isinstance(frame, bytes):
        return frame
    table = pa.table({column: np.asarray(frame[column]) for column in frame})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


_EMPTY = arrow_bytes(pd.DataFrame())


@dataclass(frozen=True)
class KChart:
    """A chart with a part that follows iterate k (markers at x_k, the k rule, the model at x_k).

    ``spec`` is built (and validated by Altair) once; its k-free datasets are Arrow bytes. A page
    playing k sends ``static()`` - the same bytes every frame, so Streamlit sends it by reference -
    and ``overlay(k)``, a few rows drawn over it."""

    spec: dict
    rows_at: Callable[[int], dict[str, pd.DataFrame | bytes]]  # AT_K name -> its rows at iterate k (or their Arrow bytes)
    box: np.ndarray | None = None  # the picture's view box (for the model at x_k)

    def static(self) -> dict:
        """Everything but the data at k."""
        return dict(self.spec)

    def overlay(self, k: int, extra: Mapping[str, pd.DataFrame] | None = None) -> dict:
        """Only the data at iterate k (and ``extra`` AT_K rows, e.g. the model at x_k), on an
        invisible copy of the chart's frame (its other layers keep their encodings, no data)."""
        rows = {**self.rows_at(k), **(extra or {})}
        datasets = {name: arrow_bytes(rows[name]) if name in rows else _EMPTY
                    for name in self.spec["datasets"] if name.startswith(AT_K)}
        datasets.update({name: data for name, data in self.spec["datasets"].items() if name.startswith(DOMAIN)})
        config = {**self.spec.get("config", {})}
        for part, values in OVERLAY_CONFIG.items():
            config[part] = {**config.get(part, {}), **values}
        return {**_without_static_data(self.spec), "datasets": datasets, "config": config, "background": "transparent"}

    def whole(self, k: int, extra: Mapping[str, pd.DataFrame] | None = None) -> dict:
        """The chart at iterate k as one element (pages that do not play k)."""
        rows = {**self.rows_at(k), **(extra or {})}
        return {**self.spec, "datasets": {**self.spec["datasets"],
                                          **{name: arrow_bytes(frame) for name, frame in rows.items()}}}


def k_chart(spec: dict, rows_at: Callable[[int], dict[str, pd.DataFrame]], box: np.ndarray | None = None,
            domains: tuple[str, Mapping[str, Sequence[float]]] | None = None) -> KChart:
    """A layered spec (ui.vega) whose layers' frames become Arrow bytes named by their content
    (Altair's own route, via JSON rows, cost more than the rest of the chart; names must differ
    across charts: the frontend mixes up equal names); its AT_K datasets start empty.
    ``domains``: (chart name, {channel: (lo, hi)}) for the scales made by domain_scale."""
    datasets = {}
    if domains is not None:
        name, bounds = domains
        row = {f"{channel}_{end}": np.array([float(value)]) for channel, pair in bounds.items()
               for end, value in zip(("lo", "hi"), pair)}
        datasets[DOMAIN + name] = arrow_bytes(row)
        spec = {**spec, "layer": [*spec["layer"], vl.domain_layer(DOMAIN + name)]}
    spec = with_datasets(spec, datasets)
    for name in _named_data(spec):
        spec["datasets"].setdefault(name, _EMPTY)
    return KChart(spec, rows_at, box)


def with_datasets(spec: dict, datasets: dict[str, bytes] | None = None) -> dict:
    """A layered spec whose layers' frames are made named datasets of Arrow bytes (``datasets``:
    more of them), named by their content."""
    datasets, layers = dict(datasets or {}), []
    for layer in spec["layer"]:
        if isinstance(layer["data"], pd.DataFrame):
            data = arrow_bytes(layer["data"])
            name = "data-" + hashlib.blake2b(data, digest_size=12).hexdigest()
            datasets[name] = data
            layer = {**layer, "data": {"name": name}}
        layers.append(layer)
    return {**spec, "layer": layers, "datasets": datasets}


_LAYOUT_CHANNELS = ("x", "y", "color", "shape", "stroke", "strokeDash")  # the ones axes and legends come from


def _without_static_data(spec: dict) -> dict:
    """``spec`` whose layers that do not draw at k read no data and keep only what lays out the
    axes and legends (an overlay sends neither their data nor their tooltips)."""
    out = dict(spec)
    if "layer" in spec:
        out["layer"] = [_without_static_data(layer) for layer in spec["layer"]]
    if "data" in spec and not spec["data"].get("name", "").startswith((AT_K, DOMAIN)):
        out["data"] = {"values": []}
        encoding = spec.get("encoding", {})
        out["encoding"] = {channel: encoding[channel] for channel in _LAYOUT_CHANNELS if channel in encoding}
        mark = spec.get("mark")
        out["mark"] = mark.get("type") if isinstance(mark, dict) else mark
    return out


def _named_data(spec: dict) -> set[str]:
    """The AT_K data names a spec's layers read."""
    names = set()
    for layer in spec.get("layer", []):
        names |= _named_data(layer)
    name = spec.get("data", {}).get("name", "")
    if name.startswith(AT_K):
        names.add(name)
    return names


def domain_scale(chart: str, channel: str, **props: object) -> dict:
    """A scale whose domain is the chart's ``channel`` bounds given to k_chart (the data, not the
    spec, change with the setup)."""
    empty = (1.0, 10.0) if props.get("type") == "log" else (0.0, 1.0)
    return {"domain": vl.data_domain(DOMAIN + chart, channel, empty), **props}


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
MODEL_STEPS = ("Newton step: to the model's centre", "optimal rate: to the model's minimum along −g")


def model_layers(x_scale: dict, y_scale: dict) -> list[dict]:
    """The quadratic model at x_k drawn (its rows: model_rows): its contours (dashed), Newton's step
    to its centre and the optimal rate's step along -g to where -g touches a model contour."""
    x, y = vl.quantitative("x", scale=x_scale), vl.quantitative("y", scale=y_scale)
    tooltip = [vl.nominal("step"), vl.quantitative("x", format=".6g"), vl.quantitative("y", format=".6g")]
    shape = vl.nominal("step", scale=vl.scale(list(MODEL_STEPS), range=["circle", "square"]), legend=None)
    return [vl.layer(at_k("model_lines"), vl.mark("line", strokeDash=[5, 3], strokeWidth=1.2, opacity=0.8, clip=True,
                                                  color=MODEL_COLOR),
                     x=x, y=y, detail=vl.nominal("line"), order=vl.quantitative("i")),
            vl.layer(at_k("model_steps"), vl.mark("line", color=MODEL_COLOR, strokeWidth=2.2, clip=True),
                     x=x, y=y, detail=vl.nominal("step"), order=vl.quantitative("end")),
            vl.layer(at_k("model_ends"), vl.mark("point", size=150, filled=True, color=MODEL_COLOR, clip=True),
                     x=x, y=y, shape=shape, tooltip=tooltip)]


def model_rows(local: LocalAnalysis, box: np.ndarray) -> dict[str, pd.DataFrame]:
    """The rows of model_layers for the model at local.x over the box."""
    steps = []
    for name, point in zip(MODEL_STEPS, (local.newton_point, local.optimal_point)):
        if point is not None and np.isfinite(point).all():
            steps += [{"step": name, "x": float(local.x[0]), "y": float(local.x[1]), "end": 0},
                      {"step": name, "x": float(point[0]), "y": float(point[1]), "end": 1}]
    frame = pd.DataFrame(steps, columns=["step", "x", "y", "end"])
    return {AT_K + "model_lines": model_lines(local, box), AT_K + "model_steps": frame,
            AT_K + "model_ends": frame[frame["end"] == 1].reset_index(drop=True)}


START_PICK = "start_click"  # the click selection of a picture: its point becomes x0 (ui.panels)
START_GRID = 30  # about this many pickable starts per axis (60 made 20 pages on 2 cores render 1.5-3x slower: 3,721 SVG nodes each)


def round_step(span: float, count: int = START_GRID) -> float:
    """1, 2 or 5 times a power of ten, about span / count: starts picked by a click read as typed."""
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def start_grid(box: np.ndarray, start: str = "") -> pd.DataFrame:
    """The starts a click can pick: multiples of round_step inside the box, per axis (x, and y
    for a 2-D box), rounded so that 0.30000000000000004 reads 0.3. Each carries ``start`` (the
    current x0): the chart's Vega view outlives a new setup (only its data change), and its
    selection with it; clicking the point picked last time, now from another start, is still
    a new selection."""
    axes = []
    for lo, hi in box:
        step = round_step(float(hi - lo))
        decimals = max(0, 1 - math.floor(math.log10(step)))
        axes.append(np.round(np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step, decimals))
    if len(axes) == 1:
        return pd.DataFrame({"x": axes[0], "start": start})
    xs, ys = np.meshgrid(*axes)
    return pd.DataFrame({"x": xs.ravel(), "y": ys.ravel(), "start": start})


START_VIEW = "starts"  # the layer the click selection is declared on


def start_layer(box: np.ndarray, x0: np.ndarray, x_scale: dict, y: dict | None = None) -> tuple[dict, dict]:
    """Invisible points on start_grid: a click anywhere on the picture picks the nearest one
    (Vega's Voronoi cells: no need to hit a point). Goes first, under the paths, so their
    tooltips still answer. The layer and its selection parameter."""
    grid = start_grid(box, ",".join(repr(float(v)) for v in x0))
    fields = ["x", "y", "start"] if y is not None else ["x", "start"]
    if y is None:  # 1-D: one row of points at the top (a pixel position, no scale of its own):
        y = {"value": 0}  # their Voronoi cells are vertical strips, so a click picks by x alone
    pick = vl.on_view(vl.point_selection(START_PICK, fields, on="click", nearest=True, clear=False), START_VIEW)
    return vl.layer(grid, vl.mark("point", opacity=0, size=1), START_VIEW, x=vl.quantitative("x", scale=x_scale), y=y), pick


def current_points(traces: Mapping[str, Trace], k: int) -> pd.DataFrame:
    """Row min(k, K) of each method: where each run is at 'iteration k' (finite points only)."""
    axes = ("x", "y")[:next(iter(traces.values())).x.shape[1]]
    rows = []
    for method, trace in traces.items():
        row = min(k, trace.iterations)
        if np.isfinite(trace.x[row]).all() and np.isfinite(trace.f[row]):
            rows.append({"method": method, "k": row, **dict(zip(axes, map(float, trace.x[row]))), "f": float(trace.f[row])})
    return pd.DataFrame(rows, columns=["method", "k", *axes, "f"])


PATHS_VIEW = "paths"  # the layer the legend selection is declared on


def path_chart(problem: Problem, traces: Mapping[str, Trace], x0: np.ndarray, selection: dict,
               with_model: bool = False) -> KChart:
    """Contour lines of f with every method's path; x_k marked (data at k); ``with_model``: room
    for the quadratic model at x_k (model_layers, filled by model_rows). 2 variables only."""
    names = problem.variable_names
    box = view_box(traces, x0)
    x_scale, y_scale = domain_scale("picture", "x", nice=False), domain_scale("picture", "y", nice=False)
    x, y = vl.quantitative("x", scale=x_scale), vl.quantitative("y", scale=y_scale)
    contours = vl.layer(contour_lines(problem, box), vl.mark("line", strokeWidth=0.8, opacity=0.45, clip=True, color="#888888"),
                        x={**x, "title": names[0]}, y={**y, "title": names[1]},
                        detail=vl.nominal("line"), order=vl.quantitative("i"))
    iterates = long_iterates(traces).rename(columns={"x0": "x", "x1": "y"})
    iterates = iterates[np.isfinite(iterates["x"]) & np.isfinite(iterates["y"])]
    color = _method_color(list(traces))
    tooltip = [vl.nominal("method"), vl.quantitative("k"), vl.quantitative("x", format=".6g", title=names[0]),
               vl.quantitative("y", format=".6g", title=names[1]), vl.quantitative("f", format=".6g")]
    paths = vl.layer(iterates, vl.mark("line", point={"size": 28}, clip=True, strokeWidth=1.8), PATHS_VIEW,
                     x=x, y=y, color=color, order=vl.quantitative("k"), detail=vl.nominal("method"),
                     opacity=_highlight(selection), tooltip=tooltip)
    current = vl.layer(at_k("markers"), vl.mark("point", size=260, shape="diamond", filled=True, stroke="black",
                                                strokeWidth=1, clip=True),
                       x=x, y=y, color=color, opacity=_highlight(selection), tooltip=tooltip)
    starts, pick = start_layer(box, x0, x_scale, y)
    model = model_layers(x_scale, y_scale) if with_model else []
    spec = vl.layered([starts, contours, *model, paths, current], title="Paths on the contours of f (◆ = iterate k)",
                      height=540, params=[pick, vl.on_view(selection, PATHS_VIEW)])
    return k_chart(spec, lambda k: {AT_K + "markers": current_points(traces, k)}, box,
                   ("picture", {"x": box[0], "y": box[1]}))


MODEL_CURVE_POINTS = 160  # per method: the dashed parabolas move with k, so they are sent every frame


def curve_chart(problem: Problem, traces: Mapping[str, Trace], x0: np.ndarray, selection: dict) -> KChart:
    """1 variable: f, the iterates on it, and each method's quadratic model at its x_k (data at k)."""
    box = view_box(traces, x0)[0]
    t = np.linspace(box[0], box[1], 400)
    f_values = problem.grid_values(t)
    curve = pd.DataFrame({"x": t, "f": f_values})
    finite = f_values[np.isfinite(f_values)]
    y_lo, y_hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    pad = 0.08 * max(y_hi - y_lo, 1e-12)
    x_scale, y_scale = domain_scale("curve", "x", nice=False), domain_scale("curve", "y", nice=False)
    x, y = vl.quantitative("x", scale=x_scale), vl.quantitative("f", scale=y_scale)
    color = _method_color(list(traces))
    base = vl.layer(curve, vl.mark("line", color="#888888", strokeWidth=2, clip=True),
                    x={**x, "title": problem.variable_names[0]}, y={**y, "title": "f"})
    iterates = long_iterates(traces).rename(columns={"x0": "x"})
    iterates = iterates[np.isfinite(iterates["x"]) & np.isfinite(iterates["f"])]
    points = vl.layer(iterates, vl.mark("line", point=True, clip=True, strokeDash=[2, 2]), PATHS_VIEW,
                      x=x, y=y, color=color, order=vl.quantitative("k"), opacity=_highlight(selection),
                      tooltip=[vl.nominal("method"), vl.quantitative("k"), vl.quantitative("x", format=".6g"),
                               vl.quantitative("f", format=".6g")])
    models = vl.layer(at_k("models"), vl.mark("line", strokeDash=[6, 4], clip=True),
                      x=x, y=y, color=color, detail=vl.nominal("method"), opacity=_highlight(selection))
    current = vl.layer(at_k("markers"), vl.mark("point", size=220, shape="diamond", filled=True, stroke="black", clip=True),
                       x=x, y=y, color=color)
    t_model = np.linspace(box[0], box[1], MODEL_CURVE_POINTS)

    def rows_at(k: int) -> dict[str, pd.DataFrame]:
        markers = current_points(traces, k)
        curves = []
        for row in markers.itertuples():
            try:
                local = local_analysis(problem, np.array([row.x]))
            except (ArithmeticError, LinAlgError):
                continue
            curves.append(pd.DataFrame({"method": row.method, "x": t_model, "f": local.model(t_model[:, None])}))
        models_rows = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["method", "x", "f"])
        return {AT_K + "markers": markers, AT_K + "models": models_rows}

    starts, pick = start_layer(np.array([box]), x0, x_scale)
    spec = vl.layered([starts, base, points, models, current], title="f with the iterates; dashed: quadratic model at iterate k",
                      height=460, params=[pick, vl.on_view(selection, PATHS_VIEW)])
    return k_chart(spec, rows_at, np.array([box]), ("curve", {"x": box, "y": (y_lo - pad, y_hi + pad)}))


def _log_domain(values: np.ndarray) -> tuple[float, float]:
    """An explicit domain for a log axis (an overlay with no data of its own must lay out the
    same axis as the chart under it); without a positive value nothing is drawn on it: 1 to 10."""
    values = values[np.isfinite(values) & (values > 0)]
    return (float(values.min()), float(values.max())) if values.size else (1.0, 10.0)


@lru_cache(maxsize=4096)
def _rule_bytes(k: int) -> bytes:
    return arrow_bytes({"k": np.array([k])})


def _k_rule(k: int) -> dict[str, bytes]:
    """The rule at iterate k: the same bytes for every chart with one, made once per k (five
    charts redraw it on every frame of Play)."""
    return {AT_K + "rule": _rule_bytes(k)}


def _k_rule_layer() -> dict:
    return vl.layer(at_k("rule"), vl.mark("rule", strokeDash=[4, 4], color="#888888"), x=vl.quantitative("k"))


def convergence_chart(traces: Mapping[str, Trace], quantity: str, selection: dict, legend: bool = True) -> KChart:
    """``quantity`` (one of CONVERGENCE_QUANTITIES) against k, log scale, all methods; the dashed
    rule at iterate k. Without ``legend`` (a picture beside it carries one) the plot keeps its
    height for the curves."""
    frame = convergence_frame(traces, quantity)
    longest = max(max(t.iterations for t in traces.values()), 1)
    name = f"convergence_{CONVERGENCE_QUANTITIES.index(quantity)}"
    curves = vl.layer(frame, vl.mark("line", point={"size": 16}), PATHS_VIEW,
                      x=vl.quantitative("k", title="iteration k", scale=domain_scale(name, "x", nice=False)),
                      y=vl.quantitative("value", scale=domain_scale(name, "y", type="log", nice=True), title=quantity),
                      color=_method_color(list(traces), legend), opacity=_highlight(selection),
                      tooltip=[vl.nominal("method"), vl.quantitative("k"), vl.quantitative("value", format=".3e", title=quantity)])
    spec = vl.layered([curves, _k_rule_layer()], title=f"{quantity} (log scale)", height=300 if legend else 250,
                      params=[vl.on_view(selection, PATHS_VIEW)])
    return k_chart(spec, _k_rule, domains=(name, {"x": (0, longest), "y": _log_domain(frame["value"].to_numpy())}))


def step_size_chart(trace: Trace) -> KChart:
    """eta_k against k for one method, log scale (steps of size 0 are not drawn); the rule at k."""
    rows, _ = thinned(len(trace.step_size), values=trace.f)
    frame = pd.DataFrame({"k": rows, "eta": trace.step_size[rows]})
    frame = frame[np.isfinite(frame["eta"]) & (frame["eta"] > 0)]
    color = method_color(trace.method)  # the point overlay needs it too, or it takes the theme's colour
    name = f"steps_{trace.method}"
    line = vl.layer(frame, vl.mark("line", point={"color": color}, color=color),
                    x=vl.quantitative("k", title="k", scale=domain_scale(name, "x", nice=False),
                                      axis={"tickMinStep": 1, "format": "d"}),
                    y=vl.quantitative("eta", scale=domain_scale(name, "y", type="log", nice=True), title="η_k"),
                    tooltip=[vl.quantitative("k"), vl.quantitative("eta", format=".4e", title="η_k")])
    return k_chart(vl.layered([line, _k_rule_layer()], title="Step size η_k", height=180), _k_rule,
                   domains=(name, {"x": (0, max(trace.iterations, 1)), "y": _log_domain(frame["eta"].to_numpy())}))


def picture_chart(problem: Problem, traces: Mapping[str, Trace], x0: np.ndarray, selection: dict,
                  with_model: bool = False) -> KChart | None:
    """The contour plot with paths (2 variables; ``with_model``: room for the quadratic model at
    x_k), the curve with models (1 variable), else None."""
    if problem.n == 2:
        return path_chart(problem, traces, x0, selection, with_model)
    if problem.n == 1:
        return curve_chart(problem, traces, x0, selection)
    return None


def line_chart(view: LineView, color: str) -> dict:
    """Step k along its line: phi(eta), the Armijo line, every trial (accepted or rejected), the
    eta taken; for Wolfe the allowed slopes at it; for the optimal rate the quadratic model along
    d, its minimum g'g/g'Hg and the true minimum of phi. A log eta axis when trials span decades.
    A Vega-Lite spec with its data (Altair took 35-125 ms for this chart: with the view open, every
    frame of Play draws it anew)."""
    etas, phi, log_axis = view.etas, view.phi, view.log_eta
    finite = phi[np.isfinite(phi)]
    low = float(min(finite.min(), view.f0)) if finite.size else view.f0
    span = max(view.f0 - low, abs(view.f0) * 1e-12, 1e-300)
    y_domain = [low - 0.15 * span, view.f0 + 1.5 * span]
    x_scale = vl.scale([float(etas[0]), float(etas[-1])], type="log" if log_axis else "linear", nice=False)
    y_scale = vl.scale(y_domain, nice=False)
    x, y = vl.quantitative("eta", title="η", scale=x_scale), vl.quantitative("value", title="φ(η) = f(x_k + η d_k)", scale=y_scale)
    curves = [pd.DataFrame({"eta": etas, "value": phi, "curve": "φ(η)"})]
    if view.view == "search":
        curves.append(pd.DataFrame({"eta": etas, "value": view.armijo(etas), "curve": f"Armijo line, c₁ = {view.c1:g}"}))
    if view.view == "model" and view.curvature > 0:
        curves.append(pd.DataFrame({"eta": etas, "value": view.model(etas), "curve": "quadratic model along d"}))
    frame = pd.concat(curves, ignore_index=True)
    names = list(dict.fromkeys(frame["curve"]))
    palette = {"φ(η)": color, "quadratic model along d": MODEL_COLOR}
    legend = {"orient": "bottom", "title": None, "direction": "vertical"}
    layers = [vl.layer(frame, vl.mark("line", clip=True), x=x, y=y,
                       color=vl.nominal("curve", scale=vl.scale(names, range=[palette.get(n, "#888888") for n in names]),
                                        legend={**legend, "labelLimit": 260}),
                       strokeDash={"condition": {"test": "datum.curve === 'φ(η)'", "value": [1, 0]}, "value": [5, 3]})]
    # φ itself reaches far above f_k where a trial overshoots: the picture keeps to f_k and below
    marks = [{"eta": view.eta, "what": "η taken"}]
    if view.view == "model":
        marks = [{"eta": view.model_eta, "what": "g'g/g'Hg (the model's minimum)"},
                 {"eta": view.true_minimum, "what": "the minimum of φ"}]
    marks = pd.DataFrame([m for m in marks if math.isfinite(m["eta"]) and m["eta"] > 0])
    if len(marks):
        layers.append(vl.layer(marks, vl.mark("rule", strokeDash=[2, 2], color="#888888"), x=x,
                               tooltip=[vl.nominal("what"), vl.quantitative("eta", format=".6g", title="η")]))
    if view.trials:
        top = y_domain[1]
        trials = pd.DataFrame([{"trial": j + 1, "eta": t.eta, "f": t.f, "value": min(t.f, top),
                                "verdict": "accepted" if t.accepted else "rejected"} for j, t in enumerate(view.trials)])
        trials = trials[trials["eta"] > 0]
        verdicts = ["accepted", "rejected"]
        layers.append(vl.layer(
            trials, vl.mark("point", size=110, filled=False, strokeWidth=2.5, clip=True), x=x, y=y,
            shape=vl.nominal("verdict", scale=vl.scale(verdicts, range=["circle", "cross"]), legend=legend),
            # stroke, not color: the curves' colour scale stays theirs (a shared one mixed the two legends)
            stroke=vl.nominal("verdict", scale=vl.scale(verdicts, range=["#2ca02c", "#d62728"]), legend=None),
            tooltip=[vl.quantitative("trial"), vl.quantitative("eta", format=".6g", title="η"),
                     vl.quantitative("f", format=".6g", title="φ(η)"), vl.nominal("verdict")]))
    if view.c2 is not None and view.trials:
        # Wolfe's curvature condition at the step taken: |phi'(eta)| <= c2 |phi'(0)|, the allowed slopes
        taken = next((t for t in view.trials if t.accepted), None)
        if taken is not None and math.isfinite(taken.f):
            half = 0.08 * (float(etas[-1]) - float(etas[0])) if not log_axis else 0.25 * taken.eta
            slope = view.c2 * abs(view.slope)
            fan = pd.DataFrame([{"eta": taken.eta + s * half, "value": taken.f + sign * slope * s * half, "side": sign}
                                for sign in (-1, 1) for s in (-1, 1)])
            layers.append(vl.layer(fan, vl.mark("line", color="#2ca02c", strokeDash=[3, 2], clip=True),
                                   x=x, y=y, detail=vl.nominal("side")))
    return with_datasets(vl.layered(layers, height=300))

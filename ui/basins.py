"""The basin pictures as Altair charts (no streamlit here), and the summary as a frame.

Each pixel is one start. It goes to the browser as one row of two small integers, label and
iterations (Streamlit sends a frame as Arrow: 6 bytes a pixel, 240 kB for a 200 x 200 picture, not
40,000 JSON objects); the browser numbers the rows,
places each pixel from its row number and looks its label up in a small table of names, so the
hover and a click know the start, the point reached (or the outcome) and the steps of each pixel.
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from core.basins import KIND_ORDER, OUTCOMES, BasinMap
from core.run import format_point

from .charts import GRID_POINTS

# One hue per named point (MAX_CLUSTERS of them), greys for what is not a point reached.
CLUSTER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                  "#bcbd22", "#aec7e8", "#ffbb78", "#98df8a")
OUTCOME_COLORS = {"other_point": "#e0e0e0", "flat": "#c7c7c7", "max_iter": "#9e9e9e", "stalled": "#b0b0b0",
                  "precision_limit": "#bdbdbd", "time_limit": "#d9d9d9", "diverged": "#5a5a5a",
                  "domain_error": "#3c3c3c", "singular_hessian": "#707070", "negative_curvature": "#858585",
                  "line_search_failed": "#6a6a6a"}
PICK = "start"  # the click selection's name (the page reads it)
MIN_OPACITY = 0.3  # the most iterations are drawn this light
AXIS_EXTENT = 56  # px for the y axis of f's curve and of the strips under it (1-D), so their x axes align


def category_names(picture: BasinMap) -> list[dict]:
    """The legend's entries, one per label that occurs: code (the label's row in this table),
    name, colour, status."""
    present = set()
    for basins in picture.methods.values():
        present.update(np.unique(basins.labels).tolist())
    rows = []
    for c, cluster in enumerate(picture.clusters):
        rows.append({"label": c, "name": f"{cluster.kind} {format_point(cluster.x, digits=4)}", "color": CLUSTER_COLORS[c],
                     "status": "converged"})
    for outcome in OUTCOMES:
        label = -1 - list(OUTCOMES).index(outcome)
        if label in present:
            rows.append({"label": label, "name": OUTCOMES[outcome], "color": OUTCOME_COLORS[outcome],
                         "status": "converged" if outcome in ("flat", "other_point") else outcome})
    return rows


def basin_chart(picture: BasinMap, method: str, variable_names: tuple[str, ...], title: str,
                height: int = 420) -> alt.Chart:
    """One method's picture: each start a rect coloured by where it went, lighter the more steps
    it took; hover: start, point reached or outcome, steps; a click selects the start (PICK)."""
    view, basins = picture.view, picture.methods[method]
    names = pd.DataFrame(category_names(picture))
    grid = view.grid
    x_lo, x_hi = view.box[0], view.box[1]
    x_name = variable_names[view.axes[0]]
    width_x = (x_hi - x_lo) / grid
    data = pd.DataFrame({"l": basins.labels, "k": basins.iterations})  # sent as Arrow: 6 bytes a pixel
    transforms = [
        alt.WindowTransform(window=[alt.WindowFieldDef(op="row_number", **{"as": "i"})]),
        alt.CalculateTransform(calculate=f"(datum.i - 1) % {grid}", **{"as": "column"}),
        alt.CalculateTransform(calculate=f"floor((datum.i - 1) / {grid})", **{"as": "row"}),
        alt.CalculateTransform(calculate=f"{x_lo!r} + datum.column * {width_x!r}", **{"as": "x_lo"}),
        alt.CalculateTransform(calculate=f"datum.x_lo + {width_x!r}", **{"as": "x_hi"}),
        alt.CalculateTransform(calculate=f"datum.x_lo + {width_x / 2!r}", **{"as": "sx"}),
    ]
    tooltip = [alt.Tooltip("sx:Q", title=f"start {x_name}", format=".4g")]
    if len(view.axes) == 2:
        y_lo, y_hi = view.box[2], view.box[3]
        width_y = (y_hi - y_lo) / grid
        y_name = variable_names[view.axes[1]]
        transforms += [
            alt.CalculateTransform(calculate=f"{y_lo!r} + datum.row * {width_y!r}", **{"as": "y_lo"}),
            alt.CalculateTransform(calculate=f"datum.y_lo + {width_y!r}", **{"as": "y_hi"}),
            alt.CalculateTransform(calculate=f"datum.y_lo + {width_y / 2!r}", **{"as": "sy"}),
        ]
        tooltip.append(alt.Tooltip("sy:Q", title=f"start {y_name}", format=".4g"))
        y = alt.Y("y_lo:Q", title=y_name, scale=alt.Scale(domain=[y_lo, y_hi], nice=False, zero=False))
        y2 = alt.Y2("y_hi:Q")
        fields = ["sx", "sy"]
    else:
        transforms += [alt.CalculateTransform(calculate="0", **{"as": "y_lo"}),
                       alt.CalculateTransform(calculate="1", **{"as": "y_hi"})]
        # an empty axis as wide as the curve's above (AXIS_EXTENT): the strips line up with f's x
        y = alt.Y("y_lo:Q", scale=alt.Scale(domain=[0, 1]), title=None,
                  axis=alt.Axis(labels=False, ticks=False, domain=False, grid=False, minExtent=AXIS_EXTENT, maxExtent=AXIS_EXTENT))
        y2 = alt.Y2("y_hi:Q")
        fields = ["sx"]
        height = 160  # the whole chart: Streamlit fits the title and the axis into it (a band of ~50 px)
    transforms.append(alt.LookupTransform(lookup="l", **{"from": alt.LookupData(
        data=alt.InlineData(values=names.to_dict("records")), key="label", fields=["name", "status"])}))
    tooltip += [alt.Tooltip("name:N", title="reached"), alt.Tooltip("status:N", title="status"),
                alt.Tooltip("k:Q", title="iterations")]
    most = max(int(basins.iterations.max()) if basins.iterations.size else 1, 1)
    pick = alt.selection_point(name=PICK, fields=fields, on="click", clear="dblclick")
    return alt.Chart(data, transform=transforms).mark_rect(strokeWidth=0).encode(
        x=alt.X("x_lo:Q", title=x_name, scale=alt.Scale(domain=[x_lo, x_hi], nice=False, zero=False)),
        x2=alt.X2("x_hi:Q"), y=y, y2=y2,
        color=alt.Color("name:N", title=None, scale=alt.Scale(domain=names["name"].tolist(), range=names["color"].tolist()),
                        legend=None),
        opacity=alt.Opacity("k:Q", legend=None, scale=alt.Scale(type="symlog", domain=[0, most], range=[1.0, MIN_OPACITY])),
        tooltip=tooltip,
    ).add_params(pick).properties(
        title=title, height=height,
        usermeta={"embedOptions": {"renderer": "canvas"}})  # 40,000 rects: one canvas, not 40,000 SVG nodes


def legend_chart(picture: BasinMap) -> alt.Chart:
    """A swatch per point reached or outcome, in the pictures' colours."""
    entries = category_names(picture)
    order = [e["name"] for e in entries]
    return alt.Chart(alt.Data(values=entries)).mark_square(size=220).encode(
        y=alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=320, orient="left", domain=False, ticks=False)),
        color=alt.Color("name:N", scale=alt.Scale(domain=order, range=[e["color"] for e in entries]), legend=None),
    ).properties(height=26 * len(entries) + 10)


def legend_frame(picture: BasinMap) -> pd.DataFrame:
    """The legend as a table: colour, point or outcome, and each method's share of the starts."""
    rows = []
    total = picture.view.size
    for entry in category_names(picture):
        row = {"colour": entry["color"], "reached": entry["name"]}
        for method, basins in picture.methods.items():
            row[method] = float(np.sum(basins.labels == entry["label"])) / total
        rows.append(row)
    return pd.DataFrame(rows)


def summary_frame(picture: BasinMap) -> pd.DataFrame:
    """One row per method: shares by kind reached, failed, iterations of the converged, seconds."""
    rows = []
    for method, basins in picture.methods.items():
        s = basins.summary(picture.clusters)
        rows.append({"method": method, **{kind: s[kind] for kind in KIND_ORDER if kind != "unclassified"},
                     "flat / other": s["flat"] + s["other stationary point"] + s["unclassified"], "failed": s["failed"],
                     "median iterations": s["median iterations"], "p90 iterations": s["p90 iterations"],
                     "seconds": s["seconds"]})
    return pd.DataFrame(rows)


def curve_over_interval(problem, picture: BasinMap, variable_names: tuple[str, ...]) -> alt.Chart:
    """f along the interval of a 1-D picture (the strips below share its x axis)."""
    view = picture.view
    t = np.linspace(view.box[0], view.box[1], GRID_POINTS * 2)
    starts = np.tile(np.asarray(view.x0, dtype=float), (t.size, 1))
    starts[:, view.axes[0]] = t
    values = problem.values(starts)
    frame = pd.DataFrame({"x": t, "f": np.where(np.isfinite(values), values, np.nan)})
    x_name = variable_names[view.axes[0]]
    return alt.Chart(frame).mark_line(color="#888888").encode(
        x=alt.X("x:Q", title=x_name, scale=alt.Scale(domain=[view.box[0], view.box[1]], nice=False, zero=False)),
        y=alt.Y("f:Q", title=None, axis=alt.Axis(minExtent=AXIS_EXTENT, maxExtent=AXIS_EXTENT)),
        tooltip=[alt.Tooltip("x:Q", format=".4g", title=x_name), alt.Tooltip("f:Q", format=".4g")],
    ).properties(title="f over the starts", height=220)


def starts_of_pick(picture: BasinMap, values: dict) -> tuple[float, ...] | None:
    """The full start point of a clicked pixel (the coordinates off the picture from x0), snapped
    to the nearest pixel centre; None when the selection holds no start."""
    view = picture.view
    start = list(view.x0)
    for axis, name in enumerate(("sx", "sy")[:len(view.axes)]):
        value = values.get(name)
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        centres = view.centres(axis)
        start[view.axes[axis]] = float(centres[int(np.argmin(np.abs(centres - value)))])
    return tuple(start)



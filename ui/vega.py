"""Vega-Lite specs written as plain dicts: the charts a click on the picture draws anew.

Altair builds the same JSON through schema objects, and pays for it in deep copies, merged
parameters and view hashes: ~0.03-0.15 s a chart, 0.27 s of a 0.36 s Compare run after a click
(py-spy, 8 clicks). These helpers write the few shapes those charts use; tests/test_kcharts.py
validates every kind of chart against the Vega-Lite schema Altair carries.
"""

from __future__ import annotations

from typing import Any, Sequence

from altair import SCHEMA_URL

# What Altair's default theme puts in every spec: a chart without a width keeps these sizes.
DEFAULT_CONFIG = {"view": {"continuousHeight": 300, "continuousWidth": 300}}
# Streamlit's frontend chooses the renderer and turns marks' ARIA labels off by the number of rows
# (above 2,000 points or 5,000 rows): said here, the spec stays the same whatever the data, and a
# chart whose spec is the same gets only its data replaced (no new Vega view: a click on the
# picture redraws the page ~0.3 s sooner). ARIA labels on marks are one per contour line, path
# point and invisible start; the chart's data are in the tables and CSV buttons beside it.
RENDER_OPTIONS = {"usermeta": {"embedOptions": {"renderer": "svg"}}}
MARK_CONFIG = {"aria": False}


def quantitative(field: str, **props: Any) -> dict:
    """A quantitative field channel (``props``: scale, title, axis, format, ...)."""
    return {"field": field, "type": "quantitative", **props}


def nominal(field: str, **props: Any) -> dict:
    """A nominal field channel."""
    return {"field": field, "type": "nominal", **props}


def scale(domain: Sequence | None = None, **props: Any) -> dict:
    """A scale; an explicit domain lays out an overlay with no data like the chart under it."""
    return {**({"domain": [float(v) if isinstance(v, (int, float)) else v for v in domain]}
               if domain is not None else {}), **props}


def data_domain(dataset: str, channel: str, empty: tuple[float, float] = (0, 1)) -> dict:
    """A scale domain read from the first row of ``dataset`` (columns ``<channel>_lo`` and
    ``<channel>_hi``): the numbers change with the data, the spec does not. ``empty``: the domain
    while the dataset has no row (e.g. (1, 10) on a log scale, where 0 has no place)."""
    row = f"data('{dataset}')[0]"
    return {"expr": f"length(data('{dataset}')) ? [{row}.{channel}_lo, {row}.{channel}_hi] : [{empty[0]:g}, {empty[1]:g}]"}


def domain_layer(dataset: str) -> dict:
    """A layer that only brings ``dataset`` into the chart (Vega-Lite leaves out data no layer
    reads, and data_domain reads it); it draws nothing."""
    return {"data": {"name": dataset}, "mark": {"type": "point", "opacity": 0}, "transform": [{"filter": "false"}]}


def mark(kind: str, **props: Any) -> dict:
    return {"type": kind, **props}


def layer(data: Any, mark_def: dict, name: str | None = None, **encoding: Any) -> dict:
    """One layer: ``data`` is a frame (made a named dataset by ui.charts.with_datasets) or a dataset's name."""
    spec = {"data": data if not isinstance(data, str) else {"name": data}, "mark": mark_def, "encoding": encoding}
    return {**spec, "name": name} if name else spec


def point_selection(name: str, fields: Sequence[str], *, value: list | None = None, bind: str | None = None,
                    **select: Any) -> dict:
    """A point selection; ``on_view`` declares it on a layer."""
    param = {"name": name, "select": {"type": "point", "fields": list(fields), **select}}
    if bind:
        param["bind"] = bind
    if value:
        param["value"] = value
    return param


def on_view(param: dict, view: str) -> dict:
    """``param`` declared on the layer named ``view`` (the layer whose marks a click selects)."""
    return {**param, "views": [view]}


def when_selected(param: str, selected: Any, otherwise: Any) -> dict:
    """A channel value: ``selected`` for the data the selection ``param`` holds (all, when empty)."""
    return {"condition": {"param": param, "value": selected}, "value": otherwise}


def layered(layers: Sequence[dict], *, height: int, title: str | None = None, params: Sequence[dict] = ()) -> dict:
    """The top level of a layered chart."""
    spec = {"$schema": SCHEMA_URL, "config": {"view": dict(DEFAULT_CONFIG["view"]), "mark": dict(MARK_CONFIG)},
            "layer": list(layers), "height": height, **RENDER_OPTIONS}
    if title is not None:
        spec["title"] = title
    if params:
        spec["params"] = list(params)
    return spec

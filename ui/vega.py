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


def mark(kind: str, **props: Any) -> dict:
    return {"type": kind, **props}


def layer(data: Any, mark_def: dict, name: str | None = None, **encoding: Any) -> dict:
    """One layer: ``data`` is a frame (made a named dataset by ui.charts.k_chart) or a dataset's name."""
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


def layered(layers: Sequence[dict], *, title: str, height: int, params: Sequence[dict] = ()) -> dict:
    """The top level of a layered chart."""
    spec = {"$schema": SCHEMA_URL, "config": {"view": dict(DEFAULT_CONFIG["view"])}, "layer": list(layers),
            "title": title, "height": height}
    if params:
        spec["params"] = list(params)
    return spec

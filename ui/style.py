"""Large text for a projector: one toggle (kept in the link as ``large=1``) that makes the page's
text, formulas, tables and charts bigger for everyone who opens that link."""

from __future__ import annotations

from typing import TypeVar

import altair as alt
import streamlit as st

LARGE_TEXT = "large_text"  # the toggle's session key
LINK_PARAM = "large"  # ... and its query parameter: "1" on, "0" (or absent) off

# Streamlit sizes its text in rem, KaTeX in em, the data grid from the root font too: a larger
# root font scales them all.
_CSS = """<style>
html { font-size: 20px; }
</style>"""

# Vega-Lite sizes text in pixels: the chart's own config (Streamlit's theme yields to it)
_CHART_CONFIG = {
    "axis": {"labelFontSize": 15, "titleFontSize": 16},
    "legend": {"labelFontSize": 15, "titleFontSize": 16, "symbolSize": 140},
    "title": {"fontSize": 19},
}

Chart = TypeVar("Chart", bound=alt.TopLevelMixin)


def large_text() -> bool:
    return bool(st.session_state.get(LARGE_TEXT))


def page_style() -> None:
    """The large-text rules, when on (once per page run)."""
    if large_text():
        st.html(_CSS)


def sized_spec(spec: dict) -> dict:
    """A Vega-Lite spec with large text when it is on (a chart and its overlay alike: their
    layouts must stay the same)."""
    if not large_text():
        return spec
    config = dict(spec.get("config", {}))
    for part, values in _CHART_CONFIG.items():
        config[part] = {**config.get(part, {}), **values}
    return {**spec, "config": config}


def sized(chart: Chart) -> Chart:
    """An Altair chart with large text when it is on."""
    if not large_text():
        return chart
    return chart.configure_axis(**_CHART_CONFIG["axis"]).configure_legend(**_CHART_CONFIG["legend"]).configure_title(
        **_CHART_CONFIG["title"])

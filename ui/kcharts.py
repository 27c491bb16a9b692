"""Charts whose part at iterate k moves while the rest stays: the chart is sent once (the same
bytes every frame: Streamlit sends a repeated element by reference) and a small overlay with
the data at k (ui.charts.KChart) is drawn over it, in the same grid cell (chart_stack, then
overlay_at: in one run, or the overlay from a fragment)."""

from __future__ import annotations

import hashlib
from typing import Callable, Mapping, TypeVar

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core import Trace

from .charts import KChart
from .style import sized_spec

Built = TypeVar("Built")


def trace_key(trace: Trace) -> tuple:
    """What a trace is, as a small hashable value: a full rerun gets equal traces as new objects
    (st.cache_data copies), and what was built from them need not be built again."""
    digest = hashlib.blake2b(digest_size=16)
    for values in (trace.x, trace.f, trace.step_size):
        digest.update(values.tobytes())
    return trace.method, trace.status, trace.iterations, digest.hexdigest()


def session_memo(name: str, inputs: tuple, build: Callable[[], Built]) -> Built:
    """What ``build`` made for ``name`` in this session while ``inputs`` are equal plain values
    (or the very same objects); built again otherwise. One entry per name: a page holds a handful."""
    memo = st.session_state.setdefault("_memo", {})
    held = memo.get(name)
    if held is not None and len(held[0]) == len(inputs) and all(
            a is b or (isinstance(a, (str, int, float, bool, tuple, bytes)) and type(a) is type(b) and a == b)
            for a, b in zip(held[0], inputs)):
        return held[1]
    value = build()
    memo[name] = (inputs, value)
    return value


# Two charts in one grid cell: the one at iterate k is drawn over the chart (and lets every
# pointer event through to it: tooltips, legend and clicks stay the chart's).
_STACK_STYLE = """<style>
div[class*="st-key-stack_"] { display: grid; grid-template-columns: minmax(0, 1fr); }
div[class*="st-key-stack_"] > div { grid-area: 1 / 1; min-width: 0; }
div[class*="st-key-stack_"] > div:nth-child(2) { pointer-events: none; }
</style>"""


def stack_style() -> None:
    """The CSS the stacks need: once per page run that shows one."""
    st.html(_STACK_STYLE)


def chart_stack(chart: KChart, key: str, *, on_select: Callable[[], None] | None = None,
                selection_mode: str | list[str] | None = None) -> DeltaGenerator:
    """The chart without its part at k, in a stack for overlay_at (which a fragment may fill)."""
    stack = st.container(key=f"stack_{key}")
    stack.vega_lite_chart(spec=sized_spec(chart.static()), width="stretch", key=key, on_select=on_select or "ignore",
                          selection_mode=selection_mode)
    return stack


def overlay_at(stack: DeltaGenerator, chart: KChart, k: int, key: str,
               extra: Mapping[str, pd.DataFrame] | None = None) -> None:
    """The chart's part at iterate k, over it (``extra``: more AT_K rows, e.g. the model at x_k)."""
    stack.vega_lite_chart(spec=sized_spec(chart.overlay(k, extra)), width="stretch", key=f"{key}_at_k")


"""Shared test helpers: AppTest runners for the entry app and for single pages."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# CI draws the same hypothesis examples on every run (a red CI must mean the change broke
# something, not that this run's random draw found an old corner); a run at a desk draws new ones
# each time and keeps what fails in .hypothesis/, where the next run tries it first.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@functools.lru_cache(maxsize=None)
def compiled(text: str):
    """build_problem(text), once per test session (the tests reuse a few functions many times)."""
    from core import build_problem
    return build_problem(text, timeout=None)


def run_app(script: str = "app.py", **query: str) -> AppTest:
    """Run ``script`` (app.py, or a page file such as "pages/derivatives.py") with URL query
    parameters. Page files run on their own draw the setup sidebar themselves (ui.sidebar.get_active).

    Use a page file rather than AppTest.switch_page: switch_page runs only the page file, and
    the sidebar's widgets then start over with new ids, losing the setup.
    AppTest's first run also gives widgets other ids than later runs (their id includes the
    active script hash, which AppTest only settles after one run; a browser session does not
    do this: the browser test types right after the first load). So the link is read again on
    a second run, whose widget ids are the ones every later run uses.
    """
    at = AppTest.from_file(str(ROOT / script), default_timeout=120)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    at.session_state["setup_loaded"] = False  # ui.sidebar reads the link again
    return at.run()


def chart_specs(at: AppTest) -> list[dict]:
    """Vega-Lite specs as drawn, with each named dataset's rows put back under spec['datasets']. A
    chart's overlay (its part at iterate k, ui.kcharts) comes right after it: its rows are put
    into the chart it is drawn over, so a test sees the chart as a person does."""
    specs = []
    for el in at.get("vega_lite_chart"):
        spec = json.loads(el.proto.spec)
        spec["datasets"] = {d.name: convert_arrow_bytes_to_pandas_df(d.data.data).to_dict("records")
                            for d in el.proto.datasets}
        if spec.get("background") == "transparent" and specs:
            specs[-1]["datasets"].update({name: rows for name, rows in spec["datasets"].items()
                                          if name.startswith("at_k_")})
            continue
        specs.append(spec)
    return specs


@pytest.fixture
def app_runner():
    return run_app

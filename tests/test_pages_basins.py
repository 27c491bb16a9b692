"""AppTest of the basins page: each picture carries one row per start with the label and steps
core computes, the legend and summary follow, 1-D and slices, a bad box is a message."""

from __future__ import annotations

import numpy as np
import pytest

from core import Options, build_problem
from core.basins import View, compute_basins, outcome_label
from ui.links import Setup, setup_to_query

from conftest import chart_specs, run_app

HIMMELBLAU = Setup("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "0, 0", ("newton", "gd-armijo"))


def basins(setup: Setup):
    return run_app("pages/basins.py", **setup_to_query(setup))


def pictures(at) -> list[dict]:
    return [s for s in chart_specs(at) if s.get("mark", {}).get("type") == "rect"]


def pixels(spec: dict) -> list[dict]:
    """The picture's rows (label l, iterations k), not the small table of names it looks labels up in."""
    (rows,) = [rows for rows in spec["datasets"].values() if rows and set(rows[0]) == {"l", "k"}]
    return rows


def test_each_picture_holds_a_row_per_start_with_the_engine_labels() -> None:
    at = basins(HIMMELBLAU)
    assert not at.exception and not at.error
    assert at.title[0].value == "Where does every start go?"
    specs = pictures(at)
    assert len(specs) == 2
    grid = int(round(len(pixels(specs[0])) ** 0.5))
    assert 50 <= grid <= 200  # 200 asked; the budget may make it coarser, and says so
    if grid < 200:
        assert any("drawn at" in info.value for info in at.info)
    expected = compute_basins(build_problem(HIMMELBLAU.function, timeout=None), View((0.0, 0.0), (0, 1), (-5, 5, -5, 5), grid),
                              list(HIMMELBLAU.methods), HIMMELBLAU.options)
    for spec, method in zip(specs, HIMMELBLAU.methods):
        rows = pixels(spec)
        labels, steps = np.array([r["l"] for r in rows]), np.array([r["k"] for r in rows])
        # The page runs under its CPU budget (and a wall-clock backstop: a busy machine can reach
        # it): starts it stopped are drawn as such and the page says so; every other pixel is
        # the engine's, label and iteration count.
        stopped = labels == outcome_label("time_limit")
        if stopped.any():
            assert any(f"{method}: {int(stopped.sum()):,} starts were still running" in n.value.replace("\\", "")
                       for n in at.info), (method, int(stopped.sum()))
        assert stopped.mean() < 0.5, (method, int(stopped.sum()))
        np.testing.assert_array_equal(labels[~stopped], expected.methods[method].labels[~stopped])
        np.testing.assert_array_equal(steps[~stopped], expected.methods[method].iterations[~stopped])
        assert spec["params"][0]["name"] == "start"  # a click selects a start
    summary = at.dataframe[-1].value
    assert list(summary["method"]) == list(HIMMELBLAU.methods)
    assert summary.loc[1, "minimum"] == 1.0  # gd-armijo only ever reaches the four minima
    assert summary.loc[0, "maximum"] > 0  # Newton also finds the maximum


def test_one_variable_draws_the_curve_and_a_strip_per_method() -> None:
    at = basins(Setup("x^4 - 2x^2", "0.3", ("gd-armijo", "newton"), Options(lr=0.01)))
    assert not at.exception and not at.error
    specs = chart_specs(at)
    assert specs[0]["title"] == "f over the starts" and len(pictures(at)) == 2
    legend = at.dataframe[0].value
    assert list(legend["reached"]) == ["minimum (-1)", "minimum (1)", "maximum (0)"]


def test_three_variables_draw_a_labelled_slice() -> None:
    at = basins(Setup("x^2 + y^2 + z^2 - x y z", "0.5, 0.5, 2", ("newton",)))
    assert not at.exception and not at.error
    assert any("A **slice**" in c.value and "z = 2" in c.value for c in at.caption)
    assert len(pictures(at)) == 1


@pytest.mark.parametrize("low, high", [(5.0, -5.0), (1.0, 1.0)])
def test_a_box_with_from_above_to_says_what_to_type(low, high) -> None:
    at = basins(HIMMELBLAU)
    at.number_input(key="basins_box_0").set_value(low)
    at.number_input(key="basins_box_1").set_value(high)
    at.run()
    assert not at.exception
    assert any("'from' below 'to'" in e.value for e in at.error)

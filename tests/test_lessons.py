"""Every preset's lesson (ui.links.PRESETS): its iterate exists, and what its answer says is what
the engine computes, number for number."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import Options, build_problem, run
from core.analysis import local_analysis
from ui.links import PRESETS

BY_LABEL = {preset.label: preset for preset in PRESETS}


def traces(label: str) -> dict:
    preset = BY_LABEL[label]
    problem = build_problem(preset.setup.function, timeout=None)
    return {m: run(problem, list(preset.setup.x0()), m, preset.setup.options) for m in preset.setup.methods}


@pytest.mark.parametrize("preset", PRESETS, ids=[p.label for p in PRESETS])
def test_every_lesson_stops_at_an_iterate_its_runs_reach_and_asks_one_question(preset) -> None:
    longest = max(t.iterations for t in traces(preset.label).values())
    assert 1 <= preset.story.stop_at <= longest
    assert preset.story.question.count("?") >= 1 and preset.story.answer and preset.story.look
    assert "$" not in preset.story.answer + preset.story.question  # Streamlit would read it as LaTeX


def test_the_seeds_three_cases_come_first() -> None:
    assert [p.label for p in PRESETS[:3]] == ["4x² + y² from (15, 15)", "x² + 1e9 y² from (1, 1)",
                                                "1-D: optimal rate = Newton"]


def test_optimal_rate_turns_90_degrees_and_newton_lands_on_the_centre() -> None:
    t = traces("4x² + y² from (15, 15)")
    steps = np.diff(t["gd-optimal"].x, axis=0)
    for before, after in zip(steps[:-1], steps[1:]):
        assert abs(before @ after) <= 1e-12 * np.linalg.norm(before) * np.linalg.norm(after)
    assert t["newton"].iterations == 1 and tuple(t["newton"].x[1]) == (0.0, 0.0)


def test_newton_goes_diagonally_while_the_gradient_points_down() -> None:
    t = traces("x² + 1e9 y² from (1, 1)")
    g = np.array([2.0, 2e9])
    assert np.allclose(-g / np.linalg.norm(g), (-1e-9, -1.0), rtol=1e-9, atol=0)
    assert tuple(t["newton"].x[1]) == (0.0, 0.0)
    assert tuple(t["gd"].x[1]) == (1 - 1e-9, 0.0)
    assert round(t["gd"].x[1000][0], 6) == 0.999999


def test_in_one_dimension_the_two_methods_take_the_same_steps_of_two_thirds() -> None:
    t = traces("1-D: optimal rate = Newton")
    # the same steps, computed two ways (g'g/g'Hg times g; g divided by H): they round apart in the 16th digit
    np.testing.assert_allclose(t["gd-optimal"].x, t["newton"].x, rtol=1e-15, atol=0)
    assert not np.array_equal(t["gd-optimal"].x, t["newton"].x)  # (so the lesson does not say "digit for digit")
    np.testing.assert_allclose(t["newton"].x[1:4, 0], [2 / 3, 4 / 9, 8 / 27], rtol=1e-15)


def test_too_small_a_rate_needs_1081_steps() -> None:
    t = traces("Learning rate too small")
    assert t["gd"].status == "max_iter" and t["gd"].iterations == 1000
    assert t["gd"].grad_norm[-1] == pytest.approx(5.05e-8, rel=1e-3)
    assert math.ceil(math.log(1e-8 / 30) / math.log(0.98)) == 1081
    problem = build_problem("4x^2 + y^2", timeout=None)
    longer = run(problem, [15, 15], "gd", Options(lr=0.01, max_iter=2000))
    assert longer.status == "converged" and longer.iterations == 1081


def test_too_large_a_rate_flips_x_and_grows_it_by_8_percent() -> None:
    t = traces("Learning rate too large")
    np.testing.assert_allclose(t["gd"].x[:3, 0], [15, -16.2, 17.496], rtol=1e-14)
    np.testing.assert_allclose(t["gd"].x[1:4, 1] / t["gd"].x[:3, 1], 0.48, rtol=1e-12)
    assert t["gd"].status == "diverged"


def test_rosenbrock_newton_needs_six_steps_and_the_valley_is_2508_to_1() -> None:
    t = traces("Rosenbrock from (-1.2, 1)")
    assert t["newton"].status == "converged" and t["newton"].iterations == 6
    assert t["gd"].status == "max_iter" and t["gd"].iterations == 2000
    eigenvalues = local_analysis(build_problem("(1-x)^2 + 100(y-x^2)^2", timeout=None), np.array([1.0, 1.0])).eigenvalues
    assert sorted(np.round(eigenvalues, 4)) == [0.3994, 1001.6006]
    assert round(max(eigenvalues) / min(eigenvalues)) == 2508


def test_himmelblau_newton_converges_to_the_maximum_the_others_to_3_2() -> None:
    t = traces("Himmelblau from (0, 0)")
    assert t["newton"].iterations == 4 and t["newton"].stationary_point == "maximum"
    assert tuple(np.round(t["newton"].x[-1], 4)) == (-0.2708, -0.9230)
    for method in ("gd", "newton-damped", "bfgs"):
        assert t[method].stationary_point == "minimum" and np.allclose(t[method].x[-1], (3, 2), atol=1e-6)


def test_double_well_newton_climbs_to_the_maximum() -> None:
    t = traces("Double well x⁴ - 2x²")
    x = t["newton"].x[:, 0]
    np.testing.assert_allclose(x[1:3], [2 * 0.3 ** 3 / (3 * 0.3 ** 2 - 1), 2 * x[1] ** 3 / (3 * x[1] ** 2 - 1)], rtol=1e-13)
    assert (round(x[1], 3), round(x[2], 4)) == (-0.074, 0.0008)
    assert t["newton"].stationary_point == "maximum" and t["newton"].iterations == 3
    for method in ("gd", "gd-armijo"):
        assert t[method].stationary_point == "minimum" and t[method].x[-1][0] == pytest.approx(1.0)


def test_saddle_the_optimal_rate_cannot_start_and_newton_lands_on_the_saddle() -> None:
    t = traces("Saddle x² - y²")
    assert t["gd-optimal"].iterations == 0 and t["gd-optimal"].status == "negative_curvature"
    assert tuple(t["newton"].x[1]) == (0.0, 0.0) and t["newton"].stationary_point == "saddle"
    assert t["gd"].status == "diverged" and abs(t["gd"].x[-1][1]) > 1e5

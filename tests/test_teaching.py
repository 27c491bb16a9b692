"""core.quadratic, core.sweep, core.predictions, core.theory, core.one_d: quadratic constants,
learning-rate sweeps, observed vs textbook rates, the 1-D identity. Expected numbers are derived
by hand in the comments (4x^2 + y^2 has H = diag(8, 2)).
"""

from __future__ import annotations

import functools
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from core import Options, OptionsError, build_problem, run
from core.one_d import compare_steps, compare_traces
from core.quadratic import NOT_QUADRATIC, quadratic_constants
from core.sweep import (OSCILLATION_RULE, OUTCOMES, classify_run, default_rate_range, detect_oscillation, learning_rate_grid,
                        rate_marks, sweep_learning_rates)
from core.theory import loglog_order, observed_rates, predict, tail_rate, verdict

QUAD = "4x^2 + y^2"
START = (15.0, 15.0)


@functools.lru_cache(maxsize=None)
def problem(text: str):
    return build_problem(text, timeout=None)


# --------------------------------------------------------------------------------------------
# Quadratic constants
# --------------------------------------------------------------------------------------------

def test_constants_of_4x2_plus_y2():
    c = quadratic_constants(problem(QUAD), START)
    np.testing.assert_array_equal(c.eigenvalues, [2.0, 8.0])
    assert c.positive_definite and c.reason == ""
    assert c.stability_limit == pytest.approx(0.25, rel=1e-15)  # 2 / 8
    assert c.best_rate == pytest.approx(0.2, rel=1e-15)  # 2 / (2 + 8)
    assert c.condition == pytest.approx(4.0)  # 8 / 2
    assert c.best_contraction == pytest.approx(0.6)  # (4 - 1) / (4 + 1)
    assert c.steepest_descent_bound == pytest.approx(9 / 25)  # 0.6^2
    np.testing.assert_allclose(c.stationary_point, [0.0, 0.0], atol=1e-15)
    assert c.f_star == 0.0


@pytest.mark.parametrize("eta, expected", [
    (0.05, 0.9),   # |1 - 0.05*2| = 0.9 > |1 - 0.4|
    (0.1, 0.8),    # |1 - 0.2| = 0.8 > |1 - 0.8| = 0.2
    (0.2, 0.6),    # both 0.6: the best fixed rate
    (0.25, 1.0),   # |1 - 0.25*8| = 1: the stability limit
    (0.3, 1.4),    # |1 - 2.4| = 1.4
])
def test_fixed_step_contraction_is_max_abs_one_minus_eta_lambda(eta, expected):
    c = quadratic_constants(problem(QUAD))
    assert c.contraction(eta) == pytest.approx(expected, rel=1e-12)


def test_constants_refuse_what_they_cannot_say():
    assert quadratic_constants(problem("(1-x)^2 + 100(y-x^2)^2")) is None
    saddle = quadratic_constants(problem("x^2 - y^2"))
    assert saddle.definiteness == "indefinite"
    assert saddle.stability_limit is None and saddle.best_rate is None and saddle.steepest_descent_bound is None
    assert "indefinite" in saddle.reason
    singular = quadratic_constants(problem("(x+y)^2"))  # H = [[2, 2], [2, 2]]: eigenvalues 0 and 4
    np.testing.assert_allclose(singular.eigenvalues, [0.0, 4.0], atol=1e-15)
    assert singular.stability_limit is None and singular.stationary_point is None
    assert "singular" in singular.reason


def test_quadratic_with_a_shifted_minimum():
    # (x-1)^2 + 3(y+2)^2: H = diag(2, 6), x* = (1, -2), f* = 0
    c = quadratic_constants(problem("(x-1)^2 + 3(y+2)^2"), (5.0, 5.0))
    np.testing.assert_allclose(c.stationary_point, [1.0, -2.0], atol=1e-14)
    assert c.stability_limit == pytest.approx(1 / 3)
    assert c.best_rate == pytest.approx(0.25)


# --------------------------------------------------------------------------------------------
# Learning-rate grid, marks, sweep and outcome classification
# --------------------------------------------------------------------------------------------

def test_grid_is_log_spaced_with_exact_endpoints_and_included_marks():
    grid = learning_rate_grid(0.01, 0.26, 25, include=[0.25, 0.2, 5.0, None])
    assert grid[0] == 0.01 and grid[-1] == 0.26
    assert 0.25 in grid and 0.2 in grid and 5.0 not in grid
    assert np.all(np.diff(grid) > 0) and len(grid) == 27
    ratios = np.diff(np.log(learning_rate_grid(1e-3, 1.0, 4)))
    np.testing.assert_allclose(ratios, math.log(10))


@pytest.mark.parametrize("low, high, count", [(0.0, 1.0, 5), (1.0, 0.5, 5), (0.1, 1.0, 1), (0.1, math.inf, 5)])
def test_grid_refuses_bad_ranges(low, high, count):
    with pytest.raises(OptionsError):
        learning_rate_grid(low, high, count)


def test_default_range_brackets_the_stability_limit():
    low, high, how = default_rate_range(problem(QUAD), START)
    assert low == 0.01 and high == 0.26  # 0.25/25 and 0.25*26/25, correctly rounded
    assert "λmax = 8" in how


def test_rate_marks_for_the_quadratic():
    marks, missing = rate_marks(problem(QUAD), START, lr=0.1)
    by_key = {m.key: m.eta for m in marks}
    # g(15,15) = (120, 30): g'g = 15300, g'Hg = 8*14400 + 2*900 = 117000
    assert by_key["optimal_start"] == pytest.approx(15300 / 117000, rel=1e-14)
    assert by_key["limit"] == pytest.approx(0.25) and by_key["best"] == pytest.approx(0.2)
    assert by_key["yours"] == 0.1
    assert missing == []


def test_rate_marks_say_why_a_mark_is_missing():
    marks, missing = rate_marks(problem("(1-x)^2 + 100(y-x^2)^2"), (-1.2, 1.0))
    assert [m.key for m in marks] == ["optimal_start"]
    assert NOT_QUADRATIC in missing
    marks, missing = rate_marks(problem("x^2 - y^2"), (1.0, 1.0))
    assert not marks and any("indefinite" in m for m in missing) and any("g'Hg" in m for m in missing)


@pytest.fixture(scope="module")
def quad_sweep():
    return sweep_learning_rates(problem(QUAD), START, [0.01, 0.1, 0.2, 0.25, 0.26], Options())


def test_sweep_outcomes_on_4x2_plus_y2(quad_sweep):
    outcome = {r.eta: r.outcome for r in quad_sweep.runs}
    assert outcome == {0.01: "crawl", 0.1: "converged", 0.2: "converged", 0.25: "oscillating", 0.26: "diverged"}
    crawl = quad_sweep.nearest(0.01)
    # slowest factor 1 - 0.01*2 = 0.98: ||g_1000|| ~ 2*15*0.98^1000 = 5.05e-8 > tol = 1e-8
    assert crawl.iterations == 1000 and crawl.converged_in is None
    assert crawl.final_grad_norm == pytest.approx(2 * 15 * 0.98 ** 1000, rel=1e-6)
    # |1 - 0.26*8| = 1.08 > 1: f = 4x^2 grows by 1.08^2 per step, the run loop stops it as diverged
    assert quad_sweep.nearest(0.26).trace.status == "diverged"
    assert quad_sweep.nearest(0.1).converged_in == 98


def test_pure_oscillation_at_the_stability_limit(quad_sweep):
    # eta = 0.25: x_k = 15 (1 - 2)^k = +-15 forever, the y part dies (factor 0.5)
    run_25 = quad_sweep.nearest(0.25)
    osc = run_25.oscillation
    assert osc.oscillating and osc.reversals == osc.pairs == 49
    assert osc.eigenvalue == pytest.approx(8.0)
    np.testing.assert_allclose(np.abs(osc.direction), [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(run_25.trace.x[-1]), [15.0, 0.0], atol=1e-12)
    assert "49/49" in run_25.reason()


def test_oscillation_flag_matches_eta_lambda_above_one(quad_sweep):
    # eta = 0.2: factor along lambda = 8 is -0.6 (zig-zag, converging); eta = 0.1: +0.2 and +0.8
    assert quad_sweep.nearest(0.2).oscillation.oscillating
    assert not quad_sweep.nearest(0.1).oscillation.oscillating
    crawl = quad_sweep.nearest(0.01).oscillation
    assert not crawl.oscillating and crawl.reversals == 0 and crawl.rises == 0
    assert crawl.eigenvalue == pytest.approx(2.0)  # the slow direction carries the crawl


def test_sweep_runs_are_the_run_loops_traces(quad_sweep):
    direct = run(problem(QUAD), START, "gd", Options(lr=0.2))
    swept = quad_sweep.nearest(0.2).trace
    np.testing.assert_array_equal(swept.x, direct.x)
    assert swept.status == direct.status and swept.options == direct.options


def test_max_iter_run_that_climbs_is_diverged():
    # eta = 0.2501: |1 - 0.2501*8| = 1.0008, too slow to blow up in 1000 steps, but f climbs
    sweep = sweep_learning_rates(problem(QUAD), START, [0.2501], Options())
    r = sweep.runs[0]
    assert r.trace.status == "max_iter" and r.outcome == "diverged"
    assert "above f(x₀)" in r.reason()


def test_rule_b_f_rising_counts_as_oscillation():
    # heavy ball with beta = 0.9 rings: f goes up on many steps without a clean sign flip per step
    trace = run(problem("x^2"), (1.0,), "momentum", Options(lr=0.1, beta=0.95, max_iter=60))
    osc = detect_oscillation(problem("x^2"), trace)
    assert osc.rises >= 0.25 * osc.window
    assert osc.oscillating
    outcome, _ = classify_run(problem("x^2"), trace)
    assert outcome == "oscillating"


def test_too_few_steps_to_tell():
    trace = run(problem(QUAD), START, "gd", Options(lr=0.1, max_iter=2))
    osc = detect_oscillation(problem(QUAD), trace)
    assert not osc.oscillating and "too few" in osc.evidence


def test_domain_error_is_failed():
    trace = run(problem("sqrt(x)"), (1.0,), "gd", Options(lr=10.0))
    assert classify_run(problem("sqrt(x)"), trace)[0] == "failed"


def test_sweep_needs_a_fixed_rate_method():
    with pytest.raises(OptionsError):
        sweep_learning_rates(problem(QUAD), START, [0.1], Options(), method="newton")
    sweep = sweep_learning_rates(problem(QUAD), START, [0.01, 0.05], Options(max_iter=200), method="momentum")
    assert {r.trace.method for r in sweep.runs} == {"momentum"}


def test_sweep_is_cheap():
    """25 learning rates x max_iter 1000 on 2 variables, every run going the full 1000 steps.

    CPU time of this process (not wall time), so a busy shared machine does not fail the test;
    measured here at about 0.17 s."""
    p = problem(QUAD)
    sweep_learning_rates(p, START, [1e-4], Options())  # warm up
    start = time.process_time()
    sweep = sweep_learning_rates(p, START, learning_rate_grid(1e-4, 1e-3, 25), Options(max_iter=1000))
    elapsed = time.process_time() - start
    assert all(r.iterations == 1000 for r in sweep.runs)
    assert elapsed < 1.0, f"sweep took {elapsed:.2f} s"


def test_a_sweep_shares_its_deadline_and_keeps_summaries_only_when_asked():
    p = problem(QUAD)
    summaries = sweep_learning_rates(p, START, [0.01, 0.2], Options(), keep_traces=False,
                                     cpu_budget_s=3600)
    full = sweep_learning_rates(p, START, [0.01, 0.2], Options())
    assert [r.trace for r in summaries.runs] == [None, None]
    for short, whole in zip(summaries.runs, full.runs):
        assert (short.outcome, short.iterations, short.status, short.reason()) == \
               (whole.outcome, whole.iterations, whole.status, whole.reason())
        assert short.final_grad_norm == whole.trace.grad_norm[-1]
    late = sweep_learning_rates(p, START, [0.01, 0.2], Options(), cpu_budget_s=1e-9, wall_factor=0.0)
    assert [r.outcome for r in late.runs] == ["unfinished", "unfinished"]
    assert all(r.status == "time_limit" for r in late.runs)


def test_outcomes_and_rule_are_documented():
    assert set(OUTCOMES) == {"converged", "crawl", "oscillating", "diverged", "failed", "unfinished", "stalled"}
    assert "80%" in OSCILLATION_RULE and "25%" in OSCILLATION_RULE and "η·λ" in OSCILLATION_RULE


# --------------------------------------------------------------------------------------------
# Observed rates and textbook predictions
# --------------------------------------------------------------------------------------------

def test_gd_optimal_from_15_15_contracts_f_by_36_over_325():
    # x_1 = (15,15) - (15300/117000)(120, 30) = (-0.6923, 11.0769); f_1 = 124.615 = 1125 * 36/325
    p = problem(QUAD)
    trace = run(p, START, "gd-optimal", Options())
    rates = observed_rates(p, trace)
    resolved = rates.f_ratio[np.isfinite(rates.f_ratio)]
    assert resolved.size >= 8
    np.testing.assert_allclose(resolved, 36 / 325, rtol=1e-9)
    assert rates.f_rate == pytest.approx(36 / 325, rel=1e-9)
    assert trace.f[1] == pytest.approx(1125 * 36 / 325, rel=1e-12)
    prediction = predict(p, trace)
    assert prediction.applies and prediction.quantity == "f_rate" and prediction.kind == "bound"
    assert prediction.value == pytest.approx(9 / 25)
    # kappa = 8/2 = 4, ((4 - 1)/(4 + 1))^2 = 0.36, with the user's numbers put in
    assert prediction.with_numbers.endswith(r"\frac{8}{2} = 4,\quad \left(\frac{\kappa-1}{\kappa+1}\right)^2 = 0.36")
    assert verdict(prediction, rates, trace).startswith("consistent")
    assert rates.order == pytest.approx(1.0, abs=0.15)  # linear


@pytest.mark.parametrize("eta, rho", [(0.1, 0.8), (0.2, 0.6), (0.05, 0.9)])
def test_fixed_step_gd_measured_contraction_is_max_abs_one_minus_eta_lambda(eta, rho):
    p = problem(QUAD)
    trace = run(p, START, "gd", Options(lr=eta))
    rates, prediction = observed_rates(p, trace), predict(p, trace)
    assert prediction.applies and prediction.quantity == "x_rate"
    assert prediction.value == pytest.approx(rho, rel=1e-12)
    # the eigenvalues of H = diag(8, 2), each factor |1 - eta lambda| written out
    assert prediction.with_numbers == rf"\max\left(|1-{eta:g}\cdot 2|, |1-{eta:g}\cdot 8|\right) = {rho:g}"
    assert rates.x_rate == pytest.approx(rho, rel=1e-6)
    assert rates.f_rate == pytest.approx(rho ** 2, rel=1e-5)  # f - f* = e'He/2 shrinks by rho^2
    assert verdict(prediction, rates, trace).startswith("matches")


def test_fixed_step_gd_beyond_the_limit_is_predicted_not_to_contract():
    p = problem(QUAD)
    trace = run(p, START, "gd", Options(lr=0.26))
    prediction = predict(p, trace)
    assert prediction.value == pytest.approx(1.08) and "no contraction" in prediction.claim


def test_newton_solves_the_quadratic_in_one_step():
    p = problem(QUAD)
    trace = run(p, START, "newton", Options())
    prediction = predict(p, trace)
    assert prediction.quantity == "steps" and prediction.value == 1
    # x_1 = (15, 15) + (-15, -15) = (0, 0), where g is exactly 0
    assert prediction.with_numbers == (r"x_1 = \begin{pmatrix}15\\15\end{pmatrix} + \begin{pmatrix}-15\\-15\end{pmatrix} = "
                                       r"\begin{pmatrix}0\\0\end{pmatrix},\quad \|g(x_1)\| = 0")
    assert verdict(prediction, observed_rates(p, trace), trace).startswith("matches")


def test_newton_on_rosenbrock_has_order_about_two():
    p = problem("(1-x)^2 + 100(y-x^2)^2")
    trace = run(p, (-1.2, 1.0), "newton", Options())
    rates, prediction = observed_rates(p, trace), predict(p, trace)
    assert trace.status == "converged"
    assert rates.order_error == "‖x_k − x*‖" and rates.x_star is not None
    np.testing.assert_allclose(rates.x_star, [1.0, 1.0], atol=1e-14)
    assert 1.6 <= rates.order <= 2.4
    assert prediction.applies and prediction.quantity == "order" and prediction.value == 2.0
    assert verdict(prediction, rates, trace).startswith("consistent")


def test_newton_on_x4_is_linear_and_the_quadratic_prediction_does_not_apply():
    # x^4: Newton maps x -> 2x/3; g = 4x^3 shrinks by (2/3)^3 = 8/27, f by (2/3)^4 = 16/81
    p = problem("x^4")
    trace = run(p, (1.0,), "newton", Options())
    rates, prediction = observed_rates(p, trace), predict(p, trace)
    assert rates.grad_rate == pytest.approx(8 / 27, rel=1e-9)
    assert rates.f_rate == pytest.approx(16 / 81, rel=0.02)
    assert rates.order == pytest.approx(1.0, abs=0.05)
    assert not prediction.applies and prediction.value is None
    assert "degenerate" in prediction.reason


def test_momentum_prediction_is_the_heavy_ball_spectral_radius():
    # z^2 - (1 + beta - eta lambda) z + beta = 0 has complex roots for lambda = 2 and 8 (eta 0.1,
    # beta 0.9), so |z| = sqrt(beta) for both
    p = problem(QUAD)
    trace = run(p, START, "momentum", Options(lr=0.1, beta=0.9))
    prediction = predict(p, trace)
    assert prediction.value == pytest.approx(math.sqrt(0.9), rel=1e-12)
    assert prediction.with_numbers == rf"\rho = {math.sqrt(0.9):.6g}\quad(\eta = 0.1,\ \beta = 0.9)"
    assert observed_rates(p, trace).x_rate == pytest.approx(math.sqrt(0.9), rel=0.02)


def test_two_step_predictions_say_grows_when_the_spectral_radius_is_above_one():
    # x^2 (lambda = 2), eta = 2, beta = 0.9: z^2 + 2.1 z + 0.9 = 0, roots -1.5 and -0.6
    p = problem("x^2")
    trace = run(p, (1.0,), "momentum", Options(lr=2.0, beta=0.9))
    prediction = predict(p, trace)
    assert prediction.value == pytest.approx(1.5, rel=1e-12) and trace.status == "diverged"
    assert "does not contract: the error grows" in prediction.claim


def test_damped_newton_one_step_needs_c1_at_most_one_half():
    # x^2 from 1: the full step decreases f by 1 = half of |g'd| = 2; Armijo with c1 = 0.6 asks
    # 1.2, so eta = 1/2 is taken and x halves each step: "one step" must not be predicted
    p = problem("x^2")
    trace = run(p, (1.0,), "newton-damped", Options(c1=0.6))
    prediction = predict(p, trace)
    assert trace.iterations > 1 and not prediction.applies and "c₁ = 0.6 > 1/2" in prediction.reason
    assert predict(p, run(p, (1.0,), "newton-damped", Options(c1=0.5))).value == 1


@pytest.mark.parametrize("text, start, method, words", [
    ("(1-x)^2 + 100(y-x^2)^2", (-1.2, 1.0), "gd", "not quadratic"),
    ("(1-x)^2 + 100(y-x^2)^2", (-1.2, 1.0), "gd-optimal", "not quadratic"),
    ("x^2 - y^2", (1.0, 1.0), "gd", "indefinite"),
    ("x^2 - y^2", (1.0, 1.0), "gd-optimal", "indefinite"),
    ("x^2 - y^2", (1.0, 1.0), "newton-damped", "indefinite"),
    (QUAD, START, "gd-armijo", "backtracking"),
    (QUAD, START, "bfgs", "superlinear"),
])
def test_predictions_say_why_they_do_not_apply(text, start, method, words):
    p = problem(text)
    trace = run(p, start, method, Options(lr=0.001))
    prediction = predict(p, trace)
    assert not prediction.applies and prediction.value is None
    assert words in prediction.reason
    assert verdict(prediction, observed_rates(p, trace), trace) == "no prediction"


def test_newton_on_a_saddle_quadratic_jumps_there_in_one_step():
    p = problem("x^2 - y^2")
    trace = run(p, (1.0, 1.0), "newton", Options())
    prediction = predict(p, trace)
    assert prediction.applies and prediction.value == 1 and "saddle" in prediction.claim


def test_loglog_order_on_model_sequences():
    linear = 0.5 ** np.arange(12)
    assert loglog_order(linear)[0] == pytest.approx(1.0)
    quadratic = [0.5]
    for _ in range(5):
        quadratic.append(quadratic[-1] ** 2)
    assert loglog_order(np.array(quadratic))[0] == pytest.approx(2.0)
    flat, why = loglog_order(np.array([1.0, 0.9, 0.8, 0.7]))
    assert math.isnan(flat) and "factor of 10" in why
    few, why = loglog_order(np.array([1.0, 0.1]))
    assert math.isnan(few) and "at least 3" in why


def test_tail_rate_averages_a_zigzag():
    ratios = np.array([0.1, 0.4] * 6)  # geometric mean 0.2
    assert tail_rate(ratios) == pytest.approx(0.2)
    assert math.isnan(tail_rate(np.array([np.nan, np.nan])))


# --------------------------------------------------------------------------------------------
# The 1-D lesson
# --------------------------------------------------------------------------------------------

def test_in_one_variable_the_optimal_rate_is_one_over_f_second():
    # x^4 at 1: f' = 4, f'' = 12; eta* = 16/(4*12*4) = 1/12, Newton step -4/12 = -1/3
    comparison = compare_steps(problem("x^4"), (1.0,))
    assert comparison.local.optimal_rate == pytest.approx(1 / 12, rel=1e-15)
    assert comparison.inverse_curvature == pytest.approx(1 / 12, rel=1e-15)
    np.testing.assert_allclose(comparison.newton_step, [-1 / 3], rtol=1e-15)
    np.testing.assert_allclose(comparison.optimal_step, [-1 / 3], rtol=1e-15)
    assert comparison.same_step


def test_x4_from_1_gives_identical_traces():
    p = problem("x^4")
    a, b = run(p, (1.0,), "gd-optimal", Options()), run(p, (1.0,), "newton", Options())
    same = compare_traces(a, b)
    assert same.identical and same.same_length and same.length == 18
    np.testing.assert_allclose(a.x, b.x, rtol=1e-14)
    np.testing.assert_allclose(a.x[:, 0], (2 / 3) ** np.arange(18), rtol=1e-13)  # x -> 2x/3


def test_in_two_variables_the_steps_differ_unless_g_is_an_eigenvector():
    p = problem(QUAD)
    at_start = compare_steps(p, START)
    # Newton: -H^-1 g = -(120/8, 30/2) = (-15, -15); optimal: -(15300/117000)(120, 30)
    np.testing.assert_allclose(at_start.newton_step, [-15.0, -15.0])
    np.testing.assert_allclose(at_start.optimal_step, -(15300 / 117000) * np.array([120.0, 30.0]))
    assert not at_start.same_step and at_start.local.angle_deg > 1
    np.testing.assert_allclose(np.abs(at_start.components), [30.0, 120.0])  # in the eigenbasis (lambda 2, 8)
    on_axis = compare_steps(p, (15.0, 0.0))  # g = (120, 0) = 120 e_x, H e_x = 8 e_x
    assert on_axis.same_step
    a, b = run(p, START, "gd-optimal", Options()), run(p, START, "newton", Options())
    assert not compare_traces(a, b).identical


def test_core_teaching_modules_do_not_import_streamlit():
    code = "import sys, core.quadratic, core.sweep, core.predictions, core.theory, core.one_d; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__file__.rsplit("/tests/", 1)[0])
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("method, options, quantity, value, with_numbers", [
    # Nesterov on 4x^2 + y^2, eta 0.05, beta 0.5: lambda = 8 gives 1 - eta lambda = 0.6, roots of
    # z^2 - 0.9 z + 0.3 (complex, |z| = sqrt 0.3 = 0.548); lambda = 2 gives 0.9: z^2 - 1.35 z + 0.45,
    # roots 0.75 and 0.6: rho = 0.75
    ("nesterov", Options(lr=0.05, beta=0.5), "x_rate", 0.75, r"\rho = 0.75\quad(\eta = 0.05,\ \beta = 0.5)"),
    ("cg", Options(), "steps", 2.0, r"\lambda = 2, 8:\quad 2\ \text{distinct}"),  # two distinct eigenvalues
    ("gd-exact", Options(), "f_rate", 0.36,  # ((4 - 1)/(4 + 1))^2, as gd-optimal
     r"\kappa = \frac{\lambda_{max}}{\lambda_{min}} = \frac{8}{2} = 4,\quad \left(\frac{\kappa-1}{\kappa+1}\right)^2 = 0.36"),
])
def test_predictions_of_the_new_methods_hold_on_the_bowl(method, options, quantity, value, with_numbers):
    from core.theory import observed_rates, predict, verdict
    p = build_problem("4x^2 + y^2", timeout=None)
    trace = run(p, [15, 15], method, options)
    prediction = predict(p, trace)
    assert prediction.applies and prediction.quantity == quantity
    assert prediction.value == pytest.approx(value, rel=1e-12)
    assert prediction.with_numbers == with_numbers  # the method's own formula, with the user's numbers put in
    assert verdict(prediction, observed_rates(p, trace), trace).startswith(("matches", "consistent"))


@pytest.mark.parametrize("method", ["trust-region", "adam", "lbfgs"])
def test_methods_without_a_textbook_number_say_why(method):
    from core.theory import predict
    p = build_problem("4x^2 + y^2", timeout=None)
    prediction = predict(p, run(p, [15, 15], method))
    assert not prediction.applies and "no " in prediction.reason and len(prediction.reason) > 40


def test_cost_counts_what_each_method_paid():
    from core.theory import cost_of
    p = build_problem("4x^2 + y^2", timeout=None)
    newton = cost_of(run(p, [15, 15], "newton"))
    assert (newton.steps, newton.nfev, newton.ngev, newton.nhev, newton.nsolve) == (1, 2, 2, 1, 1)
    assert newton.per_step_text == "2 f, 2 g, 1 H, 1 solve"
    gd = cost_of(run(p, [15, 15], "gd", Options(lr=0.1, max_iter=10)))
    assert gd.per_step_text == "1.1 f, 1.1 g"  # 11 evaluations (x_0..x_10) over 10 steps


def test_the_second_order_model_at_a_point_by_hand():
    from core.analysis import local_analysis
    # 4x^2 + y^2 at (15, 15): f = 1125, g = (120, 30), H = diag(8, 2). The model is f itself:
    # at the origin 1125 - (120*15 + 30*15) + (8*225 + 2*225)/2 = 0; at the tangent point
    # (-9/13, 144/13) of seed 000, 4*81/169 + 144^2/169 = 21060/169.
    local = local_analysis(build_problem(QUAD), np.array([15.0, 15.0]))
    np.testing.assert_allclose(local.model(np.array([[0.0, 0.0], [-9 / 13, 144 / 13]])), [0.0, 21060 / 169],
                               rtol=1e-13, atol=1e-12)
    assert local.steepest_descent_bound == pytest.approx(0.36, rel=1e-15)  # kappa = 4: (3/5)^2
    # x^4 at 1: f = 1, g = 4, H = 12: m(0) = 1 - 4 + 6 = 3, m(2) = 1 + 4 + 6 = 11 (f(2) = 16).
    quartic = local_analysis(build_problem("x^4"), np.array([1.0]))
    assert quartic.model(np.array([[0.0], [2.0]])).tolist() == [3.0, 11.0]
    assert quartic.steepest_descent_bound == 0.0  # one variable: kappa = 1
    assert local_analysis(build_problem("x^2 - y^2"), np.array([1.0, 1.0])).steepest_descent_bound is None


def test_second_derivatives_per_iterate_only_for_the_rows_asked():
    from core.one_d import second_derivatives
    problem = build_problem("x^4")
    trace = run(problem, [1.0], "gd-optimal", Options(max_iter=30))
    rows = slice(2, 6)
    np.testing.assert_allclose(second_derivatives(problem, trace, rows), 12 * trace.x[rows, 0] ** 2, rtol=1e-15)
    # f'' is not defined at 0 for |x|^(3/2): nan there, a number elsewhere
    kink = build_problem("abs(x)^(3/2)")
    kinked = run(kink, [0.0], "gd", Options(max_iter=1))
    assert np.isnan(second_derivatives(kink, kinked)[0])


def test_every_method_carries_its_prediction():
    from core import METHODS
    from core.theory import predict
    problem = build_problem(QUAD)
    for method in METHODS.values():
        prediction = predict(problem, run(problem, [15, 15], method.id, Options(lr=0.05, max_iter=500)))
        assert prediction.method == method.id
        assert prediction.applies or prediction.reason  # a number, or why there is none

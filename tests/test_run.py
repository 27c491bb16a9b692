"""The run loop and its trace: shapes, copies, derived columns, every status, classification."""

from __future__ import annotations

import functools
import json
import math
import time
import warnings
from types import SimpleNamespace

import importlib

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core import (METHODS, STATIONARY_KINDS, STATUSES, Options, OptionsError, RunCancelled, best_value, build_problem,
                  classify_stationary_point, run, run_all)
from core.run import STALL_STEPS


@functools.lru_cache(maxsize=None)
def problem(text: str, variables: tuple[str, ...] | None = None):
    return build_problem(text, variables, timeout=None)


BOWL = "4x^2 + y^2"


# --------------------------------------------------------------------------------------------
# Trace shape and contents
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", list(METHODS))
def test_trace_shapes(method):
    trace = run(problem("(1-x)^2 + 100(y-x^2)^2"), [-1.2, 1], method, Options(max_iter=7, lr=1e-3))
    K = trace.iterations
    assert K == len(trace.f) - 1
    assert 1 <= K <= 7
    assert trace.x.shape == (K + 1, 2) and trace.grad.shape == (K + 1, 2)
    assert trace.direction.shape == (K + 1, 2) and trace.step_size.shape == (K + 1,)
    assert len(trace.decision) == K + 1 and trace.decision[-1] == ""
    assert math.isnan(trace.step_size[-1]) and np.isnan(trace.direction[-1]).all()
    assert np.isfinite(trace.step_size[:-1]).all()
    np.testing.assert_array_equal(trace.final_x, trace.x[-1])
    # x_{k+1} = x_k + eta_k d_k, row by row
    np.testing.assert_allclose(trace.x[1:], trace.x[:-1] + trace.dx[:-1], rtol=1e-15)
    assert trace.method == method and trace.variables == ("x", "y")
    assert trace.options["max_iter"] == 7 and trace.options["lr"] == 1e-3


def test_iterations_count_steps_not_rows():
    trace = run(problem(BOWL), [15, 15], "gd", Options(max_iter=5))
    assert trace.status == "max_iter" and trace.iterations == 5 and trace.x.shape == (6, 2)
    np.testing.assert_allclose(trace.grad_norm, np.hypot(8 * trace.x[:, 0], 2 * trace.x[:, 1]))


def test_max_iter_zero_takes_no_step():
    trace = run(problem(BOWL), [15, 15], "newton", Options(max_iter=0))
    assert trace.status == "max_iter" and trace.iterations == 0
    assert trace.f.tolist() == [1125.0]


def test_trace_arrays_are_independent_copies():
    start = [15.0, 15.0]
    trace = run(problem(BOWL), start, "momentum", Options(max_iter=3))
    before = trace.x.copy(), trace.direction.copy(), trace.grad.copy()
    trace.x[0, 0] = 1234.0
    trace.direction[0, 1] = 1234.0
    trace.grad[1, 0] = 1234.0
    np.testing.assert_array_equal(trace.x[1:], before[0][1:])
    np.testing.assert_array_equal(trace.direction[1:], before[1][1:])
    np.testing.assert_array_equal(trace.grad[0], before[2][0])
    assert start == [15.0, 15.0]
    # the start array given by the caller is not aliased either
    x0 = np.array([15.0, 15.0])
    again = run(problem(BOWL), x0, "gd", Options(max_iter=2))
    x0[0] = -1.0
    assert again.x[0, 0] == 15.0


def test_angle_is_zero_for_gradient_descent():
    trace = run(problem("(1-x)^2 + 100(y-x^2)^2"), [-1.2, 1], "gd", Options(lr=1e-3, max_iter=20))
    angles = trace.angle_deg
    assert np.all(np.abs(angles[:-1]) < 1e-12)  # to rounding: not the ~1e-6 deg of an arccos
    assert math.isnan(angles[-1])


def test_angle_is_zero_when_newton_steps_along_minus_g():
    trace = run(problem("k^2 + f^2"), [1, 1], "newton")  # H = 2I: d = -g/2
    assert abs(trace.angle_deg[0]) < 1e-12


def test_angle_for_newton_by_hand():
    # On 4x^2 + y^2 at (15, 15): -g ~ (4, 1), Newton's step ~ (1, 1): cos = 5 / sqrt(34),
    # angle = atan(3/5)
    trace = run(problem(BOWL), [15, 15], "newton")
    assert trace.angle_deg[0] == pytest.approx(math.degrees(math.atan2(3, 5)), rel=1e-12)
    assert trace.dx_norm[0] == pytest.approx(15 * math.sqrt(2), rel=1e-15)
    assert trace.grad_norm[0] == pytest.approx(math.sqrt(15300), rel=1e-15)


def test_records_are_json_ready():
    trace = run(problem(BOWL), [15, 15], "gd-optimal", Options(max_iter=3))
    records = trace.records()
    text = json.dumps(records, allow_nan=False)  # no NaN may leak
    assert json.loads(text) == records
    assert [r["k"] for r in records] == [0, 1, 2, 3]
    first, last = records[0], records[-1]
    assert first["x"] == [15.0, 15.0] and first["f"] == 1125.0 and first["grad"] == [120.0, 30.0]
    assert first["direction"] == [-120.0, -30.0]
    assert first["step_size"] == pytest.approx(17 / 130)
    assert last["step_size"] is None and last["direction"] is None
    assert last["dx_norm"] is None and last["angle_deg"] is None
    assert set(first) == {"k", "x", "f", "grad", "grad_norm", "direction", "step_size", "dx_norm",
                          "angle_deg", "curvature", "decision"}
    assert first["curvature"] == 8 * 120 ** 2 + 2 * 30 ** 2  # g'Hg, the typed field behind the step
    assert last["curvature"] is None


def test_records_after_a_domain_error_use_none():
    trace = run(problem("x - log(x)"), [3], "gd", Options(lr=6))
    records = trace.records()
    json.dumps(records, allow_nan=False)
    assert records[-1]["x"] == [-1.0]
    assert records[-1]["f"] is None and records[-1]["grad"] == [None] and records[-1]["grad_norm"] is None


def test_columns_names_and_values():
    trace = run(problem(BOWL), [15, 15], "newton")
    columns = trace.columns()
    assert list(columns) == ["k", "x", "y", "f", "grad_norm", "step_size", "dx_norm", "angle_deg", "decision"]
    assert all(len(v) == trace.iterations + 1 for v in columns.values())
    assert list(columns["k"]) == [0, 1]
    assert list(columns["x"]) == [15.0, 0.0] and list(columns["f"]) == [1125.0, 0.0]


def test_columns_prefix_variables_named_like_fixed_columns():
    trace = run(problem("k^2 + 2f^2 + z^2"), [1, 2, 3], "newton")
    assert trace.variables == ("f", "k", "z")
    columns = trace.columns()
    assert list(columns)[:4] == ["k", "x:f", "x:k", "z"]
    assert list(columns["x:f"]) == [1.0, 0.0] and list(columns["x:k"]) == [2.0, 0.0]
    assert list(columns["k"]) == [0, 1]
    assert list(columns["f"]) == [2 * 1**2 + 2**2 + 3**2, 0.0]  # f=1, k=2, z=3


# --------------------------------------------------------------------------------------------
# Every status
# --------------------------------------------------------------------------------------------

def test_status_converged():
    trace = run(problem(BOWL), [15, 15], "newton")
    assert trace.status == "converged" and "converged in 1 step" in trace.message


@pytest.mark.parametrize("method", list(METHODS))
def test_start_at_a_stationary_point_converges_in_zero_steps(method):
    trace = run(problem("x^2 + y^2"), [0, 0], method)
    assert trace.status == "converged" and trace.iterations == 0
    assert trace.stationary_point == "minimum"
    assert trace.x.shape == (1, 2) and math.isnan(trace.step_size[0])


def test_status_max_iter():
    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.25, max_iter=10))
    assert trace.status == "max_iter" and trace.iterations == 10
    assert "max_iter = 10" in trace.message
    assert trace.stationary_point is None


def test_status_diverged_when_f_blows_up():
    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.26))
    assert trace.status == "diverged" and "f went from 1125" in trace.message


def test_status_diverged_when_f_overflows_after_a_step():
    # f = x^4 from 1e70, lr = 100: x_1 = 1e70 - 100 * 4e210 = -4e212, where x^4 overflows
    trace = run(problem("x^4"), [1e70], "gd", Options(lr=100))
    assert trace.status == "diverged" and trace.iterations == 1
    assert "overflowed" in trace.message
    assert trace.x[1, 0] == pytest.approx(-4e212)
    assert math.isnan(trace.f[1]) and np.isnan(trace.grad[1]).all()


def test_overflow_at_the_start_is_a_domain_error():
    # nothing has blown up yet: f is just not finite at x_0
    trace = run(problem("exp(x)"), [1000], "gd")
    assert trace.status == "domain_error" and trace.iterations == 0
    assert "overflowed" in trace.message
    assert math.isnan(trace.f[0]) and np.isnan(trace.grad[0]).all()


def test_status_diverged_when_the_iterate_overflows():
    # f = exp(x) from 709 (f = g = 8.2e307): x_1 = 709 - 100 * 8.2e307 = -inf
    trace = run(problem("exp(x)"), [709], "gd", Options(lr=100))
    assert trace.status == "diverged" and trace.iterations == 1
    assert "overflowed" in trace.message
    assert trace.x[-1, 0] == -math.inf and math.isnan(trace.f[-1])


def test_status_diverged_below_an_unbounded_function():
    trace = run(problem("x^3"), [-1], "gd")
    assert trace.status == "diverged"
    assert trace.f[-1] < -1e12


def test_status_singular_hessian_exactly():
    # f = x^2 + y: H = [[2, 0], [0, 0]] everywhere and g = (2x, 1) never vanishes
    trace = run(problem("x^2 + y"), [1, 1], "newton")
    assert trace.status == "singular_hessian" and trace.iterations == 0
    assert "singular" in trace.message and "(1, 1)" in trace.message


def test_status_singular_hessian_at_a_degenerate_start():
    # x^4 + y^2 at (0, 1): g = (0, 2), H = diag(0, 2)
    trace = run(problem("x^4 + y^2"), [0, 1], "newton")
    assert trace.status == "singular_hessian"


@pytest.mark.parametrize("text, start", [("x^2 - y^2", [1, 1]), ("-x^2", [2]), ("-x^2 - y^2", [1, 3])])
def test_status_negative_curvature(text, start):
    trace = run(problem(text), start, "gd-optimal")
    assert trace.status == "negative_curvature" and trace.iterations == 0
    assert "g'Hg" in trace.message


def test_status_domain_error_when_a_step_leaves_the_domain():
    # f = x - log x, g(3) = 2/3; lr = 6: x_1 = 3 - 6 * 2/3 = -1, where log is undefined
    trace = run(problem("x - log(x)"), [3], "gd", Options(lr=6))
    assert trace.status == "domain_error" and trace.iterations == 1
    assert trace.x[1, 0] == pytest.approx(-1.0)
    assert math.isnan(trace.f[1]) and np.isnan(trace.grad[1]).all()
    assert trace.step_size[0] == 6.0 and math.isnan(trace.step_size[1])
    assert "not defined" in trace.message and "x_1" in trace.message


@pytest.mark.parametrize("text, start", [("sqrt(x)", [-1]), ("log(x) + y^2", [0, 1]), ("1/x", [0])])
def test_status_domain_error_at_the_start(text, start):
    for method in METHODS:
        trace = run(problem(text), start, method)
        assert trace.status == "domain_error" and trace.iterations == 0, method
        assert math.isnan(trace.f[0])
        assert "x_0" in trace.message


def test_status_domain_error_from_the_hessian():
    # f = x^(3/2): f and g are defined at 0, H = 3/(4 sqrt(x)) is not
    trace = run(problem("x^(3/2) - x"), [0], "newton")
    assert trace.status == "domain_error" and trace.iterations == 0


def test_status_line_search_failed_when_no_halving_is_allowed():
    # 4x^2 + y^2 from (15, 15) along -g = (-120, -30): eta = 1 -> f(-105, -15) = 44325 and
    # eta = 1/2 -> f(-45, 0) = 8100, both above f = 1125; one halving allowed, so it gives up.
    trace = run(problem(BOWL), [15, 15], "gd-armijo", Options(max_backtracks=1))
    assert trace.status == "line_search_failed" and trace.iterations == 0
    assert "after 1 reductions" in trace.message


def test_a_constant_added_to_f_does_not_change_the_line_search():
    # f = 3x^2 + 1e8, g = 6x. From x: eta = 1 -> -5x, 1/2 -> -2x (f up), 1/4 -> -x/2 (accepted),
    # so x_k = 0.7 (-1/2)^k. Once the true decrease 3x^2 is below the float spacing at 1e8, f
    # cannot tell the trial from x: the trial is then judged by ||g|| (3|x| < 6|x| at eta = 1/4),
    # so the iterates are exactly those of 3x^2 all the way to tol (before: line_search_failed).
    shifted = run(problem("3x^2 + 1e8"), [0.7], "gd-armijo", Options(tol=1e-14))
    plain = run(problem("3x^2"), [0.7], "gd-armijo", Options(tol=1e-14))
    assert shifted.status == plain.status == "converged" and shifted.stationary_point == "minimum"
    np.testing.assert_array_equal(shifted.x, plain.x)
    K = shifted.iterations
    np.testing.assert_allclose(shifted.x[:, 0], 0.7 * (-0.5) ** np.arange(K + 1), rtol=1e-15)
    by_gradient = [k for k, d in enumerate(shifted.decision) if "accepted on ||g||" in d]
    assert by_gradient and all(3 * shifted.x[k, 0] ** 2 < 64 * np.spacing(1e8) for k in by_gradient)
    assert not any("accepted on ||g||" in d for d in plain.decision)


@pytest.mark.parametrize("text", ["x^2 + 10y^2", "x^2 + 10y^2 + 1"])
def test_gd_armijo_converges_with_or_without_a_constant(text):
    trace = run(problem(text), [1, 1], "gd-armijo")
    assert trace.status == "converged" and trace.stationary_point == "minimum", trace.message


FREUDENSTEIN_ROTH = "(-13+x+((5-y)*y-2)*y)^2+(-29+x+((y+1)*y-14)*y)^2"


@pytest.mark.parametrize("method", ["newton-damped", "bfgs", "newton"])
def test_freudenstein_roth_local_minimum_is_reached_not_a_line_search_failure(method):
    """From (0.5, -2) the local minimum (11.41, -0.897), f = 48.98: f has no digits left to
    resolve the last decreases (before: line_search_failed at ||g|| = 3.8e-7)."""
    trace = run(problem(FREUDENSTEIN_ROTH), [0.5, -2], method)
    assert trace.status == "converged" and trace.stationary_point == "minimum", trace.message
    np.testing.assert_allclose(trace.x[-1], [11.4128, -0.896805], rtol=1e-5)
    assert trace.f[-1] == pytest.approx(48.9842536792, rel=1e-9)


PRECISION_LIMITED = "(x^2 - 2)^2 + 100000000"


def test_status_precision_limit_when_neither_f_nor_g_can_resolve_a_step():
    # The minimum sqrt(2) is no float: at the nearest floats ||g|| = 4x|x^2 - 2| is about 1e-15,
    # above tol = 1e-20; the 1e8 in f hides every change of f there, and no trial step (the
    # neighbouring floats, or x itself) has a smaller ||g||. So the run ends at the precision limit.
    trace = run(problem(PRECISION_LIMITED), [1.5], "gd-armijo", Options(tol=1e-20))
    assert trace.status == "precision_limit", trace.message
    assert abs(trace.x[-1, 0] - np.sqrt(2)) <= 4 * np.spacing(np.sqrt(2))
    assert 1e-20 < trace.grad_norm[-1] < 1e-13
    assert "precision limit" in trace.message and "cannot resolve" in trace.message


def test_status_stalled_when_the_step_is_below_the_float_spacing():
    """Seed 002's 'floating-point underflow': lr 1e-17 on x^2 + y^2 from (1, 1) moves x by 2e-17,
    below the spacing 2.2e-16 at 1: x_1 = x_0, and a fixed-rate step from the same x is the same."""
    trace = run(problem("x^2 + y^2"), [1, 1], "gd", Options(lr=1e-17))
    assert trace.status == "stalled" and trace.iterations == 1
    np.testing.assert_array_equal(trace.x[1], trace.x[0])
    assert "2.8e-17" in trace.message and "2.2e-16" in trace.message  # ||Δx|| = 1e-17 ||(2, 2)||
    big = run(problem("1e-10x^2"), [1e6], "gd", Options(lr=1e-12))  # step 2e-16 at 1e6 (spacing 1.2e-10)
    assert big.status == "stalled" and big.iterations == 1


def test_momentum_is_not_stalled_while_its_velocity_can_still_move_x():
    """Heavy ball from a step below the spacing: the velocity grows towards g/(1 - beta), so x
    may start moving later; it is only called stalled after STALL_STEPS unchanged steps."""
    trace = run(problem("x^2 + y^2"), [1, 1], "momentum", Options(lr=1e-17, beta=0.5, max_iter=500))
    assert trace.status == "stalled" and trace.iterations == STALL_STEPS
    moving = run(problem("x^2 + y^2"), [1, 1], "momentum", Options(lr=5e-17, beta=0.9, max_iter=300))
    assert moving.status == "max_iter" and not np.array_equal(moving.x[-1], moving.x[0])


def test_a_flat_asymptote_is_not_a_minimum():
    """exp(x) driven to the left: ||g|| = e^x <= tol at x ~ -18.4, where H = e^x too. Newton steps
    from there have length 1 for ever: a flat region, no stationary point."""
    trace = run(problem("exp(x)"), [0], "newton-damped")
    assert trace.status == "converged" and trace.stationary_point == "flat", trace.message
    assert "flat region" in trace.message
    quartic = run(problem("x^4"), [1], "gd-optimal")  # a true (degenerate) minimum at 0
    assert quartic.status == "converged" and quartic.stationary_point == "degenerate"
    assert "shrink towards a point where H is singular" in quartic.message


def test_one_conditioning_threshold_for_newton_and_classification():
    """H = diag(2e12, 2): kappa = 1e12 < 1e13, so Newton solves it and the end is a minimum
    (before: 'degenerate stationary point (H singular there)')."""
    trace = run(problem("1000000000000x^2 + y^2"), [1, 1], "newton")
    assert trace.status == "converged" and trace.stationary_point == "minimum"
    assert classify_stationary_point(np.diag([2e12, 2.0])) == "minimum"
    assert classify_stationary_point(np.diag([1e13, 1.0])) == "minimum"  # kappa = 1e13: still solved ...
    assert classify_stationary_point(np.diag([1e13, 0.99])) == "degenerate"  # ... and just beyond


def test_gd_optimal_calls_a_curvature_that_is_zero_to_rounding_negative_curvature():
    """sqrt(x^2 + y^2) along its own gradient is a straight line: g'Hg = 0 exactly; computed it
    may come out as 5e-35, which made eta = 2e34 and a 'diverged' run."""
    trace = run(problem("sqrt(x^2+y^2)"), [1, 1], "gd-optimal")
    assert trace.status == "negative_curvature", trace.message
    trace = run(problem("sqrt(x^2+y^2)"), [0.3, 1.7], "gd-optimal")
    assert trace.status == "negative_curvature", trace.message


def test_every_status_is_known():
    provoked = {
        run(problem(BOWL), [15, 15], "newton").status,
        run(problem(BOWL), [15, 15], "gd", Options(lr=0.25, max_iter=3)).status,
        run(problem(BOWL), [15, 15], "gd", Options(lr=0.26)).status,
        run(problem("x^2 + y"), [1, 1], "newton").status,
        run(problem("x^2 - y^2"), [1, 1], "gd-optimal").status,
        run(problem("sqrt(x)"), [-1], "gd").status,
        run(problem(BOWL), [15, 15], "gd-armijo", Options(max_backtracks=1)).status,
        run(problem(BOWL), [15, 15], "gd", deadline=time.thread_time() - 1).status,
        run(problem(PRECISION_LIMITED), [1.5], "gd-armijo", Options(tol=1e-20)).status,
        run(problem("x^2 + y^2"), [1, 1], "gd", Options(lr=1e-17)).status,
    }
    assert provoked == set(STATUSES)


# -- the work budget ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["deadline", "wall_deadline"])
def test_a_deadline_already_past_stops_at_the_start_with_time_limit(which):
    past = {"deadline": time.thread_time() - 1, "wall_deadline": time.monotonic() - 1}[which]
    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.1), **{which: past})
    assert trace.status == "time_limit" and trace.iterations == 0
    assert trace.message.startswith("stopped after") and "CPU-s" in trace.message and "at k = 0" in trace.message
    assert trace.f[0] == 4 * 225 + 225 and trace.seconds >= 0


def test_the_deadline_is_checked_before_every_step(monkeypatch):
    """A fake CPU clock: the run may take exactly 5 steps before its deadline."""
    ticks = iter(range(1000))
    monkeypatch.setattr(importlib.import_module("core.run"), "time",
                        SimpleNamespace(thread_time=lambda: float(next(ticks)), monotonic=lambda: 0.0))
    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.01), deadline=6.0)
    # clock: 0 at the start, then one reading per step check (1, 2, ...): steps k = 0..4 pass
    assert trace.status == "time_limit" and trace.iterations == 5
    expected = run(problem(BOWL), [15, 15], "gd", Options(lr=0.01, max_iter=5))
    np.testing.assert_array_equal(trace.x, expected.x)  # the same iterates, only fewer


def test_should_stop_cancels_the_run_without_a_trace():
    calls = []

    def stop_on_third_poll() -> bool:
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(RunCancelled):
        run(problem(BOWL), [15, 15], "gd", Options(lr=0.01, max_iter=10_000), should_stop=stop_on_third_poll)
    assert len(calls) == 3  # polled every STOP_CHECK_EVERY steps, not every step


def test_no_budget_no_change():
    assert run(problem(BOWL), [15, 15], "gd-optimal", deadline=time.thread_time() + 3600,
               should_stop=lambda: False).x.tolist() == run(problem(BOWL), [15, 15], "gd-optimal").x.tolist()


# --------------------------------------------------------------------------------------------
# Stationary points
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, start, method, kind", [
    (BOWL, [15, 15], "newton", "minimum"),
    ("-x^2 - y^2", [1, 1], "newton", "maximum"),
    ("x^2 - y^2", [1, 1], "newton", "saddle"),
    # gd-optimal from (0, 1): g = (0, 2), g'Hg = 8, eta = 1/2 lands exactly on (0, 0), H = diag(0, 2)
    ("x^4 + y^2", [0, 1], "gd-optimal", "degenerate"),
    ("x^4 + y^2", [0, 0], "gd", "degenerate"),
])
def test_stationary_kinds_after_convergence(text, start, method, kind):
    trace = run(problem(text), start, method)
    assert trace.status == "converged"
    assert trace.stationary_point == kind
    assert kind in trace.message


def test_a_variable_absent_from_f_gives_a_degenerate_point():
    trace = run(problem("x^2", ("x", "y")), [1, 5], "gd")
    assert trace.status == "converged" and trace.stationary_point == "degenerate"
    assert trace.final_x[1] == 5.0


def test_no_classification_unless_converged():
    assert run(problem(BOWL), [15, 15], "gd", Options(max_iter=2)).stationary_point is None


@pytest.mark.parametrize("matrix, kind", [
    (np.diag([1.0, 2.0]), "minimum"),
    (np.diag([2.0, 2e9]), "minimum"),  # ill-conditioned is not singular
    (np.diag([-1.0, -3.0]), "maximum"),
    (np.diag([1.0, -1.0]), "saddle"),
    (np.diag([1.0, -1.0, 0.0]), "saddle"),
    (np.diag([1.0, 0.0]), "degenerate"),
    (np.diag([-1.0, 0.0]), "degenerate"),
    (np.zeros((2, 2)), "degenerate"),
    (np.array([[1.0, 1.0], [1.0, 1.0]]), "degenerate"),
    (np.array([[2.0, 1.0], [1.0, 2.0]]), "minimum"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "saddle"),
    (np.array([[12.0]]), "minimum"),
    (np.array([[-1e-3]]), "maximum"),
])
def test_classify_stationary_point(matrix, kind):
    assert kind in STATIONARY_KINDS
    assert classify_stationary_point(matrix) == kind


def test_classification_is_invariant_under_rotation():
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    for eigenvalues, kind in [([1, 2, 3, 4], "minimum"), ([-1, -2, -3, -4], "maximum"),
                              ([1, -2, 3, 4], "saddle"), ([0, 2, 3, 4], "degenerate")]:
        assert classify_stationary_point(q @ np.diag(eigenvalues) @ q.T) == kind


# --------------------------------------------------------------------------------------------
# Caller mistakes raise; numeric trouble never does
# --------------------------------------------------------------------------------------------

def test_caller_mistakes_raise_options_error():
    p = problem(BOWL)
    with pytest.raises(OptionsError, match="2 variables"):
        run(p, [1, 2, 3], "gd")
    with pytest.raises(OptionsError, match="finite"):
        run(p, [math.nan, 1], "gd")
    with pytest.raises(OptionsError, match="unknown method"):
        run(p, [1, 1], "sgd")


FUNCTIONS = ["1e200 x^2 + y^2", "x^2 + y", "log(x) + y^2", "sqrt(x) + abs(y)", "1/x + y^2", "exp(x) + y^2", "x^3 - 3x y^2",
             "sin(x) cos(y)", "-x^2 - y^2", "x^4 + y^4", "tan(x) + y^2", "x y", "1e9 x^2 + 1e-9 y^2",
             "atan(x) + tanh(y)", "(x^2 + y^2)^-1", "x^100 + y^2"]


@settings(max_examples=60, deadline=None)
@given(text=st.sampled_from(FUNCTIONS), method=st.sampled_from(list(METHODS)),
       start=st.lists(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 1e-300, -1.0, 1e150])),
                      min_size=2, max_size=2),
       lr=st.sampled_from([1e-3, 0.1, 10.0]))
@example(text="1e200 x^2 + y^2", method="trust-region", start=[0.0, 2.0], lr=0.001)  # found by hypothesis:
# the secular equation's bracket ran to |H| = 2e200 and its steps underflowed (ZeroDivisionError)
def test_a_failing_method_never_raises(text, method, start, lr):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a numpy overflow warning escapes
        trace = run(problem(text), start, method, Options(lr=lr, max_iter=60))
        trace.records()
        trace.columns()
    assert trace.status in STATUSES
    assert trace.message
    assert trace.iterations == len(trace.x) - 1 <= 60
    if trace.stationary_point is not None:
        assert trace.status == "converged" and trace.stationary_point in STATIONARY_KINDS


@pytest.mark.parametrize("text, start, method, lr", [
    ("1e200 x^2 + y^2", [0.5, -2], "gd", 0.1),  # g'g overflows at the start
    ("1e200 x^2 + y^2", [-1e10, 3], "bfgs", 0.1),
    ("x^100 + y^2", [1, 1], "gd", 10.0),
    ("x^100 + y^2", [1, 1], "momentum", 10.0),
])
def test_overflowing_products_end_in_a_status_without_warnings(text, start, method, lr):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trace = run(problem(text), start, method, Options(lr=lr))
        records = trace.records()
    assert trace.status in {"diverged", "line_search_failed"}
    json.dumps(records, allow_nan=False)


def test_run_all_and_best_value():
    traces = run_all(problem(BOWL), [15, 15], ["gd", "newton", "gd-optimal"])
    assert list(traces) == ["gd", "newton", "gd-optimal"]
    assert traces["newton"].iterations == 1
    assert best_value(list(traces.values())) == 0.0
    partial = run(problem(BOWL), [15, 15], "gd", Options(max_iter=1))
    assert best_value([partial]) == pytest.approx(partial.f[-1])
    undefined = run(problem("sqrt(x)"), [-1], "gd")
    assert math.isnan(best_value([undefined]))
    assert best_value([undefined, partial]) == partial.f[-1]

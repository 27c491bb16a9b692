"""Step rules: the textbook facts, worked out by hand, and properties that must hold.

Running example: f = 4x^2 + y^2 from (15, 15): g = (8x, 2y) = (120, 30), H = diag(8, 2),
f(15, 15) = 1125.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import METHODS, Options, OptionsError, build_problem, get_method, run
from core.blocks import Batch, Counts, Work
from core.directions import InverseBFGS
from core.linalg import MAX_CONDITION
from core.methods import register
from core.stepsizes import Backtracking


@functools.lru_cache(maxsize=None)
def problem(text: str, variables: tuple[str, ...] | None = None):
    return build_problem(text, variables, timeout=None)


BOWL = "4x^2 + y^2"
ROSENBROCK = "(1-x)^2 + 100(y-x^2)^2"
WOOD = ("100(x2-x1^2)^2 + (1-x1)^2 + 90(x4-x3^2)^2 + (1-x3)^2"
        " + 10.1((x2-1)^2 + (x4-1)^2) + 19.8(x2-1)(x4-1)")


def rosenbrock(x: np.ndarray) -> float:
    return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)


def rosenbrock_g_h(x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    g = np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])
    h = np.array([[1200 * x**2 - 400 * y + 2, -400 * x], [-400 * x, 200.0]])
    return g, h


def test_registry_holds_the_methods():
    assert list(METHODS) == ["gd", "gd-optimal", "newton", "gd-armijo", "newton-damped", "momentum", "bfgs",
                             "nesterov", "adam", "gd-exact", "cg", "lbfgs", "trust-region"]
    for method_id, method in METHODS.items():
        assert method.id == method_id and get_method(method_id) is method
        assert method.label and method.update_latex and method.summary
        assert set(method.options_used) <= set(Options.names())
    assert len({m.color for m in METHODS.values()}) == len(METHODS)  # one colour per method, never repeated
    assert METHODS["newton"].needs_hessian and METHODS["gd-optimal"].needs_hessian
    assert not METHODS["gd"].needs_hessian and not METHODS["bfgs"].needs_hessian and not METHODS["cg"].needs_hessian
    assert METHODS["gd"].options_used == ("lr",) and METHODS["adam"].options_used == ("beta1", "beta2", "eps", "lr")


def test_unknown_method_and_duplicate_registration():
    with pytest.raises(OptionsError, match="unknown method 'nope'"):
        get_method("nope")
    gd = METHODS["gd"]
    with pytest.raises(ValueError, match="registered twice"):
        register(replace(gd, color="#000000"))
    with pytest.raises(ValueError, match="already 'gd'"):
        register(replace(gd, id="gd-again"))
    assert METHODS["gd"] is gd and "gd-again" not in METHODS


def at_point(p, x, options=None):
    """One start as the blocks see it: the batch of one at x, and counted work."""
    x = np.asarray(x, dtype=float)
    at = Batch(x[None], np.array([p.value(x)]), p.gradient(x)[None], p.hessian(x)[None], 0)
    return at, Work(p, options or Options(), Counts.zeros(1))


def backtracking(p, x, direction, options=None):
    """(eta, backtracks, by_gradient), or the (status, message) that stopped the search."""
    at, work = at_point(p, x, options)
    with np.errstate(all="ignore"):  # as in the run loop: an undefined trial point is a nan, not a warning
        result = Backtracking().size(at, np.asarray(direction, dtype=float)[None], {}, work)
    if result.stops:
        return result.stops[0]
    return float(result.eta[0]), int(result.info["backtracks"][0]), bool(result.info["by_gradient"][0])


# --------------------------------------------------------------------------------------------
# Newton on the bowl
# --------------------------------------------------------------------------------------------

def test_newton_solves_a_quadratic_in_one_step():
    trace = run(problem(BOWL), [15, 15], "newton")
    assert trace.status == "converged" and trace.iterations == 1
    # d = -H^-1 g = -(120/8, 30/2) = (-15, -15)
    np.testing.assert_array_equal(trace.direction[0], [-15.0, -15.0])
    assert trace.step_size[0] == 1.0
    np.testing.assert_array_equal(trace.x[1], [0.0, 0.0])
    assert trace.f[1] == 0.0


# --------------------------------------------------------------------------------------------
# Gradient descent with the optimal (exact) rate on the bowl
# --------------------------------------------------------------------------------------------

def test_gd_optimal_first_step_by_hand():
    # eta = g'g / g'Hg = (120^2 + 30^2) / (8*120^2 + 2*30^2) = 15300 / 117000 = 17/130
    assert Fraction(120**2 + 30**2, 8 * 120**2 + 2 * 30**2) == Fraction(17, 130)
    trace = run(problem(BOWL), [15, 15], "gd-optimal")
    assert trace.step_size[0] == pytest.approx(17 / 130, rel=1e-15)
    np.testing.assert_array_equal(trace.direction[0], [-120.0, -30.0])
    # x_1 = 15 - 17/130 * 120 = -9/13, y_1 = 15 - 17/130 * 30 = 144/13
    assert trace.x[1] == pytest.approx([-9 / 13, 144 / 13], rel=1e-14)


def test_gd_optimal_alternates_two_rates_and_contracts_f_by_36_over_325():
    trace = run(problem(BOWL), [15, 15], "gd-optimal", Options(tol=1e-6))
    assert trace.status == "converged"
    K = trace.iterations
    assert K >= 10
    # From x_1, g is parallel to (-1, 4): eta = 17 / (8 + 32) = 17/40; then back to the (1, 1)
    # direction of x_0 (x_2 = 36/325 * x_0), and so on.
    for k in range(K):
        expected = 17 / 130 if k % 2 == 0 else 17 / 40
        assert trace.step_size[k] == pytest.approx(expected, rel=1e-9), k
        assert trace.f[k + 1] / trace.f[k] == pytest.approx(36 / 325, rel=1e-9), k
    assert trace.x[2] == pytest.approx([108 / 65, 108 / 65], rel=1e-13)
    assert trace.f[1] == pytest.approx(1125 * 36 / 325, rel=1e-14)


def test_gd_optimal_kantorovich_bound_on_the_bowl():
    # kappa = 4: f - f* shrinks at least by ((kappa - 1)/(kappa + 1))^2 = 9/25 per step;
    # 36/325 is well inside the bound.
    trace = run(problem(BOWL), [15, 15], "gd-optimal")
    ratios = trace.f[1:] / trace.f[:-1]
    assert (ratios <= 9 / 25 + 1e-12).all()


def _random_spd_quadratic(rng: np.random.Generator, n: int) -> tuple[str, np.ndarray, np.ndarray]:
    """f = 1/2 x'Ax - b'x as text with exact decimal coefficients; returns (text, A, b)."""
    m = rng.integers(-3, 4, size=(n, n)).astype(float)
    a = m @ m.T + np.diag(rng.integers(1, 4, size=n).astype(float))
    b = rng.integers(-5, 6, size=n).astype(float)
    terms = []
    for i in range(n):
        terms.append(f"({a[i, i] / 2:g})*x{i + 1}^2")
        for j in range(i + 1, n):
            terms.append(f"({a[i, j]:g})*x{i + 1}*x{j + 1}")
        terms.append(f"({-b[i]:g})*x{i + 1}")
    return " + ".join(terms), a, b


@pytest.mark.parametrize("seed", range(6))
def test_exact_step_makes_consecutive_gradients_orthogonal(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    text, a, b = _random_spd_quadratic(rng, n)
    p = problem(text)
    assert p.is_quadratic
    x0 = rng.uniform(-5, 5, n)
    np.testing.assert_allclose(p.hessian(x0), a, rtol=1e-14)  # the text says what we meant
    trace = run(p, x0, "gd-optimal", Options(max_iter=8, tol=1e-10))
    for k in range(trace.iterations):
        g0, g1 = trace.grad[k], trace.grad[k + 1]
        if np.linalg.norm(g1) < 1e-9:
            break
        # eta = g'g / g'Ag is the exact line minimiser
        assert trace.step_size[k] == pytest.approx(g0 @ g0 / (g0 @ a @ g0), rel=1e-12)
        assert abs(g1 @ g0) <= 1e-9 * np.linalg.norm(g0) * np.linalg.norm(g1)
    # the minimiser solves A x = b
    long = run(p, x0, "newton")
    assert long.status == "converged"
    np.testing.assert_allclose(long.final_x, np.linalg.solve(a, b), rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------------------------
# Fixed-rate gradient descent on the bowl: x_{k+1} = (1 - 8 eta) x_k, y_{k+1} = (1 - 2 eta) y_k
# --------------------------------------------------------------------------------------------

def test_gd_lr_0_2_converges_geometrically():
    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.2))
    assert trace.status == "converged"
    k = np.arange(trace.iterations + 1)
    np.testing.assert_allclose(trace.x[:, 0], 15 * (-0.6) ** k, rtol=1e-12)
    np.testing.assert_allclose(trace.x[:, 1], 15 * 0.6 ** k, rtol=1e-12)
    # ||g_k|| = 0.6^k sqrt(120^2 + 30^2) <= 1e-8 first at this k:
    assert trace.iterations == math.ceil(math.log(math.sqrt(15300) / 1e-8) / math.log(1 / 0.6))


def test_gd_lr_0_25_oscillates_forever():
    # 1 - 8 * 0.25 = -1: x flips sign with constant magnitude; y halves.
    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.25))
    assert trace.status == "max_iter" and trace.iterations == 1000
    k = np.arange(1001)
    np.testing.assert_array_equal(trace.x[:, 0], 15.0 * (-1.0) ** k)
    assert trace.x[1, 1] == 7.5 and trace.x[2, 1] == 3.75
    assert trace.f[-1] == pytest.approx(900.0)  # 4 * 15^2, y is gone


def test_gd_lr_0_26_diverges():
    # |1 - 8 * 0.26| = 1.08 > 1
    from core.run import BLOW_UP_FACTOR

    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.26))
    assert trace.status == "diverged"
    assert "diverged" in trace.message
    assert trace.iterations < 1000
    magnitudes = np.abs(trace.x[:, 0])
    assert (np.diff(magnitudes) > 0).all()
    np.testing.assert_allclose(magnitudes, 15 * 1.08 ** np.arange(trace.iterations + 1), rtol=1e-9)
    # it stops at the first iterate whose f moved by more than BLOW_UP_FACTOR * |f_0|
    assert trace.f[-1] - 1125 > BLOW_UP_FACTOR * 1125 >= trace.f[-2] - 1125


def test_gd_lr_0_01_crawls():
    # y shrinks by 0.98 per step: after 1000 steps |g_y| = 2 * 15 * 0.98^1000 ~ 5e-8 > tol
    trace = run(problem(BOWL), [15, 15], "gd", Options(lr=0.01))
    assert trace.status == "max_iter" and trace.iterations == 1000
    assert trace.x[-1, 1] == pytest.approx(15 * 0.98**1000, rel=1e-9)
    assert trace.grad_norm[-1] > 1e-8
    assert trace.stationary_point is None


def test_fixed_rate_stability_threshold_is_two_over_lambda_max():
    p = problem(BOWL)  # lambda_max = 8: stable iff lr < 2/8
    assert run(p, [1, 1], "gd", Options(lr=0.249, max_iter=5000)).status == "converged"
    assert run(p, [1, 1], "gd", Options(lr=0.251, max_iter=5000)).status == "diverged"


# --------------------------------------------------------------------------------------------
# An ill-conditioned quadratic: x^2 + 1e9 y^2 from (1, 1)
# --------------------------------------------------------------------------------------------

def test_ill_conditioned_newton_step_is_exactly_minus_one_minus_one():
    p = problem("x^2 + 1e9 y^2")
    trace = run(p, [1, 1], "newton")
    np.testing.assert_array_equal(trace.direction[0], [-1.0, -1.0])
    assert trace.step_size[0] == 1.0
    assert trace.status == "converged" and trace.iterations == 1
    np.testing.assert_array_equal(trace.final_x, [0.0, 0.0])
    assert trace.stationary_point == "minimum"  # badly conditioned, but not singular


def test_ill_conditioned_gradient_direction_is_almost_pure_y():
    trace = run(problem("x^2 + 1e9 y^2"), [1, 1], "gd", Options(max_iter=1))
    d = trace.direction[0] / np.linalg.norm(trace.direction[0])
    assert d[0] == pytest.approx(-1e-9, rel=1e-6)  # -2 / sqrt(4 + 4e18)
    assert d[1] == pytest.approx(-1.0, rel=1e-15)
    # the angle between the gradient step and the Newton step (-1, -1) is ~45 degrees
    newton = np.array([-1.0, -1.0]) / math.sqrt(2)
    assert math.degrees(math.acos(d @ newton)) == pytest.approx(45.0, abs=1e-6)


# --------------------------------------------------------------------------------------------
# One dimension: optimal-rate GD is Newton
# --------------------------------------------------------------------------------------------

def test_one_dimension_gd_optimal_equals_newton():
    p = problem("x^4")
    newton = run(p, [1.0], "newton")
    optimal = run(p, [1.0], "gd-optimal")
    # f' = 4, f'' = 12 at x = 1: the step is -4/12 = -1/3, to x = 2/3; Newton gives x_k = (2/3)^k
    assert newton.dx[0, 0] == pytest.approx(-1 / 3, rel=1e-15)
    assert optimal.dx[0, 0] == pytest.approx(-1 / 3, rel=1e-15)
    assert optimal.x[1, 0] == pytest.approx(2 / 3, rel=1e-15)
    assert newton.iterations == optimal.iterations
    np.testing.assert_allclose(optimal.x, newton.x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(optimal.dx[:-1], newton.dx[:-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(newton.x[:, 0], (2 / 3) ** np.arange(newton.iterations + 1), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# A saddle: x^2 - y^2 from (1, 1)
# --------------------------------------------------------------------------------------------

def test_saddle_gd_optimal_stops_on_zero_curvature():
    # g = (2, -2), H = diag(2, -2): g'Hg = 8 - 8 = 0
    trace = run(problem("x^2 - y^2"), [1, 1], "gd-optimal")
    assert trace.status == "negative_curvature"
    assert trace.iterations == 0
    assert "g'Hg" in trace.message


def test_saddle_newton_jumps_to_the_saddle():
    trace = run(problem("x^2 - y^2"), [1, 1], "newton")
    assert trace.status == "converged" and trace.iterations == 1
    np.testing.assert_array_equal(trace.final_x, [0.0, 0.0])
    assert trace.stationary_point == "saddle"
    assert "saddle" in trace.message


def test_damped_newton_uses_the_absolute_hessian_at_a_saddle():
    # |H| = diag(2, 2): d = -(2/2, -2/2) = (-1, 1); eta = 1 gives f(0, 2) = -4, accepted
    trace = run(problem("x^2 - y^2"), [1, 1], "newton-damped", Options(max_iter=1))
    np.testing.assert_allclose(trace.direction[0], [-1.0, 1.0], rtol=1e-14)
    assert trace.step_size[0] == 1.0
    assert trace.decision[0].startswith("fallback")
    np.testing.assert_allclose(trace.x[1], [0.0, 2.0], atol=1e-14)


def test_damped_newton_floors_a_zero_eigenvalue():
    # f = x^2 + y at (1, 1): g = (2, 1), H = diag(2, 0) is not positive definite. The zero
    # eigenvalue is floored at 1e-8 * max|eigenvalue| = 2e-8: d = -(2/2, 1/2e-8) = (-1, -5e7),
    # a long but finite descent step, accepted at eta = 1.
    trace = run(problem("x^2 + y"), [1, 1], "newton-damped", Options(max_iter=1))
    assert trace.decision[0].startswith("fallback")
    assert trace.direction[0] == pytest.approx([-1.0, -5e7], rel=1e-12)
    assert trace.step_size[0] == 1.0


# --------------------------------------------------------------------------------------------
# Newton direction, line searches
# --------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.floats(-2, 2), st.floats(-1, 3))
def test_newton_direction_solves_h_d_equals_minus_g(x, y):
    g, h = rosenbrock_g_h(x, y)
    trace = run(problem(ROSENBROCK), [x, y], "newton", Options(max_iter=1))
    if trace.status == "singular_hessian":
        assert np.linalg.cond(h) > MAX_CONDITION / 10
        return
    if trace.status == "converged":  # only at (1, 1)
        return
    d = trace.direction[0]
    np.testing.assert_allclose(h @ d, -g, rtol=1e-6, atol=1e-8 * max(1.0, np.abs(g).max()))
    np.testing.assert_allclose(trace.grad[0], g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["gd-armijo", "newton-damped"])
def test_armijo_holds_at_every_accepted_step_on_rosenbrock(method):
    p = problem(ROSENBROCK)
    c1 = 1e-4
    trace = run(p, [-1.2, 1], method, Options(c1=c1))
    assert trace.iterations > 5
    for k in range(trace.iterations):
        x, d, eta = trace.x[k], trace.direction[k], trace.step_size[k]
        slope = trace.grad[k] @ d
        assert slope < 0, k
        assert trace.f[k] == pytest.approx(rosenbrock(x), rel=1e-12, abs=1e-300)
        assert trace.f[k + 1] <= trace.f[k] + c1 * eta * slope, k
        # backtracking from 1 by halving: eta is a power of 1/2 and is the first that passes
        j = -math.log2(eta)
        assert j == int(j) and 0 <= j <= 60, eta
        if eta < 1:
            assert p.value_or_inf(x + 2 * eta * d) > trace.f[k] + c1 * 2 * eta * slope, k


@pytest.mark.parametrize("method", ["bfgs", "lbfgs"])
def test_strong_wolfe_holds_at_every_accepted_step_on_rosenbrock(method):
    # Armijo at every step; the curvature condition |g(x + eta d)'d| <= c2 |g'd| wherever the
    # trace says Wolfe held, and it says so at nearly every step (1 is the first trial)
    p = problem(ROSENBROCK)
    c1, c2 = 1e-4, 0.9
    trace = run(p, [-1.2, 1], method, Options(c1=c1, c2=c2))
    assert trace.status == "converged" and trace.iterations > 10
    wolfe = trace.info["wolfe"][:-1]
    assert wolfe.mean() > 0.9
    for k in range(trace.iterations):
        d, eta = trace.direction[k], trace.step_size[k]
        slope = trace.grad[k] @ d
        assert slope < 0, k
        assert trace.f[k + 1] <= trace.f[k] + c1 * eta * slope, k
        if wolfe[k]:
            assert abs(trace.grad[k + 1] @ d) <= c2 * abs(slope), k
    assert (trace.step_size[:-1] == 1).mean() > 0.6  # the quasi-Newton step is mostly taken whole


@pytest.mark.parametrize("method", ["newton-damped", "bfgs", "newton", "lbfgs", "trust-region", "cg"])
def test_rosenbrock_converges_to_one_one(method):
    trace = run(problem(ROSENBROCK), [-1.2, 1], method)
    assert trace.status == "converged"
    np.testing.assert_allclose(trace.final_x, [1.0, 1.0], atol=1e-8)
    assert trace.f[-1] < 1e-16
    assert trace.stationary_point == "minimum"
    if method != "newton":  # line searches and accepted trust-region steps make f decrease monotonically
        assert (np.diff(trace.f) <= 0).all()


@pytest.mark.parametrize("method", ["newton-damped", "bfgs"])
def test_wood_function_reaches_its_minimum(method):
    trace = run(problem(WOOD), [-3, -1, -3, -1], method)
    assert trace.variables == ("x1", "x2", "x3", "x4")
    assert trace.f[0] == pytest.approx(19192.0)  # Moré, Garbow & Hillstrom
    assert trace.status == "converged"
    np.testing.assert_allclose(trace.final_x, [1, 1, 1, 1], atol=1e-7)
    assert trace.stationary_point == "minimum"


def test_wood_function_pure_newton_stops_at_the_non_optimal_saddle():
    # What actually happens: undamped Newton converges to the stationary point near f = 7.877
    # (the non-optimal region of MGH), which is a saddle.
    trace = run(problem(WOOD), [-3, -1, -3, -1], "newton")
    assert trace.status == "converged"
    assert trace.stationary_point == "saddle"
    x1, x2, x3, x4 = trace.final_x
    f = (100 * (x2 - x1**2) ** 2 + (1 - x1) ** 2 + 90 * (x4 - x3**2) ** 2 + (1 - x3) ** 2
         + 10.1 * ((x2 - 1) ** 2 + (x4 - 1) ** 2) + 19.8 * (x2 - 1) * (x4 - 1))
    g = [-400 * x1 * (x2 - x1**2) - 2 * (1 - x1),
         200 * (x2 - x1**2) + 20.2 * (x2 - 1) + 19.8 * (x4 - 1),
         -360 * x3 * (x4 - x3**2) - 2 * (1 - x3),
         180 * (x4 - x3**2) + 20.2 * (x4 - 1) + 19.8 * (x2 - 1)]
    assert f == pytest.approx(7.876, abs=0.01)
    assert trace.f[-1] == pytest.approx(f, rel=1e-12)
    assert np.linalg.norm(g) < 1e-8  # stationary by the hand gradient, not just the problem's
    assert x1 < 0 and x3 < 0  # the other side of the valley from (1, 1, 1, 1)


def test_backtracking_refuses_an_ascent_direction():
    p = problem(BOWL)
    x = np.array([1.0, 1.0])
    status, message = backtracking(p, x, p.gradient(x))
    assert status == "line_search_failed"
    assert "not a descent direction" in message


def test_backtracking_by_hand():
    # f = 4x^2 + y^2 at (1, 1), d = -g = (-8, -2), g'd = -68
    # eta = 1: (-7, -1) f = 197 > 5 - 68e-4; 0.5: (-3, 0) f = 36; 0.25: (-1, 0.5) f = 4.25 <= 5 - 0.0017
    p = problem(BOWL)
    x = np.array([1.0, 1.0])
    assert backtracking(p, x, -p.gradient(x)) == (0.25, 2, False)
    eta, backtracks, by_gradient = backtracking(p, x, -p.gradient(x), Options(shrink=0.1))
    assert (eta, backtracks, by_gradient) == (pytest.approx(0.1), 1, False)
    status, _ = backtracking(p, x, -p.gradient(x), Options(max_backtracks=1))
    assert status == "line_search_failed"


def test_backtracking_demands_sufficient_decrease_not_just_decrease():
    # f = x^2 at x = 1, d = -2, g'd = -4, c1 = 0.9: the test is x_t^2 <= 1 - 3.6 eta.
    # eta = 1: 1 > -2.6; 1/2: 0 > -0.8; 1/4: 0.25 > 0.1; 1/8: 0.5625 > 0.55; 1/16: 0.765625 <= 0.775
    p = problem("x^2")
    x = np.array([1.0])
    assert backtracking(p, x, -p.gradient(x), Options(c1=0.9, c2=0.95)) == (1 / 16, 4, False)


def test_backtracking_treats_undefined_points_as_failures():
    # f = x - log x at x = 3, g = 2/3, d = -6 g = -4: x + d = -1 is outside the domain (a failed
    # trial, not an error); eta = 1/2 gives x = 1, f = 1 < f(3) = 3 - log 3.
    p = problem("x - log(x)")
    x = np.array([3.0])
    eta, backtracks, _ = backtracking(p, x, -6 * p.gradient(x))
    assert (eta, backtracks) == (0.5, 1)


# --------------------------------------------------------------------------------------------
# Momentum and BFGS
# --------------------------------------------------------------------------------------------

def test_momentum_first_two_steps_by_hand():
    # lr = 0.05, beta = 0.5 on 4x^2 + y^2 from (15, 15):
    # v1 = -g0 = (-120, -30), x1 = (15, 15) + 0.05 v1 = (9, 13.5), g1 = (72, 27)
    # v2 = 0.5 v1 - g1 = (-132, -42), x2 = (9, 13.5) + 0.05 v2 = (2.4, 11.4)
    trace = run(problem(BOWL), [15, 15], "momentum", Options(lr=0.05, beta=0.5, max_iter=2))
    np.testing.assert_allclose(trace.direction[0], [-120, -30], rtol=1e-15)
    np.testing.assert_allclose(trace.x[1], [9, 13.5], rtol=1e-15)
    np.testing.assert_allclose(trace.grad[1], [72, 27], rtol=1e-15)
    np.testing.assert_allclose(trace.direction[1], [-132, -42], rtol=1e-15)
    np.testing.assert_allclose(trace.x[2], [2.4, 11.4], rtol=1e-14)
    assert trace.step_size[:2].tolist() == [0.05, 0.05]


def test_momentum_with_beta_zero_is_gradient_descent():
    p = problem(ROSENBROCK)
    a = run(p, [-1.2, 1], "momentum", Options(lr=1e-3, beta=0.0, max_iter=50))
    b = run(p, [-1.2, 1], "gd", Options(lr=1e-3, max_iter=50))
    np.testing.assert_array_equal(a.x, b.x)


def test_momentum_state_is_per_run():
    p = problem(BOWL)
    first = run(p, [15, 15], "momentum", Options(max_iter=3))
    second = run(p, [15, 15], "momentum", Options(max_iter=3))
    np.testing.assert_array_equal(first.x, second.x)


def test_bfgs_first_step_is_steepest_descent_then_the_secant_condition_holds():
    p = problem(ROSENBROCK)
    rule = InverseBFGS()
    state = rule.init(2, 1, Options())
    x0 = np.array([-1.2, 1.0])
    at0, work = at_point(p, x0)
    first = rule.propose(at0, state, work)
    np.testing.assert_array_equal(first.direction[0], -at0.g[0])
    assert rule.describe({"update": first.info["update"][0]}) == "initial B = I"
    x1 = x0 + 1e-3 * first.direction[0]
    at1, work = at_point(p, x1)
    second = rule.propose(at1, first.state, work)
    assert rule.describe({"update": second.info["update"][0]}) == "B updated"
    s, y = x1 - x0, at1.g[0] - at0.g[0]
    assert s @ y > 0
    b = second.state["inverse"][0]
    np.testing.assert_allclose(b @ y, s, rtol=1e-10)  # B_{k+1} y_k = s_k
    np.testing.assert_allclose(b, b.T, rtol=1e-12)
    assert (np.linalg.eigvalsh(b) > 0).all()


def test_bfgs_on_a_quadratic_converges_fast():
    trace = run(problem(BOWL), [15, 15], "bfgs")
    assert trace.status == "converged" and trace.iterations <= 15
    np.testing.assert_allclose(trace.final_x, [0, 0], atol=1e-8)


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, bad", [
    ("lr", 0.0), ("lr", -1.0), ("lr", math.inf), ("lr", math.nan),
    ("beta", -0.1), ("beta", 1.0), ("beta", math.nan),
    ("tol", 0.0), ("tol", -1e-8), ("tol", math.inf),
    ("max_iter", -1), ("max_iter", 100_001), ("max_iter", 1.5),
    ("c1", 0.0), ("c1", 1.0), ("c2", 1.0), ("beta1", 1.0), ("beta2", -0.1), ("eps", 0.0), ("memory", 0),
    ("radius", 0.0), ("memory", True),
    ("shrink", 0.0), ("shrink", 1.0),
    ("max_backtracks", 0), ("max_backtracks", 201), ("max_backtracks", 2.0),
])
def test_options_validation_names_the_option(name, bad):
    with pytest.raises(OptionsError) as info:
        Options(**{name: bad})
    assert f"option {name} " in str(info.value)
    assert repr(bad) in str(info.value)


def test_options_boundaries_are_accepted():
    Options(beta=0.0, max_iter=0, max_backtracks=1, tol=1e-300, lr=1e-12)
    Options(max_iter=100_000, max_backtracks=200, beta=0.999)
    assert Options.names() == ("lr", "beta", "beta1", "beta2", "eps", "tol", "max_iter", "c1", "c2", "shrink",
                               "max_backtracks", "memory", "radius")
    with pytest.raises(OptionsError, match="c2 must be larger than c1"):
        Options(c1=0.5, c2=0.5)


def test_newton_refuses_a_numerically_singular_hessian():
    # H = diag(2, 2e-14): condition number 1e14 > MAX_CONDITION
    trace = run(problem("x^2 + 1e-14 y^2"), [1, 1], "newton")
    assert trace.status == "singular_hessian"
    assert "numerically singular" in trace.message
    # ... but accepts a merely ill-conditioned one (condition 1e9, see above)
    assert run(problem("x^2 + 1e9 y^2"), [1, 1], "newton").status == "converged"


def test_newton_step_that_overflows_is_named_so_not_singular():
    # f = 1e300 x + 1e-10 x^2: H = 2e-10 is fine (condition 1), but H^-1 g = 5e309 is not a float
    trace = run(problem("1e300*x + 1e-10*x^2"), [1], "newton")
    assert trace.status == "diverged" and trace.iterations == 0
    assert "Newton step" in trace.message and "overflowed" in trace.message and "singular" not in trace.message


def test_damped_newton_names_the_true_reason_for_its_fallback():
    """Powell's badly scaled function from (0, 1): at k = 0 H is indefinite; from k = 13 H is
    positive definite but kappa = 1.1e13 > 1e13, which Newton's solve refuses. The decision said
    'H not positive definite' for both."""
    p = build_problem("(10000*x*y - 1)^2 + (exp(-x) + exp(-y) - 1.0001)^2", timeout=None)
    trace = run(p, [0, 1], "newton-damped", Options(max_iter=20))
    assert trace.decision[0].startswith("fallback |H| (H not positive definite, min eigenvalue -1.46")
    assert trace.decision[13].startswith("fallback |H| (H ill-conditioned, κ = 1.1e+13 > 1e+13)")
    hessian = p.hessian(trace.x[13])
    assert np.linalg.eigvalsh(hessian).min() > 0  # positive definite indeed

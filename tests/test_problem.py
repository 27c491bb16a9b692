"""Compiled f, g, H: values and shapes at points, grids, errors, LaTeX, is_quadratic.

Expected values come from derivatives worked out by hand (written out below in numpy).
"""

from __future__ import annotations

import functools
import pickle
import warnings

import numpy as np
import pytest
import sympy as sp

from core import EvaluationError, ParseError, build_problem, compile_derivation, derive


@functools.lru_cache(maxsize=None)
def problem(text: str, variables: tuple[str, ...] | None = None):
    return build_problem(text, variables, timeout=None)


@pytest.fixture(autouse=True)
def no_warnings():
    """Every numeric call in this file must stay silent (numpy warnings become errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)


# --------------------------------------------------------------------------------------------
# Values and shapes at points
# --------------------------------------------------------------------------------------------

def test_rosenbrock_at_the_classic_start():
    p = problem("(1-x)^2 + 100(y-x^2)^2")
    point = arr(-1.2, 1.0)
    # f = 2.2^2 + 100 * 0.44^2; g = (-2(1-x) - 400x(y-x^2), 200(y-x^2));
    # H = [[2 - 400(y - x^2) + 800x^2, -400x], [-400x, 200]]
    assert p.value(point) == pytest.approx(4.84 + 19.36, rel=1e-14)
    g = p.gradient(point)
    assert g.shape == (2,) and g.dtype == float
    assert g == pytest.approx([-4.4 - 211.2, -88.0], rel=1e-13)
    h = p.hessian(point)
    assert h.shape == (2, 2) and h.dtype == float
    assert h == pytest.approx(np.array([[1330.0, 480.0], [480.0, 200.0]]), rel=1e-13)
    assert p.value(arr(1, 1)) == 0 and p.gradient(arr(1, 1)) == pytest.approx([0, 0], abs=0)


def test_constant_hessian_entries_come_back_as_a_full_float_matrix():
    p = problem("4x^2 + y^2")
    for point in (arr(15, 15), arr(0, 0), arr(-3.5, 1e6)):
        h = p.hessian(point)
        assert h.shape == (2, 2) and h.dtype == float
        np.testing.assert_array_equal(h, [[8.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(p.gradient(arr(15, 15)), [120.0, 30.0])
    assert p.value(arr(15, 15)) == 1125.0
    # mixed term: H has a constant off-diagonal, a zero diagonal
    q = problem("x y + 3x")
    np.testing.assert_array_equal(q.hessian(arr(2, 5)), [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(q.gradient(arr(2, 5)), [8.0, 2.0])


def test_constant_function_has_zero_gradient_and_hessian():
    p = problem("x + y - x - y + 3", ("x", "y"))
    assert p.n == 2
    assert p.value(arr(1, 2)) == 3.0
    np.testing.assert_array_equal(p.gradient(arr(1, 2)), [0.0, 0.0])
    np.testing.assert_array_equal(p.hessian(arr(1, 2)), np.zeros((2, 2)))


def test_one_variable_shapes():
    p = problem("x^3 - 2x")
    assert p.n == 1 and p.variable_names == ("x",)
    assert p.value(arr(2.0)) == 4.0
    g, h = p.gradient(arr(2.0)), p.hessian(arr(2.0))
    assert g.shape == (1,) and h.shape == (1, 1)
    assert g[0] == 10.0 and h[0, 0] == 12.0


def chained_rosenbrock_text(n: int) -> str:
    return " + ".join(f"100(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))


def chained_rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """f = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 with g and H by hand."""
    n = x.size
    f = float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
    g = np.zeros(n)
    h = np.zeros((n, n))
    for i in range(n - 1):
        r = x[i + 1] - x[i] ** 2
        g[i] += -400 * x[i] * r - 2 * (1 - x[i])
        g[i + 1] += 200 * r
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return f, g, h


def test_twenty_variable_chained_rosenbrock():
    p = problem(chained_rosenbrock_text(20))
    assert p.variable_names == tuple(f"x{i}" for i in range(1, 21))
    rng = np.random.default_rng(20)
    for point in (np.ones(20), rng.uniform(-2, 2, 20), np.linspace(-1.2, 1.3, 20)):
        f, g, h = chained_rosenbrock(point)
        assert p.value(point) == pytest.approx(f, rel=1e-12)
        assert p.gradient(point).shape == (20,)
        assert p.hessian(point).shape == (20, 20)
        np.testing.assert_allclose(p.gradient(point), g, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(p.hessian(point), h, rtol=1e-12, atol=1e-9)
    # at the minimiser: g = 0, H tridiagonal with 802, 1002, ..., 1002, 200 and -400
    h = p.hessian(np.ones(20))
    assert np.diag(h).tolist() == [802.0] + [1002.0] * 18 + [200.0]
    assert np.diag(h, 1).tolist() == [-400.0] * 19
    assert np.count_nonzero(h) == 20 + 2 * 19


def test_gradient_and_hessian_are_fresh_arrays():
    p = problem("4x^2 + y^2")
    h1 = p.hessian(arr(1, 1))
    h1[0, 0] = 99
    assert p.hessian(arr(1, 1))[0, 0] == 8.0


# --------------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------------

def test_grid_values_on_a_meshgrid():
    p = problem("4x^2 + y^2")
    X, Y = np.meshgrid(np.linspace(-2, 2, 5), np.linspace(-1, 1, 3))
    values = p.grid_values(X, Y)
    assert values.shape == (3, 5)
    np.testing.assert_allclose(values, 4 * X**2 + Y**2, rtol=1e-15)


def test_grid_values_broadcast_a_constant_function():
    p = problem("x + y - x - y + 3", ("x", "y"))
    X, Y = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 6))
    values = p.grid_values(X, Y)
    assert values.shape == (6, 4)
    assert (values == 3.0).all()
    values[0, 0] = 0  # a writable array of its own, not a broadcast view
    assert p.grid_values(X, Y)[0, 0] == 3.0
    # open grids (column and row vectors) broadcast too
    assert p.grid_values(np.zeros((6, 1)), np.zeros((1, 4))).shape == (6, 4)


def test_grid_values_with_a_term_constant_in_one_variable():
    p = problem("x^2", ("x", "y"))
    values = p.grid_values(np.array([[1.0], [2.0], [3.0]]), np.array([[0.0, 1.0]]))
    np.testing.assert_array_equal(values, [[1.0, 1.0], [4.0, 4.0], [9.0, 9.0]])


@pytest.mark.parametrize("text, xs, expected", [
    ("sqrt(x) + y", [-1.0, 0.0, 4.0], [np.nan, 1.0, 3.0]),
    ("log(x) + y", [-1.0, 0.0, 1.0], [np.nan, np.nan, 1.0]),
    ("1/x + y", [0.0, 2.0, -4.0], [np.nan, 1.5, 0.75]),
    ("exp(x) + y", [1000.0, 0.0, 1.0], [np.nan, 2.0, np.e + 1]),
])
def test_grid_values_are_nan_where_f_is_undefined(text, xs, expected):
    p = problem(text)
    values = p.grid_values(np.array(xs), np.ones(3))
    np.testing.assert_allclose(values, expected, rtol=1e-15)


# --------------------------------------------------------------------------------------------
# Evaluation errors
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, point, kind, quantities", [
    ("sqrt(x)", [-1.0], "domain", ["value", "gradient", "hessian"]),
    ("log(x)", [-1.0], "domain", ["value"]),
    ("log(x)", [0.0], "domain", ["value", "gradient", "hessian"]),
    ("1/x", [0.0], "domain", ["value", "gradient", "hessian"]),
    ("sqrt(x) + y^2", [-4.0, 1.0], "domain", ["value", "gradient", "hessian"]),
    ("exp(x)", [1000.0], "overflow", ["value", "gradient", "hessian"]),
    ("exp(x^2)", [30.0], "overflow", ["value", "gradient", "hessian"]),
    ("x^2", [1e200], "overflow", ["value"]),
])
def test_evaluation_error_kinds(text, point, kind, quantities):
    p = problem(text)
    for quantity in quantities:
        with pytest.raises(EvaluationError) as info:
            getattr(p, quantity)(np.array(point))
        assert info.value.kind == kind
        assert str(info.value)
    assert p.value_or_inf(np.array(point)) == np.inf


def test_evaluation_error_names_the_quantity():
    p = problem("sqrt(x)")
    with pytest.raises(EvaluationError, match="not defined") as info:
        p.gradient(arr(-1.0))
    assert info.value.quantity == "the gradient"
    with pytest.raises(EvaluationError, match="overflowed") as info:
        problem("exp(x)").value(arr(1000.0))
    assert info.value.quantity == "f"


def test_log_gradient_is_defined_where_f_is_not():
    p = problem("log(x)")
    assert p.gradient(arr(-2.0)) == pytest.approx([-0.5])  # d/dx log x = 1/x, defined at -2
    assert p.value_or_inf(arr(np.e)) == pytest.approx(1.0)


def test_abs_hessian_evaluates_with_dirac_delta_mapped_to_zero():
    p = problem("abs(x) + y^2")
    assert p.derivation.hessian[0][0].has(sp.DiracDelta)  # the symbolic side keeps it
    for point in (arr(1, 2), arr(0, 2), arr(-3, 0)):
        np.testing.assert_array_equal(p.hessian(point), [[0.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(p.gradient(arr(-2, 1)), [-1.0, 2.0])
    np.testing.assert_array_equal(p.gradient(arr(3, 1)), [1.0, 2.0])
    np.testing.assert_array_equal(p.gradient(arr(0, 1)), [0.0, 2.0])
    assert p.value(arr(-2, 1)) == 3.0


# --------------------------------------------------------------------------------------------
# Symbolic side
# --------------------------------------------------------------------------------------------

def test_latex_strings():
    p = problem("4x^2 + y^2")
    latex = p.latex
    assert set(latex) == {"f", "gradient", "hessian"}
    assert all(isinstance(v, str) and v for v in latex.values())
    assert "x^{2}" in latex["f"] and "y^{2}" in latex["f"]
    assert "8 x" in latex["gradient"] and "2 y" in latex["gradient"]
    assert "matrix" in latex["hessian"] and "8" in latex["hessian"]


def test_latex_of_a_big_constant_is_still_text():
    assert "10" in problem("1e9 x^2").latex["f"]


def test_symbolic_derivatives_match_hand_derivatives():
    p = problem("sin(x) exp(-y^2)")
    x, y = p.variables
    assert sp.simplify(p.derivation.gradient[0] - sp.cos(x) * sp.exp(-y**2)) == 0
    assert sp.simplify(p.derivation.gradient[1] + 2 * y * sp.sin(x) * sp.exp(-y**2)) == 0
    assert sp.simplify(p.derivation.hessian[0][1] + 2 * y * sp.cos(x) * sp.exp(-y**2)) == 0
    assert p.derivation.hessian[0][1] == p.derivation.hessian[1][0]


@pytest.mark.parametrize("text, expected", [
    ("4x^2 + y^2", True),
    ("x y + x + 1", True),
    ("(x + y)^2", True),
    ("(x + 1)^3 - x^3", True),
    ("3x", True),
    ("x + 0y", True),
    ("x^3", False),
    ("x^4 + y^2", False),
    ("(1-x)^2 + 100(y-x^2)^2", False),
    ("sin(x)", False),
    ("abs(x) + y^2", False),
    ("1/x + y^2", False),
    ("exp(x)", False),
])
def test_is_quadratic(text, expected):
    assert problem(text).is_quadratic is expected


def test_derivation_pickles_and_compiles_to_the_same_problem():
    derivation = derive("(1-x)^2 + 100(y-x^2)^2")
    again = pickle.loads(pickle.dumps(derivation))
    p = compile_derivation(again)
    assert p.value(arr(-1.2, 1)) == pytest.approx(24.2, rel=1e-14)


def test_isolated_and_in_process_builds_agree():
    isolated = build_problem("sin(x) exp(-y^2)")
    local = problem("sin(x) exp(-y^2)")
    assert isolated.expr == local.expr and isolated.variables == local.variables
    point = arr(0.3, -0.7)
    np.testing.assert_array_equal(isolated.hessian(point), local.hessian(point))


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_build_problem_raises_parse_error_for_bad_text(timeout):
    with pytest.raises(ParseError, match="unknown name `foo`"):
        build_problem("foo + x", timeout=timeout)
    with pytest.raises(ParseError, match="the variables are x, y"):
        build_problem("x + z", ["x", "y"], timeout=timeout)

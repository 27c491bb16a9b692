"""The engine v2: a batch of starts, counts, typed fields, and properties every method keeps.

* run() is the batch of one: each start of a batch gets, bit for bit, the trace it gets alone
  (every method, random starts; hypothesis).
* A learning-rate sweep through per-start options equals one run per rate.
* Counts are what the method did (hand-counted on small cases).
* Properties across methods: line-search methods decrease f monotonically; CG ends in at most n
  steps on a positive definite quadratic; gd-exact equals gd-optimal on quadratics; Newton is
  affine invariant; a trust region whose radius holds the Newton step takes it.
* The methods x problems table: every method on every problem of a small suite, each cell the
  expected status, stationary-point kind and iteration band, written down by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import METHODS, Options, build_problem, run, run_batch
from core.stepsizes import F_ROUNDING

PROBLEMS = {
    "bowl": "4x^2 + y^2",
    "rosenbrock": "(1-x)^2 + 100(y-x^2)^2",
    "himmelblau": "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    "wavy": "sin(x) cos(y) + (x^2 + y^2)/10",
}
_CACHE: dict[str, object] = {}


def problem(text: str):
    if text not in _CACHE:
        _CACHE[text] = build_problem(text, timeout=None)
    return _CACHE[text]


def same_trace(a, b) -> None:
    for name in ("x", "f", "grad", "direction", "step_size"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.info.keys() == b.info.keys()
    for name in a.info:
        np.testing.assert_array_equal(a.info[name], b.info[name], err_msg=name)
    assert (a.status, a.message, a.stationary_point, a.counts, a.decision) == \
           (b.status, b.message, b.stationary_point, b.counts, b.decision)


starts = st.lists(st.tuples(st.floats(-4, 4), st.floats(-4, 4)), min_size=2, max_size=5)


@pytest.mark.parametrize("method", list(METHODS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=starts, which=st.sampled_from(list(PROBLEMS)))
def test_each_start_of_a_batch_gets_the_trace_it_gets_alone(method, points, which):
    p = problem(PROBLEMS[which])
    options = Options(lr=0.01, max_iter=60)
    batch = run_batch(p, np.array(points), method, options)
    assert len(batch) == len(points)
    for start, trace in zip(points, batch):
        same_trace(trace, run(p, start, method, options))


def test_a_batch_with_failing_starts_keeps_the_others():
    # log(x) + x^2/2: x = -1 is outside the domain at once, x = 2 converges; the batch keeps both
    p = problem("x^2/2 - log(x)")
    traces = run_batch(p, [[-1.0], [2.0], [0.5]], "newton")
    assert [t.status for t in traces] == ["domain_error", "converged", "converged"]
    for start, trace in zip([[-1.0], [2.0], [0.5]], traces):
        same_trace(trace, run(p, start, "newton"))


@pytest.mark.parametrize("method", ["gd", "momentum", "nesterov", "adam"])
def test_a_sweep_of_rates_in_one_batch_equals_one_run_per_rate(method):
    p = problem(PROBLEMS["bowl"])
    rates = [0.01, 0.1, 0.24, 0.26, 0.3]
    options = Options(max_iter=300)
    batch = run_batch(p, np.tile([15.0, 15.0], (len(rates), 1)), method, options, per_start={"lr": rates})
    for rate, trace in zip(rates, batch):
        alone = run(p, [15, 15], method, Options(lr=rate, max_iter=300))
        same_trace(trace, alone)
        assert trace.options["lr"] == rate and trace.per_start == {"lr": rate}


def test_counts_by_hand():
    p = problem(PROBLEMS["bowl"])
    gd = run(p, [15, 15], "gd", Options(lr=0.1, max_iter=5))
    assert gd.counts == {"nfev": 6, "ngev": 6, "nhev": 0, "nsolve": 0}  # f, g at x_0..x_5
    newton = run(p, [15, 15], "newton")
    assert newton.counts == {"nfev": 2, "ngev": 2, "nhev": 1, "nsolve": 1}  # one step, one solve
    armijo = run(p, [15, 15], "gd-armijo", Options(max_iter=3))
    trials = int(np.sum(armijo.info["backtracks"][:-1] + 1))
    # f at x_0, then each trial (the accepted trial's f is x_{k+1}'s: not evaluated again)
    assert armijo.counts["nfev"] == 1 + trials
    assert armijo.counts["ngev"] == armijo.iterations + 1


def test_options_validated_per_start():
    p = problem(PROBLEMS["bowl"])
    with pytest.raises(Exception, match="option lr"):
        run_batch(p, [[1, 1], [2, 2]], "gd", per_start={"lr": [0.1, -1.0]})
    with pytest.raises(Exception, match="one value per start"):
        run_batch(p, [[1, 1], [2, 2]], "gd", per_start={"lr": [0.1]})


# -- properties -------------------------------------------------------------------------------

LINE_SEARCH = [m for m, spec in METHODS.items() if spec.step.__class__.__name__ in ("Backtracking", "Wolfe", "ExactLineSearch")]


@pytest.mark.parametrize("method", LINE_SEARCH + ["trust-region"])
@settings(max_examples=8, deadline=None)
@given(start=st.tuples(st.floats(-3, 3), st.floats(-3, 3)), which=st.sampled_from(["rosenbrock", "himmelblau", "wavy"]))
def test_line_searches_and_trust_regions_never_increase_f(method, start, which):
    trace = run(problem(PROBLEMS[which]), start, method, Options(max_iter=200))
    f = trace.f[np.isfinite(trace.f)]
    # never up, except within f's rounding: where f cannot tell the values apart a step is
    # judged by ||g|| (the precision-limit rule, core.stepsizes), and the trace says so
    rises = np.flatnonzero(np.diff(f) > 0)
    assert (np.diff(f)[rises] <= F_ROUNDING * np.abs(f[rises])).all(), (method, start, trace.decision[:5])
    for k in rises:
        assert trace.info["by_gradient"][k], (k, trace.decision[k])


def spd_quadratic(n: int, seed: int, condition: float) -> tuple[str, np.ndarray]:
    """x'Ax/2 - b'x as text, A symmetric positive definite with the given condition number."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = q @ np.diag(np.geomspace(1, condition, n)) @ q.T
    a = np.round(a, 6)
    a = (a + a.T) / 2
    b = np.round(rng.normal(size=n), 3)
    names = [f"x{i + 1}" for i in range(n)]
    terms = [f"{a[i, j] / 2:.17g}*{names[i]}*{names[j]}" for i in range(n) for j in range(n)]
    terms += [f"{-b[i]:.17g}*{names[i]}" for i in range(n)]
    return " + ".join(terms).replace("+ -", "- "), a


@pytest.mark.parametrize("n, seed", [(2, 1), (3, 2), (5, 3), (8, 4)])
def test_cg_ends_in_at_most_n_steps_on_a_positive_definite_quadratic(n, seed):
    text, _ = spd_quadratic(n, seed, condition=50.0)
    # tol 1e-6 (||g_0|| ~ 250): in exact arithmetic step n lands on the minimum; in floating point
    # ||g_n|| is ~1e-8, rounding's share
    trace = run(build_problem(text, timeout=None), np.ones(n) * 3, "cg", Options(tol=1e-6))
    assert trace.status == "converged" and trace.stationary_point == "minimum"
    assert trace.iterations <= n


@pytest.mark.parametrize("text, start", [("4x^2 + y^2", [15, 15]), ("x^2 + 10 y^2 + x y", [3, -2]),
                                         ("3x^2 + 2y^2 + z^2 + x z", [1, 2, 3])])
def test_exact_line_search_equals_the_optimal_rate_on_quadratics(text, start):
    p = build_problem(text, timeout=None)
    exact, optimal = run(p, start, "gd-exact"), run(p, start, "gd-optimal")
    assert exact.iterations == optimal.iterations
    np.testing.assert_allclose(exact.x, optimal.x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(exact.info["model_eta"][:-1], optimal.step_size[:-1], rtol=1e-15)


def test_exact_line_search_differs_from_the_model_on_a_non_quadratic():
    trace = run(problem(PROBLEMS["rosenbrock"]), [-1.2, 1], "gd-exact", Options(max_iter=5))
    taken, model = trace.step_size[:-1], trace.info["model_eta"][:-1]
    assert not np.allclose(taken, model, rtol=1e-3)
    assert (trace.info["slope_ratio"][:-1] <= 1e-8).all()  # exact: phi'(eta) ~ 0 where it stopped


def test_newton_is_affine_invariant_on_a_quadratic():
    # f(x) = x'Ax/2 - b'x and h(y) = f(My + c): Newton's iterates satisfy x_k = M y_k + c
    text_f = "2x^2 + x y + 3y^2 - x + 4y"
    m, c = np.array([[2.0, 1.0], [0.5, 3.0]]), np.array([1.0, -2.0])
    text_h = text_f.replace("x", "(X)").replace("y", "(Y)")
    text_h = text_h.replace("(X)", "(2u + v + 1)").replace("(Y)", "(0.5u + 3v - 2)")
    f_trace = run(build_problem(text_f, timeout=None), m @ [1.0, 1.0] + c, "newton")
    h_trace = run(build_problem(text_h, timeout=None), [1.0, 1.0], "newton")
    assert f_trace.iterations == h_trace.iterations == 1
    np.testing.assert_allclose(m @ h_trace.x[-1] + c, f_trace.x[-1], rtol=1e-12, atol=1e-12)


def test_a_trust_region_holding_the_newton_step_takes_it():
    p = problem(PROBLEMS["bowl"])
    trace = run(p, [15, 15], "trust-region", Options(radius=100.0))
    assert trace.iterations == 1 and not trace.info["boundary"][0]
    np.testing.assert_array_equal(trace.x[-1], [0.0, 0.0])
    small = run(p, [15, 15], "trust-region", Options(radius=1.0))
    assert small.info["boundary"][0] and small.iterations > 1  # the first step stops at the boundary
    assert np.linalg.norm(small.x[1] - small.x[0]) == pytest.approx(1.0, rel=1e-9)


def test_a_trust_region_needs_no_fallback_at_a_saddle():
    # x^2 - y^2 + y^4/4 from (1, 0.01): H is indefinite; the step goes downhill along y anyway
    trace = run(build_problem("x^2 - y^2 + y^4/4", timeout=None), [1, 0.01], "trust-region")
    assert trace.status == "converged" and trace.stationary_point == "minimum"
    np.testing.assert_allclose(np.abs(trace.x[-1]), [0, math.sqrt(2)], atol=1e-7)


# -- the methods x problems table -------------------------------------------------------------

SUITE = {
    "1-D quartic": ("x^4 + x", [2]),
    "PD quadratic n=2": ("4x^2 + y^2", [15, 15]),
    "PD quadratic n=5, kappa 100": (spd_quadratic(5, 7, 100.0)[0], [1, 1, 1, 1, 1]),
    "kappa 1e6": ("x^2 + 1e6 y^2", [1, 1]),
    "Rosenbrock": (PROBLEMS["rosenbrock"], [-1.2, 1]),
    "Himmelblau": (PROBLEMS["himmelblau"], [0, 0]),
    "saddle": ("x^2 - y^2", [1, 1]),
    "maximum": ("-x^2 - y^2", [1, 2]),
    "flat asymptote": ("exp(x)", [0]),
    "domain error": ("log(x)", [-1]),
}
# (status, stationary point, low, high iterations); "*" = any; written down by hand from the math
# and checked once against the run: a change in any method's behaviour shows up here.
C, MAX, DOM = "converged", "max_iter", "domain_error"
TABLE: dict[str, dict[str, tuple]] = {
    "gd": {"1-D quartic": (C, "minimum", 5, 60), "PD quadratic n=2": (C, "minimum", 90, 110),
           # lr 0.1 > 2/lambda_max: diverges where lambda_max > 20 (kappa-100 quadratic, 1e6 y^2, the
           # valley of Rosenbrock, Himmelblau at the origin); exp(x): g = e^x shrinks as x ~ -log(0.1 k)
           "PD quadratic n=5, kappa 100": ("diverged", None, 1, 50), "kappa 1e6": ("diverged", None, 1, 5),
           "Rosenbrock": ("diverged", None, 1, 10), "Himmelblau": ("diverged", None, 1, 20),
           "saddle": ("diverged", None, 50, 400), "maximum": ("diverged", None, 50, 400),
           "flat asymptote": (MAX, None, 1000, 1000), "domain error": (DOM, None, 0, 0)},
    "newton": {"1-D quartic": (C, "minimum", 5, 15), "PD quadratic n=2": (C, "minimum", 1, 1),
               "PD quadratic n=5, kappa 100": (C, "minimum", 1, 1), "kappa 1e6": (C, "minimum", 1, 1),
               "Rosenbrock": (C, "minimum", 5, 7), "Himmelblau": (C, "maximum", 3, 8), "saddle": (C, "saddle", 1, 1),
               "maximum": (C, "maximum", 1, 1), "flat asymptote": ("*", None, 0, 1000), "domain error": (DOM, None, 0, 0)},
    "cg": {"1-D quartic": (C, "minimum", 1, 10), "PD quadratic n=2": (C, "minimum", 2, 2),
           "PD quadratic n=5, kappa 100": (C, "minimum", 1, 6), "kappa 1e6": (C, "minimum", 1, 6),
           "Rosenbrock": (C, "minimum", 20, 60), "Himmelblau": (C, "minimum", 3, 20), "saddle": ("*", None, 0, 1000),
           "maximum": ("*", None, 0, 1000), "flat asymptote": ("*", None, 0, 1000), "domain error": (DOM, None, 0, 0)},
    "trust-region": {"1-D quartic": (C, "minimum", 3, 15), "PD quadratic n=2": (C, "minimum", 2, 12),
                     "PD quadratic n=5, kappa 100": (C, "minimum", 1, 12), "kappa 1e6": (C, "minimum", 1, 3),
                     "Rosenbrock": (C, "minimum", 15, 35), "Himmelblau": (C, "minimum", 3, 15), "saddle": ("*", None, 0, 1000),
                     "maximum": ("*", None, 0, 1000), "flat asymptote": ("*", None, 0, 1000), "domain error": (DOM, None, 0, 0)},
    "bfgs": {"1-D quartic": (C, "minimum", 3, 15), "PD quadratic n=2": (C, "minimum", 2, 6),
             "PD quadratic n=5, kappa 100": (C, "minimum", 5, 30), "kappa 1e6": (C, "minimum", 2, 20),
             "Rosenbrock": (C, "minimum", 25, 50), "Himmelblau": (C, "minimum", 5, 20), "saddle": ("*", None, 0, 1000),
             "maximum": ("*", None, 0, 1000), "flat asymptote": ("*", None, 0, 1000), "domain error": (DOM, None, 0, 0)},
}


# with memory m = 10 >= n on these problems, L-BFGS holds every pair BFGS uses: the same bands
TABLE["lbfgs"] = TABLE["bfgs"]


@pytest.mark.parametrize("method, case", [(m, c) for m in TABLE for c in SUITE])
def test_methods_by_problems(method, case):
    status, kind, low, high = TABLE[method][case]
    text, start = SUITE[case]
    trace = run(problem(text) if text in PROBLEMS.values() else build_problem(text, timeout=None), start, method,
                Options(lr=0.1))
    if status != "*":
        assert trace.status == status, (trace.status, trace.message)
        assert trace.stationary_point == kind, trace.message
    assert low <= trace.iterations <= high, (trace.iterations, trace.message)
    assert trace.message  # every outcome, whatever it is, is said


def test_readme_option_table_is_the_spec():
    from pathlib import Path

    from core.options import markdown_table
    assert markdown_table() in (Path(__file__).resolve().parent.parent / "README.md").read_text()

"""The engine v2: a batch of starts, counts, typed fields, and properties every method keeps.

* run() is the batch of one: each start of a batch gets, bit for bit, the trace it gets alone
  (every method, random starts; hypothesis).
* run_ends keeps of each start exactly the last row, status, counts and message of its trace.
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

from core import METHODS, Options, build_problem, run, run_batch, run_ends
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


def same_ends(ends, traces) -> None:
    """Row i of ``ends`` is the last row of traces[i], word for word."""
    assert ends.size == len(traces)
    for i, trace in enumerate(traces):
        np.testing.assert_array_equal(ends.x[i], trace.x[-1])
        np.testing.assert_array_equal(ends.f[i], trace.f[-1])
        np.testing.assert_array_equal(ends.grad[i], trace.grad[-1])
        assert (ends.status[i], ends.iterations[i], ends.stationary_point[i], ends.message(i)) == \
               (trace.status, trace.iterations, trace.stationary_point, trace.message)
        assert {name: int(values[i]) for name, values in ends.counts.items()} == trace.counts


# starts that end every way: converged (minimum, saddle, maximum), max_iter, diverged (f blows up,
# the iterate overflows), outside the domain at x_0 and after steps
# (text, starts, lr)
ENDS_CASES = {
    "himmelblau": (PROBLEMS["himmelblau"], [[0, 0], [-0.27, -0.92], [3.5, 2.5], [-4, 4], [4.9, -4.9]], 0.05),
    "saddle": ("x^2 - y^2", [[1, 1], [0.5, 0], [0, 3]], 0.05),
    "log": ("x^2/2 - log(x)", [[-1.0], [2.0], [0.5], [1e-3]], 0.05),
    "overflow": ("x^4", [[1e80], [3.0], [0.0]], 0.05),
    # g = -4.9e307: a step of 10 |g| overflows the iterate (gd, momentum, nesterov)
    "iterate overflow": ("-1e299*x*exp(20) + x^2", [[1e-10], [1.0]], 10.0),
}


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("case", list(ENDS_CASES))
def test_run_ends_keeps_the_last_row_of_each_trace(method, case):
    text, points, lr = ENDS_CASES[case]
    p, options = problem(text), Options(lr=lr, max_iter=40)
    ends = run_ends(p, points, method, options)
    same_ends(ends, [run(p, start, method, options) for start in points])
    np.testing.assert_array_equal(ends.starts, np.array(points, dtype=float))


def test_run_ends_of_a_sweep_equals_one_run_per_rate():
    p, rates = problem(PROBLEMS["bowl"]), [0.01, 0.1, 0.24, 0.26, 0.3]
    ends = run_ends(p, np.tile([15.0, 15.0], (len(rates), 1)), "gd", Options(max_iter=300), per_start={"lr": rates})
    same_ends(ends, [run(p, [15, 15], "gd", Options(lr=rate, max_iter=300)) for rate in rates])
    assert sorted(set(ends.status)) == ["converged", "diverged", "max_iter"]


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


def _subproblem(hessian, g, radius):
    from core.stepsizes import solve_subproblems
    hessian, g = np.asarray(hessian, dtype=float), np.asarray(g, dtype=float)
    eigenvalues, vectors = np.linalg.eigh(hessian)
    return solve_subproblems(g, eigenvalues, vectors, np.asarray(radius, dtype=float))


# (H, g, radius) -> p by hand: inside (the Newton step -H^-1 g fits); on the boundary of a PD H
# (4 / (2 + lambda) = 1: lambda = 2); indefinite H (1 / (lambda - 2) = 1/2: lambda = 4); the hard
# case (g has no part along H's lowest eigenvector e1: lambda = 2 gives -(0, 2/4) and the rest of
# the radius goes along e1, sqrt(2^2 - 0.5^2) = sqrt(3.75), either sign)
SUBPROBLEMS = [
    (np.diag([2.0, 4.0]), [2.0, 4.0], 10.0, [-1.0, -1.0], False),
    (np.diag([2.0, 2.0]), [4.0, 0.0], 1.0, [-1.0, 0.0], True),
    (np.diag([-2.0, 2.0]), [1.0, 0.0], 0.5, [-0.5, 0.0], True),
    (np.diag([-2.0, 2.0]), [0.0, 2.0], 2.0, [math.sqrt(3.75), -0.5], True),
]


def test_the_trust_region_subproblem_by_hand_and_row_by_row():
    hessians = np.array([case[0] for case in SUBPROBLEMS])
    g = np.array([case[1] for case in SUBPROBLEMS])
    radius = np.array([case[2] for case in SUBPROBLEMS])
    together, on_boundary = _subproblem(hessians, g, radius)
    for i, (_, _, _, expected, boundary) in enumerate(SUBPROBLEMS):
        np.testing.assert_allclose(np.abs(together[i]) if i == 3 else together[i],
                                   [abs(v) for v in expected] if i == 3 else expected, rtol=1e-9, atol=1e-12)
        assert on_boundary[i] == boundary
        alone, _ = _subproblem(hessians[i:i + 1], g[i:i + 1], radius[i:i + 1])
        np.testing.assert_array_equal(alone[0], together[i])  # a row's numbers are its own
    assert together[3][1] == pytest.approx(-0.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=5, max_size=5), st.floats(0.01, 10))
def test_the_trust_region_subproblem_beats_every_point_of_the_disc(numbers, radius):
    a, b, c, g1, g2 = numbers
    hessian, g = np.array([[a, b], [b, c]]), np.array([g1, g2])
    p, _ = _subproblem(hessian[None], g[None], [radius])
    p = p[0]

    def model(q):
        return q @ g + 0.5 * q @ hessian @ q

    assert np.linalg.norm(p) <= radius * (1 + 1e-9)
    eigenvalues, vectors = np.linalg.eigh(hessian)
    with np.errstate(all="ignore"):
        newton_length = np.linalg.norm((vectors.T @ g) / eigenvalues)
    if eigenvalues[0] <= 0 or not newton_length <= radius * (1 + 1e-6):
        assert np.linalg.norm(p) == pytest.approx(radius, rel=1e-9)  # no minimum inside: p is on the boundary
    angles = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    for scale in np.linspace(0, 1, 12):
        for angle in angles:
            q = scale * radius * np.array([np.cos(angle), np.sin(angle)])
            assert model(p) <= model(q) + 1e-9 * max(1.0, abs(model(q)))


# -- the methods x problems table -------------------------------------------------------------

# a 20-variable PD quadratic short enough to type: H tridiagonal, 2(i + 1) on the diagonal and 1
# beside it, so its eigenvalues lie in [2, 44] (Gershgorin) and kappa <= 22
QUADRATIC_20 = " + ".join([f"{i + 1}*x{i}^2" for i in range(1, 21)] + [f"x{i}*x{i + 1}" for i in range(1, 20)]) + " - x1"
SUITE = {
    "1-D quartic": ("x^4 + x", [2]),
    "PD quadratic n=1": ("3x^2 - 6x", [5]),
    "PD quadratic n=2": ("4x^2 + y^2", [15, 15]),
    "PD quadratic n=5, kappa 100": (spd_quadratic(5, 7, 100.0)[0], [1, 1, 1, 1, 1]),
    "kappa 1e6": ("x^2 + 1e6 y^2", [1, 1]),
    "PD quadratic n=20": (QUADRATIC_20, [1] * 20),
    "Rosenbrock": (PROBLEMS["rosenbrock"], [-1.2, 1]),
    "Himmelblau": (PROBLEMS["himmelblau"], [0, 0]),
    "saddle": ("x^2 - y^2", [1, 1]),
    "maximum": ("-x^2 - y^2", [1, 2]),
    "flat asymptote": ("exp(x)", [0]),
    "domain error": ("log(x)", [-1]),
}
# (status, stationary point, low, high iterations), written down by hand from the math with
# lr = 0.1 and every other option at its default, then checked against the run: a change in any
# method's behaviour shows up here. Facts used below, with lambda the eigenvalues of H:
# * fixed rate 0.1 is stable iff lambda < 20 (gd), < 2(1 + b)/0.1 = 38 (heavy ball, b = 0.9),
#   < 2(1 + b)/(1 + 2b)/0.1 = 13.6 (Nesterov); H = 48 at x = 2 on the quartic, 43 or so on the
#   20-variable quadratic, 100 on the kappa-100 one, 2e6 on kappa 1e6, >= 800 in Rosenbrock's
#   valley; Himmelblau's H at the origin is diag(-42, -26): uphill of a maximum.
# * "diverged" = f 1e12 times its starting scale: on x^2 - y^2 and -x^2 - y^2 that is |y| ~ 1e6.
# * exp(x) has no minimum: g and H vanish to the left, a flat region, never a green minimum.
# * log(x) at -1: not defined at x0, so every method ends at k = 0.
C, MAX, DIV, DOM, FLAT = "converged", "max_iter", "diverged", "domain_error", "flat"
NEVER_AT_X0 = {"domain error": (DOM, None, 0, 0)}
TABLE: dict[str, dict[str, tuple]] = {
    # x_k - 1 = 0.4^k 4 on 3x^2 - 6x: |g| = 24 (0.4)^k <= 1e-8 at k = 24; on 4x^2 + y^2 the slow
    # factor is 1 - 0.2 = 0.8: 30 (0.8)^k <= 1e-8 at k = 98; saddle and maximum grow as 1.2^k:
    # 1.2^k = 1e6 at k = 76; exp(x): x_k ~ -log(0.1 k), so g ~ 10/k = 0.01 at k = 1000
    "gd": {"1-D quartic": (C, "minimum", 20, 40), "PD quadratic n=1": (C, "minimum", 24, 24),
           "PD quadratic n=2": (C, "minimum", 98, 98), "PD quadratic n=5, kappa 100": (DIV, None, 1, 50),
           "kappa 1e6": (DIV, None, 1, 5), "PD quadratic n=20": (DIV, None, 1, 50),
           "Rosenbrock": (DIV, None, 1, 10), "Himmelblau": (DIV, None, 1, 20),
           "saddle": (DIV, None, 76, 76), "maximum": (DIV, None, 76, 76),
           "flat asymptote": (MAX, None, 1000, 1000), **NEVER_AT_X0},
    # the step g'g/g'Hg is exact on a 1-D quadratic (one step) and zig-zags in n-D; the Kantorovich
    # bound ((k-1)/(k+1))^2 per step on f - f* caps the steps: 1160 for kappa 100 (f - f* from 68
    # to tol^2/(2 lambda_max)), 260 for kappa 22; g'Hg <= 0 wherever H is not PD along g: at once on
    # Himmelblau's origin, the saddle (g'Hg = 8 - 8 = 0) and the maximum; on Rosenbrock once the
    # zig-zag reaches the region above y = x^2 + 1/200, where H is indefinite; in 1-D it is Newton
    "gd-optimal": {"1-D quartic": (C, "minimum", 5, 15), "PD quadratic n=1": (C, "minimum", 1, 1),
                   "PD quadratic n=2": (C, "minimum", 21, 21), "PD quadratic n=5, kappa 100": (C, "minimum", 500, 1160),
                   "kappa 1e6": (C, "minimum", 2, 10), "PD quadratic n=20": (C, "minimum", 40, 260),
                   "Rosenbrock": ("negative_curvature", None, 50, 300), "Himmelblau": ("negative_curvature", None, 0, 0),
                   "saddle": ("negative_curvature", None, 0, 0), "maximum": ("negative_curvature", None, 0, 0),
                   "flat asymptote": (C, FLAT, 19, 19), **NEVER_AT_X0},
    # one step on every PD quadratic; attracted to any stationary point: the maximum of Himmelblau
    # near the origin, the saddle; on exp(x) x_k = -k, g = e^-k <= 1e-8 at k = 19
    "newton": {"1-D quartic": (C, "minimum", 5, 15), "PD quadratic n=1": (C, "minimum", 1, 1),
               "PD quadratic n=2": (C, "minimum", 1, 1), "PD quadratic n=5, kappa 100": (C, "minimum", 1, 1),
               "kappa 1e6": (C, "minimum", 1, 1), "PD quadratic n=20": (C, "minimum", 1, 1),
               "Rosenbrock": (C, "minimum", 5, 7), "Himmelblau": (C, "maximum", 3, 8), "saddle": (C, "saddle", 1, 1),
               "maximum": (C, "maximum", 1, 1), "flat asymptote": (C, FLAT, 19, 19), **NEVER_AT_X0},
    # first trial eta = 1, halved until f decreases enough: stable, but on kappa 1e6 the accepted
    # eta ~ 1/lambda_max leaves the x direction at a factor 1 - 2e-6 per step, and Rosenbrock's
    # valley is the classic crawl; on the saddle and the maximum eta = 1 triples y: 3^k = 1e6 at 13
    "gd-armijo": {"1-D quartic": (C, "minimum", 5, 20), "PD quadratic n=1": (C, "minimum", 10, 40),
                  "PD quadratic n=2": (C, "minimum", 3, 15), "PD quadratic n=5, kappa 100": (C, "minimum", 500, 1000),
                  "kappa 1e6": (MAX, None, 1000, 1000), "PD quadratic n=20": (C, "minimum", 40, 200),
                  "Rosenbrock": (MAX, None, 1000, 1000), "Himmelblau": (C, "minimum", 10, 50),
                  "saddle": (DIV, None, 13, 13), "maximum": (DIV, None, 13, 13),
                  "flat asymptote": (MAX, None, 1000, 1000), **NEVER_AT_X0},
    # Newton where H is PD (one step on quadratics); where it is not, -|H|^-1 g: downhill from
    # Himmelblau's maximum to a minimum, and on x^2 - y^2 d = (-x, y), so y doubles: 2^k = 1e6 at 20
    "newton-damped": {"1-D quartic": (C, "minimum", 5, 15), "PD quadratic n=1": (C, "minimum", 1, 1),
                      "PD quadratic n=2": (C, "minimum", 1, 1), "PD quadratic n=5, kappa 100": (C, "minimum", 1, 1),
                      "kappa 1e6": (C, "minimum", 1, 1), "PD quadratic n=20": (C, "minimum", 1, 1),
                      "Rosenbrock": (C, "minimum", 15, 30), "Himmelblau": (C, "minimum", 3, 15),
                      "saddle": (DIV, None, 20, 20), "maximum": (DIV, None, 20, 20),
                      "flat asymptote": (C, FLAT, 19, 19), **NEVER_AT_X0},
    # heavy ball: on a quadratic the error obeys r^2 - (1 + b - 0.1 lambda) r + b = 0, complex roots
    # of modulus sqrt(0.9) = 0.949 for lambda = 6 and 2: ~400 steps to tol; unstable above 38
    "momentum": {"1-D quartic": (DIV, None, 1, 10), "PD quadratic n=1": (C, "minimum", 300, 450),
                 "PD quadratic n=2": (C, "minimum", 300, 450), "PD quadratic n=5, kappa 100": (DIV, None, 1, 50),
                 "kappa 1e6": (DIV, None, 1, 5), "PD quadratic n=20": (DIV, None, 1, 50),
                 "Rosenbrock": (DIV, None, 1, 10), "Himmelblau": (DIV, None, 1, 20),
                 "saddle": (DIV, None, 20, 76), "maximum": (DIV, None, 20, 76),
                 "flat asymptote": (MAX, None, 1000, 1000), **NEVER_AT_X0},
    # Nesterov: r^2 - (1 + b)(1 - 0.1 lambda) r + b(1 - 0.1 lambda) = 0: modulus 0.6 for lambda = 6
    # (42 steps), 0.849 for lambda = 2 (133 steps); unstable above 13.6: the quartic at x = 2 too
    "nesterov": {"1-D quartic": (DIV, None, 1, 10), "PD quadratic n=1": (C, "minimum", 30, 50),
                 "PD quadratic n=2": (C, "minimum", 100, 150), "PD quadratic n=5, kappa 100": (DIV, None, 1, 50),
                 "kappa 1e6": (DIV, None, 1, 5), "PD quadratic n=20": (DIV, None, 1, 50),
                 "Rosenbrock": (DIV, None, 1, 10), "Himmelblau": (DIV, None, 1, 20),
                 "saddle": (DIV, None, 20, 76), "maximum": (DIV, None, 20, 76),
                 "flat asymptote": (MAX, None, 1000, 1000), **NEVER_AT_X0},
    # Adam steps about lr per coordinate whatever ||g|| is: it crosses and re-crosses a minimum and
    # settles as its moments decay (hundreds of steps), never diverges on a scaling (kappa 1e6
    # is no harder); it walks away from a saddle or a maximum at ~lr per step, so after 1000 steps
    # ||x|| ~ 100, nowhere near "diverged"
    "adam": {"1-D quartic": (C, "minimum", 200, 1000), "PD quadratic n=1": (C, "minimum", 200, 1000),
             "PD quadratic n=2": (C, "minimum", 200, 1000), "PD quadratic n=5, kappa 100": (C, "minimum", 200, 1000),
             "kappa 1e6": (C, "minimum", 200, 1000), "PD quadratic n=20": (C, "minimum", 200, 1000),
             "Rosenbrock": (MAX, None, 1000, 1000), "Himmelblau": (C, "minimum", 200, 1000),
             "saddle": (MAX, None, 1000, 1000), "maximum": (MAX, None, 1000, 1000),
             "flat asymptote": (MAX, None, 1000, 1000), **NEVER_AT_X0},
    # the exact minimum along -g: gd-optimal's steps on every quadratic (same counts); on the
    # quartic the 1-D minimum at once (then one more step for the last digits); unbounded lines on
    # the saddle and the maximum; along exp(x) f decreases to where g underflows below tol (flat)
    "gd-exact": {"1-D quartic": (C, "minimum", 1, 3), "PD quadratic n=1": (C, "minimum", 1, 1),
                 "PD quadratic n=2": (C, "minimum", 21, 21), "PD quadratic n=5, kappa 100": (C, "minimum", 500, 1160),
                 "kappa 1e6": (C, "minimum", 2, 10), "PD quadratic n=20": (C, "minimum", 40, 260),
                 "Rosenbrock": (MAX, None, 1000, 1000), "Himmelblau": (C, "minimum", 10, 50),
                 "saddle": (DIV, None, 1, 3), "maximum": (DIV, None, 1, 3),
                 "flat asymptote": (C, FLAT, 1, 1), **NEVER_AT_X0},
    # at most n steps on a PD quadratic (2 on kappa 1e6 in exact arithmetic; the line search stops
    # at |phi'| <= 1e-8 |phi'(0)|, which kappa 1e6 turns into a couple more)
    "cg": {"1-D quartic": (C, "minimum", 1, 3), "PD quadratic n=1": (C, "minimum", 1, 1),
           "PD quadratic n=2": (C, "minimum", 2, 2), "PD quadratic n=5, kappa 100": (C, "minimum", 1, 5),
           "kappa 1e6": (C, "minimum", 2, 6), "PD quadratic n=20": (C, "minimum", 1, 20),
           "Rosenbrock": (C, "minimum", 20, 60), "Himmelblau": (C, "minimum", 3, 20),
           "saddle": (DIV, None, 1, 3), "maximum": (DIV, None, 1, 3),
           "flat asymptote": (C, FLAT, 1, 1), **NEVER_AT_X0},
    # the radius starts at 1 and doubles while the Newton step is longer: 5 -> 4 -> 2 -> 1 on
    # 3x^2 - 6x (3 steps), 1 + 2 + 4 + 8 < 21.2 <= 31 from (15, 15) (5 steps); at most 1000 per step
    # on an unbounded f, so 1000 steps reach ||x|| ~ 1e6 only: max_iter, not diverged
    "trust-region": {"1-D quartic": (C, "minimum", 3, 15), "PD quadratic n=1": (C, "minimum", 3, 3),
                     "PD quadratic n=2": (C, "minimum", 5, 5), "PD quadratic n=5, kappa 100": (C, "minimum", 1, 12),
                     "kappa 1e6": (C, "minimum", 2, 2), "PD quadratic n=20": (C, "minimum", 1, 6),
                     "Rosenbrock": (C, "minimum", 15, 35), "Himmelblau": (C, "minimum", 3, 15),
                     "saddle": (MAX, None, 1000, 1000), "maximum": (MAX, None, 1000, 1000),
                     "flat asymptote": (C, FLAT, 19, 19), **NEVER_AT_X0},
    # a Wolfe search from eta = 1 with quadratic interpolation: exact in 1-D on a quadratic; the
    # secant matrix needs about n steps to learn H (more with inexact searches); unbounded lines
    # on the saddle and the maximum
    "bfgs": {"1-D quartic": (C, "minimum", 3, 15), "PD quadratic n=1": (C, "minimum", 1, 1),
             "PD quadratic n=2": (C, "minimum", 2, 6), "PD quadratic n=5, kappa 100": (C, "minimum", 5, 30),
             "kappa 1e6": (C, "minimum", 2, 20), "PD quadratic n=20": (C, "minimum", 20, 60),
             "Rosenbrock": (C, "minimum", 25, 50), "Himmelblau": (C, "minimum", 5, 20),
             "saddle": (DIV, None, 1, 5), "maximum": (DIV, None, 1, 5),
             "flat asymptote": (C, FLAT, 15, 40), **NEVER_AT_X0},
}
# with memory m = 10 it keeps the last 10 pairs: BFGS's on the small problems, nearly so on n = 20
TABLE["lbfgs"] = TABLE["bfgs"]


def test_the_table_covers_every_method_and_problem():
    assert set(TABLE) == set(METHODS)
    assert all(set(row) == set(SUITE) for row in TABLE.values())


@pytest.mark.parametrize("method, case", [(m, c) for m in TABLE for c in SUITE])
def test_methods_by_problems(method, case):
    status, kind, low, high = TABLE[method][case]
    text, start = SUITE[case]
    trace = run(problem(text) if text in PROBLEMS.values() else build_problem(text, timeout=None), start, method,
                Options(lr=0.1))
    assert trace.status == status, (trace.status, trace.message)
    assert trace.stationary_point == kind, trace.message
    assert low <= trace.iterations <= high, (trace.iterations, trace.message)
    assert trace.message  # every outcome, whatever it is, is said


def test_readme_option_table_is_the_spec():
    from pathlib import Path

    from core.options import markdown_table
    assert markdown_table() in (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("method", ["bfgs", "lbfgs", "cg", "gd-exact"])
def test_a_line_search_evaluates_f_for_all_its_starts_at_once(method):
    # The Wolfe and exact searches branch per start, but their starts advance in lockstep: each
    # trial's f (or g) is one compiled call for every start still searching. So a batch makes
    # about as many calls as its longest search, not the sum of all of them (which run() by
    # run() makes), while each trace stays the one its start gets alone (the test above).
    p = problem(PROBLEMS["himmelblau"])
    calls = {"values": 0, "gradients": 0}

    class Counted:
        def __getattr__(self, name):
            return getattr(p, name)

        def batch_values(self, X):
            calls["values"] += 1
            return p.batch_values(X)

        def batch_gradients(self, X):
            calls["gradients"] += 1
            return p.batch_gradients(X)

    points = np.random.default_rng(7).uniform(-4, 4, size=(40, 2))
    options = Options(max_iter=5)
    batch = run_batch(Counted(), points, method, options)
    batched = dict(calls)
    evaluations = sum(t.counts["nfev"] for t in batch)
    assert evaluations >= 4 * 40  # every start searched along its line
    assert batched["values"] * 8 <= evaluations, (batched, evaluations)
    for start, trace in zip(points[:3], batch[:3]):
        same_trace(trace, run(p, start, method, options))

"""The vectorised line searches of core.stepsizes (Wolfe for bfgs and lbfgs, the exact line minimum
for gd-exact and cg) against the scalar searches they replaced, kept in tests/scalar_searches.py
as the oracles: on random problems, starts, directions, constants and states, every start's step
(η, f and g there, the typed fields, the stop and its message, the rule's new state, the
evaluations counted) is the same, bit for bit; and the cases reach every way a search ends."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from core import Options, build_problem
from core.blocks import Batch, Counts, Work
from core.stepsizes import EXACT_SLOPE, ExactLineSearch, Wolfe

from scalar_searches import ScalarExactLineSearch, ScalarWolfe

PROBLEMS = {
    "rosenbrock": ("(1-x)^2 + 100(y-x^2)^2", 2),
    "himmelblau": ("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", 2),
    "wavy": ("sin(x) cos(y) + (x^2 + y^2)/10", 2),
    "log barrier": ("x^2 + y^2 - log(x) - log(y)", 2),  # f undefined beyond the axes: inf trials
    "flat": ("1e8 + x^2/1e8 + y^2", 2),
    "level": ("1e8 + x^2 + y^2", 2),  # started within 1e-4 of the minimum: f's rounding hides every decrease
    "linear": ("x + 2y + 1e-9 x^4", 2),  # the bracket grows until MAX_STEP_GROWTH
    "quartic 5": ("x1^4 + x2^4 + x3^4 + x4^4 + x5^4 + x1 x2 - x3", 5),
    "exp": ("exp(x) + exp(-2y) + x y", 2),
}
SEARCHES = {  # id -> (vectorised, scalar oracle)
    "wolfe": (Wolfe, ScalarWolfe),
    "exact (model first)": (lambda: ExactLineSearch("model"), lambda: ScalarExactLineSearch("model")),
    "exact (previous first)": (lambda: ExactLineSearch("previous"), lambda: ScalarExactLineSearch("previous")),
}
SEEDS = range(5)
_CACHE: dict[str, Any] = {}


def _problem(text: str):
    if text not in _CACHE:
        _CACHE[text] = build_problem(text, timeout=None)
    return _CACHE[text]


def _case(name: str, seed: int):
    text, n = PROBLEMS[name]
    problem = _problem(text)
    rng = np.random.default_rng(seed)
    size = 60
    x = rng.uniform(0.05, 3, size=(size, n)) * (1e-4 if name == "level" else 1.0)
    if name != "log barrier":  # defined only for x, y > 0
        x *= rng.choice([1, -1], size=(size, n))
    g = problem.gradients(x)
    # directions: -g scaled far up or down (long and tiny steps) and random ones (some uphill:
    # not a descent direction)
    scale = 10.0 ** rng.uniform(-6, 4, size=(size, 1))
    d = np.where(rng.random((size, 1)) < 0.6, -g * scale, rng.normal(size=(size, n)) * scale)
    c1 = float(rng.choice([1e-4, 0.1, 0.4]))
    options = Options(c1=c1, c2=float(rng.choice([c1 * 2, 0.5, 0.9])))
    # cg's state: the previous step's eta and slope (nan at a first step)
    state = {"previous_eta": np.where(rng.random(size) < 0.3, np.nan, 10.0 ** rng.uniform(-4, 1, size)),
             "previous_slope": -(10.0 ** rng.uniform(-3, 3, size))}
    return problem, x, d, options, state


def _search(rule, problem, x, d, options, state):
    counts = Counts.zeros(len(x))
    at = Batch(x, problem.values(x), problem.gradients(x), problem.hessians(x), 0)
    own = {name: values.copy() for name, values in state.items()} if getattr(rule, "first", "") == "previous" else {}
    with np.errstate(all="ignore"):
        return rule.size(at, d, own, Work(problem, options, counts)), counts


def _compare(search: str, name: str, seed: int):
    problem, x, d, options, state = _case(name, seed)
    vectorised, scalar = SEARCHES[search]
    new, new_counts = _search(vectorised(), problem, x, d, options, state)
    old, old_counts = _search(scalar(), problem, x, d, options, state)
    np.testing.assert_array_equal(new.eta, old.eta)
    np.testing.assert_array_equal(new.f_next, old.f_next)
    np.testing.assert_array_equal(new.g_next, old.g_next)
    assert new.stops == old.stops
    assert new.info.keys() == old.info.keys()
    for field in new.info:
        np.testing.assert_array_equal(new.info[field], old.info[field], err_msg=field)
    assert new.state.keys() == old.state.keys()
    for key in new.state:
        np.testing.assert_array_equal(new.state[key], old.state[key], err_msg=key)
    np.testing.assert_array_equal(new_counts.nfev, old_counts.nfev)
    np.testing.assert_array_equal(new_counts.ngev, old_counts.ngev)
    return new


@pytest.mark.parametrize("search", list(SEARCHES))
@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("seed", SEEDS)
def test_the_vectorised_search_is_the_scalar_one(search, name, seed):
    _compare(search, name, seed)


@pytest.mark.parametrize("search, outcomes", [
    ("wolfe", ("wolfe", "by_gradient", "zoomed", "line_search_failed", "precision_limit")),
    ("exact (model first)", ("by_gradient", "zoomed", "line_search_failed", "bracket's best point")),
    ("exact (previous first)", ("by_gradient", "zoomed", "line_search_failed", "bracket's best point")),
])
def test_the_comparison_covers_every_way_a_search_ends(search, outcomes):
    covered: Counter = Counter()
    for name in PROBLEMS:
        for seed in SEEDS:
            step = _compare(search, name, seed)
            for flag in ("wolfe", "by_gradient"):
                if flag in step.info:
                    covered[flag] += int(step.info[flag].sum())
            covered.update(status for status, _ in step.stops.values())
            covered["zoomed"] += int((step.info["evaluations"] > 2).sum())
            if "slope_ratio" in step.info:  # a step taken without the slope test met, nor the level rule
                covered["bracket's best point"] += int((np.isfinite(step.eta) & ~step.info["by_gradient"]
                                                        & (step.info["slope_ratio"] > EXACT_SLOPE)).sum())
    for outcome in outcomes:
        assert covered[outcome] > 0, (outcome, covered)


def test_an_exact_search_along_a_tiny_direction_still_finds_its_minimum():
    # |d| = 2.2e-170: d'd underflows to 0, so 1/||d|| would be inf; the first trial is one unit
    # of length along d all the same, and the minimum of (x - 1)^2 + (y - 2)^2 from 0 along -g
    # is at eta = 1/2 / 1e-170
    problem = _problem("(x-1)^2 + (y-2)^2")
    x = np.zeros((1, 2))
    d = -problem.gradients(x) * 1e-170
    state = {"previous_eta": np.full(1, np.nan), "previous_slope": np.full(1, np.nan)}
    step, _ = _search(ExactLineSearch("previous"), problem, x, d, Options(), state)
    assert not step.stops
    np.testing.assert_allclose(x + step.eta[:, None] * d, [[1.0, 2.0]], rtol=1e-12)

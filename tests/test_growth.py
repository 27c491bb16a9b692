"""core.growth: how the cost of a step grows with n (fitting and bounds by hand; the measurement
itself on tiny sizes: no wall-clock limits here)."""

from __future__ import annotations

import math
import re

import pytest

from core import METHODS, build_problem
from core.growth import (FAMILIES, GrowthModel, GrowthPoint, Family, fit_growth, hessian_bytes, largest_practical_n,
                         measure_growth)


def points(method: str, overhead: float, per_unit: float, power: int) -> list[GrowthPoint]:
    return [GrowthPoint(method, n, 10, overhead + per_unit * n ** power, {}) for n in (2, 5, 10, 15, 20)]


def test_the_power_of_each_method_comes_from_its_blocks():
    powers = {m: METHODS[m].work_power for m in METHODS}
    assert powers["gd"] == powers["cg"] == powers["lbfgs"] == powers["momentum"] == 1  # vectors only
    assert powers["gd-optimal"] == 2  # evaluates H (n^2 entries) but never solves
    assert powers["bfgs"] == 2  # a dense n x n estimate of H^-1
    assert powers["newton"] == powers["newton-damped"] == powers["trust-region"] == 3  # a solve or eigh


def test_an_exact_model_is_recovered():
    models = fit_growth(points("newton", 1e-4, 2e-9, 3) + points("gd", 5e-5, 1e-6, 1))
    assert models["newton"].power == 3 and models["gd"].power == 1
    assert models["newton"].overhead_s == pytest.approx(1e-4, rel=1e-9)
    assert models["newton"].per_unit_s == pytest.approx(2e-9, rel=1e-9)
    assert models["gd"].seconds(1000) == pytest.approx(5e-5 + 1e-3, rel=1e-9)


def test_noisy_points_never_give_a_negative_cost():
    noisy = [GrowthPoint("newton", n, 10, t, {}) for n, t in ((2, 9e-4), (5, 2e-4), (10, 2e-4), (20, 3e-4))]
    model = fit_growth(noisy)["newton"]
    assert model.overhead_s >= 0 and model.per_unit_s >= 0
    assert model.seconds(20) >= 2e-4


def test_when_a_step_takes_a_second_by_hand():
    # 1e-3 + 1e-9 n^3 = 1  =>  n = (0.999 / 1e-9)^(1/3) = 999.67
    assert largest_practical_n(GrowthModel("newton", 3, 1e-3, 1e-9)) == pytest.approx(999.667, rel=1e-5)
    assert largest_practical_n(GrowthModel("gd", 1, 1e-3, 0.0)) == math.inf
    assert largest_practical_n(GrowthModel("gd", 1, 2.0, 1e-6)) == 0.0
    assert hessian_bytes(11_586) > 2 ** 30 > hessian_bytes(11_585)  # where an n x n H passes 1 GiB


def test_measuring_on_tiny_sizes_counts_each_step():
    family = Family("x1^2 + ... + xn^2", "sum(x[i]^2, i = 1..n)", (1.0,), sizes=(2, 3))
    measured = measure_growth(build_problem, family, ["gd", "newton"], budget_s=2.0, steps=5, repeats=1)
    assert {(p.method, p.n) for p in measured} == {("gd", 2), ("gd", 3), ("newton", 2), ("newton", 3)}
    newton = next(p for p in measured if p.method == "newton")
    assert newton.steps == 1 and newton.per_step["nsolve"] == 1.0  # a quadratic: one Newton step
    gd = next(p for p in measured if p.method == "gd" and p.n == 2)
    assert gd.steps == 5 and gd.per_step["ngev"] == pytest.approx(6 / 5)  # g at x0..x5 over 5 steps
    assert all(p.seconds_per_step > 0 for p in measured)


def test_the_families_are_what_they_say():
    assert FAMILIES["rosenbrock"].text(4) == "((100(x2 - x1^2)^2 + (1 - x1)^2) + (100(x4 - x3^2)^2 + (1 - x3)^2))"
    assert FAMILIES["rosenbrock"].start(5) == [-1.2, 1.0, -1.2, 1.0, -1.2]
    assert FAMILIES["logcosh"].start(4) == [1.0, 2.0, 0.0, 1.0]
    for family in FAMILIES.values():
        for n in family.sizes:  # every size measured has exactly n variables and a start of n numbers
            assert len(set(re.findall(r"x\d+", family.text(n)))) == n == len(family.start(n))
        for n in (2, 4):
            problem = build_problem(family.text(n))
            assert problem.n == n and len(family.start(n)) == n

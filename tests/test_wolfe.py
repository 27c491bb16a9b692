"""The vectorised strong Wolfe search (core.stepsizes.Wolfe) against the scalar search it
replaced, kept here as the oracle: on random problems, starts, directions and constants, every
start's step (η, f and g there, the typed fields, the stop and its message, the evaluations
counted) is the same, bit for bit."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Generator

import numpy as np
import pytest

import core.stepsizes
from core import Options, build_problem
from core.directions import _dot
from core.blocks import Batch, Counts, Field, State, Work
from core.stepsizes import (EPS, MAX_STEP_GROWTH, WOLFE_EVALUATIONS, Request, Search, Wolfe, _failure, _interpolate,
                            _Line, _norm, _RowSearch, within_rounding)

class ScalarWolfe(_RowSearch):
    """The strong Wolfe search as it was written first, start by start (a generator per start,
    driven in lockstep by _RowSearch): the oracle the vectorised core.stepsizes.Wolfe must equal."""

    options = ("c1", "c2")
    fields = {**_RowSearch.fields, "wolfe": Field(bool, "the strong Wolfe conditions hold at the step taken")}

    def search(self, line: _Line, at: Batch, i: int, slope: float, state: State, work: Work) -> Search:
        c1, c2 = work.option("c1"), work.option("c2")
        f0 = float(at.f[i])
        previous, f_previous, slope_previous = 0.0, f0, slope
        eta, evaluations = 1.0, 0
        best: dict[str, Any] | None = None  # the lowest point satisfying Armijo, if Wolfe never holds
        unresolved = False

        def armijo(eta_: float, f_: float) -> bool:
            return f_ <= f0 + c1 * eta_ * slope and f_ < f0

        def zoom(lo: float, f_lo: float, slope_lo: float, hi: float, f_hi: float) -> Generator[Request, Any, dict[str, Any] | None]:
            nonlocal evaluations, best, unresolved
            while evaluations < WOLFE_EVALUATIONS:
                trial = _interpolate(lo, f_lo, slope_lo, hi, f_hi)
                f_trial = yield from line.value(trial)
                evaluations += 1
                if not armijo(trial, f_trial) or f_trial >= f_lo:
                    if (yield from self.by_gradient(line, at, i, trial, f_trial, c1)):
                        return {"eta": trial, "f": f_trial, "evaluations": evaluations, "by_gradient": True}
                    unresolved |= math.isfinite(f_trial) and within_rounding(f_trial, f0)
                    hi, f_hi = trial, f_trial
                    continue
                slope_trial = yield from line.slope(trial)
                if best is None or f_trial < best["f"]:
                    best = {"eta": trial, "f": f_trial, "evaluations": evaluations}
                if abs(slope_trial) <= -c2 * slope:
                    return {"eta": trial, "f": f_trial, "evaluations": evaluations, "wolfe": True}
                if slope_trial * (hi - lo) >= 0:
                    hi, f_hi = lo, f_lo
                lo, f_lo, slope_lo = trial, f_trial, slope_trial
                if abs(hi - lo) <= EPS * max(abs(lo), abs(hi)):
                    break
            return None

        found = None
        while evaluations < WOLFE_EVALUATIONS:
            f_eta = yield from line.value(eta)
            evaluations += 1
            if not armijo(eta, f_eta) or (evaluations > 1 and f_eta >= f_previous):
                if (yield from self.by_gradient(line, at, i, eta, f_eta, c1)):
                    found = {"eta": eta, "f": f_eta, "evaluations": evaluations, "by_gradient": True}
                else:
                    unresolved |= math.isfinite(f_eta) and within_rounding(f_eta, f0)
                    found = yield from zoom(previous, f_previous, slope_previous, eta, f_eta)
                break
            slope_eta = yield from line.slope(eta)
            best = best if best is not None and best["f"] <= f_eta else {"eta": eta, "f": f_eta, "evaluations": evaluations}
            if abs(slope_eta) <= -c2 * slope:
                found = {"eta": eta, "f": f_eta, "evaluations": evaluations, "wolfe": True}
                break
            if slope_eta >= 0:
                found = yield from zoom(eta, f_eta, slope_eta, previous, f_previous)
                break
            if eta >= MAX_STEP_GROWTH:
                break
            previous, f_previous, slope_previous, eta = eta, f_eta, slope_eta, 2 * eta
        if found is None and best is not None:
            found = {**best, "evaluations": evaluations}  # Armijo holds; Wolfe's curvature condition did not
        if found is None:
            return _failure(f0, float(np.linalg.norm(at.g[i])), unresolved,
                            f"no step along d satisfied the Wolfe conditions or decreased f after {evaluations} trials")
        found["evaluations"] = evaluations
        return found


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
_CACHE: dict[str, Any] = {}


def _search(rule, problem, x, d, options):
    counts = Counts.zeros(len(x))
    work = Work(problem, options, counts)
    at = Batch(x, problem.values(x), problem.gradients(x), None, 0)
    return rule.size(at, d, {}, work), counts


class _RowDotLine(_Line):
    """The oracle's line with the vectorised search's dot product (each row's own einsum sum,
    core.directions._dot): np.dot of two vectors may add in another order from n = 5 on, which
    moves the last bit of a slope; the comparison is of the algorithm, so both add alike."""

    def slope(self, eta: float) -> Generator[Request, Any, float]:
        g = yield "g", self.x + eta * self.d
        self.gradients[eta] = g
        return float(_dot(g[None], self.d[None])[0]) if np.isfinite(g).all() else math.nan


def _row_norm_by_gradient(line, at, i, eta, f_trial, c1):
    if not (math.isfinite(f_trial) and within_rounding(f_trial, at.f[i])):
        return False
    yield from line.slope(eta)
    norm = float(_norm(line.gradients[eta][None])[0])
    return math.isfinite(norm) and norm <= (1 - c1) * float(_norm(at.g[i][None])[0])


SEEDS = range(6)


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("seed", SEEDS)
def test_the_vectorised_wolfe_search_is_the_scalar_one(name, seed, monkeypatch):
    monkeypatch.setattr(core.stepsizes, "_Line", _RowDotLine)
    monkeypatch.setattr(ScalarWolfe, "by_gradient", staticmethod(_row_norm_by_gradient))
    _compare(name, seed)


def test_the_comparison_covers_every_way_a_search_ends(monkeypatch):
    monkeypatch.setattr(core.stepsizes, "_Line", _RowDotLine)
    monkeypatch.setattr(ScalarWolfe, "by_gradient", staticmethod(_row_norm_by_gradient))
    covered: Counter = Counter()
    for name in PROBLEMS:
        for seed in SEEDS:
            step = _compare(name, seed)
            covered.update(("wolfe",) * int(step.info["wolfe"].sum()) + ("by_gradient",) * int(step.info["by_gradient"].sum()))
            covered.update(status for status, _ in step.stops.values())
            covered.update(("zoomed",) * int((step.info["evaluations"] > 2).sum()))
    for outcome in ("wolfe", "by_gradient", "zoomed", "line_search_failed", "precision_limit"):
        assert covered[outcome] > 0, (outcome, covered)


def _compare(name: str, seed: int):
    text, n = PROBLEMS[name]
    if text not in _CACHE:
        _CACHE[text] = build_problem(text, timeout=None)
    problem = _CACHE[text]
    rng = np.random.default_rng(seed)
    size = 60
    x = rng.uniform(0.05, 3, size=(size, n)) * (1e-4 if name == "level" else 1.0)
    if name != "log barrier":  # defined only for x, y > 0
        x *= rng.choice([1, -1], size=(size, n))
    g = problem.gradients(x)
    # directions: -g, -g scaled far up or down (long and tiny steps), random ones (some uphill:
    # not a descent direction), and a Newton-like -g / |g| mix
    scale = 10.0 ** rng.uniform(-6, 4, size=(size, 1))
    d = np.where(rng.random((size, 1)) < 0.6, -g * scale, rng.normal(size=(size, n)) * scale)
    c1 = float(rng.choice([1e-4, 0.1, 0.4]))
    options = Options(c1=c1, c2=float(rng.choice([c1 * 2, 0.5, 0.9])))
    with np.errstate(all="ignore"):
        new, new_counts = _search(Wolfe(), problem, x, d, options)
        old, old_counts = _search(ScalarWolfe(), problem, x, d, options)
    np.testing.assert_array_equal(new.eta, old.eta)
    np.testing.assert_array_equal(new.f_next, old.f_next)
    np.testing.assert_array_equal(new.g_next, old.g_next)
    assert new.stops == old.stops
    for field in ("evaluations", "by_gradient", "wolfe"):
        np.testing.assert_array_equal(new.info[field], old.info[field], err_msg=field)
    np.testing.assert_array_equal(new_counts.nfev, old_counts.nfev)
    np.testing.assert_array_equal(new_counts.ngev, old_counts.ngev)
    return new

"""core.line: a step along its line. The replayed trials are the search's own (backtracking from
eta = 1 by halving on the seed setup, worked out by hand); the optimal rate's model along -g
agrees with phi on a quadratic and not elsewhere; rules that take no line show none."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import compiled

from core import METHODS, Options, run
from core.line import line_at

problem = compiled


def test_backtracking_trials_on_the_seed_setup_by_hand():
    # 4x^2 + y^2 from (15, 15), d = -g = (-120, -30): phi(eta) = 4(15 - 120 eta)^2 + (15 - 30 eta)^2.
    # eta = 1: 4 (105)^2 + 15^2 = 44325; 1/2: 4 (45)^2 + 0 = 8100, both above f0 = 1125; 1/4:
    # 4 (15)^2 + 7.5^2 = 956.25 <= 1125 - 1e-4 (1/4)(120^2 + 30^2) = 1124.6: accepted.
    p = problem("4x^2 + y^2")
    trace = run(p, [15, 15], "gd-armijo")
    view = line_at(p, trace, 0)
    assert [t.eta for t in view.trials] == [1.0, 0.5, 0.25]
    assert [t.f for t in view.trials] == [44325.0, 8100.0, 956.25]
    assert [t.accepted for t in view.trials] == [False, False, True]
    assert view.eta == trace.step_size[0] == 0.25 and view.slope == -(120 ** 2 + 30 ** 2)
    assert view.armijo(np.array([0.25]))[0] == pytest.approx(1125 - 1e-4 * 0.25 * 15300)


def test_the_optimal_rate_model_along_g_is_phi_on_a_quadratic_and_not_elsewhere():
    p = problem("4x^2 + y^2")
    view = line_at(p, run(p, [15, 15], "gd-optimal"), 0)
    assert view.view == "model" and view.trials == ()
    assert view.model_eta == pytest.approx(17 / 130, rel=1e-14)  # g'g / g'Hg on the seed setup
    assert view.true_minimum == pytest.approx(17 / 130, rel=1e-9)
    np.testing.assert_allclose(view.model(view.etas), view.phi, rtol=1e-12)
    rosenbrock = problem("(1-x)^2 + 100(y-x^2)^2")
    far = line_at(rosenbrock, run(rosenbrock, [-1.2, 1], "gd-optimal"), 0)
    assert far.true_minimum > 1.1 * far.model_eta  # phi is quartic along -g: its minimum lies beyond the model's


@pytest.mark.parametrize("method", ["gd-armijo", "newton-damped", "bfgs", "lbfgs", "cg", "gd-exact"])
@pytest.mark.parametrize("k", [0, 2, 5])
def test_every_line_search_replays_the_step_the_run_took(method, k):
    p = problem("(1-x)^2 + 100(y-x^2)^2")
    trace = run(p, [-1.2, 1], method, Options(max_iter=50))
    view = line_at(p, trace, k)
    assert view is not None and view.view == "search" and view.eta == trace.step_size[k]
    accepted = [t for t in view.trials if t.accepted]
    assert len(accepted) == 1 and accepted[0].eta == pytest.approx(view.eta, rel=1e-12)
    assert accepted[0].f == trace.f[k + 1]  # the accepted trial is x_{k+1}
    assert math.isfinite(view.true_minimum)
    assert (view.c2 is not None) == ("c2" in METHODS[method].step.options)


@pytest.mark.parametrize("method", ["gd", "newton", "momentum", "trust-region"])
def test_rules_that_take_no_line_show_none(method):
    p = problem("(1-x)^2 + 100(y-x^2)^2")
    assert line_at(p, run(p, [-1.2, 1], method, Options(lr=1e-3, max_iter=5)), 0) is None


def test_no_line_after_the_last_iterate():
    p = problem("4x^2 + y^2")
    trace = run(p, [15, 15], "gd-armijo")
    assert line_at(p, trace, trace.iterations) is None

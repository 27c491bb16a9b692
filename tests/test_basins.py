"""Where every start goes (core.basins): cases worked out by hand, every pixel = run() alone,
clusters shared across methods, the budget, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import compiled

from core import Options, OptionsError, run
from core.basins import CLUSTER_TOLERANCE, OUTCOMES, View, cluster_points, compute_basins, label_outcome, outcome_label

HIMMELBLAU = "(x^2 + y - 11)^2 + (x + y^2 - 7)^2"
problem = compiled


def test_the_view_lays_starts_on_pixel_centres_row_by_row():
    view = View((0.0, 7.0, 0.0), (0, 2), (-1, 1, 10, 20), grid=8)
    starts = view.starts()
    assert starts.shape == (64, 3) and view.shape == (8, 8)
    np.testing.assert_allclose(view.centres(0), -1 + (np.arange(8) + 0.5) * 0.25)
    # start r * grid + c: column c along the first axis, row r along the second; the rest at x0
    np.testing.assert_allclose(starts[3 * 8 + 5], [-1 + 5.5 * 0.25, 7.0, 10 + 3.5 * 1.25])
    assert view.diagonal == pytest.approx(math.hypot(2, 10))


@pytest.mark.parametrize("kwargs, message", [
    ({"axes": (0, 0)}, "two different coordinates"),
    ({"axes": (0, 5)}, "two different coordinates"),
    ({"box": (-1, 1)}, "a low and a high value per axis"),
    ({"box": (1, -1, 0, 1)}, "high > low"),
    ({"box": (0, math.inf, 0, 1)}, "finite"),
    ({"grid": 1000}, "starts per side"),
])
def test_a_view_that_makes_no_picture_says_what_to_give(kwargs, message):
    with pytest.raises(OptionsError, match=message):
        View(**{"x0": (0.0, 0.0), "axes": (0, 1), "box": (-1, 1, -1, 1), **kwargs})


def test_cluster_points_groups_what_agrees_to_the_tolerance():
    points = np.array([[0, 0], [1e-4, 0], [1, 1], [1, 1 + 5e-5], [0, 2e-4]])
    group, centres = cluster_points(points, 1e-3)
    assert group.tolist() == [0, 0, 1, 1, 0]
    np.testing.assert_allclose(centres, [[1e-4 / 3, 2e-4 / 3], [1, 1 + 2.5e-5]])


def test_newton_on_a_saddle_reaches_it_from_every_start_in_one_step():
    # x^2 - y^2: g = (2x, -2y), H = diag(2, -2): the Newton step from any point lands on (0, 0)
    picture = compute_basins(problem("x^2 - y^2"), View((0.0, 0.0), (0, 1), (-2, 2, -2, 2), 20), ["newton"])
    (saddle,) = picture.clusters
    assert saddle.kind == "saddle" and saddle.counts == {"newton": 400}
    np.testing.assert_allclose(saddle.x, [0, 0], atol=1e-15)
    newton = picture.methods["newton"]
    assert (newton.labels == 0).all() and (newton.iterations == 1).all()
    assert newton.summary(picture.clusters)["saddle"] == 1.0


def test_gradient_descent_splits_a_double_well_at_its_maximum():
    # x^4 - 2x^2: minima at -1 and 1, maximum at 0. Fixed-rate gd with eta = 0.01 maps x to
    # x - 0.01 (4x^3 - 4x), increasing in x while 12x^2 - 4 < 100 (|x| < 2.9) and fixing 0: it keeps
    # the order of points, so no start crosses 0: left of 0 ends at -1, right of it at +1 (pixel
    # centres avoid 0 itself). Armijo's first trial eta = 1 may jump across from far out (from
    # x = -1.9 the step is +20), but never ends at the maximum.
    view = View((0.0,), (0,), (-2, 2), 40)
    picture = compute_basins(problem("x^4 - 2x^2"), view, ["gd", "gd-armijo", "newton"], Options(lr=0.01))
    assert [(c.x[0], c.kind) for c in picture.clusters] == [(pytest.approx(-1), "minimum"), (pytest.approx(1), "minimum"),
                                                             (pytest.approx(0, abs=1e-12), "maximum")]
    left = view.centres(0) < 0
    gd = picture.methods["gd"].labels
    assert (gd[left] == 0).all() and (gd[~left] == 1).all()
    assert picture.clusters[2].counts["gd-armijo"] == picture.clusters[2].counts["gd"] == 0
    near = np.abs(view.centres(0)) < 1  # one backtracking step from there never leaves the well
    armijo = picture.methods["gd-armijo"].labels
    assert (armijo[near & left] == 0).all() and (armijo[near & ~left] == 1).all()
    # Newton is drawn to the maximum from near it: its map x -> 2x^3 / (3x^2 - 1) shrinks |x| where
    # 2x^2 < 1 - 3x^2, i.e. |x| < 1/sqrt(5) = 0.447
    newton = picture.methods["newton"].labels
    assert (newton[np.abs(view.centres(0)) < 0.44] == 2).all()


def test_on_himmelblau_newton_finds_all_nine_stationary_points_and_armijo_only_the_minima():
    picture = compute_basins(problem(HIMMELBLAU), View((0.0, 0.0), (0, 1), (-5, 5, -5, 5), 60), ["newton", "gd-armijo"])
    kinds = [c.kind for c in picture.clusters]
    assert kinds == ["minimum"] * 4 + ["saddle"] * 4 + ["maximum"]
    minima = sorted(c.x for c in picture.clusters if c.kind == "minimum")
    np.testing.assert_allclose(minima[2], [3, 2], atol=1e-9)  # the one minimum with exact coordinates
    assert all(c.counts["newton"] > 0 for c in picture.clusters)
    assert all((c.counts["gd-armijo"] > 0) == (c.kind == "minimum") for c in picture.clusters)
    summary = picture.methods["gd-armijo"].summary(picture.clusters)
    assert summary["minimum"] == 1.0 and summary["failed"] == 0.0
    newton = picture.methods["newton"].summary(picture.clusters)
    assert newton["saddle"] > 0.2 and newton["maximum"] > 0.03
    assert sum(newton[k] for k in ("minimum", "saddle", "maximum", "degenerate", "unclassified", "flat", "failed",
                                   "other stationary point")) == pytest.approx(1.0)


@pytest.mark.parametrize("text, box, methods", [
    (HIMMELBLAU, (-5, 5, -5, 5), ["newton", "gd", "bfgs", "trust-region"]),
    ("x^2/2 - log(x) + y^2", (-1, 3, -1, 1), ["newton", "gd-optimal", "cg"]),  # domain errors left of 0
])
def test_every_pixel_is_the_run_from_that_start_alone(text, box, methods):
    p, options = problem(text), Options(lr=0.02, max_iter=200)
    view = View((0.0, 0.0), (0, 1), box, 24)
    picture = compute_basins(p, view, methods, options)
    starts = view.starts()
    rng = np.random.default_rng(7)
    for method, basins in picture.methods.items():
        for i in rng.choice(view.size, 12, replace=False):
            alone = run(p, starts[i], method, options)
            assert (alone.status, alone.iterations) == (picture.ends[method].status[i], basins.iterations[i])
            np.testing.assert_array_equal(alone.x[-1], picture.ends[method].x[i])
            label = basins.labels[i]
            if alone.status == "converged" and alone.stationary_point != "flat":
                cluster = picture.clusters[label]
                assert cluster.kind == alone.stationary_point
                assert np.linalg.norm(np.subtract(cluster.x, alone.x[-1])) <= CLUSTER_TOLERANCE * view.diagonal
            else:
                assert label_outcome(label) == ("flat" if alone.status == "converged" else alone.status)


def test_one_point_has_one_label_across_methods():
    picture = compute_basins(problem(HIMMELBLAU), View((0.0, 0.0), (0, 1), (-5, 5, -5, 5), 16), ["gd-optimal", "newton"])
    for c, cluster in enumerate(picture.clusters):
        for method, basins in picture.methods.items():
            assert int(np.sum(basins.labels == c)) == cluster.counts[method]


def test_a_slice_of_a_three_variable_f_keeps_the_other_coordinate_at_x0():
    view = View((0.5, 0.0, 2.0), (1, 2), (-1, 1, -1, 1), 10)
    picture = compute_basins(problem("x^2 + y^2 + z^2"), view, ["newton"])
    assert (picture.ends["newton"].starts[:, 0] == 0.5).all()
    np.testing.assert_allclose(picture.clusters[0].x, [0, 0, 0], atol=1e-15)


def test_a_budget_too_small_for_the_grid_draws_a_coarser_one_and_says_so():
    p = problem(HIMMELBLAU)
    picture = compute_basins(p, View((0.0, 0.0), (0, 1), (-5, 5, -5, 5), 400), ["bfgs"], Options(), cpu_budget_s=0.05)
    assert picture.view.grid < 400 and picture.requested_grid == 400
    assert "drawn at" in picture.notes[0] and "400×400" in picture.notes[0]
    assert picture.methods["bfgs"].labels.size == picture.view.grid ** 2


def test_failures_are_labelled_with_their_status():
    # log(x) is not defined for x <= 0: those starts end at x0, outside the domain; Newton from the
    # others reaches the minimum 1/sqrt(2) of x^2 - log(x)
    picture = compute_basins(problem("x^2 - log(x)"), View((0.0,), (0,), (-1, 1), 10), ["newton"])
    labels = picture.methods["newton"].labels
    assert set(labels[:5].tolist()) == {outcome_label("domain_error")}
    assert picture.clusters[0].x == (pytest.approx(math.sqrt(0.5)),)
    assert "domain_error" in OUTCOMES and (labels[5:] == 0).all()


def test_cli_prints_the_points_and_the_failures_as_json():
    out = subprocess.run([sys.executable, "-m", "core", HIMMELBLAU, "--method", "newton", "--basins=-5,5,-5,5",
                          "--grid", "40", "--json"], capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["method"] == "newton" and result["grid"] == 40 and result["box"] == [-5, 5, -5, 5]
    assert sorted(p["kind"] for p in result["endpoints"]) == ["maximum"] + ["minimum"] * 4 + ["saddle"] * 4
    assert sum(p["count"] for p in result["endpoints"]) + sum(result["statuses"].values()) == 1600
    assert result["seconds"] > 0
    text = subprocess.run([sys.executable, "-m", "core", "x^2 - y^2", "--method", "newton", "--basins=-1,1,-1,1",
                           "--grid", "8"], capture_output=True, text=True, check=True).stdout
    assert "64 starts" in text and "saddle" in text and "100.0%" in text


def test_cli_refuses_a_box_that_makes_no_picture():
    done = subprocess.run([sys.executable, "-m", "core", "x^2 + y^2", "--basins=1,-1,0,1"], capture_output=True, text=True)
    assert done.returncode == 2 and "high > low" in done.stderr
    done = subprocess.run([sys.executable, "-m", "core", "x^2 + y^2", "--basins=-1,1,-1,1", "--axes", "q"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "q is not a variable" in done.stderr


def test_a_method_gets_the_slack_the_later_ones_do_not_need():
    from core.basins import method_share
    # newton estimated at 0.08 s (its first pilot was cold: it needed 0.17) and gd-armijo at 0.5,
    # with 1.95 s left: newton may use all but gd-armijo's 0.5, not its 14 % part of 1.95
    assert method_share(1.95, [0.08, 0.5]) == pytest.approx(1.45)
    assert method_share(1.0, [0.5]) == 1.0  # the last method: all that is left
    assert method_share(1.0, [0.0, 0.0]) == 1.0  # nothing estimated for the later one: it gets what is left after


def test_when_the_estimates_do_not_fit_a_cheap_method_still_gets_all_it_needs():
    from core.basins import method_share
    # newton 0.002 s beside gd 8 s, 1.4 s left: newton gets its 0.002 (a proportional split gave
    # it 0.00035 and drew all its starts as stopped), gd the rest, in either order
    assert method_share(1.4, [0.002, 8.0]) == 0.002
    assert method_share(1.4, [8.0, 0.002]) == pytest.approx(1.398)
    # two costly methods and a cheap one: the cheap one in full, the costly ones an equal level
    assert method_share(1.0, [0.1, 2.0, 3.0]) == 0.1
    assert method_share(1.0, [2.0, 0.1, 3.0]) == pytest.approx(0.45)
    assert method_share(0.9, [3.0, 2.0]) == pytest.approx(0.45)

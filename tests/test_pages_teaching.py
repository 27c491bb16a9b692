"""The teaching pages in AppTest: the numbers of the issue's "done means", every preset, bad input.

Each test starts a session on app.py (the URL sets the setup), then switches to the page; the
page draws the sidebar itself when AppTest runs it alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ui.links import PRESETS

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ("pages/learning_rate.py", "pages/theory.py", "pages/one_d.py")


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    for element in at.dataframe:
        frame = element.value
        if column in frame.columns:
            return frame
    raise AssertionError(f"no dataframe with a {column!r} column")


def row_at(frame: pd.DataFrame, eta: float) -> pd.Series:
    index = int(np.argmin(np.abs(np.log(frame["eta"].to_numpy(dtype=float)) - math.log(eta))))
    row = frame.iloc[index]
    assert row["eta"] == pytest.approx(eta, rel=1e-12)
    return row


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.subheader] + [c.value for c in at.caption]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# Learning-rate explorer
# --------------------------------------------------------------------------------------------

def test_learning_rate_page_marks_the_quadratic_rates_and_classifies_the_sweep():
    at = open_page("pages/learning_rate.py")  # default setup: 4x^2 + y^2 from (15, 15), max_iter 1000
    shown = metrics(at)
    assert float(shown["2/λmax"]) == pytest.approx(0.25)
    assert float(shown["2/(λmin+λmax)"]) == pytest.approx(0.2)
    assert float(shown["η of gd-optimal at x₀"]) == pytest.approx(15300 / 117000, rel=1e-5)
    assert float(shown["your η"]) == pytest.approx(0.1)
    # the default range runs from (2/λmax)/25 = 0.01 to 1.04 * 2/λmax = 0.26
    assert at.number_input(key="lr_sweep_lo").value == pytest.approx(0.01)
    assert at.number_input(key="lr_sweep_hi").value == pytest.approx(0.26)
    sweep = frame_with(at, "outcome_label")
    assert row_at(sweep, 0.26)["outcome_label"] == "diverged"
    crawl = row_at(sweep, 0.01)
    assert crawl["outcome_label"] == "max_iter: crawling" and crawl["steps"] == 1000 and pd.isna(crawl["converged_in"])
    assert row_at(sweep, 0.25)["outcome_label"] == "max_iter: oscillating"
    assert row_at(sweep, 0.2)["outcome_label"] == "converged"
    assert row_at(sweep, 0.1)["converged_in"] == 98
    assert "reversed 49/49" in row_at(sweep, 0.25)["reason"]


def test_learning_rate_page_with_user_range_and_picked_run():
    at = open_page("pages/learning_rate.py")
    at.number_input(key="lr_sweep_lo").set_value(0.05)
    at.number_input(key="lr_sweep_hi").set_value(0.3)
    at.slider(key="lr_sweep_n").set_value(6)
    at.run()
    assert not at.exception
    sweep = frame_with(at, "outcome_label")
    etas = sweep["eta"].to_numpy()
    assert etas[0] == pytest.approx(0.05) and etas[-1] == pytest.approx(0.3)
    assert len(sweep) == 6 + 4  # 6 log-spaced rates + the four marks inside [0.05, 0.3]
    assert row_at(sweep, 0.3)["outcome_label"] == "diverged"
    at.select_slider(key="lr_pick").set_value(float(row_at(sweep, 0.25)["eta"]))
    at.run()
    assert not at.exception
    assert "η = 0.25: max_iter: oscillating" in [s.value for s in at.subheader]
    # the per-direction factor 1 - eta*lambda for lambda = 8 at eta = 0.25
    assert any("$1-0.25\\cdot(8) = -1$: flips sign, same size: pure oscillation" in m.value for m in at.markdown)


@pytest.mark.parametrize("f, x0", [("x^2/100", "3"), ("0.01x^2+0.01y^2", "1,1"), ("x^4", "0.01")])
def test_learning_rate_page_flat_functions_get_a_range_inside_the_box(f, x0):
    """2/λmax is 100 or more here: the default range is clamped into the inputs' 1e-12 .. 100."""
    at = open_page("pages/learning_rate.py", f=f, x0=x0)
    assert not at.error, [e.value for e in at.error]
    low, high = at.number_input(key="lr_sweep_lo").value, at.number_input(key="lr_sweep_hi").value
    assert 0 < low < high <= 100
    assert len(frame_with(at, "reason")) >= 5  # a sweep ran and is tabled
    assert any("clamped into the allowed" in c.value for c in at.caption)


def test_learning_rate_page_bad_range_is_an_error():
    at = open_page("pages/learning_rate.py")
    at.number_input(key="lr_sweep_lo").set_value(0.5)
    at.number_input(key="lr_sweep_hi").set_value(0.1)
    at.run()
    assert not at.exception
    assert any("0 < low < high (got 0.5 .. 0.1)" in e.value.replace("\\", "") for e in at.error)  # md-escaped


def test_learning_rate_preset_too_large_picks_the_diverging_run():
    at = open_page("pages/learning_rate.py", f="4x^2 + y^2", x0="15,15", methods="gd,newton", lr="0.26")
    assert float(metrics(at)["your η"]) == pytest.approx(0.26)
    assert "η = 0.26: diverged" in [s.value for s in at.subheader]


def test_learning_rate_page_on_a_non_quadratic_says_why_there_is_no_limit():
    at = open_page("pages/learning_rate.py", f="(1-x)^2 + 100(y-x^2)^2", x0="-1.2,1", methods="gd,newton",
                   lr="0.001")
    assert "2/λmax" not in metrics(at)
    assert any("not quadratic" in i.value for i in at.info)


def test_learning_rate_page_momentum_sweep():
    at = open_page("pages/learning_rate.py")
    beside = [c.value for c in at.caption if c.value.startswith("These factors are for plain fixed-step GD")]
    assert beside == []  # gd's steps are what the factors 1 - eta lambda describe
    at.radio(key="lr_sweep_method").set_value("momentum")
    at.run()
    assert not at.exception
    assert len(frame_with(at, "outcome_label")) >= 25
    for method, says in (("momentum", "momentum adds β(x_k − x_{k−1})"), ("adam", "Adam divides each coordinate")):
        at.radio(key="lr_sweep_method").set_value(method).run()
        beside = [c.value for c in at.caption if c.value.startswith("These factors are for plain fixed-step GD")]
        assert len(beside) == 1 and says in beside[0], beside  # the method's own note (its direction rule)


# --------------------------------------------------------------------------------------------
# Theory vs measurement
# --------------------------------------------------------------------------------------------

def test_theory_page_default_numbers():
    at = open_page("pages/theory.py")
    shown = metrics(at)
    assert shown["κ of H at x₀"] == "4" and shown["κ of H at the solution"] == "4"
    measured = frame_with(at, "f_rate").set_index("method")
    assert measured.loc["gd-optimal", "f_rate"] == pytest.approx(36 / 325, rel=1e-9)
    assert measured.loc["gd", "x_rate"] == pytest.approx(0.8, rel=1e-9)  # max|1 - 0.1 λ| = 0.8
    assert measured.loc["gd", "f_rate"] == pytest.approx(0.64, rel=1e-6)
    assert measured.loc["newton", "steps"] == 1
    assert measured.loc["gd-optimal", "order"] == pytest.approx(1.0, abs=0.15)
    labels = [(m.label, m.value) for m in at.metric]
    assert ("textbook (per step on f − f*)", "≤ 0.36") in labels
    assert ("textbook (per step on ‖x − x*‖)", "0.8") in labels
    assert ("textbook (steps)", "1") in labels
    badges = "\n".join(texts(at).splitlines() + [str(b.proto) for b in at.get("badge")])
    assert "consistent" in badges and "matches" in badges


def test_theory_page_newton_on_rosenbrock_is_order_two():
    at = open_page("pages/theory.py", f="(1-x)^2 + 100(y-x^2)^2", x0="-1.2,1", methods="gd,gd-optimal,newton",
                   lr="0.001")
    measured = frame_with(at, "order").set_index("method")
    assert 1.6 <= measured.loc["newton", "order"] <= 2.4
    reasons = [i.value for i in at.info]
    assert any("not quadratic" in r for r in reasons)  # gd and gd-optimal: no number printed
    assert ("textbook (order)", "2") in [(m.label, m.value) for m in at.metric]


def test_theory_page_iterate_section_uses_the_users_g_and_h():
    at = open_page("pages/theory.py")
    at.selectbox(key="theory_method").set_value("gd-optimal")
    at.slider(key="theory_k").set_value(0)
    at.run()
    latex = "\n".join(element.value for element in at.latex)
    assert "g^\\top g = 15300" in latex and "g^\\top H g = 117000" in latex
    assert "0.130769" in latex


def test_theory_page_measured_at_step_k_shows_the_picked_methods_ratios():
    """The methods in another order, gd last: the ratios shown are gd-optimal's (36/325 at k = 0
    on 4x² + y² from (15, 15)), not those of whichever method came last."""
    at = open_page("pages/theory.py", f="4x^2+y^2", x0="15,15", methods="gd-optimal,newton,gd", lr="0.2")
    at.selectbox(key="theory_method").set_value("gd-optimal")
    at.slider(key="theory_k").set_value(0)
    at.run()
    shown = [m.value for m in at.markdown if m.value.startswith("- f − f*: ratio")]
    assert shown == [f"- f − f*: ratio `{36 / 325:.6g}`"], shown
    at.selectbox(key="theory_method").set_value("gd").run()
    shown = [m.value for m in at.markdown if m.value.startswith("- f − f*: ratio")]
    assert shown == ["- f − f*: ratio `0.36`"], shown  # gd with η = 0.2: (1 − 0.2·8)² = 0.36 along x


def test_theory_page_measures_how_a_step_grows_with_n():
    """Nothing is measured until asked; then every chosen method has a point at each n and a model
    whose power comes from the method (gd O(n), bfgs O(n^2), newton O(n^3))."""
    at = open_page("pages/theory.py", methods="gd,bfgs,newton", lr="0.001")
    assert not any("grows as" in frame.value.columns for frame in at.dataframe)
    at.radio(key="growth_family").set_value("logcosh")
    at.button(key="growth_measure").click().run(timeout=180)
    assert not at.exception, [e.message for e in at.exception]
    table = frame_with(at, "p").set_index("method")
    assert table["p"].to_dict() == {"gd": "O(n^1)", "bfgs": "O(n^2)", "newton": "O(n^3)"}
    model = [c for c in table.columns if c.startswith("model at n = ")]
    assert len(model) == 4 and (table[model].to_numpy() > 0).all()
    assert (table["measured at n = 20"] > 0).all()
    newton, gd = table.loc["newton"], table.loc["gd"]
    assert newton["1 s per step at n ≈"] < gd["1 s per step at n ≈"]  # n^3 reaches a second first


def test_theory_page_growth_says_when_the_server_is_busy(monkeypatch):
    """A full slow lane of the parse workers refuses the family's texts: a message, no traceback."""
    import ui.compute
    from core.problem import ServerBusy

    def busy(*_args):
        raise ServerBusy("the server is busy with other long expressions")
    monkeypatch.setattr(ui.compute, "measure_growths", busy)
    at = open_page("pages/theory.py", methods="gd,newton")
    at.button(key="growth_measure").click().run(timeout=60)
    assert not at.exception, [e.message for e in at.exception]
    assert any("Could not measure now" in w.value and "busy" in w.value for w in at.warning)


def test_theory_page_indefinite_quadratic_says_so():
    at = open_page("pages/theory.py", f="x^2 - y^2", x0="1,1", methods="gd,gd-optimal,newton")
    assert any("indefinite" in w.value for w in at.warning)
    assert sum("does not apply because h is indefinite" in i.value.lower() for i in at.info) == 2


# --------------------------------------------------------------------------------------------
# 1-D lesson
# --------------------------------------------------------------------------------------------

def test_one_d_page_x4_traces_are_identical():
    at = open_page("pages/one_d.py", f="x^4", x0="1", methods="gd-optimal,newton")
    tables = [e.value for e in at.dataframe if "1/f''(x_k)" in e.value.columns]
    assert len(tables) == 2
    gd, newton = tables
    np.testing.assert_allclose(gd["x_k"], newton["x_k"], rtol=1e-14)
    np.testing.assert_allclose(gd["f(x_k)"], newton["f(x_k)"], rtol=1e-13)
    np.testing.assert_allclose(gd["x_k"], (2 / 3) ** np.arange(len(gd)), rtol=1e-13)
    steps = gd["η_k"].to_numpy(dtype=float)[:-1]
    np.testing.assert_allclose(steps, gd["1/f''(x_k)"].to_numpy(dtype=float)[:-1], rtol=1e-13)  # η = 1/f''
    shown = metrics(at)
    assert shown["the two traces"] == "identical"
    assert shown["steps: GD optimal η / Newton"] == "17 / 17"
    latex = "\n".join(element.value for element in at.latex)
    assert "\\frac{1}{12} = 0.0833333" in latex


def test_one_d_page_two_variables_shows_why_it_differs():
    at = open_page("pages/one_d.py")  # 4x^2 + y^2 from (15, 15)
    assert metrics(at)["the two traces"] == "different"
    eigen = frame_with(at, "Newton: −c/λ")
    np.testing.assert_allclose(eigen["Newton: −c/λ"], [-15.0, -15.0])
    assert not np.allclose(eigen["optimal rate: −η*·c"], eigen["Newton: −c/λ"])


def test_one_d_page_two_variables_on_an_eigenvector_coincides():
    at = open_page("pages/one_d.py", x0="15,0")
    assert metrics(at)["the two traces"] == "identical"
    assert any("eigenvector" in s.value for s in at.success)


def test_one_d_page_three_variables_gets_a_message():
    at = open_page("pages/one_d.py", f="x^2 + y^2 + z^2", x0="1,2,3")
    assert any("3 variables" in w.value for w in at.warning)
    assert frame_with(at, "λ") is not None


# --------------------------------------------------------------------------------------------
# Every preset, and bad input, on every page
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_every_preset_renders(page):
    at = open_page(page)
    for i, preset in enumerate(PRESETS):
        at.button(key=f"preset_{i}").click()
        at.run()
        assert not at.exception, (preset.label, [e.message for e in at.exception])
        assert at.text_input(key="f").value == preset.setup.function


@pytest.mark.parametrize("page", PAGES)
def test_bad_function_shows_an_error_not_a_traceback(page):
    at = open_page(page)
    at.text_input(key="f").set_value("sin(")
    at.run()
    assert not at.exception
    assert at.error and any("Nothing to show yet" in e.value for e in at.error)


@pytest.mark.parametrize("page", PAGES)
def test_bad_start_point_shows_an_error(page):
    at = open_page(page)
    at.text_input(key="x0").set_value("1, 2, 3")
    at.run()
    assert not at.exception and at.error


@pytest.mark.parametrize("page", PAGES)
def test_domain_trouble_is_a_message(page):
    # sqrt(x) + x^2 from 1 with lr 10: the first fixed step lands at x < 0, outside the domain
    at = open_page(page, f="sqrt(x) + x^2", x0="1", methods="gd,gd-optimal,newton", lr="10")
    assert not at.exception


def test_theory_page_measures_a_family_the_visitor_types():
    """A family typed in the sum notation is shown written out at n = 6, then measured like the
    presets; a family outside the notation gets the notation's message and nothing runs."""
    at = open_page("pages/theory.py", methods="gd,newton")
    at.radio(key="growth_family").set_value("typed").run(timeout=60)
    at.text_input(key="growth_notation").set_value("sum(x[i]^2 + x[i]^4, i = 1..n) + sum(x[i] x[i+1], i = 1..n-1)")
    at.text_input(key="growth_start").set_value("1, -1").run(timeout=60)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(r"x_{6}^{4}" in text.value for text in at.markdown)  # written out at n = 6
    at.button(key="growth_measure").click().run(timeout=180)
    assert not at.exception, [e.message for e in at.exception]
    table = frame_with(at, "p").set_index("method")
    assert table["p"].to_dict() == {"gd": "O(n^1)", "newton": "O(n^3)"}
    assert (table["measured at n = 20"] > 0).all()

    at.text_input(key="growth_notation").set_value("sum(x[i+1]^2, i = 1..n)").run(timeout=60)
    assert not at.exception
    assert [e.value for e in at.error] == ["at n = 2, i = 2: x[i + 1] is x[3], but the variables are x[1] .. x[n]: "
                                           "change the sum's range"]
    assert not any("grows as" in frame.value.columns for frame in at.dataframe)  # the old measurement is gone


def test_theory_page_keeps_a_typed_family_and_does_not_retry_a_refused_one(monkeypatch):
    """The typed family survives a visit to a preset; a family the parser refuses at some n is
    measured once per click (the warning names the n), not again on every rerun."""
    import ui.compute
    at = open_page("pages/theory.py", methods="gd")
    at.radio(key="growth_family").set_value("typed").run(timeout=60)
    # 6i at n = 20 is x^120: beyond the parser's exponents, while n = 6 (shown) is fine
    at.text_input(key="growth_notation").set_value("sum(x[i]^(6i) + x[i]^2, i = 1..n)").run(timeout=60)
    at.radio(key="growth_family").set_value("rosenbrock").run(timeout=60)
    at.radio(key="growth_family").set_value("typed").run(timeout=60)
    assert at.text_input(key="growth_notation").value == "sum(x[i]^(6i) + x[i]^2, i = 1..n)"
    calls = []
    measure = ui.compute.measure_growth
    monkeypatch.setattr(ui.compute, "measure_growth", lambda *a, **k: calls.append(1) or measure(*a, **k))
    at.button(key="growth_measure").click().run(timeout=120)
    assert not at.exception, [e.message for e in at.exception]
    warned = [w.value for w in at.warning if w.value.startswith("Could not measure this family")]
    assert len(warned) == 1 and "at n = " in warned[0] and "exponent too large" in warned[0], warned
    measured = len(calls)
    at.run(timeout=60)  # any other rerun
    assert len(calls) == measured and not any("Could not measure" in w.value for w in at.warning)


def test_theory_page_shows_a_busy_server_as_busy(monkeypatch):
    """A full slow lane while the family is written out: a warning that it cannot be shown now,
    and the button stays (the family itself is fine)."""
    import ui.compute
    from core.problem import ServerBusy

    original = ui.compute.problem_of

    def busy(text):  # the family written out at n = 6 (x6), not the page's own f
        if "x6" in text:
            raise ServerBusy("the server is busy with other long expressions")
        return original(text)
    monkeypatch.setattr(ui.compute, "problem_of", busy)
    at = open_page("pages/theory.py", methods="gd")
    assert not at.exception
    assert any("cannot be shown now" in w.value and "busy" in w.value for w in at.warning)
    assert not any("refused" in e.value for e in at.error)
    assert at.button(key="growth_measure")

"""AppTest tests of the dashboard: setup sidebar, share links, Compare and Derivatives pages."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import Options, build_problem, run
from ui.links import PRESETS, Setup, setup_to_query

from conftest import chart_specs as charts
from conftest import ROOT, run_app


def app(**query: str) -> AppTest:
    return run_app("app.py", **query)


def derivatives(**query: str) -> AppTest:
    return run_app("pages/derivatives.py", **query)


def test_default_compare_page_matches_engine() -> None:
    at = app()
    assert not at.exception
    assert at.title[0].value == "Compare the methods"
    problem = build_problem("4x^2 + y^2")
    tables = [el.value for el in at.dataframe]
    assert len(tables) == 3  # gd, gd-optimal, newton
    for table, method in zip(tables, ("gd", "gd-optimal", "newton")):
        trace = run(problem, [15, 15], method, Options())
        assert len(table) == trace.iterations + 1
        np.testing.assert_array_equal(table["x"].to_numpy(), trace.x[:, 0])
        np.testing.assert_array_equal(table["y"].to_numpy(), trace.x[:, 1])
        np.testing.assert_array_equal(table["f"].to_numpy(), trace.f)
        np.testing.assert_array_equal(table["grad_norm"].to_numpy(), trace.grad_norm)
    newton = tables[2]
    assert newton["x"].iloc[1] == 0 and newton["y"].iloc[1] == 0
    # gd-optimal's first step: eta = 17/130 to (-9/13, 144/13)
    optimal = tables[1]
    assert optimal["step_size"].iloc[0] == pytest.approx(17 / 130, rel=1e-14)
    assert optimal["x"].iloc[1] == pytest.approx(-9 / 13, rel=1e-13)
    assert optimal["y"].iloc[1] == pytest.approx(144 / 13, rel=1e-13)


def test_status_badges_and_update_rules() -> None:
    at = app()
    text = " ".join(m.value for m in at.markdown)  # st.badge renders as a markdown badge
    assert "converged in 1 step" in text and "minimum" in text
    latex = [el.value for el in at.latex]
    assert any(r"\frac{g_k^\top g_k}{g_k^\top H_k\, g_k}" in s for s in latex)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.label for p in PRESETS])
def test_every_preset_renders(preset) -> None:
    at = app(**setup_to_query(preset.setup))
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.dataframe) == len(preset.setup.methods)
    specs = charts(at)
    assert specs, "the shared charts are missing"
    # the lesson of the preset is shown: what to look at, the question, Play to its iterate, the answer
    shown = " ".join(m.value.replace("\\", "") for m in at.markdown)
    assert preset.lesson in shown and preset.story.question in shown and preset.story.look in shown
    assert at.button(key="lesson_play").label == f"Play to k = {preset.story.stop_at}"
    assert preset.story.answer in " ".join(m.value.replace("\\", "") for e in at.expander if e.label == "Answer"
                                           for m in e.markdown)


def test_preset_button_applies_setup_and_url() -> None:
    at = app()
    saddle = next(i for i, p in enumerate(PRESETS) if p.label.startswith("Saddle"))
    at.button(key=f"preset_{saddle}").click().run()
    assert not at.exception
    assert at.text_input(key="f").value == "x^2 - y^2"
    assert at.query_params["f"] == ["x^2 - y^2"] or at.query_params["f"] == "x^2 - y^2"
    text = " ".join(m.value for m in at.markdown)
    assert "negative" in text.lower() or "g'Hg" in " ".join(c.value for c in at.caption)


def test_share_link_reproduces_setup() -> None:
    setup = Setup("(1-x)^2 + 100(y-x^2)^2", "-1.2, 1", ("gd", "bfgs"),
                  Options(lr=0.002, tol=1e-10, max_iter=500, c2=0.5))
    query = setup_to_query(setup)
    # the link carries the options these methods read (gd: lr; bfgs: c1, c2), and no other
    assert [k for k in query if k not in ("f", "x0", "methods")] == ["lr", "tol", "max_iter", "c1", "c2"]
    at = app(**query)
    assert not at.exception
    assert at.text_input(key="f").value == setup.function
    assert at.text_input(key="x0").value == "-1.2, 1"
    assert at.multiselect(key="methods").value == ["gd", "bfgs"]
    assert at.number_input(key="lr").value == 0.002
    assert at.number_input(key="tol").value == 1e-10
    assert at.number_input(key="max_iter").value == 500
    assert at.number_input(key="c2").value == 0.5
    shown = {w.key for w in at.sidebar.number_input}
    assert shown == {"lr", "tol", "max_iter", "c1", "c2"}  # only the options of the chosen methods
    problem = build_problem(setup.function)
    expected = run(problem, [-1.2, 1], "bfgs", setup.options)
    np.testing.assert_array_equal(at.dataframe[1].value["f"].to_numpy(), expected.f)
    shown_link = at.sidebar.get("code")[0].proto.code_text
    assert "f=%281-x%29%5E2" in shown_link and "methods=gd%2Cbfgs" in shown_link


def test_widget_change_updates_url() -> None:
    at = app()
    at.text_input(key="f").input("x^2 + 3y^2").run()
    at.number_input(key="lr").set_value(0.2).run()
    at.multiselect(key="methods").select("bfgs").run()
    assert not at.exception
    params = {k: at.query_params[k] for k in ("f", "lr", "methods")}
    flat = {k: v[0] if isinstance(v, list) else v for k, v in params.items()}
    assert flat == {"f": "x^2 + 3y^2", "lr": "0.2", "methods": "gd,gd-optimal,newton,bfgs"}


def test_bad_function_shows_message_not_traceback() -> None:
    at = app()
    at.text_input(key="f").input("x.__class__").run()
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "unexpected" in messages
    assert not at.dataframe  # nothing computed from a bad function
    assert any("What to type" in m.value for m in at.markdown)


def test_bad_start_point_and_dimension_mismatch() -> None:
    at = app()
    at.text_input(key="x0").input("1, two").run()
    assert not at.exception and any("not a list of numbers" in e.value for e in at.error)
    at.text_input(key="x0").input("1, 2, 3").run()
    assert not at.exception and any("3 coordinates" in e.value for e in at.error)


def test_bad_link_parameters_fall_back_with_message() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for name, value in dict(f="__import__('os')", x0="nan,1", methods="gd,evil", lr="-3", max_iter="many").items():
        at.query_params[name] = value
    at.run()  # one run: the messages belong to the session's first look at the link
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    for fragment in ("function", "start point", "evil", "lr", "max_iter"):
        assert fragment in warnings.replace("\\", ""), fragment
    assert at.text_input(key="f").value == Setup().function
    assert at.multiselect(key="methods").value == ["gd"]
    assert len(at.dataframe) == 1


def test_iteration_slider_marks_row_and_path() -> None:
    at = app()
    at.slider(key="k").set_value(3).run()
    assert not at.exception
    optimal = at.dataframe[1].value
    assert list(optimal.loc[optimal["▶"] == "▶", "k"]) == [3]
    newton = at.dataframe[2].value  # Newton stopped at k = 1: its last row is marked
    assert list(newton.loc[newton["▶"] == "▶", "k"]) == [1]
    (picture,) = [c for c in charts(at) if "Paths on the contours" in str(c.get("title"))]
    marker = [layer for layer in picture["layer"] if layer.get("mark", {}).get("shape") == "diamond"]
    assert marker
    datasets = picture["datasets"]
    marked = datasets[marker[0]["data"]["name"]]
    assert {row["method"]: row["k"] for row in marked} == {"gd": 3, "gd-optimal": 3, "newton": 1}


def test_one_variable_function_draws_curve_and_model() -> None:
    at = app(f="x^4", x0="1", methods="gd-optimal,newton")
    assert not at.exception
    titles = [spec.get("title", "") for spec in charts(at)]
    assert any("quadratic model" in str(t) for t in titles)


def test_many_variables_no_picture_but_convergence() -> None:
    terms = " + ".join(f"(x{i} - {i})^2" for i in range(1, 6))
    at = app(f=terms, x0="0,0,0,0,0", methods="newton,bfgs")
    assert not at.exception
    assert any("no picture" in c.value for c in at.caption)
    assert at.dataframe[0].value["f"].iloc[-1] == 0


def test_convergence_chart_has_no_nonpositive_values_on_log_axis() -> None:
    at = app()
    for spec in charts(at):
        for layer in spec.get("layer", []):
            y = layer.get("encoding", {}).get("y", {})
            if y.get("scale", {}).get("type") == "log":
                for row in spec["datasets"][layer["data"]["name"]]:
                    value = row.get("value", row.get("eta"))
                    assert value is not None and value > 0


def test_derivatives_page_seed_001_example() -> None:
    at = derivatives(f="x^2 + 1e9 y^2", x0="1,1", methods="gd-optimal,newton")
    assert not at.exception
    latex = " ".join(el.value for el in at.latex)
    # symbolic gradient and Hessian
    assert "2000000000 y" in latex and "2000000000" in latex
    # Newton direction (-1, -1); normalised gradient direction ~(0, -1)
    assert r"d_{\text{Newton}} = -H^{-1} g = \begin{pmatrix}-1\\-1\end{pmatrix}" in latex
    assert r"\frac{-g}{\|g\|} = \begin{pmatrix}-1 \times 10^{-9}\\-1\end{pmatrix}" in latex
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Condition number κ"] == "1e+09"
    assert metrics["Definiteness"] == "positive definite"


def test_derivatives_page_at_an_iterate() -> None:
    at = derivatives(f="x^2 - y^2", x0="1,1", methods="newton")
    at.radio(key="deriv_where").set_value("an iterate of a method").run()
    at.slider(key="deriv_k").set_value(1).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Definiteness"] == "indefinite"
    assert any("g'Hg ≤ 0" in c.value for c in at.caption)


def test_derivatives_page_with_bad_function() -> None:
    at = derivatives(f="x^2")
    at.text_input(key="f").input("sin^2(x)").run()
    assert not at.exception
    assert any("sin(x)^2" in e.value.replace("\\", "") for e in at.error)


def test_an_option_keeps_its_value_while_its_widget_is_hidden() -> None:
    at = app()
    at.number_input(key="lr").set_value(0.2).run()
    at.multiselect(key="methods").set_value(["newton"]).run()  # newton reads no lr: no lr widget
    assert not at.exception
    assert "lr" not in {w.key for w in at.sidebar.number_input}
    assert at.query_params["lr"] in ("0.2", ["0.2"])  # not the default: the link keeps it
    at.multiselect(key="methods").set_value(["newton", "gd"]).run()
    assert at.number_input(key="lr").value == 0.2


def test_the_quadratic_model_at_x_k_is_drawn_on_request() -> None:
    # Seed 000 at k = 0 on 4x^2 + y^2 from (15, 15): the model is f itself; Newton's step lands on
    # its centre (0, 0); the optimal rate's step stops where -g touches a contour, (-9/13, 144/13)
    at = app()
    assert not [s for s in charts(at) if any("step" in (rows[0] if rows else {}) for rows in s["datasets"].values())]
    at.toggle(key="show_model").set_value(True).run()
    assert not at.exception
    assert any("quadratic model at x\\_0" in c.value for c in at.caption)
    (picture,) = [s for s in charts(at) if "Paths" in str(s.get("title"))]
    ends = [rows for rows in picture["datasets"].values() if rows and "step" in rows[0] and len(rows) == 2]
    (points,) = ends
    by_step = {row["step"].split(":")[0]: (row["x"], row["y"]) for row in points}
    assert by_step["Newton step"] == (0.0, 0.0)
    assert by_step["optimal rate"] == (pytest.approx(-9 / 13, rel=1e-14), pytest.approx(144 / 13, rel=1e-14))
    lines = [rows for rows in picture["datasets"].values() if rows and "level" in rows[0]]
    levels = {round(row["level"], 9) for rows in lines for row in rows}
    # the contour through x_0 (f = 1125) and the one the optimal step touches (f at the tangent point)
    assert 1125.0 in levels and round(4 * (9 / 13) ** 2 + (144 / 13) ** 2, 9) in levels


def _row_k(table) -> list[int]:
    return list(table.loc[table["▶"] == "▶", "k"])


def test_play_moves_k_one_step_per_frame_and_every_marker_follows() -> None:
    # A frame is a run no control asked for (the browser's timer reruns the fragment); AppTest's
    # run() stands in for one.
    at = app()
    at.button(key="k_play").click().run()
    assert not at.exception
    assert at.button(key="k_pause").label == "Pause"
    assert at.session_state["k_playing"] and at.session_state["k_declared"] == pytest.approx(1 / 5)
    k = at.session_state["k_value"]
    for step in range(1, 4):
        at.run()
        assert at.session_state["k_value"] == k + step
    k += 3
    gd, optimal, newton = (el.value for el in at.dataframe)
    assert _row_k(gd) == [k] and _row_k(optimal) == [k] and _row_k(newton) == [1]
    # while playing, the table is a short window with row k in view (second from the top)
    assert list(gd["k"]) == list(range(k - 1, k - 1 + 12))
    assert any("follows k while it plays" in c.value for c in at.caption)
    (picture,) = [c for c in charts(at) if "Paths on the contours" in str(c.get("title"))]
    assert {row["method"]: row["k"] for row in picture["datasets"]["at_k_markers"]} == {"gd": k, "gd-optimal": k, "newton": 1}
    rules = [c["datasets"]["at_k_rule"] for c in charts(at) if "at_k_rule" in c["datasets"]]
    assert len(rules) == 5 and all(r == [{"k": k}] for r in rules)  # 3 step-size charts, 2 convergence charts
    # the slider shows k and cannot be dragged while playing (a browser reports it a frame late)
    (shown,) = [s for s in at.slider if s.label == "Iteration k"]
    assert shown.value == k and shown.disabled
    at.button(key="k_pause").click().run()
    assert at.button(key="k_play").label == "Play" and at.session_state["k_declared"] is None
    at.run()
    at.run()
    assert at.slider(key="k").value == k and at.session_state["k_value"] == k


def test_play_stops_at_the_end_and_the_buttons_step_and_jump() -> None:
    at = app()
    longest = max(run(build_problem("4x^2 + y^2"), [15, 15], m, Options()).iterations for m in ("gd", "gd-optimal", "newton"))
    at.button(key="k_forward").click().run()
    at.button(key="k_forward").click().run()
    assert at.slider(key="k").value == 2
    at.button(key="k_back").click().run()
    assert at.slider(key="k").value == 1
    at.button(key="k_end").click().run()
    assert at.slider(key="k").value == longest
    assert at.button(key="k_end").disabled and at.button(key="k_forward").disabled
    at.slider(key="k").set_value(longest - 2).run()
    at.button(key="k_play").click().run()
    at.run()
    at.run()  # the last frame: k reaches the longest run's end and playing stops by itself
    assert at.session_state["k_value"] == longest and not at.session_state["k_playing"]
    assert at.button(key="k_play").label == "Play"
    at.run()
    assert at.slider(key="k").value == longest
    at.button(key="k_play").click().run()  # Play at the end plays again from the start
    assert at.session_state["k_playing"] and at.session_state["k_value"] <= 1
    assert not at.exception


def test_play_speed_is_the_interval_of_the_frames() -> None:
    at = app()
    at.selectbox(key="k_speed").set_value(20).run()
    at.button(key="k_play").click().run()
    assert at.session_state["k_declared"] == pytest.approx(1 / 20)
    at.selectbox(key="k_speed").set_value(1).run()
    assert at.session_state["k_declared"] == pytest.approx(1.0)
    assert not at.exception


def test_a_lesson_plays_to_its_iterate_and_stops_there() -> None:
    preset = PRESETS[0]  # 4x^2 + y^2: the optimal rate's corners, k = 3
    at = app(**setup_to_query(preset.setup))
    at.slider(key="k").set_value(10).run()
    at.button(key="lesson_play").click().run()
    assert at.session_state["k_value"] == 0 and at.session_state["k_playing"]  # from the start
    for k in range(1, preset.story.stop_at + 1):
        at.run()
        assert at.session_state["k_value"] == k
    assert not at.session_state["k_playing"] and at.button(key="k_play").label == "Play"
    at.run()
    assert at.slider(key="k").value == preset.story.stop_at
    optimal = at.dataframe[1].value
    assert _row_k(optimal) == [preset.story.stop_at]
    # Play from there goes on to the end (the lesson's stop is spent)
    at.button(key="k_play").click().run()
    at.run()
    assert at.session_state["k_value"] == preset.story.stop_at + 1 and at.session_state["k_playing"]


def test_large_text_is_kept_in_the_link_and_a_bad_value_is_said() -> None:
    at = app(**setup_to_query(Setup()), large="1")
    assert not at.exception
    assert at.toggle(key="large_text").value
    assert at.query_params["large"] in ("1", ["1"])
    assert len([c for c in at.columns if c.weight]) >= 2  # two panels a row (then the third below)
    at.toggle(key="large_text").set_value(False).run()
    assert "large" not in at.query_params
    bad = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    bad.query_params["large"] = "yes"
    bad.run()  # the first run reads the link (later runs read the link the app wrote back)
    assert not bad.toggle(key="large_text").value
    assert any("`large` was not used" in w.value.replace("\\", "") for w in bad.sidebar.warning)


def test_play_says_when_the_server_plays_it_slower_than_asked(monkeypatch) -> None:
    # Every visitor's frames take turns at one gate (core.fairshare.PLAY_FRAMES): when a class
    # plays at once, k advances more slowly than the speed asked, and the page says by how much.
    import ui.player

    clock = iter(np.arange(0.0, 1000.0, 0.5))  # a frame every 0.5 s: 2 steps/s, asked 5
    monkeypatch.setattr(ui.player, "clock", lambda: float(next(clock)))
    at = app()
    at.button(key="k_play").click().run()
    for _ in range(ui.player.PACE_FRAMES - 1):
        at.run()
        assert not any("steps/s, not" in c.value for c in at.caption)  # not measured yet
    at.run()
    (said,) = [c.value for c in at.caption if "steps/s, not" in c.value]
    assert said.startswith("Playing at 2.0 steps/s, not 5:")
    # frames at the speed asked: nothing to say
    steady = iter(np.arange(2000.0, 3000.0, 0.2))  # 5 steps/s, as asked
    monkeypatch.setattr(ui.player, "clock", lambda: float(next(steady)))
    for _ in range(ui.player.PACE_FRAMES):
        at.run()
    assert not any("steps/s, not" in c.value for c in at.caption)
    assert not at.exception

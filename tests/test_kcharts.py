"""ui.charts.KChart: a chart sent once and its part at iterate k drawn over it (an overlay laid
out exactly like the chart, with only the rows at k)."""

from __future__ import annotations

import io
import json

import jsonschema
import numpy as np
import pyarrow as pa
import pytest

from core import Options, build_problem, run
from ui.charts import (AT_K, DOMAIN, OVERLAY_CONFIG, convergence_chart, current_points, legend_selection, model_rows,
                       path_chart, step_size_chart, curve_chart)
from core.analysis import local_analysis

PROBLEM = build_problem("4x^2 + y^2", timeout=None)
TRACES = {m: run(PROBLEM, [15, 15], m, Options()) for m in ("gd", "gd-optimal", "newton")}


def rows(data: bytes) -> list[dict]:
    return pa.ipc.open_stream(io.BytesIO(data)).read_all().to_pylist()


def layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def charts():
    return [path_chart(PROBLEM, TRACES, np.array([15.0, 15.0]), legend_selection(), with_model=True),
            convergence_chart(TRACES, "‖g_k‖", legend_selection()),
            step_size_chart(TRACES["gd-optimal"])]


@pytest.mark.parametrize("chart", charts(), ids=["picture", "convergence", "step sizes"])
def test_the_overlay_lays_out_like_the_chart_and_draws_only_the_rows_at_k(chart) -> None:
    static, overlay = chart.static(), chart.overlay(3)
    # Same frame: size, title, every layer's position and colour channels (explicit domains, so
    # no data of its own is needed to lay out the same axes and legends).
    for key in ("height", "width", "title", "params"):
        assert json.dumps(static.get(key)) == json.dumps(overlay.get(key))
    assert len(layers(static)) == len(layers(overlay))
    for below, above in zip(layers(static), layers(overlay)):
        for channel in ("x", "y", "color"):
            assert json.dumps(below.get("encoding", {}).get(channel)) == json.dumps(above.get("encoding", {}).get(channel))
        for channel in ("x", "y"):
            scale = below.get("encoding", {}).get(channel, {}).get("scale", {})
            if below.get("encoding", {}).get(channel, {}).get("field") and below.get("data", {}).get("name", "").startswith("data"):
                assert "domain" in scale, (channel, below)
    # The chart itself has no rows at k; the overlay has only those, and shows nothing else.
    at_k = {name for name in static["datasets"] if name.startswith(AT_K)}
    assert at_k and all(rows(static["datasets"][name]) == [] for name in at_k)
    # ... and the scales' domains, the same bytes as the chart's (data, so that a new setup keeps the spec)
    domains = {name for name in static["datasets"] if name.startswith(DOMAIN)}
    assert len(domains) == 1 and all(overlay["datasets"][name] == static["datasets"][name] for name in domains)
    assert set(overlay["datasets"]) == at_k | domains
    for layer in layers(overlay):
        name = layer.get("data", {}).get("name", "")
        assert name.startswith((AT_K, DOMAIN)) or layer["data"] == {"values": []}
    assert overlay["background"] == "transparent"
    for part, values in OVERLAY_CONFIG.items():
        assert values.items() <= overlay["config"][part].items()
    # a frame's share: the frame's layout (no data of the chart's own) and a few rows
    assert len(json.dumps({k: v for k, v in overlay.items() if k != "datasets"})) + sum(
        len(data) for data in overlay["datasets"].values()) < 8_000


def without_data(spec: dict) -> str:
    """A spec as Streamlit's frontend keys its Vega view: without the datasets, their names by place."""
    names = {name: f"dataset {i}" for i, name in enumerate(spec["datasets"])}

    def by_place(part: dict) -> dict:
        return {**part, "name": names[part["name"]]} if part.get("name") in names else part
    return json.dumps(json.loads(json.dumps({k: v for k, v in spec.items() if k != "datasets"}), object_hook=by_place),
                      sort_keys=True)


def test_a_new_start_changes_the_data_not_the_spec() -> None:
    # Streamlit's frontend keeps a chart's Vega view, and replaces only its datasets, while the
    # spec is the same: a click on the picture then redraws without compiling a new view. So
    # nothing of a setup goes into the spec: the box, k's range and the log ranges are data.
    other_start = np.array([-3.0, 7.0])
    other = {m: run(PROBLEM, other_start, m, Options()) for m in TRACES}
    pairs = [(path_chart(PROBLEM, TRACES, np.array([15.0, 15.0]), legend_selection()),
              path_chart(PROBLEM, other, other_start, legend_selection())),
             (convergence_chart(TRACES, "‖g_k‖", legend_selection()), convergence_chart(other, "‖g_k‖", legend_selection())),
             (step_size_chart(TRACES["gd-optimal"]), step_size_chart(other["gd-optimal"]))]
    for first, second in pairs:
        assert without_data(first.static()) == without_data(second.static())
        assert without_data(first.overlay(2)) == without_data(second.overlay(5))
        assert first.static()["datasets"] != second.static()["datasets"]
    picture, other_picture = pairs[0]
    for chart, box in ((picture, picture.box), (other_picture, other_picture.box)):
        (row,) = rows(chart.static()["datasets"][DOMAIN + "picture"])
        assert row == {"x_lo": box[0][0], "x_hi": box[0][1], "y_lo": box[1][0], "y_hi": box[1][1]}
        assert "length(data('domain_picture'))" in json.dumps(chart.static()["layer"][1]["encoding"]["x"]["scale"])
    assert not np.array_equal(picture.box, other_picture.box)
    # the log axes' ranges: the smallest and largest positive value drawn
    (row,) = rows(pairs[1][0].static()["datasets"][DOMAIN + "convergence_1"])
    norms = np.concatenate([t.grad_norm for t in TRACES.values()])
    assert (row["x_lo"], row["x_hi"]) == (0, max(t.iterations for t in TRACES.values()))
    assert (row["y_lo"], row["y_hi"]) == (norms[norms > 0].min(), norms.max())


def test_the_markers_are_each_runs_iterate_k_or_its_last() -> None:
    chart = charts()[0]
    markers = rows(chart.overlay(3)["datasets"][AT_K + "markers"])
    assert {m["method"]: m["k"] for m in markers} == {"gd": 3, "gd-optimal": 3, "newton": 1}
    for m in markers:
        assert (m["x"], m["y"]) == tuple(TRACES[m["method"]].x[m["k"]])
        assert m["f"] == TRACES[m["method"]].f[m["k"]]
    assert current_points(TRACES, 0)["k"].tolist() == [0, 0, 0]


def test_the_rule_of_k_and_the_model_at_x_k_are_rows_at_k() -> None:
    picture, curve, steps = charts()
    assert rows(curve.overlay(7)["datasets"][AT_K + "rule"]) == [{"k": 7}]
    assert rows(steps.overlay(2)["datasets"][AT_K + "rule"]) == [{"k": 2}]
    model = model_rows(local_analysis(PROBLEM, TRACES["gd-optimal"].x[0]), picture.box)
    ends = rows(picture.overlay(0, model)["datasets"][AT_K + "model_ends"])
    by_step = {e["step"].split(":")[0]: (e["x"], e["y"]) for e in ends}
    assert by_step["Newton step"] == (0.0, 0.0)
    assert by_step["optimal rate"] == (pytest.approx(-9 / 13, rel=1e-14), pytest.approx(144 / 13, rel=1e-14))


def test_whole_is_the_chart_with_its_rows_at_k_in_one_spec() -> None:
    picture = charts()[0]
    whole = picture.whole(3)
    assert rows(whole["datasets"][AT_K + "markers"]) == rows(picture.overlay(3)["datasets"][AT_K + "markers"])
    assert "background" not in whole
    others = [name for name in whole["datasets"] if not name.startswith(AT_K)]
    assert others and all(whole["datasets"][n] == picture.spec["datasets"][n] for n in others)


def test_one_variable_curve_moves_its_models_with_k() -> None:
    problem = build_problem("x^4", timeout=None)
    traces = {m: run(problem, [1.0], m, Options()) for m in ("gd-optimal", "newton")}
    chart = curve_chart(problem, traces, np.array([1.0]), legend_selection())
    first, later = (rows(chart.overlay(k)["datasets"][AT_K + "models"]) for k in (0, 2))
    assert first and later and first != later
    # the model at x_0 = 1 of f = x^4: f + 4(x-1) + 6(x-1)^2
    for point in first[:5]:
        x = point["x"]
        assert point["f"] == pytest.approx(1 + 4 * (x - 1) + 6 * (x - 1) ** 2, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("kind", ["picture", "picture with model", "curve", "convergence", "convergence, legend",
                                  "step sizes"])
def test_every_kind_of_chart_is_valid_vega_lite(kind) -> None:
    # The app builds charts with Altair's validation off (ui.charts: half their cost); here each
    # kind is checked against the Vega-Lite schema, as drawn (the chart) and as overlaid.
    import altair as alt

    one_d = build_problem("x^4", timeout=None)
    one_d_traces = {m: run(one_d, [1.0], m, Options()) for m in ("gd-optimal", "newton")}
    build = {
        "picture": lambda: path_chart(PROBLEM, TRACES, np.array([15.0, 15.0]), legend_selection(["gd"])),
        "picture with model": lambda: path_chart(PROBLEM, TRACES, np.array([15.0, 15.0]), legend_selection(), True),
        "curve": lambda: curve_chart(one_d, one_d_traces, np.array([1.0]), legend_selection()),
        "convergence": lambda: convergence_chart(TRACES, "f(x_k) − f_best", legend_selection(), legend=False),
        "convergence, legend": lambda: convergence_chart(TRACES, "‖g_k‖", legend_selection(["newton"])),
        "step sizes": lambda: step_size_chart(TRACES["gd"]),
    }[kind]
    chart = build()
    for spec in (chart.static(), chart.overlay(2)):
        as_rows = {**spec, "datasets": {name: rows(data) for name, data in spec["datasets"].items()}}
        alt.LayerChart.validate(json.loads(json.dumps(as_rows, default=float)))
    with pytest.raises(jsonschema.ValidationError):  # the check can fail: a layer with an unknown mark is refused
        broken = chart.static()
        broken["layer"] = [{**broken["layer"][0], "mark": "no-such-mark"}] + broken["layer"][1:]
        alt.LayerChart.validate({**broken, "datasets": {}})


@pytest.mark.parametrize("method", ["gd-armijo", "bfgs", "gd-optimal"])
def test_the_step_along_its_line_is_valid_vega_lite_with_the_searchs_own_trials(method) -> None:
    # Written as a dict too (ui.charts.line_chart): checked against the schema, and what it draws
    # is the replayed search (tests/test_line.py works the seed's backtracking out by hand).
    import altair as alt

    from core.line import line_at
    from ui.charts import line_chart

    trace = run(PROBLEM, [15, 15], method, Options())
    view = line_at(PROBLEM, trace, 0)
    spec = line_chart(view, "#ff7f0e")
    data = {name: rows(d) for name, d in spec["datasets"].items()}
    alt.LayerChart.validate(json.loads(json.dumps({**spec, "datasets": data}, default=float)))
    drawn = {tuple(layer["encoding"]): data[layer["data"]["name"]] for layer in spec["layer"]}
    trials = next((r for channels, r in drawn.items() if "shape" in channels), [])
    assert [(t["eta"], t["verdict"]) for t in trials] == [(t.eta, "accepted" if t.accepted else "rejected")
                                                         for t in view.trials]
    if method == "gd-armijo":
        assert [t["eta"] for t in trials] == [1.0, 0.5, 0.25] and trials[-1]["verdict"] == "accepted"
    curves = {row["curve"] for channels, r in drawn.items() if "strokeDash" in channels for row in r}
    assert "φ(η)" in curves and (("quadratic model along d" in curves) == (view.view == "model"))

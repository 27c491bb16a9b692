"""The benchmark's functions run, at tiny sizes, and return well-formed figures.

No timing assertions: ``python -m benchmarks`` reports times against goals; this only makes
sure it keeps working. The one figure asserted exactly is a count: a rerun served by the
Streamlit caches makes no symbolic, compile or run call at all.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

from benchmarks import (cached_rerun, classic_start, cold_first_view, compiled_vs_symbolic, extended_rosenbrock,
                        fresh_texts, growth, run_loop_overhead, worker_start_up)
from benchmarks.__main__ import format_table, main
from core import Options, parse_function


def finite_positive(*values: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


def test_extended_rosenbrock_text_means_the_textbook_function():
    parsed = parse_function(extended_rosenbrock(3))
    x1, x2, x3 = parsed.variables
    expected = 100 * (x2 - x1**2)**2 + (1 - x1)**2 + 100 * (x3 - x2**2)**2 + (1 - x2)**2
    assert sp.expand(parsed.expr - expected) == 0
    assert classic_start(3) == [-1.2, 1.0, -1.2]
    with pytest.raises(ValueError):
        extended_rosenbrock(1)


def test_compiled_vs_symbolic_agree():
    result = compiled_vs_symbolic(evaluations=20, symbolic_evaluations=2)
    assert finite_positive(result["compiled_s"], result["symbolic_s"], result["speedup"])
    assert result["max_relative_difference"] < 1e-9  # the two ways compute the same numbers


@pytest.mark.parametrize("method", ["gd", "newton"])
def test_run_loop_overhead_replays_the_counted_calls(method):
    result = run_loop_overhead(method, options=Options(lr=0.001, max_iter=20), min_seconds=0.0)
    calls = result["calls"]
    steps = result["iterations"]
    assert calls["value"] == calls["gradient"] == steps + 1  # f and g at every iterate
    assert calls["hessian"] == (steps if method == "newton" else 0)
    assert finite_positive(result["run_s"], result["bare_s"], result["ratio"])


def test_worker_start_up_and_cold_first_view():
    start = worker_start_up()
    assert start["start_up_s"] >= 0 and finite_positive(start["first_call_s"], start["warm_call_s"])
    texts = fresh_texts(seed=7)
    assert texts == fresh_texts(seed=7) and texts != fresh_texts(seed=8)
    text, x0, options = texts["default-like quadratic"]
    cold = cold_first_view(text, x0, Options(max_iter=5))
    assert set(cold["iterations"]) == {"gd", "gd-optimal", "newton"}
    assert finite_positive(cold["total_s"], cold["build_s"], cold["parse_s"], cold["derive_s"], cold["compile_s"])


def test_a_cached_rerun_does_no_symbolic_or_iterative_work():
    text, x0, options = fresh_texts()["default-like quadratic"]
    result = cached_rerun(text, x0, options)
    first = result["first_counts"]
    assert first["worker requests (core.problem.call_isolated)"] == 1
    assert first["run loops (ui.compute.run)"] == 3
    assert first["numeric code executed (core.problem._from_code)"] == 3  # f, g, H: the counting sees real work on a miss
    assert result["no_work_on_rerun"], result["second_counts"]
    assert result["same_traces"]


def test_growth_rows():
    rows = growth(sizes=(2, 3), min_seconds=0.0)
    assert [r["n"] for r in rows] == [2, 3]
    for r in rows:
        assert finite_positive(r["parse_s"], r["derive_s"], r["compile_s"], r["isolated_build_s"],
                               r["newton_per_iteration_s"], r["f_g_h_s"])
        assert r["newton_status"] == "converged"


def test_quick_report_prints_a_table_and_exits_0(capsys):
    assert main(["--quick"]) == 0
    out = capsys.readouterr().out
    for section in ("[1 compiled vs sympy]", "[2 run loop]", "[3 cold start]", "[4 growth in n]",
                    "[8 in front of a class]"):
        assert section in out
    assert "FAILED" not in out
    assert "server CPU per frame" in out and "click on the picture" in out  # measured (a browser is there)
    assert "goals met" in out


def test_format_table_marks_goals():
    from benchmarks import Row
    table = format_table([Row("s", "a figure", "1 ms", "< 2 ms", True), Row("s", "another", "3x", "<= 2x", False),
                          Row("t", "context", "5 us")])
    lines = table.splitlines()
    assert lines[2] == "[s]" and lines[3].endswith("yes") and lines[4].endswith("NO")
    assert lines[5] == "[t]" and lines[6].endswith("5 us")

"""``python -m core``: a few real subprocess runs, the rest through main(argv) in-process."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from core import METHODS
from core.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = {"variables", "method", "status", "message", "iterations", "x", "f", "grad_norm",
                "stationary_point", "trace"}
ROW_KEYS = {"k", "x", "f", "grad_norm", "step_size"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def check_summary(summary: dict) -> None:
    assert SUMMARY_KEYS <= set(summary)
    assert summary["iterations"] == len(summary["trace"]) - 1
    for k, row in enumerate(summary["trace"]):
        assert ROW_KEYS <= set(row)
        assert row["k"] == k
    assert summary["trace"][-1]["step_size"] is None
    assert summary["x"] == summary["trace"][-1]["x"]
    assert summary["f"] == summary["trace"][-1]["f"]


# --------------------------------------------------------------------------------------------
# Real subprocesses
# --------------------------------------------------------------------------------------------

def test_subprocess_csv():
    result = cli("4x^2 + y^2", "--start", "15,15", "--method", "newton")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["method", "k", "x", "y", "f", "grad_norm", "step_size", "dx_norm", "angle_deg", "decision"]
    assert len(rows) == 3
    first, last = (dict(zip(rows[0], row)) for row in rows[1:])
    assert first["method"] == "newton" and first["k"] == "0"
    assert float(first["x"]) == 15 and float(first["y"]) == 15 and float(first["f"]) == 1125
    assert float(first["grad_norm"]) == pytest.approx(math.sqrt(120**2 + 30**2))
    assert float(first["step_size"]) == 1 and float(first["dx_norm"]) == pytest.approx(15 * math.sqrt(2))
    assert float(first["angle_deg"]) == pytest.approx(math.degrees(math.atan2(3, 5)))
    assert last["k"] == "1" and float(last["x"]) == 0 and float(last["f"]) == 0
    assert last["step_size"] == "" and last["angle_deg"] == ""


def test_subprocess_json():
    result = cli("4x^2 + y^2", "--start", "15,15", "--method", "gd-optimal", "--json", "--max-iter", "2")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    check_summary(summary)
    assert summary["variables"] == ["x", "y"] and summary["method"] == "gd-optimal"
    assert summary["status"] == "max_iter" and summary["iterations"] == 2
    assert summary["trace"][0]["step_size"] == pytest.approx(17 / 130)
    assert summary["trace"][1]["x"] == pytest.approx([-9 / 13, 144 / 13])
    assert summary["stationary_point"] is None


def test_subprocess_rejected_input():
    result = cli("__import__(os)", "--start", "1")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "error:" in result.stderr and "unknown name" in result.stderr
    assert "Traceback" not in result.stderr


def test_subprocess_diverged_run_exits_zero():
    result = cli("4x^2 + y^2", "--start", "15,15", "--method", "gd", "--lr", "0.26", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "diverged"


# --------------------------------------------------------------------------------------------
# In-process
# --------------------------------------------------------------------------------------------

def test_json_newton(capsys):
    code, out, err = run_main(capsys, "4x^2 + y^2", "--start", "15,15", "--method", "newton", "--json")
    assert code == 0 and err == ""
    summary = json.loads(out)
    check_summary(summary)
    assert summary["status"] == "converged" and summary["iterations"] == 1
    assert summary["x"] == [0.0, 0.0] and summary["f"] == 0.0 and summary["grad_norm"] == 0.0
    assert summary["stationary_point"] == "minimum"
    assert "converged" in summary["message"]
    assert summary["trace"][0]["x"] == [15.0, 15.0] and summary["trace"][0]["f"] == 1125.0
    assert summary["trace"][0]["step_size"] == 1.0


def test_method_all(capsys):
    code, out, _ = run_main(capsys, "4x^2 + y^2", "--start", "15,15", "--method", "all", "--json")
    assert code == 0
    summaries = json.loads(out)
    assert isinstance(summaries, list)
    assert [s["method"] for s in summaries] == list(METHODS)
    for summary in summaries:
        check_summary(summary)
        assert summary["trace"][0]["x"] == [15.0, 15.0]
    by_method = {s["method"]: s for s in summaries}
    assert by_method["newton"]["iterations"] == 1
    assert by_method["gd-optimal"]["trace"][1]["x"] == pytest.approx([-9 / 13, 144 / 13])


def test_method_all_csv_has_one_header(capsys):
    code, out, _ = run_main(capsys, "x^2", "--start", "1", "--method", "all", "--max-iter", "3")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["method", "k", "x"]
    assert sum(row[0] == "method" for row in rows) == 1
    assert {row[0] for row in rows[1:]} == set(METHODS)


def test_vars_fix_the_order(capsys):
    # --vars y,x: the start 1,2 means y = 1, x = 2, so f = x^2 + 3y^2 = 4 + 3 = 7
    code, out, _ = run_main(capsys, "x^2 + 3y^2", "--vars", "y,x", "--start", "1,2", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["variables"] == ["y", "x"]
    assert summary["trace"][0]["f"] == 7.0


def test_vars_may_add_a_variable(capsys):
    code, out, _ = run_main(capsys, "x^2", "--vars", "x,y", "--start", "1,5", "--method", "gd", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["variables"] == ["x", "y"] and summary["x"][1] == 5.0
    assert summary["stationary_point"] == "degenerate"


def test_options_reach_the_run(capsys):
    code, out, _ = run_main(capsys, "4x^2 + y^2", "--start", "15,15", "--method", "momentum", "--lr", "0.05",
                            "--beta", "0.5", "--max-iter", "2", "--tol", "1e-3", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["trace"][2]["x"] == pytest.approx([2.4, 11.4])  # see test_methods
    assert summary["options"]["beta"] == 0.5 and summary["options"]["tol"] == 1e-3


def test_negative_start(capsys):
    code, out, _ = run_main(capsys, "(1-x)^2 + 100(y-x^2)^2", "--start=-1.2,1", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["trace"][0]["x"] == [-1.2, 1.0] and summary["trace"][0]["f"] == pytest.approx(24.2)
    assert summary["status"] == "converged"


def test_csv_variable_named_f_or_k(capsys):
    code, out, _ = run_main(capsys, "k^2 + f^2", "--start", "1,2", "--max-iter", "1")
    assert code == 0
    header = out.splitlines()[0].split(",")
    assert header[:4] == ["method", "k", "x:f", "x:k"] and "f" in header[4:]


def test_diverged_run_exits_zero(capsys):
    code, out, _ = run_main(capsys, "x^3", "--start=-1", "--method", "gd", "--json")
    assert code == 0 and json.loads(out)["status"] == "diverged"


@pytest.mark.parametrize("args, fragment", [
    (["foo", "--start", "1"], "unknown name `foo`"),
    (["x^2 + y", "--vars", "x", "--start", "1"], "unknown name `y`"),
    (["9^9^9 x", "--start", "1"], "exponent too large"),
    (["", "--start", "1"], "empty"),
    (["x^2", "--start", "1,2"], "2 coordinates"),
    (["x^2", "--start", "1", "--lr", "-1"], "option lr"),
    (["x^2", "--start", "1", "--beta", "1"], "option beta"),
    (["x^2", "--start", "1", "--max-iter", "-5"], "option max_iter"),
    (["x^2", "--start", "1", "--tol", "0"], "option tol"),
])
def test_rejected_input_exits_2_with_a_message(capsys, args, fragment):
    code, out, err = run_main(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error:") and fragment in err


@pytest.mark.parametrize("args", [
    ["x^2", "--start", "1", "--method", "sgd"],
    ["x^2", "--start", "a,b"],
    ["x^2", "--start", "nan"],
    ["x^2"],
])
def test_argument_errors_exit_2(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err

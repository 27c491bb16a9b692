"""Command line: ``python -m core FUNCTION --start 15,15 --method newton [--json]``."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from typing import Sequence

from . import METHODS, Options, OptionsError, ParseError, Trace, build_problem, run


def _floats(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite comma-separated numbers, got {text!r}")
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Run gradient descent, Newton and friends on a function you type.",
        epilog="Negative numbers: write --start=-1.2,1. A function starting with '-': put -- before it.",
    )
    parser.add_argument("function", help="f(x, y, ...), e.g. '4x^2 + y^2'")
    parser.add_argument("--start", type=_floats, required=True, help="start point, e.g. 15,15")
    parser.add_argument("--method", default="newton", choices=[*METHODS, "all"],
                        help="method id, or 'all' (default: newton)")
    parser.add_argument("--vars", help="variable names in order, e.g. x,y (default: natural sort)")
    defaults = Options()
    parser.add_argument("--lr", type=float, default=defaults.lr, help=f"learning rate (default {defaults.lr})")
    parser.add_argument("--beta", type=float, default=defaults.beta, help=f"momentum (default {defaults.beta})")
    parser.add_argument("--tol", type=float, default=defaults.tol, help=f"stop when ||g|| <= tol (default {defaults.tol})")
    parser.add_argument("--max-iter", type=int, default=defaults.max_iter,
                        help=f"at most this many steps (default {defaults.max_iter})")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the CSV table")
    return parser


def _summary(trace: Trace) -> dict:
    rows = trace.records()
    last = rows[-1]
    return {
        "variables": list(trace.variables), "method": trace.method, "status": trace.status,
        "message": trace.message, "iterations": trace.iterations, "x": last["x"], "f": last["f"],
        "grad_norm": last["grad_norm"], "stationary_point": trace.stationary_point,
        "options": trace.options, "trace": rows,
    }


def _write_csv(traces: Sequence[Trace], out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    header_written = False
    for trace in traces:
        columns = trace.columns()
        if not header_written:
            writer.writerow(["method", *columns])
            header_written = True
        for k in range(trace.iterations + 1):
            writer.writerow([trace.method, *(_cell(values[k]) for values in columns.values())])


def _cell(value) -> str:
    if isinstance(value, str):
        return value
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if math.isfinite(value) else ""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        variables = [v.strip() for v in args.vars.split(",")] if args.vars else None
        options = Options(lr=args.lr, beta=args.beta, tol=args.tol, max_iter=args.max_iter)
        problem = build_problem(args.function, variables)
        methods = list(METHODS) if args.method == "all" else [args.method]
        traces = [run(problem, args.start, method, options) for method in methods]
    except (ParseError, OptionsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        payload = [_summary(t) for t in traces] if args.method == "all" else _summary(traces[0])
        json.dump(payload, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _write_csv(traces, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

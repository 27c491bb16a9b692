"""Command line: ``python -m core FUNCTION --start 15,15 --method newton [--json]``, and where every
start goes: ``python -m core FUNCTION --method newton --basins -5,5,-5,5 --grid 200 [--json]``."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from typing import Sequence

import numpy as np

from . import METHODS, Options, OptionsError, ParseError, Trace, build_problem, run
from .basins import DEFAULT_GRID, GRID_RANGE, OUTCOMES, View, compute_basins, label_outcome
from .options import SPEC, OptionSpec


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
    parser.add_argument("--start", type=_floats, help="start point, e.g. 15,15 (required unless --basins: there it "
                                                       "fixes the coordinates off the picture, default 0)")
    parser.add_argument("--method", default="newton", choices=[*METHODS, "all"],
                        help="method id, or 'all' (default: newton)")
    parser.add_argument("--vars", help="variable names in order, e.g. x,y (default: natural sort)")
    for spec in SPEC:  # one flag per option of the spec: --max-iter for max_iter
        parser.add_argument("--" + spec.name.replace("_", "-"), dest=spec.name, type=_option_value(spec),
                            default=spec.default, metavar=spec.kind.__name__.upper(),  # range: Options checks it
                            help=f"{spec.help} ({spec.range_text()}, default {spec.default:g})")
    parser.add_argument("--basins", type=_floats, metavar="XMIN,XMAX[,YMIN,YMAX]",
                        help="where every start goes: run from a grid of starts over this box and print the points "
                             "reached (kind, count) and the failures")
    parser.add_argument("--grid", type=int, default=DEFAULT_GRID, help=f"starts per side with --basins "
                        f"({GRID_RANGE[0]}-{GRID_RANGE[1]}, default {DEFAULT_GRID})")
    parser.add_argument("--axes", help="with --basins: the one or two variables the box spans, e.g. x2,x3 "
                                       "(default: the first two); the others stay at --start")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the CSV table")
    return parser


def _basins(problem, args, options: Options) -> dict:
    """--basins: one method over the grid (core.basins), as the JSON the CLI prints."""
    names = problem.variable_names
    axes_names = [a.strip() for a in args.axes.split(",")] if args.axes else list(names[:min(2, problem.n)])
    unknown = [a for a in axes_names if a not in names]
    if unknown:
        raise OptionsError(f"--axes: {', '.join(unknown)} is not a variable of f ({', '.join(names)})")
    x0 = tuple(args.start) if args.start else (0.0,) * problem.n
    view = View(x0, tuple(names.index(a) for a in axes_names), tuple(args.basins), args.grid)
    picture = compute_basins(problem, view, [args.method], options)
    basins = picture.methods[args.method]
    statuses = {label_outcome(label): int(count) for label, count in zip(*np.unique(basins.labels, return_counts=True))
                if label < 0}
    return {"method": args.method, "grid": view.grid, "box": list(view.box), "axes": axes_names, "x0": list(x0),
            "seconds": basins.cpu_seconds,
            "endpoints": [{"x": list(c.x), "kind": c.kind, "count": c.counts[args.method]} for c in picture.clusters
                          if c.counts[args.method]],
            "statuses": statuses}


def _print_basins(result: dict) -> None:
    size = result["grid"] ** len(result["axes"])
    print(f"{result['method']}: {size:,} starts over {result['box']} ({', '.join(result['axes'])}) in "
          f"{result['seconds']:.2f} s")
    for point in result["endpoints"]:
        where = ", ".join(f"{v:.6g}" for v in point["x"])
        print(f"  ({where})  {point['kind']:<12} {point['count']:>7,}  {100 * point['count'] / size:5.1f}%")
    for status, count in result["statuses"].items():
        print(f"  {OUTCOMES[status]:<52} {count:>7,}  {100 * count / size:5.1f}%")


def _option_value(spec: OptionSpec):
    """The flag's number type (its range is checked by Options, whose message names the option)."""
    def parse(text: str) -> float | int:
        try:
            return spec.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if spec.kind is int else 'a number'}") from None
    parse.__name__ = spec.name
    return parse


def _summary(trace: Trace) -> dict:
    rows = trace.records()
    last = rows[-1]
    return {
        "variables": list(trace.variables), "method": trace.method, "status": trace.status,
        "message": trace.message, "iterations": trace.iterations, "x": last["x"], "f": last["f"],
        "grad_norm": last["grad_norm"], "stationary_point": trace.stationary_point,
        "options": trace.options, **trace.counts, "seconds": trace.seconds, "trace": rows,
    }


def _write_csv(traces: Sequence[Trace], out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    tables = [trace.columns() for trace in traces]
    # one header for all methods: each method's typed fields get their own columns, empty elsewhere
    header = list(dict.fromkeys(name for table in tables for name in table if name != "decision"))
    writer.writerow(["method", *header, "decision"])
    for trace, table in zip(traces, tables):
        for k in range(trace.iterations + 1):
            writer.writerow([trace.method, *(_cell(table[name][k]) if name in table else "" for name in header),
                             table["decision"][k]])


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if math.isfinite(value) else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.start is None and args.basins is None:
        parser.error("the following arguments are required: --start (or --basins for a grid of starts)")
    try:
        variables = [v.strip() for v in args.vars.split(",")] if args.vars else None
        options = Options(**{spec.name: getattr(args, spec.name) for spec in SPEC})
        problem = build_problem(args.function, variables)
        if args.basins is not None:
            if args.method == "all":
                raise OptionsError("--basins draws one method at a time: give --method")
            result = _basins(problem, args, options)
        else:
            methods = list(METHODS) if args.method == "all" else [args.method]
            traces = [run(problem, args.start, method, options) for method in methods]
    except (ParseError, OptionsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.basins is not None:
        if args.json:
            json.dump(result, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            _print_basins(result)
        return 0
    if args.json:
        payload = [_summary(t) for t in traces] if args.method == "all" else _summary(traces[0])
        json.dump(payload, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _write_csv(traces, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

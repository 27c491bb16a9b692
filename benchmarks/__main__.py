"""``python -m benchmarks``: print the performance figures of Descent Lab against their goals.

It measures, prints a table, and exits 0 whatever the figures are (CI prints it; it never
fails a build). ``--quick`` runs every measurement at tiny sizes (what the smoke test uses).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from core import Options
from ui.player import DEFAULT_SPEED

from .suite import (GOAL_COLD_S, GOAL_COMPILE_N20_S, GOAL_LOOP_RATIO, GOAL_SPEEDUP, ROSENBROCK, Row,
                    cached_rerun, classic_start, cold_first_view, compiled_vs_symbolic, extended_rosenbrock,
                    fresh_process, fresh_texts, growth, honest_behind_hostile, run_loop_overhead, worker_start_up,
                    batch_throughput, per_start_step_costs, sweep_through_batch, GOAL_BATCH_S, GOAL_BATCH_SPEEDUP,
                    basins_throughput, basins_picture_bytes, GOAL_BASINS_NEWTON_S, GOAL_BASINS_DEFAULT_S,
                    GOAL_BASINS_SPEEDUP, GOAL_BASINS_BYTES, play_frames, click_to_drawn, GOAL_FRAME_CPU_S,
                    GOAL_FRAME_BYTES, GOAL_CLICK_TO_DRAWN_S,
                    CLASS_PLAYERS, GOAL_CLICK_WHILE_CLASS_PLAYS_S)


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _section(title: str, build: Callable[[], list[Row]]) -> list[Row]:
    """A failing measurement becomes a row saying so: the report goes on."""
    try:
        return build()
    except Exception as err:  # noqa: BLE001 - a report, not a test
        traceback.print_exc(file=sys.stderr)
        return [Row(title, f"FAILED: {type(err).__name__}: {err}"[:100], "", "", False)]


def report(quick: bool = False) -> list[Row]:
    rows: list[Row] = []

    # Before anything else starts a worker: the first isolated call pays for a cold one.
    def start_up() -> list[Row]:
        s = worker_start_up()
        return [Row("3 cold start", "worker start-up (interpreter + sympy import), once per worker",
                    _time(s["start_up_s"])),
                Row("3 cold start", "warm worker round trip (trivial call)", _time(s["warm_call_s"]))]
    start_rows = _section("3 cold start", start_up)

    def speed() -> list[Row]:
        title = "1 compiled vs sympy"
        c = compiled_vs_symbolic(**({"evaluations": 200, "symbolic_evaluations": 3} if quick else {}))
        return [
            Row(title, "Rosenbrock g + H per evaluation, compiled (lambdify, numpy, a batch of one)", _time(c["compiled_s"])),
            Row(title, "same, sympy subs().evalf() on each entry", _time(c["symbolic_s"])),
            Row(title, "speed-up of the compiled functions", f"{c['speedup']:.0f}x", f">= {GOAL_SPEEDUP:.0f}x",
                c["speedup"] >= GOAL_SPEEDUP),
            Row(title, "largest relative difference between the two", f"{c['max_relative_difference']:.1e}"),
        ]
    rows += _section("1 compiled vs sympy", speed)

    def loop() -> list[Row]:
        title = "2 run loop"
        out = []
        n = 3 if quick else 10
        cases = [  # (method, text, start, options, held to the goal)
            ("gd", ROSENBROCK, (-1.2, 1.0), Options(lr=0.001, max_iter=50 if quick else 2000), True),
            ("newton", ROSENBROCK, (-1.2, 1.0), Options(), True),
            ("newton", extended_rosenbrock(n), classic_start(n), Options(), False),
        ]
        for method, text, x0, options, goal in cases:
            r = run_loop_overhead(method, text, x0, options=options, min_seconds=0.01 if quick else 0.3)
            calls = " ".join(f"{k}:{v}" for k, v in sorted(r["calls"].items()))
            steps = max(r["iterations"], 1)
            where = "Rosenbrock" if text == ROSENBROCK else f"extended Rosenbrock n = {len(x0)}"
            out += [
                Row(title, f"{method} on {where}: {r['iterations']} steps ({r['status']}); {calls}",
                    f"{_time(r['run_s'] / steps)}/step"),
                Row(title, "  run() / the bare f, g, H calls it makes", f"{r['ratio']:.2f}x",
                    f"<= {GOAL_LOOP_RATIO:g}x" if goal else "(context)", r["ratio"] <= GOAL_LOOP_RATIO if goal else None),
            ]
        return out
    rows += _section("2 run loop", loop)

    def cold() -> list[Row]:
        title = "3 cold start"
        out = list(start_rows)
        texts = fresh_texts()
        for label, (text, x0, options) in texts.items():
            c = cold_first_view(text, x0, options)
            iterations = "/".join(str(v) for v in c["iterations"].values())
            out += [
                Row(title, f"{label}: text -> gd, gd-optimal, newton ({iterations} steps)", _time(c["total_s"]),
                    f"< {GOAL_COLD_S:g} s", c["total_s"] < GOAL_COLD_S),
                Row(title, "  of which build_problem (warm worker: parse + derive; compile here)",
                    _time(c["build_s"])),
                Row(title, "  of which the three runs", _time(c["runs_s"])),
                Row(title, f"  in process, for comparison: parse {_time(c['parse_s'])}, derive "
                           f"{_time(c['derive_s'])}, compile {_time(c['compile_s'])}", ""),
            ]
        if not quick:
            p = fresh_process()
            out.append(Row(title, "  a brand-new interpreter doing the same (imports + first worker included)",
                           _time(p["wall_s"]), "(context)"))
        text, x0, options = fresh_texts()["default-like quadratic"]
        r = cached_rerun(text, x0, options)
        counted = ", ".join(k.split(" (")[0] for k in r["first_counts"])
        first = " ".join(str(v) for v in r["first_counts"].values())
        second = " ".join(str(v) for v in r["second_counts"].values())
        out += [
            Row(title, "ui.compute.run_methods on a fresh text, first call", _time(r["first_s"])),
            Row(title, "  the same call again (served by st.cache_resource / st.cache_data)", _time(r["second_s"])),
            Row(title, f"  counted: {counted}", ""),
            Row(title, f"  first call: {first}; rerun: {second}",
                str(sum(r["second_counts"].values())), "0 calls on rerun", r["no_work_on_rerun"] and r["same_traces"]),
        ]
        return out
    rows += _section("3 cold start", cold)

    def scale() -> list[Row]:
        title = "4 growth in n"
        out = []
        for g in growth(sizes=(2, 3) if quick else (2, 5, 10, 20), min_seconds=0.01 if quick else 0.2):
            n = g["n"]
            goal = n == 20
            out += [
                Row(title, f"n = {n}: parse {_time(g['parse_s'])}, derive {_time(g['derive_s'])}, "
                           f"compile {_time(g['compile_s'])}; total", _time(g["total_s"]),
                    f"< {GOAL_COMPILE_N20_S:g} s" if goal else "", g["total_s"] < GOAL_COMPILE_N20_S if goal else None),
                Row(title, f"n = {n}: build_problem through the worker (as the app does)", _time(g["isolated_build_s"])),
                Row(title, f"n = {n}: Newton per iteration ({g['newton_iterations']} steps, {g['newton_status']}); "
                           f"f+g+H alone {_time(g['f_g_h_s'])}", _time(g["newton_per_iteration_s"])),
            ]
        return out
    rows += _section("4 growth in n", scale)

    def pool() -> list[Row]:
        title = "5 worker pool"
        h = honest_behind_hostile(**({"budget_s": 1.0, "samples": 1} if quick else {}))
        ended = "; ".join(f"{outcome} after {seconds:.1f} s" for outcome, seconds in h["outcomes"])
        return [
            Row(title, "ordinary new function (4x^2 + y^2 + k) through the warm pool, alone", _time(h["alone_s"])),
            Row(title, f"same, {h['hostile']} hostile texts (each needing its {h['budget_s']:g} s budget) in flight",
                _time(h["with_hostile_s"]), f"< {h['budget_s'] / 3:.2g} s (before: ~{h['before_s']:g} s)",
                h["with_hostile_s"] < h["budget_s"] / 3),
            Row(title, "  with hostile / alone", f"{h['ratio']:.1f}x"),
            Row(title, f"  the hostile calls: {ended}", ""),
            Row(title, "  worker processes alive at most (pool's count and /proc)", str(h["peak_processes"]),
                f"<= {h['pool_size']} (pool size)", h["peak_processes"] <= h["pool_size"]),
        ]
    rows += _section("5 worker pool", pool)

    def batch() -> list[Row]:
        title = "6 batch engine"
        b = batch_throughput(**({"grid": 20, "steps": 10, "loop_sample": 20} if quick else {}))
        out = [
            Row(title, f"newton on Himmelblau, {b['starts']:,} starts ({int(b['starts'] ** 0.5)}² grid), "
                       f"{b['steps']} steps, one run_ends ({b['converged']:,} converged)", _time(b["batch_s"]),
                f"<= {GOAL_BATCH_S:g} s", b["batch_s"] <= GOAL_BATCH_S),
            Row(title, f"  the same batch keeping all {b['starts']:,} traces (run_batch)", _time(b["traces_s"])),
            Row(title, f"  run() per start, looped (measured on a sample, x {b['starts']:,})", _time(b["loop_estimate_s"])),
            Row(title, "  batch speed-up (run_ends)", f"{b['speedup']:.0f}x", f">= {GOAL_BATCH_SPEEDUP:.0f}x",
                b["speedup"] >= GOAL_BATCH_SPEEDUP),
        ]
        for c in per_start_step_costs(**({"size": 400, "steps": 3} if quick else {})):
            out.append(Row(title, f"  {c['method']}: per start per step, B = {c['starts']:,}", _time(c["per_start_step_s"])))
        s = sweep_through_batch(**({"rates": 10, "steps": 50} if quick else {}))
        out += [Row(title, f"learning-rate sweep, {s['rates']} rates x {s['steps']} steps of gd, one batch",
                    _time(s["batch_s"])),
                Row(title, "  the same, one run() per rate", _time(s["loop_s"])),
                Row(title, "  batch speed-up", f"{s['speedup']:.1f}x")]
        return out
    rows += _section("6 batch engine", batch)

    def basins() -> list[Row]:
        title = "7 basins"
        b = basins_throughput(**({"grid": 20, "loop_sample": 5} if quick else {}))
        side = f"{b['grid']}x{b['grid']}"
        out = [
            Row(title, f"newton on Himmelblau, {side} starts, compute_basins (CPU)", _time(b["newton_s"]),
                f"<= {GOAL_BASINS_NEWTON_S:g} s", b["newton_s"] <= GOAL_BASINS_NEWTON_S),
            Row(title, f"gd, gd-optimal, newton together, {side} starts (CPU)", _time(b["default_s"]),
                f"<= {GOAL_BASINS_DEFAULT_S:g} s", b["default_s"] <= GOAL_BASINS_DEFAULT_S),
            Row(title, "  run() looped over the same starts (measured on a sample)", _time(b["loop_estimate_s"])),
            Row(title, "  speed-up", f"{b['speedup']:.0f}x", f">= {GOAL_BASINS_SPEEDUP:.0f}x", b["speedup"] >= GOAL_BASINS_SPEEDUP),
        ]
        for p in basins_picture_bytes(**({"grids": (50,)} if quick else {})):
            coarser = " (the budget drew it coarser)" if p["coarser"] else ""
            out.append(Row(title, f"one basin picture as sent (spec + Arrow), {p['grid']} per side asked{coarser}",
                           f"{p['largest_bytes'] / 1e3:.0f} kB", f"<= {GOAL_BASINS_BYTES / 1e6:g} MB",
                           p["largest_bytes"] <= GOAL_BASINS_BYTES))
        return out
    rows += _section("7 basins", basins)

    def play() -> list[Row]:
        title = "8 in front of a class"
        try:
            p = play_frames(**({"frames": 6} if quick else {}))
            c = click_to_drawn(**({"clicks": 1} if quick else {}))
            busy = click_to_drawn(players=CLASS_PLAYERS, **({"clicks": 1} if quick else {}))
        except (ImportError, FileNotFoundError) as err:
            return [Row(title, f"not measured: {err}"[:100], "")]
        return [
            Row(title, f"Play on the seed-000 setup: server CPU per frame ({p['frames']} frames)",
                _time(p["cpu_per_frame_s"]), f"<= {GOAL_FRAME_CPU_S * 1e3:g} ms", p["cpu_per_frame_s"] <= GOAL_FRAME_CPU_S),
            Row(title, "  bytes sent per frame, median", f"{p['median_bytes'] / 1e3:.1f} kB",
                f"<= {GOAL_FRAME_BYTES / 1e3:g} kB", p["median_bytes"] <= GOAL_FRAME_BYTES),
            Row(title, "  bytes sent per frame, largest", f"{p['largest_bytes'] / 1e3:.1f} kB",
                f"<= {GOAL_FRAME_BYTES / 1e3:g} kB", p["largest_bytes"] <= GOAL_FRAME_BYTES),
            Row(title, f"click on the picture to Compare drawn again (median of {c['clicks']})", _time(c["median_s"]),
                f"<= {GOAL_CLICK_TO_DRAWN_S:g} s", c["median_s"] <= GOAL_CLICK_TO_DRAWN_S),
            Row(title, "  the slowest click", _time(c["largest_s"])),
            Row(title, "  charts that kept their Vega view (data replaced), median click", f"{c['views_kept']} of {c['charts']}"),
            Row(title, f"the same click while {busy['players']} other visitors play (headless, {DEFAULT_SPEED} steps/s each)",
                _time(busy["median_s"]), f"<= {GOAL_CLICK_WHILE_CLASS_PLAYS_S:g} s",
                busy["median_s"] <= GOAL_CLICK_WHILE_CLASS_PLAYS_S),
            Row(title, "  frames the class got meanwhile, all together (one at a time, core.fairshare.PLAY_FRAMES)",
                f"{busy['frames_per_s']:.0f}/s"),
        ]
    rows += _section("8 in front of a class", play)
    return rows


def format_table(rows: Sequence[Row]) -> str:
    width = max(len(r.figure) for r in rows)
    head = f"{'figure':<{width}}  {'measured':>14}  {'goal':<18} met"
    lines, section = [head, "-" * len(head)], None
    for r in rows:
        if r.section != section:
            section = r.section
            lines.append(f"[{section}]")
        met = "" if r.met is None else ("yes" if r.met else "NO")
        lines.append(f"{r.figure:<{width}}  {r.value:>14}  {r.goal:<18} {met}".rstrip())
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, not a measurement)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"Descent Lab benchmark: Python {platform.python_version()}, numpy {np.__version__}, "
          f"sympy {sp.__version__}, {os.cpu_count()} CPUs{' (quick: sizes too small to mean anything)' if args.quick else ''}")
    rows = report(quick=args.quick)
    print(format_table(rows))
    goals = [r for r in rows if r.met is not None]
    print(f"\n{sum(r.met for r in goals)}/{len(goals)} goals met; {time.perf_counter() - start:.1f} s. "
          "(Informational: this never fails a build.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

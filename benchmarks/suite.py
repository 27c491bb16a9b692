"""The measurements behind ``python -m benchmarks``. Each function returns plain numbers (and
the goal they are held to); nothing here asserts anything, and nothing here is a test.

1. :func:`compiled_vs_symbolic` - one gradient + Hessian evaluation compiled (lambdify, math
   module) against sympy's ``subs().evalf()`` on the same points.
2. :func:`run_loop_overhead` - ``core.run.run`` against the bare f/g/H calls it makes (counted
   by wrapping Problem's methods, then replayed at the trace's iterates).
3. :func:`worker_start_up`, :func:`cold_first_view`, :func:`cached_rerun` - a function nobody
   typed before, from text to three traces; and the same request again through the app's
   Streamlit caches, with every symbolic or iterative entry point counted.
4. :func:`growth` - parse / derive / compile and Newton's per-iteration cost on the extended
   Rosenbrock function for n = 2, 5, 10, 20.
5. :func:`honest_behind_hostile` - an ordinary new function through the worker pool, alone and
   with hostile texts (each needing its whole budget) started just before it (issue 11).
6. :func:`batch_throughput`, :func:`per_start_step_costs`, :func:`sweep_through_batch` - the batch
   engine (issue 10).
7. :func:`basins_throughput`, :func:`basins_picture_bytes` - where every start goes (issue 9).
8. :func:`play_frames`, :func:`click_to_drawn` - Play's frames and click-to-start, in headless
   Chromium against a served app (issue 8).
"""

from __future__ import annotations

import logging
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence
from unittest import mock

import numpy as np
import sympy as sp
from sympy.core.cache import clear_cache

import core.problem
from core import Options, Problem, build_problem, compile_derivation, derive, parse_function, run
from core import isolation
from core.isolation import WorkerBusy, WorkerTimeout, call_isolated
from core.parsing import natural_key

_ROOT = Path(__file__).resolve().parent.parent
ROSENBROCK = "(1-x)^2 + 100(y-x^2)^2"
DEFAULT_METHODS = ("gd", "gd-optimal", "newton")  # the app's default selection (ui.links)

GOAL_SPEEDUP = 200.0  # compiled vs subs/evalf, at least
GOAL_LOOP_RATIO = 1.5  # run loop vs its bare evaluations, at most (issue 10)
GOAL_BATCH_S = 0.5  # Newton on Himmelblau from a 200 x 200 grid, 60 steps, at most
GOAL_BATCH_SPEEDUP = 100.0  # ... and at least this much faster than run() per start
GOAL_COLD_S = 0.5  # text to three traces, at most
GOAL_COMPILE_N20_S = 2.0  # parse + derive + compile of the 20-variable extended Rosenbrock


@dataclass(frozen=True)
class Row:
    """One line of the report."""

    section: str
    figure: str
    value: str
    goal: str = ""
    met: bool | None = None  # None: informational


def extended_rosenbrock(n: int) -> str:
    """sum_{i<n} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, as a person would type it."""
    if n < 2:
        raise ValueError("the extended Rosenbrock function needs n >= 2")
    return " + ".join(f"100(x{i + 1} - x{i}^2)^2 + (1 - x{i})^2" for i in range(1, n))


def classic_start(n: int) -> list[float]:
    """(-1.2, 1, -1.2, 1, ...): Moré, Garbow & Hillstrom's start for the extended Rosenbrock."""
    return [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]


def _seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best of ``repeat`` wall-clock times of fn() (the least disturbed run)."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# --------------------------------------------------------------------------------------------
# 1. Compiled functions vs sympy subs/evalf
# --------------------------------------------------------------------------------------------

def compiled_vs_symbolic(evaluations: int = 20_000, symbolic_evaluations: int = 200,
                         seed: int = 1) -> dict:
    """Seconds per gradient + Hessian evaluation on Rosenbrock, both ways, at distinct random
    points (sympy caches subs results, so no point is used twice), and their agreement."""
    problem = build_problem(ROSENBROCK, timeout=None)
    x, y = problem.variables
    rng = np.random.default_rng(seed)
    points = rng.uniform(-2.0, 2.0, size=(max(evaluations, symbolic_evaluations), 2))

    def compiled() -> None:
        for point in points[:evaluations]:
            problem.gradient(point)
            problem.hessian(point)

    entries = list(problem.derivation.gradient) + [e for row in problem.derivation.hessian for e in row]

    def symbolic() -> list[list[float]]:
        return [[float(e.subs({x: a, y: b}).evalf()) for e in entries]
                for a, b in points[:symbolic_evaluations].tolist()]

    clear_cache()
    compiled_s = _seconds(compiled) / evaluations
    start = time.perf_counter()
    values = symbolic()
    symbolic_s = (time.perf_counter() - start) / symbolic_evaluations

    worst = 0.0
    for point, row in zip(points, values):
        numeric = np.concatenate([problem.gradient(point), problem.hessian(point).ravel()])
        worst = max(worst, float(np.max(np.abs(numeric - row) / np.maximum(1.0, np.abs(row)))))
    return {"compiled_s": compiled_s, "symbolic_s": symbolic_s, "speedup": symbolic_s / compiled_s,
            "max_relative_difference": worst, "goal": GOAL_SPEEDUP}


# --------------------------------------------------------------------------------------------
# 2. Run loop vs bare evaluations
# --------------------------------------------------------------------------------------------

@contextmanager
def counting_evaluations() -> Iterator[Counter]:
    """Count Problem.value / gradient / hessian calls (value_or_inf goes through value)."""
    counts: Counter = Counter()
    with ExitStack() as stack:
        for name in ("value", "gradient", "hessian"):
            original = getattr(Problem, name)

            def wrapper(self, x, _original=original, _name=name):
                counts[_name] += 1
                return _original(self, x)
            stack.enter_context(mock.patch.object(Problem, name, wrapper))
        yield counts


def run_loop_overhead(method: str, text: str = ROSENBROCK, x0: Sequence[float] = (-1.2, 1.0),
                      options: Options | None = None, min_seconds: float = 0.3) -> dict:
    """Time run(problem, x0, method) (repeated until min_seconds), then the same numbers of bare
    f / g / H evaluations (the trace's own counts, nfev / ngev / nhev) at the trace's iterates,
    each on a batch of one as the loop makes them; the ratio is the loop's overhead."""
    options = options or Options()
    problem = build_problem(text, timeout=None)
    trace = run(problem, x0, method, options)
    calls = {"value": trace.counts["nfev"], "gradient": trace.counts["ngev"], "hessian": trace.counts["nhev"]}

    repeats = 1
    while True:
        start = time.perf_counter()
        for _ in range(repeats):
            run(problem, x0, method, options)
        run_s = time.perf_counter() - start
        if run_s >= min_seconds or repeats >= 100_000:
            break
        repeats *= 2

    iterates = [row[None] for row in trace.x if np.isfinite(row).all()] or [np.asarray(x0, dtype=float)[None]]
    value, gradient, hessian = problem.values, problem.gradients, problem.hessians

    def bare() -> None:
        for name, fn in (("value", value), ("gradient", gradient), ("hessian", hessian)):
            for i in range(calls.get(name, 0)):
                fn(iterates[min(i, len(iterates) - 1)])

    start = time.perf_counter()
    for _ in range(repeats):
        bare()
    bare_s = time.perf_counter() - start
    return {"method": method, "text": text, "iterations": trace.iterations, "status": trace.status,
            "calls": calls, "run_s": run_s / repeats, "bare_s": bare_s / repeats,
            "ratio": run_s / bare_s if bare_s > 0 else math.inf, "goal": GOAL_LOOP_RATIO}


# --------------------------------------------------------------------------------------------
# 3. Cold start, and a rerun served from the caches
# --------------------------------------------------------------------------------------------

def symbolic_stages(text: str) -> tuple[dict[str, float], Problem]:
    """Seconds for parse, derive and compile of ``text`` in this process (sympy's cache cleared
    before each symbolic step, so nothing is reused), and the compiled problem."""
    clear_cache()
    t0 = time.perf_counter()
    parse_function(text)
    t1 = time.perf_counter()
    clear_cache()
    derivation = derive(text)
    t2 = time.perf_counter()
    problem = compile_derivation(derivation)
    t3 = time.perf_counter()
    return {"parse_s": t1 - t0, "derive_s": t2 - t1, "compile_s": t3 - t2}, problem


def worker_start_up() -> dict:
    """Time of the first isolated call in this process (a worker interpreter starts and imports
    sympy) against a warm call. Run it before anything else starts a worker."""
    first = _seconds(lambda: call_isolated(natural_key, ("x1",), 60.0), repeat=1)
    warm = _seconds(lambda: call_isolated(natural_key, ("x1",), 60.0), repeat=5)
    return {"first_call_s": first, "warm_call_s": warm, "start_up_s": max(first - warm, 0.0)}


def fresh_process(text: str = "(1-x)^2 + 100(y-x^2)^2 + x y/7919") -> dict:
    """Wall time of a brand-new interpreter that imports the engine, starts its first worker,
    builds ``text`` and runs the default methods: what the very first request after a server
    (re)start pays. Measured from outside, so the interpreter's own start-up is included."""
    code = ("import sys; from core import build_problem, run; p = build_problem(sys.argv[1]); "
            "[run(p, (-1.2, 1.0), m) for m in ('gd', 'gd-optimal', 'newton')]")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, text], check=True, cwd=str(_ROOT),
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))})
    return {"text": text, "wall_s": time.perf_counter() - start}


def fresh_texts(seed: int | None = None) -> dict[str, tuple[str, tuple[float, ...], Options]]:
    """Functions nobody typed before (a random coefficient), so no cache can serve them."""
    rng = random.Random(seed)
    a, b = rng.randint(2, 999), rng.randint(101, 999)
    return {
        "default-like quadratic": (f"{a}x^2 + y^2 + xy/{b}", (15.0, 15.0), Options()),
        "Rosenbrock, preset options": (f"(1-x)^2 + {b}(y-x^2)^2", (-1.2, 1.0), Options(lr=0.001, max_iter=2000)),
    }


def cold_first_view(text: str, x0: Sequence[float], options: Options,
                    methods: Sequence[str] = DEFAULT_METHODS) -> dict:
    """Text to traces as the app does it on a miss: build_problem (parse + derive in a warm
    worker, compile here) and one run per method. Also the in-process breakdown."""
    start = time.perf_counter()
    problem = build_problem(text)
    built = time.perf_counter()
    traces = {m: run(problem, x0, m, options) for m in methods}
    total = time.perf_counter() - start

    stages, _ = symbolic_stages(text)
    return {"text": text, "total_s": total, "build_s": built - start, "runs_s": total - (built - start),
            "iterations": {m: t.iterations for m, t in traces.items()}, **stages, "goal": GOAL_COLD_S}


def _quiet_streamlit() -> None:
    """Streamlit's caches work without a running app (in-memory storage) but log a warning
    for every cached function; this report does not need them."""
    try:
        from streamlit.logger import set_log_level
        set_log_level("error")  # also the level of loggers created later
    except ImportError:  # pragma: no cover - an older or newer Streamlit: only noisier
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("streamlit"):
                logging.getLogger(name).setLevel(logging.ERROR)


def cached_rerun(text: str, x0: Sequence[float], options: Options,
                 methods: Sequence[str] = DEFAULT_METHODS) -> dict:
    """ui.compute.run_methods twice on a fresh text, under Streamlit's caches (in-memory storage:
    no app runtime), counting every entry point of symbolic or iterative work."""
    _quiet_streamlit()
    import ui.compute  # starts a warm worker in the background (as the app does)

    counts: Counter = Counter()

    def counted(name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    # Every symbolic request goes through call_isolated (derive runs in the worker, so sympy calls
    # there are invisible here: counting the requests counts them all); compiling happens here.
    targets = {
        "worker requests (core.problem.call_isolated)": (core.problem, "call_isolated"),
        "compile (core.problem.compile_derivation)": (core.problem, "compile_derivation"),
        "numeric code executed (core.problem._from_code)": (core.problem, "_from_code"),
        "sympy.diff": (sp, "diff"),
        "sympify (sympy.sympify)": (sp, "sympify"),
        "build_problem (ui.compute)": (ui.compute, "build_problem"),
        "run loops (ui.compute.run)": (ui.compute, "run"),
    }
    with ExitStack() as stack:
        for label, (owner, attribute) in targets.items():
            stack.enter_context(mock.patch.object(owner, attribute, counted(label, getattr(owner, attribute))))
        start = time.perf_counter()
        first = ui.compute.run_methods(text, tuple(x0), tuple(methods), options)
        first_s = time.perf_counter() - start
        first_counts = {label: counts[label] for label in targets}
        counts.clear()
        start = time.perf_counter()
        second = ui.compute.run_methods(text, tuple(x0), tuple(methods), options)
        second_s = time.perf_counter() - start
        second_counts = {label: counts[label] for label in targets}
    same = all(first[m].x.shape == second[m].x.shape and np.array_equal(first[m].x, second[m].x) for m in methods)
    return {"first_s": first_s, "second_s": second_s, "first_counts": first_counts,
            "second_counts": second_counts, "same_traces": same,
            "no_work_on_rerun": not any(second_counts.values())}


# --------------------------------------------------------------------------------------------
# 4. Growth with the number of variables
# --------------------------------------------------------------------------------------------

def growth(sizes: Sequence[int] = (2, 5, 10, 20), min_seconds: float = 0.2) -> list[dict]:
    """Per n: parse, derive (parse + g + H + LaTeX), compile, and Newton's cost per iteration on
    the extended Rosenbrock function from (-1.2, 1, -1.2, ...). sympy's cache is cleared before
    each symbolic step, so nothing is reused from a smaller n."""
    rows = []
    for n in sizes:
        text = extended_rosenbrock(n)
        stages, problem = symbolic_stages(text)

        start = time.perf_counter()
        build_problem(text)  # the app's path: derive in the worker, pickle back, compile here
        isolated_s = time.perf_counter() - start

        x0 = classic_start(n)
        options = Options(max_iter=200)
        trace = run(problem, x0, "newton", options)
        repeats, run_s = 1, 0.0
        while True:
            start = time.perf_counter()
            for _ in range(repeats):
                run(problem, x0, "newton", options)
            run_s = time.perf_counter() - start
            if run_s >= min_seconds or repeats >= 10_000:
                break
            repeats *= 2
        steps = max(trace.iterations, 1)
        point = np.asarray(x0, dtype=float)
        evaluation_s = _seconds(lambda p=problem, x=point: (p.value(x), p.gradient(x), p.hessian(x)), repeat=20)
        rows.append({"n": n, **stages, "total_s": sum(stages.values()), "isolated_build_s": isolated_s,
                     "newton_iterations": trace.iterations, "newton_status": trace.status,
                     "newton_per_iteration_s": run_s / repeats / steps, "f_g_h_s": evaluation_s})
    return rows


# --------------------------------------------------------------------------------------------
# 5. The worker pool under hostile texts
# --------------------------------------------------------------------------------------------

# 39 nested sines of a product of 20 variables: within the parser's bounds, and derive() needs
# over a minute of CPU for it. What a hostile link looks like.
HOSTILE_TEXT = "sin(" * 39 + "*".join(f"x{i}" for i in range(1, 21)) + ")" * 39
HOSTILE_BEFORE_S = 11.0  # issue 11: an honest parse behind 4 hostile ones, before the two lanes


def _worker_processes() -> int:
    """Live ``python -m core._worker`` children of this process, from /proc (0 without /proc)."""
    count = 0
    proc = Path("/proc")
    if not proc.exists():
        return 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"core._worker" in cmdline:
            count += 1
    return count


def _warm_pool(limit_s: float = 300.0) -> None:
    deadline = time.monotonic() + limit_s
    while isolation.pool_state()["idle"] < isolation.POOL_SIZE and time.monotonic() < deadline:
        isolation.warm_up().join(60)
        time.sleep(0.05)


def honest_behind_hostile(hostile: int = 4, budget_s: float = core.problem.TYPED_BUDGET_S,
                          samples: int = 3) -> dict:
    """Latency of an ordinary new function (a text no cache has seen: 4x^2 + y^2 + k) through the
    worker pool with every worker warm: alone (median of ``samples``), then with ``hostile``
    texts that need their whole ``budget_s`` started 0.2 s before it. Also how those ended, and
    the most worker processes alive meanwhile (the pool's count and /proc)."""
    _warm_pool()
    counter = random.randrange(10 ** 6)

    def honest() -> float:
        nonlocal counter
        counter += 1
        start = time.perf_counter()
        call_isolated(derive, (f"4x^2 + y^2 + {counter}", None), budget_s)
        return time.perf_counter() - start

    alone = statistics.median(honest() for _ in range(samples))
    _warm_pool()
    outcomes: list[tuple[str, float]] = []
    seen = [_worker_processes()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen.append(_worker_processes())
            time.sleep(0.02)

    def attack() -> None:
        start = time.perf_counter()
        try:
            call_isolated(derive, (HOSTILE_TEXT, None), budget_s)
            outcome = "finished"
        except WorkerTimeout:
            outcome = "over budget"
        except WorkerBusy:
            outcome = "refused busy"
        outcomes.append((outcome, time.perf_counter() - start))

    isolation.reset_peak()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    attackers = [threading.Thread(target=attack, daemon=True) for _ in range(hostile)]
    for thread in attackers:
        thread.start()
    time.sleep(0.2)
    with_hostile = honest()
    for thread in attackers:
        thread.join()
    stop.set()
    sampler.join()
    return {"alone_s": alone, "with_hostile_s": with_hostile, "ratio": with_hostile / alone,
            "hostile": hostile, "budget_s": budget_s, "outcomes": sorted(outcomes),
            "peak_processes": max(isolation.pool_state()["peak_processes"], max(seen)),
            "pool_size": isolation.POOL_SIZE, "before_s": HOSTILE_BEFORE_S}


# --------------------------------------------------------------------------------------------
# 6. The batch engine (issue 10)
# --------------------------------------------------------------------------------------------

HIMMELBLAU = "(x^2 + y - 11)^2 + (x + y^2 - 7)^2"


def batch_throughput(grid: int = 200, steps: int = 60, loop_sample: int = 200) -> dict:
    """Newton on Himmelblau from a grid x grid of starts in [-5, 5]^2, ``steps`` steps: one
    run_ends (where each start ended: what a basin picture needs), the same batch keeping every
    trace (run_batch), and run() looped over ``loop_sample`` of the same starts (per start)."""
    from core import run_batch, run_ends

    problem = build_problem(HIMMELBLAU, timeout=None)
    axis = np.linspace(-5, 5, grid)
    starts = np.array(np.meshgrid(axis, axis)).reshape(2, -1).T
    options = Options(max_iter=steps, tol=1e-12)
    start = time.perf_counter()
    ends = run_ends(problem, starts, "newton", options)
    ends_s = time.perf_counter() - start
    start = time.perf_counter()
    run_batch(problem, starts, "newton", options)
    traces_s = time.perf_counter() - start
    sample = starts[np.linspace(0, len(starts) - 1, loop_sample).astype(int)]
    start = time.perf_counter()
    for x0 in sample:
        run(problem, x0, "newton", options)
    loop_per_start = (time.perf_counter() - start) / loop_sample
    return {"starts": len(starts), "steps": steps, "batch_s": ends_s, "traces_s": traces_s,
            "loop_per_start_s": loop_per_start, "loop_estimate_s": loop_per_start * len(starts),
            "speedup": loop_per_start * len(starts) / ends_s, "converged": int(np.sum(ends.status == "converged"))}


def per_start_step_costs(size: int = 40_000, steps: int = 10) -> list[dict]:
    """Seconds per start per step of every method on Himmelblau from ``size`` random starts, one
    batch per method."""
    from core import METHODS, run_batch

    problem = build_problem(HIMMELBLAU, timeout=None)
    rng = np.random.default_rng(0)
    out = []
    for method_id in METHODS:
        starts = rng.uniform(-5, 5, size=(size, 2))
        start = time.perf_counter()
        traces = run_batch(problem, starts, method_id, Options(lr=0.01, max_iter=steps, tol=1e-300))
        seconds = time.perf_counter() - start
        step_count = sum(t.iterations for t in traces)
        out.append({"method": method_id, "starts": size, "per_start_step_s": seconds / max(step_count, 1),
                    "seconds": seconds})
    return out


def sweep_through_batch(rates: int = 60, steps: int = 1000) -> dict:
    """A learning-rate sweep of gd on 4x^2 + y^2 from (15, 15): ``rates`` rates x ``steps``
    steps (tol so small that none stops early) in one batch, against one run() per rate."""
    from core import run_batch

    problem = build_problem("4x^2 + y^2", timeout=None)
    etas = np.geomspace(1e-4, 0.2, rates)
    options = Options(max_iter=steps, tol=1e-300)
    start = time.perf_counter()
    run_batch(problem, np.tile([15.0, 15.0], (rates, 1)), "gd", options, per_start={"lr": etas})
    batch_s = time.perf_counter() - start
    start = time.perf_counter()
    for eta in etas:
        run(problem, [15.0, 15.0], "gd", Options(lr=float(eta), max_iter=steps, tol=1e-300))
    loop_s = time.perf_counter() - start
    return {"rates": rates, "steps": steps, "batch_s": batch_s, "loop_s": loop_s, "speedup": loop_s / batch_s}


# --------------------------------------------------------------------------------------------
# 7. Where every start goes (issue 9)
# --------------------------------------------------------------------------------------------
GOAL_BASINS_NEWTON_S = 0.5  # newton, 200 x 200 starts on Himmelblau, at most
GOAL_BASINS_DEFAULT_S = 3.0  # the app's default methods together, at most
GOAL_BASINS_SPEEDUP = 100.0  # against run() looped over the same starts, at least
GOAL_BASINS_BYTES = 10 ** 6  # one basin picture as sent to the browser, at most


def basins_throughput(grid: int = 200, loop_sample: int = 60) -> dict:
    """compute_basins on Himmelblau over [-5, 5]^2 (no budget: the whole grid): newton alone and
    the default methods together, CPU seconds of this thread; run() looped over a sample of the
    same starts per method, scaled to the grid."""
    from core.basins import View, compute_basins

    problem = build_problem(HIMMELBLAU, timeout=None)
    view = View((0.0, 0.0), (0, 1), (-5, 5, -5, 5), grid)
    out = {"grid": grid}
    for name, methods in (("newton", ["newton"]), ("default", list(DEFAULT_METHODS))):
        start = time.thread_time()
        compute_basins(problem, view, methods, Options())
        out[f"{name}_s"] = time.thread_time() - start
    starts = view.starts()[np.linspace(0, view.size - 1, loop_sample).astype(int)]
    start = time.thread_time()
    for method in DEFAULT_METHODS:
        for x0 in starts:
            run(problem, x0, method, Options())
    out["loop_estimate_s"] = (time.thread_time() - start) / loop_sample * view.size
    out["speedup"] = out["loop_estimate_s"] / out["default_s"]
    return out


def basins_picture_bytes(grids: Sequence[int] = (200, 400)) -> list[dict]:
    """The basins page (AppTest) for Himmelblau with the default methods: the serialized size of
    each basin picture element (Vega-Lite spec + its Arrow data: what the browser receives for it),
    the largest one per grid asked for (the page's budget may draw a coarser grid: reported)."""
    from streamlit.testing.v1 import AppTest

    from ui.links import Setup, setup_to_query

    _quiet_streamlit()
    setup = Setup(HIMMELBLAU, "0, 0", DEFAULT_METHODS)
    out = []
    for grid in grids:
        at = AppTest.from_file(str(_ROOT / "pages" / "basins.py"), default_timeout=300)
        for key, value in setup_to_query(setup).items():
            at.query_params[key] = value
        at.run()
        at.select_slider(key="basins_grid").set_value(grid)
        at.run()
        sizes = [len(element.proto.SerializeToString()) for element in at.get("vega_lite_chart")
                 if '"rect"' in element.proto.spec]
        notes = [info.value for info in at.info]
        out.append({"grid": grid, "pictures": len(sizes), "largest_bytes": max(sizes) if sizes else 0,
                    "coarser": next((n for n in notes if "drawn at" in n), "")})
    return out


GOAL_FRAME_CPU_S = 0.030  # server CPU per frame of Play on the seed-000 setup, at most (issue 8)
GOAL_FRAME_BYTES = 50_000  # bytes the server sends per frame, at most
GOAL_CLICK_TO_DRAWN_S = 1.0  # a click on the picture to a fully drawn Compare page, warm server, at most


def _browser_tools():
    """The browser test's helpers (tests/e2e/support.py), or ImportError/FileNotFoundError with
    what is missing: these figures need a served app and Debian's Chromium."""
    sys.path[:0] = [str(_ROOT / "tests")]
    from e2e import support  # noqa: PLC0415 - only this section needs a browser
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    if not Path(support.CHROMIUM).exists():
        raise FileNotFoundError(f"{support.CHROMIUM} is missing (apt-get install -y chromium)")
    return support, sync_playwright


def play_frames(frames: int = 40, speed: int = 10) -> dict:
    """Play on the seed-000 setup (Compare's default: 4x^2 + y^2 from (15, 15); gd, gd-optimal,
    newton) in headless Chromium against ``streamlit run app.py``: per frame (a run of the
    fragment that the browser's timer asked for), the bytes the server sent (the websocket's
    payloads from one finished run to the next) and the server's CPU (its processes, /proc),
    median and largest over ``frames`` frames."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from ui.player import DEFAULT_SPEED

    support, sync_playwright = _browser_tools()
    messages: list[tuple[int, int | None]] = []  # (payload bytes, script_finished status or None)

    def on_socket(socket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            def received(payload) -> None:
                if isinstance(payload, (bytes, bytearray)):
                    message = ForwardMsg.FromString(payload)
                    finished = message.script_finished if message.WhichOneof("type") == "script_finished" else None
                    messages.append((len(payload), finished))
            socket.on("framereceived", received)

    with support.streamlit_server(name="benchmark") as server, sync_playwright() as playwright:
        browser = support.launch_chromium(playwright)
        try:
            page = browser.new_context(viewport={"width": 1600, "height": 2400}).new_page()
            page.on("websocket", on_socket)
            support.open_app(page, server.url)
            support.wait_for_charts(page, minimum=DEFAULT_COMPARE_CHARTS)
            if speed != DEFAULT_SPEED:  # choosing the speed already chosen runs nothing
                page.get_by_role("combobox", name="Speed").click()
                support.interact(page, page.get_by_role("option", name=f"{speed} steps/s").click)
            support.interact(page, page.get_by_role("button", name="Play", exact=True).click)
            pids = support.process_tree(server.pid)
            first, cpu_before = len(messages), support.cpu_seconds(pids)
            done = lambda: sum(1 for _, f in messages[first:] if f == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)  # noqa: E731
            deadline = time.monotonic() + 60 + 5 * frames / speed
            while done() < frames and time.monotonic() < deadline:
                page.wait_for_timeout(50)
            cpu = support.cpu_seconds(pids) - cpu_before
            counted = done()
            page.get_by_role("button", name="Pause").click()
        finally:
            browser.close()
    sizes, size = [], 0
    for length, finished in messages[first:]:
        size += length
        if finished is not None:
            if finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                sizes.append(size)
            size = 0
    sizes = sizes[:counted]
    return {"frames": counted, "cpu_per_frame_s": cpu / max(counted, 1), "median_bytes": statistics.median(sizes),
            "largest_bytes": max(sizes)}


# Where the benchmark clicks, as fractions of the picture's box: inside the plot area (the box
# also holds the title, the axes and the legend under the plot, where a click picks nothing).
CLICK_SPOTS = ((0.3, 0.3), (0.6, 0.5), (0.25, 0.55), (0.7, 0.25), (0.45, 0.6))

# In the page from its start: when the last click was, and when the main area last changed (a DOM
# mutation) or the main thread last finished a long task (drawing the charts and tables). A chart
# whose Vega view is kept is never blank in between: "drawn" is when the page stopped changing.
_WATCH_DRAWING = """
window.__drawing = {click: 0, changed: 0};
document.addEventListener('click', () => { window.__drawing.click = performance.now(); }, true);
new PerformanceObserver(list => list.getEntries().forEach(e => {
  window.__drawing.changed = Math.max(window.__drawing.changed, e.startTime + e.duration); })).observe({entryTypes: ['longtask']});
document.addEventListener('DOMContentLoaded', () => new MutationObserver(records => {
  if (records.some(r => r.target.closest && r.target.closest("[data-testid='stMain']")))
    window.__drawing.changed = Math.max(window.__drawing.changed, performance.now());
}).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true}));
"""
_QUIET_S = 0.5  # no change for this long after the run: the page is drawn



def _drawn_after_click(page, timeout_s: float = 60) -> float:
    """Seconds from the click to the page's last change, once it has been quiet for _QUIET_S."""
    deadline = time.monotonic() + timeout_s
    while True:
        drawing = page.evaluate("() => ({...window.__drawing, now: performance.now()})")
        if drawing["now"] - drawing["changed"] >= _QUIET_S * 1000:
            if drawing["changed"] <= drawing["click"]:
                raise RuntimeError("nothing on the page changed after the click")
            return (drawing["changed"] - drawing["click"]) / 1000
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page still changed {timeout_s:g} s after the click")
        page.wait_for_timeout(100)


# Compare on the default setup: the picture, 2 convergence charts and a step-size chart per method
# (3), each drawn with its overlay at k
DEFAULT_COMPARE_CHARTS = 12
CLASS_PLAYERS = 20  # visitors playing at once while another clicks (headless: the server alone is measured)
CLASS_PLAY_QUERY = "lr=0.01"  # their setup: 1,000 steps of fixed-rate descent, so Play does not stop by itself
GOAL_CLICK_WHILE_CLASS_PLAYS_S = 2.0  # a click drawn while the class plays, at most


def click_to_drawn(clicks: int = 5, players: int = 0) -> dict:
    """A click on Compare's contour picture (the default setup, a warm server: the page was
    drawn once) to the page drawn again from the new start: the run finished, no chart blank,
    and the time of the main area's last change (DOM or a long task of the main thread) after
    the click. Median of ``clicks`` clicks at different points (CLICK_SPOTS); also how many of
    the charts kept their Vega view (only their data replaced) on the median click.
    ``players``: that many other visitors play meanwhile (benchmarks.headless, at the default
    speed, on CLASS_PLAY_QUERY); ``frames_per_s`` is how many frames they got, all together."""
    from .headless import HeadlessPlayer

    support, sync_playwright = _browser_tools()
    times, runs, kept = [], [], []  # to drawn; to the run's end (the server's part); views kept
    with support.streamlit_server(name="benchmark") as server, sync_playwright() as playwright:
        browser = support.launch_chromium(playwright)
        class_ = [HeadlessPlayer(server.url, query=CLASS_PLAY_QUERY) for _ in range(players)]
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 2400})
            context.add_init_script(_WATCH_DRAWING)
            page = context.new_page()
            support.open_app(page, server.url)
            charts = len(support.wait_for_charts(page, minimum=DEFAULT_COMPARE_CHARTS))
            picture = page.locator(".st-key-stack_chart_picture [data-testid='stVegaLiteChart']").first
            for player in class_:
                player.start()
            deadline = time.monotonic() + 120
            while class_ and min(p.frames for p in class_) < 3:  # every one of them is playing
                errors = [p.error for p in class_ if p.error]
                if errors or time.monotonic() > deadline:
                    raise RuntimeError(f"the class did not start playing: {errors or [p.frames for p in class_]}")
                time.sleep(0.2)
            frames, since = sum(p.frames for p in class_), time.monotonic()
            for i in range(clicks):
                box = picture.bounding_box()
                fx, fy = CLICK_SPOTS[i % len(CLICK_SPOTS)]
                x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
                support.mark_chart_drawings(page)
                start = time.perf_counter()
                support.interact(page, lambda x=x, y=y: page.mouse.click(x, y))
                runs.append(time.perf_counter() - start)
                support.wait_for_charts(page, minimum=charts)
                times.append(_drawn_after_click(page))
                kept.append(sum(support.kept_chart_drawings(page)))
            frames_per_s = (sum(p.frames for p in class_) - frames) / (time.monotonic() - since)
        finally:
            for player in class_:
                player.stop()
            browser.close()
    return {"median_s": statistics.median(times), "largest_s": max(times), "clicks": len(times),
            "run_finished_s": statistics.median(runs), "charts": charts,
            "views_kept": sorted(kept)[len(kept) // 2], "players": players, "frames_per_s": frames_per_s}

"""Cached bridges from the setup to core: parse/compile once per text, run once per input, and
never more work per page run than ui.budget allows.

Compiled problems live in a byte-bounded LRU of this process (lambdified callables cannot be
pickled, so ``st.cache_data`` cannot hold them, and ``st.cache_resource`` bounds only the
number of entries: 256 heavy functions held over 1 GiB). Traces live in ``st.cache_data``,
keyed on plain values (text, start point, method id, options tuple) and bounded by bytes.
Reruns that only move a slider hit both caches and do no symbolic or iterative work at all.

Every run gets a share of the page's CPU budget (``ui.budget.RUNS_BUDGET_S``, CPU seconds of the
script's thread: what it costs the server, the same however busy the machine is; with a wall-clock
backstop) and stops at it with the status ``time_limit``; a run whose visitor has gone is
abandoned at once and never cached.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from dataclasses import astuple
from typing import Callable, Generic, Hashable, TypeVar

import streamlit as st

from core import Options, OptionsError, ParseError, Problem, Trace, build_problem, fairshare, run
from core.isolation import warm_up
from core.parsing import normalise
from core.problem import ServerBusy
from core.run import RunCancelled
from core.basins import BasinMap, View, compute_basins
from core.growth import Family, GrowthPoint, measure_growth
from core.sweep import Sweep, sweep_learning_rates

from .budget import (BASINS_BUDGET_S, BASINS_CACHE_BYTES, GROWTH_BUDGET_S, PROBLEM_CACHE_BYTES, RUNS_BUDGET_S,
                     SWEEP_BUDGET_S, SWEEP_CACHE_BYTES,
                     TRACE_CACHE_BYTES, WALL_FACTOR)

warm_up()  # the first function typed should not wait for a worker to import sympy

Value = TypeVar("Value")


class ByteBoundedCache(Generic[Value]):
    """A thread-safe LRU whose entries are counted in bytes (as their builder reports them).

    Two sessions asking for the same new key at once share one build: the second waits for the
    first instead of doing the work again. An entry larger than the whole bound is still
    returned, and kept alone until the next insertion.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Value, int]] = OrderedDict()
        self._building: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.bytes = 0

    def get(self, key: Hashable, build: Callable[[], tuple[Value, int]]) -> Value:
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
                waiting = self._building.get(key)
                if waiting is None:
                    self._building[key] = threading.Event()
                    break
            waiting.wait()  # another session builds it; then read it (or build it if that failed)
        try:
            value, size = build()
            with self._lock:
                self._entries[key] = (value, size)
                self.bytes += size
                while self.bytes > self.max_bytes and len(self._entries) > 1:
                    _, (_, evicted) = self._entries.popitem(last=False)
                    self.bytes -= evicted
            return value
        finally:
            with self._lock:
                self._building.pop(key).set()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


_PROBLEMS: ByteBoundedCache[tuple[Problem | None, str | None]] = ByteBoundedCache(PROBLEM_CACHE_BYTES)


def load_problem(text: str) -> tuple[Problem | None, str | None]:
    """(problem, None) or (None, the parser's message), cached on the normalised text, so the
    text as typed and ``problem.text`` (what the pages pass on) share one parse. Errors are
    cached too: a hostile text that needs the whole time budget to be refused costs it once."""
    try:
        return problem_of(text), None
    except ParseError as err:  # refused at the first gates, or ServerBusy (not cached: transient)
        return None, str(err)


def problem_of(text: str) -> Problem:
    """:func:`load_problem`'s problem, or its refusal raised: ParseError with the parser's message,
    ServerBusy (a ParseError) when the server refused for its own sake and asking again may work."""
    key = normalise(text)
    problem, error = _PROBLEMS.get(key, lambda: _build(key))
    if problem is None:
        raise ParseError(error)
    return problem


def _build(text: str) -> tuple[tuple[Problem | None, str | None], int]:
    try:
        problem = build_problem(text)
    except ServerBusy:
        raise  # says nothing about the text: ask again next time
    except ParseError as err:
        return (None, str(err)), len(text) + len(str(err))
    # What the problem holds is its derivation (sympy expressions, LaTeX) plus the compiled
    # code, which grows with it: its pickled size is the measure.
    return (problem, None), len(pickle.dumps(problem.derivation, protocol=pickle.HIGHEST_PROTOCOL))


def between_steps() -> Callable[[], bool]:
    """What a long loop calls between steps: first let lighter page runs of other visitors go
    ahead (core.fairshare: the page that has cost least goes first), then tell whether this run's
    visitor has left."""
    gone = visitor_gone()

    def check() -> bool:
        fairshare.yield_to_lighter()
        return gone()
    return check


def visitor_gone() -> Callable[[], bool]:
    """A cheap check for long loops: has this script run's visitor left (tab closed, network
    gone)? Streamlit keeps running a script whose websocket closed; only the loop itself can
    notice. Outside a served app (AppTest, a notebook) it never fires."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover - another Streamlit: no early stop, the budget still holds
        return lambda: False
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return lambda: False
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: not runtime.is_active_session(session_id)


@st.cache_data(max_entries=2048, max_size=TRACE_CACHE_BYTES, show_spinner=False)
def run_method(text: str, x0: tuple[float, ...], method: str, options: tuple,
               _budget_s: float = RUNS_BUDGET_S) -> Trace:
    """One method's trace, within ``_budget_s`` seconds of wall time (not part of the cache key:
    a run cut by the budget is the answer for that input until it is evicted)."""
    problem, error = load_problem(text)
    if problem is None:  # callers check load_problem first; this keeps the cache honest
        raise ParseError(error)
    try:
        return run(problem, x0, method, Options(*options), deadline=time.thread_time() + _budget_s,
                   wall_deadline=fairshare.wall_clock() + WALL_FACTOR * _budget_s, should_stop=between_steps())
    except RunCancelled:
        st.stop()  # nobody is watching: end the script run; nothing is cached
        raise  # pragma: no cover - st.stop raises


def run_methods(text: str, x0: tuple[float, ...], methods: tuple[str, ...], options: Options,
                budget_s: float = RUNS_BUDGET_S) -> dict[str, Trace]:
    """One trace per method id, each cached on its own (adding a method runs only that one).

    The methods share ``budget_s``: each gets an equal part of what the ones before it left
    (at least a quarter of an equal share, so a late method is never starved to nothing)."""
    key = astuple(options)
    cpu_end = time.thread_time() + budget_s
    traces = {}
    for i, method in enumerate(methods):
        fairshare.yield_to_lighter()  # also between cached traces: drawing them is work too
        left = len(methods) - i
        share = max((cpu_end - time.thread_time()) / left, budget_s / (4 * len(methods)))
        traces[method] = run_method(text, x0, method, key, share)
    return traces


@st.cache_data(max_entries=64, max_size=SWEEP_CACHE_BYTES, show_spinner="Sweeping the learning rate…")
def run_sweep(text: str, x0: tuple[float, ...], etas: tuple[float, ...], method: str, options: tuple) -> Sweep:
    """One fixed-rate run per eta (core.sweep.sweep_learning_rates) within SWEEP_BUDGET_S,
    cached on plain values (the sweep keeps per-run summaries, not the traces)."""
    problem, error = load_problem(text)
    if problem is None:
        raise ParseError(error)
    try:
        return sweep_learning_rates(problem, x0, etas, Options(*options), method, keep_traces=False,
                                    cpu_budget_s=SWEEP_BUDGET_S, wall_factor=WALL_FACTOR, should_stop=between_steps())
    except RunCancelled:
        st.stop()
        raise  # pragma: no cover - st.stop raises


@st.cache_data(max_entries=64, max_size=BASINS_CACHE_BYTES, show_spinner="Running every method from every start…")
def run_basins(text: str, x0: tuple[float, ...], axes: tuple[int, ...], box: tuple[float, ...], grid: int,
               methods: tuple[str, ...], options: tuple) -> BasinMap:
    """Where every start of the view goes (core.basins.compute_basins) within BASINS_BUDGET_S,
    cached on plain values without the per-start end points (labels and steps only)."""
    problem, error = load_problem(text)
    if problem is None:
        raise ParseError(error)
    try:
        return compute_basins(problem, View(x0, axes, box, grid), methods, Options(*options),
                              cpu_budget_s=BASINS_BUDGET_S, wall_factor=WALL_FACTOR,
                              should_stop=between_steps()).picture()
    except RunCancelled:
        st.stop()
        raise  # pragma: no cover - st.stop raises


@st.cache_data(max_entries=64, show_spinner=False)
def growth_points(notation: str, start: tuple[float, ...], method: str, budget_s: float) -> list[GrowthPoint]:
    """One method's seconds per step on a family for n = 2..20 (core.growth.measure_growth),
    cached server-wide on the family's notation and start: the same family and method cost the
    same for every visitor."""
    try:
        return measure_growth(problem_of, Family(notation, notation, start), [method], budget_s, should_stop=between_steps())
    except RunCancelled:
        st.stop()
        raise  # pragma: no cover - st.stop raises


def measure_growths(family: Family, methods: tuple[str, ...]) -> list[GrowthPoint]:
    """Every method's points; the methods share GROWTH_BUDGET_S."""
    return [point for method in methods
            for point in growth_points(family.notation, family.start_pattern, method, GROWTH_BUDGET_S / len(methods))]


def check_start(problem: Problem, x0: tuple[float, ...]) -> str | None:
    """A message when the start point does not fit the function, else None."""
    if len(x0) != problem.n:
        names = ", ".join(problem.variable_names)
        return (f"the start point has {len(x0)} coordinate{'s' if len(x0) != 1 else ''} but f has "
                f"{problem.n} variable{'s' if problem.n != 1 else ''} ({names})")
    return None


__all__ = ["load_problem", "run_method", "run_methods", "run_sweep", "run_basins",
           "check_start", "visitor_gone", "between_steps", "measure_growths",
           "ByteBoundedCache", "OptionsError"]

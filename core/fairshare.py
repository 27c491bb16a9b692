"""Least attained service first, among the threads of one interpreter.

One server process runs every visitor's page in a thread of its own, and Python runs one thread at
a time: left alone, the interpreter shares itself evenly, so an ordinary page that needs 0.4 s
waits several times that behind three heavy pages that each need their whole budget. A classroom
wants the opposite: the page that has cost the least so far goes first.

Each page run ``join``s at its start; what it has cost is its thread's CPU clock plus what worker
processes spent for it (``charge``, called by core.isolation). Long loops call ``yield_to_lighter()`` between steps: while
another joined thread has used at least ``SLACK_S`` less CPU time than the caller and is using the
time the caller leaves it (its CPU clock advanced while the caller slept), the caller sleeps in
slices of ``SLICE_S``. A lighter thread that is itself waiting (for a worker process, the network)
does not advance, and the caller goes on at once. So a heavy run is delayed only while a lighter
one is actually computing, and by at most as long as that one's own bounded budget.

Pure Python (``time.pthread_getcpuclockid`` reads another thread's CPU clock): no Streamlit here.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

SLACK_S = 0.05  # a thread this much CPU time behind the caller goes first
SLICE_S = 0.002  # the caller sleeps this long, then looks again
PROGRESS_S = 0.0002  # a lighter thread whose clock advanced less than this ...
PATIENCE = 3  # ... in this many slices in a row is waiting, not computing (3 slices > the 5 ms GIL switch interval)

_lock = threading.Lock()
_joined: dict[int, threading.Thread] = {}
_charged: dict[int, float] = {}  # thread -> CPU seconds spent for it elsewhere (worker processes)
_waiting: dict[int, float] = {}  # thread -> its clock when it was last seen waiting (not yielded to until it moves)
_slept: dict[int, float] = {}  # thread -> seconds it has slept here since it joined


def join() -> None:
    """The calling thread takes part from now until it ends (its CPU clock is what it has cost:
    a page run's thread is started for that run)."""
    thread = threading.current_thread()
    with _lock:
        for ident in [i for i, t in _joined.items() if not t.is_alive()]:
            del _joined[ident]
            _waiting.pop(ident, None)
            _charged.pop(ident, None)
            _slept.pop(ident, None)
        _joined[thread.ident] = thread
        _charged[thread.ident] = 0.0
        _slept[thread.ident] = 0.0


def _is_joined() -> bool:
    """By the thread itself, not its id: the id of an ended thread is given to the next one."""
    return _joined.get(threading.get_ident()) is threading.current_thread()


def charge(seconds: float) -> None:
    """Count ``seconds`` of CPU time spent for the calling thread by another process (its sympy
    work in a worker) as its own: a page whose function took 2 s to differentiate is not light."""
    ident = threading.get_ident()
    if _is_joined() and seconds > 0:
        _charged[ident] = _charged.get(ident, 0.0) + seconds


def _served(ident: int, clock: float | None) -> float | None:
    return None if clock is None else clock + _charged.get(ident, 0.0)


def _cpu_seconds(ident: int) -> float | None:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (OSError, AttributeError):  # the thread has just ended (or a platform without thread clocks)
        return None


def _lighter_than(mine: float) -> dict[int, float]:
    me = threading.get_ident()
    with _lock:
        others = [i for i, t in _joined.items() if i != me and t.is_alive()]
    clocks = {i: _served(i, _cpu_seconds(i)) for i in others}
    return {i: c for i, c in clocks.items()
            if c is not None and c < mine - SLACK_S and c - _waiting.get(i, -1.0) >= PROGRESS_S}


def yield_to_lighter() -> float:
    """Sleep while a joined thread that has cost less than this one is computing; the seconds
    slept. Cheap when there is nothing to yield to (one dict walk). A thread that calls it without
    having joined joins here (Streamlit runs a fragment's rerun, e.g. a button inside one, in a new
    thread that never passes the page's start)."""
    if not _is_joined():
        join()
    if len(_joined) < 2:
        return 0.0
    mine = _served(threading.get_ident(), time.thread_time())
    slept = 0.0
    baseline = _lighter_than(mine)  # each lighter thread's clock when this thread began to wait for it
    idle_slices = 0
    while baseline and idle_slices < PATIENCE:
        time.sleep(SLICE_S)
        slept += SLICE_S
        now = _lighter_than(mine)  # a thread that has caught up drops out
        if any(clock - baseline.get(i, clock) >= PROGRESS_S for i, clock in now.items()):
            baseline, idle_slices = now, 0
        else:  # the lighter ones wait for something else: after PATIENCE slices this thread goes on
            baseline, idle_slices = {i: baseline.get(i, clock) for i, clock in now.items()}, idle_slices + 1
    if baseline:  # gave up on these: skip them at once next time, until their clocks move
        _waiting.update(baseline)
    if slept:
        _slept[threading.get_ident()] = _slept.get(threading.get_ident(), 0.0) + slept
    return slept


def wall_clock() -> float:
    """time.monotonic() less the time this thread has slept here: a wall-clock backstop measured
    on it stops a run that the machine starves, not one that let other visitors go first."""
    return time.monotonic() - (_slept.get(threading.get_ident(), 0.0) if _is_joined() else 0.0)


def joined_threads() -> int:
    """How many live threads take part (for tests and the benchmark)."""
    with _lock:
        return sum(t.is_alive() for t in _joined.values())


_page_runs: dict[int, int] = {}  # thread -> how many page runs it is inside (a full run of app.py)


@contextmanager
def page_run() -> Iterator[None]:
    """A page's full run (app.py's body), as opposed to a fragment's rerun (a frame of Play): the
    gate of frames leaves room while one is in progress. Streamlit's script thread serves a
    session's queued fragment reruns too, so a joined thread is not the sign of a page run."""
    ident = threading.get_ident()
    with _lock:
        _page_runs[ident] = _page_runs.get(ident, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _page_runs[ident] -= 1
            if not _page_runs[ident]:
                del _page_runs[ident]


def in_page_run() -> bool:
    """Whether the calling thread is running a page's full run."""
    return threading.get_ident() in _page_runs


def other_page_runs() -> int:
    """Page runs in progress on other threads (other visitors' clicks, loads, typed functions)."""
    me = threading.get_ident()
    with _lock:
        return sum(1 for ident in _page_runs if ident != me)


class ShareGate:
    """Periodic work of every visitor (Play's frames: each visitor's browser asks for the next one
    on a timer) done one piece at a time, and, while another visitor's page is running, in at most
    ``share`` of the interpreter's time: after a piece that cost c seconds of CPU the next starts
    c (1/share - 1) later. A class that plays all at once takes one frame at a time (each
    visitor's k advances more slowly), so a page run competes with at most one frame, never with
    one per visitor, and gets the rest; a class that only plays plays as fast as it can.
    ``clock``/``sleep``: time.monotonic and time.sleep (tests give their own)."""

    def __init__(self, share: float, others_running: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if not 0 < share <= 1:
            raise ValueError("share is a fraction of the interpreter's time, in (0, 1]")
        self.share = share
        self._others_running = others_running or (lambda: other_page_runs() > 0)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._free_at = 0.0  # clock() when the next piece may start while pages run

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the gate (sleeping: a waiting frame holds no interpreter), do the piece."""
        with self._lock:
            gap = self._free_at - self._clock()
            if gap > 0 and self._others_running():
                self._sleep(gap)
            cpu = time.thread_time()
            try:
                yield
            finally:
                cost = time.thread_time() - cpu
                self._free_at = self._clock() + cost * (1 / self.share - 1)


PLAY_SHARE = 0.5  # of the interpreter, at most, for Play's frames of all visitors together
PLAY_FRAMES = ShareGate(PLAY_SHARE)


__all__ = ["join", "charge", "yield_to_lighter", "wall_clock", "joined_threads", "SLACK_S", "SLICE_S",
           "ShareGate", "PLAY_FRAMES", "PLAY_SHARE", "page_run", "in_page_run", "other_page_runs"]

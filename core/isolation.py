"""Run symbolic work in a separate, killable process with a hard limit on its cost.

``signal.alarm`` only works in the main thread, and Streamlit runs scripts in other threads,
so the only hard limit that works everywhere is a process we can stop or kill.

We do not use ``multiprocessing``: its spawn/forkserver children re-import the parent's
``__main__``, and inside Streamlit ``__main__`` is the user's page script, which the child would
run again. Instead each worker is ``python -m core._worker``, talking length-prefixed pickles
over its stdin/stdout (see that module for the protocol). Workers stay warm (sympy imported).

**Scheduling** (issue 11: four texts that needed the whole 5 s budget made an ordinary new
function wait 11 s behind them). A cheap call must never wait long behind expensive ones, and
nobody can tell them apart before running them, so every call gets a short try first:

- *Fast lane*: MAX_WORKERS calls at a time, in arrival order, each for at most FAST_SLICE_S of
  wall time. Nearly every real function is done within it (4x^2 + y^2: ~15 ms of work).
- *Slow lane*: SLOW_WORKERS calls at a time. A call still running at the end of its slice moves
  there *with its worker*, going on where it is (nothing lost), if a slow slot is free and nobody
  waits for one. Otherwise the worker is interrupted (SIGUSR1; it stays warm and goes straight
  back to the pool) and the call waits for a slow slot, then starts again from scratch.
- So a fast slot is never held longer than one slice, and an ordinary call arriving behind k
  expensive ones starts within about ceil(k / MAX_WORKERS) slices (k <= MAX_WORKERS: one slice).
- Every worker process counts, idle, busy or starting: at most POOL_SIZE = MAX_WORKERS +
  SLOW_WORKERS are alive at any moment (a reservation is taken before a process is started and
  given back once it has been reaped). Interrupted workers are reused, so a burst of expensive
  calls does not start a burst of cold interpreters (~1 CPU-s each to import sympy).
- Waiting is bounded in number, not charged to the budget: at most FAST_QUEUE_MAX calls wait for
  the fast lane and SLOW_QUEUE_MAX for the slow lane, the latter for at most SLOW_QUEUE_WAIT_S.
  A call refused here gets WorkerBusy ("the server is busy"): a statement about the server, not
  about the text, so callers must not cache it.

**The budget** (``timeout``) is CPU seconds of the worker process spent on this call, enforced in
the worker (``setitimer(ITIMER_PROF)``), not wall time and not time spent waiting for a worker.
WorkerTimeout ("takes too long to process") is a verdict on the text that callers cache; it has
to come out the same on an idle and on a busy server, and must not depend on whose texts arrived
first. A call that moved to the slow lane keeps its one budget (fast part included); a call that
started again after waiting gets the whole budget again (so "over N s" is true of the text). The
wall-clock backstop is WALL_FACTOR x the budget + WALL_SLACK_S: a worker still running then is killed, and the
caller gets WorkerTimeout if it had used its budget (a C loop that no signal could stop) or
WorkerBusy if it had not (the machine was too busy to give it its CPU time). A worker that used
its whole budget is killed and replaced in the background (it may have grown large).
"""

from __future__ import annotations

import atexit
import collections
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from . import fairshare

MAX_WORKERS = max(2, os.cpu_count() or 2)  # fast lane: calls in their first slice
SLOW_WORKERS = 1  # slow lane: calls that outlived their slice, one at a time
POOL_SIZE = MAX_WORKERS + SLOW_WORKERS  # worker processes alive at most: idle, busy or starting
FAST_SLICE_S = 0.5  # wall seconds a call may hold a fast-lane worker (ordinary f: 15-500 ms of work)
INTERRUPT_GRACE_S = 1.0  # an interrupted worker that has not answered by then is killed
WALL_FACTOR = 3.0  # backstop: a call's work may take at most this x its CPU budget in wall time,
WALL_SLACK_S = 1.0  # plus this
FAST_QUEUE_MAX = 64  # calls waiting for the fast lane (a class of 30 typing at once fits)
SLOW_QUEUE_MAX = 2 * SLOW_WORKERS  # calls waiting for the slow lane; more are refused at once
SLOW_QUEUE_WAIT_S = 10.0  # and each of them waits at most this long
MAX_CALLS_PER_WORKER = 200  # then recycle it: sympy's caches only grow
STOPPED_CALL_WEIGHT = 20  # an interrupted call counts as this many calls towards that
STARTUP_TIMEOUT_S = 60.0  # a cold interpreter importing sympy; not charged to the caller's budget
STREAM_TIMEOUT_S = 30.0  # an answer that has started to arrive must finish within this
_ROOT = Path(__file__).resolve().parent.parent
_HEADER = struct.Struct("!I")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class WorkerTimeout(TimeoutError):
    """The isolated call used its whole CPU budget without finishing (the worker was killed)."""


class WorkerCrashed(RuntimeError):
    """The worker process died without an answer (e.g. it ran out of memory)."""


class WorkerBusy(RuntimeError):
    """Refused for the server's sake, not the text's: too many calls waiting, a full slow lane,
    or a machine too busy to give the call its CPU time. Try again later; do not cache."""


# -- the pool: every worker process, bounded by POOL_SIZE --------------------------------------
_cond = threading.Condition(threading.RLock())  # guards everything below and the lanes
_idle: list["_Worker"] = []
_all_workers: set["_Worker"] = set()  # started and not yet reaped
_count = 0  # processes alive or being started (a reservation is taken before starting one)
_peak = 0  # the largest _count so far (for tests and the benchmark)


class _Worker:
    """One ``python -m core._worker`` process. Construct it only with a reservation taken."""

    def __init__(self) -> None:
        self._gone = False
        self.calls = 0
        self.settled = True  # False while a request is out and its answer not yet handled
        self.cpu_at_send = 0.0
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "core._worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                cwd=str(_ROOT), env=env, bufsize=0, start_new_session=True)
        except BaseException:
            self._gone = True
            _release_reservation()
            raise
        with _cond:
            _all_workers.add(self)
        try:
            answer = self.receive(time.monotonic() + STARTUP_TIMEOUT_S)  # the worker's "ready"
            if answer is None or answer[0] != "ready":
                raise WorkerCrashed("the worker did not start")
        except BaseException:
            self.kill()
            raise

    def send(self, request: tuple, budget: float) -> None:
        payload = pickle.dumps((*request, budget))
        self.calls += 1
        self.settled = False
        self.cpu_at_send = self.cpu_seconds() or 0.0
        try:
            self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerCrashed("the worker process is gone") from None

    def receive(self, deadline: float) -> tuple | None:
        """The next answer, or None if none has started to arrive by ``deadline``."""
        poller = select.poll()  # not select(): a server can hold more than 1024 descriptors
        poller.register(self.process.stdout.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        if not poller.poll(max(0, int((deadline - time.monotonic()) * 1000) + 1)):
            return None
        stream_deadline = time.monotonic() + STREAM_TIMEOUT_S
        (size,) = _HEADER.unpack(self._read_exact(_HEADER.size, stream_deadline))
        return pickle.loads(self._read_exact(size, stream_deadline))

    def _read_exact(self, size: int, deadline: float) -> bytes:
        fd, chunks, remaining = self.process.stdout.fileno(), [], size
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while remaining:
            wait = deadline - time.monotonic()
            if wait <= 0 or not poller.poll(int(wait * 1000) + 1):
                raise WorkerCrashed("the worker stopped in the middle of an answer")
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise WorkerCrashed("the worker process died without an answer")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def interrupt(self) -> None:
        """Ask the worker to stop its call and answer "interrupted" (it stays usable)."""
        try:
            self.process.send_signal(signal.SIGUSR1)
        except (ProcessLookupError, OSError):
            pass

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) of the process so far; None where /proc cannot tell."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return None

    def alive(self) -> bool:
        return not self._gone and self.process.poll() is None

    def kill(self) -> None:
        """Kill and reap the process, then give its place in the pool back."""
        with _cond:
            if self._gone:
                return
            self._gone = True
            if self in _idle:
                _idle.remove(self)
        try:
            self.process.kill()
        except (ProcessLookupError, OSError):
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        with _cond:
            _all_workers.discard(self)
        _release_reservation()


def _reserve() -> bool:
    """Take a place for one more process if the pool has room (call with _cond held)."""
    global _count, _peak
    if _count >= POOL_SIZE:
        return False
    _count += 1
    _peak = max(_peak, _count)
    return True


def _release_reservation() -> None:
    global _count
    with _cond:
        _count -= 1
        _cond.notify_all()


def _take_worker() -> _Worker:
    """An idle warm worker, or a new one if the pool has room, or wait for one. The caller holds
    a lane slot; lanes hold at most POOL_SIZE slots, so one always comes."""
    with _cond:
        while True:
            while _idle:
                worker = _idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
            if _reserve():
                break
            _cond.wait()
    return _Worker()


def _give_back(worker: _Worker) -> None:
    worker.settled = True
    with _cond:
        if worker.calls < MAX_CALLS_PER_WORKER and worker.alive():
            _idle.append(worker)
            _cond.notify_all()
            return
    _discard(worker)


def _discard(worker: _Worker) -> None:
    worker.settled = True
    worker.kill()
    warm_up()  # a replacement, in the background


_warming = threading.Lock()  # one warm-up thread at a time: a burst of kills must not fork a crowd


def warm_up() -> threading.Thread:
    """Fill the pool with warm workers in the background, one at a time, up to POOL_SIZE, so that
    no request waits for a cold interpreter to import sympy. Returns the thread (join it to wait);
    it does nothing if another warm-up is under way."""
    def fill() -> None:
        if not _warming.acquire(blocking=False):
            return
        try:
            while True:
                with _cond:
                    if not _reserve():
                        return
                try:
                    worker = _Worker()
                except Exception:  # noqa: BLE001 - a warm-up is best effort; a request will say why
                    return
                _give_back(worker)
        finally:
            _warming.release()
    thread = threading.Thread(target=fill, name="descent-lab-warm-up", daemon=True)
    thread.start()
    return thread


# -- the lanes -----------------------------------------------------------------------------------
class _Lane:
    """A number of slots taken in arrival order, with a bounded waiting room."""

    def __init__(self, name: str, slots: Callable[[], int], max_waiting: int) -> None:
        self.name, self.slots, self.max_waiting = name, slots, max_waiting
        self.running = 0
        self.waiting: collections.deque[object] = collections.deque()

    def enter(self, wait: float | None, busy_message: str) -> None:
        """Take a slot, after the calls that came first; WorkerBusy if the waiting room is full
        or no slot came within ``wait`` seconds."""
        with _cond:
            if self.running < self.slots() and not self.waiting:
                self.running += 1
                return
            if len(self.waiting) >= self.max_waiting:
                raise WorkerBusy(busy_message)
            ticket = object()
            self.waiting.append(ticket)
            deadline = None if wait is None else time.monotonic() + wait
            try:
                while not (self.waiting[0] is ticket and self.running < self.slots()):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise WorkerBusy(busy_message)
                    _cond.wait(remaining)
                self.running += 1
            finally:
                self.waiting.remove(ticket)
                _cond.notify_all()

    def enter_now(self) -> bool:
        """Take a free slot if nobody is waiting for one."""
        with _cond:
            if self.running < self.slots() and not self.waiting:
                self.running += 1
                return True
            return False

    def leave(self) -> None:
        with _cond:
            self.running -= 1
            _cond.notify_all()


# The fast lane also borrows the slow lane's free places: every process not running a long call.
_FAST = _Lane("fast", lambda: POOL_SIZE - _SLOW.running, FAST_QUEUE_MAX)
_SLOW = _Lane("slow", lambda: SLOW_WORKERS, SLOW_QUEUE_MAX)


# -- one call ------------------------------------------------------------------------------------
def call_isolated(fn: Callable[..., Any], args: tuple, timeout: float) -> Any:
    """Return ``fn(*args)`` computed in a worker process, re-raising its exception.

    ``fn`` must be a module-level function of the ``core`` package; ``args`` and the result must
    pickle. ``timeout`` is the call's budget in CPU seconds of the worker (see the module
    docstring for the lanes, what waiting costs and the wall-clock backstop). Raises WorkerTimeout
    when the call used its budget without finishing, WorkerCrashed when a worker dies, WorkerBusy
    when the server refuses it for its own sake (too many waiting, slow lane full, or too busy).
    """
    if not fn.__module__.startswith("core."):
        raise ValueError("only functions of the core package run in the worker")
    if not timeout > 0:
        raise ValueError("the timeout must be a positive number of seconds")
    request = (fn.__module__, fn.__qualname__, args)
    held: list[_Lane] = []
    worker: _Worker | None = None  # ours while it works for us (None once settled: back in the pool or killed)
    try:
        _FAST.enter(None, f"the server is busy ({FAST_QUEUE_MAX} other expressions are waiting to be processed)")
        held.append(_FAST)
        worker = _take_worker()
        started = time.monotonic()
        worker.send(request, timeout)
        answer = _receive(worker, started + FAST_SLICE_S)
        if answer is None:  # its slice is over and it is still working
            if _SLOW.enter_now():  # go on where it is: the worker moves to the slow lane with it
                held.append(_SLOW)
                held.remove(_FAST)
                _FAST.leave()
                answer = _receive_within_budget(worker, timeout, started)
            else:
                answer = _interrupt(worker)
        worker = None
        if answer[0] == "interrupted":  # wait for the slow lane, then start again with the whole budget
            held.remove(_FAST)
            _FAST.leave()
            _SLOW.enter(SLOW_QUEUE_WAIT_S, "the server is busy with other long expressions")
            held.append(_SLOW)
            worker = _take_worker()
            started = time.monotonic()
            worker.send(request, timeout)
            answer = _receive_within_budget(worker, timeout, started)
            worker = None
    finally:
        if worker is not None and not worker.settled:  # left by an exception: its state is unknown
            _discard(worker)
        for lane in held:
            lane.leave()
    kind, payload = answer
    if kind == "ok":
        return payload
    if kind == "error":
        raise payload
    if kind == "timeout":
        raise WorkerTimeout(f"the isolated call used its whole budget ({timeout:g} CPU-s)")
    raise WorkerCrashed(f"the worker answered {kind!r}")  # e.g. a stop nobody asked for


def _receive(worker: _Worker, deadline: float) -> tuple | None:
    """The worker's answer by ``deadline`` (then the worker is settled: back in the pool, or
    killed if it spent its budget), or None if it is still working."""
    try:
        answer = worker.receive(deadline)
    except WorkerCrashed:
        _discard(worker)
        raise
    if answer is None:
        return None
    used = worker.cpu_seconds()
    if used is not None:  # what the call cost counts as the caller's own work (core.fairshare)
        fairshare.charge(used - worker.cpu_at_send)
    kind = answer[0]
    if kind == "interrupted":
        worker.calls += STOPPED_CALL_WEIGHT
    if kind in ("ok", "error", "interrupted"):
        _give_back(worker)
    else:  # "timeout" (it may have grown large), or nonsense
        _discard(worker)
    return answer


def _interrupt(worker: _Worker) -> tuple:
    """Stop the worker's call (it answers "interrupted", or its real answer if it just finished);
    a worker that does not answer within INTERRUPT_GRACE_S is killed."""
    worker.interrupt()
    answer = _receive(worker, time.monotonic() + INTERRUPT_GRACE_S)
    if answer is None:
        _discard(worker)
        return ("interrupted", None)
    return answer


def _receive_within_budget(worker: _Worker, budget: float, started: float) -> tuple:
    """Wait for the answer up to the wall-clock backstop; the worker stops itself at its budget."""
    answer = _receive(worker, started + WALL_FACTOR * budget + WALL_SLACK_S)
    if answer is not None:
        return answer
    now = worker.cpu_seconds()
    used = None if now is None else now - worker.cpu_at_send
    _discard(worker)
    if used is None or used >= 0.95 * budget:  # it had its CPU time: a loop no signal could stop
        return ("timeout", used)
    raise WorkerBusy("the server is too busy to finish this expression in time")


# -- for tests and the benchmark -------------------------------------------------------------------
def live_workers() -> int:
    """Worker processes of this process alive now (idle or busy)."""
    with _cond:
        workers = list(_all_workers)
    return sum(1 for worker in workers if worker.alive())


def pool_state() -> dict[str, int]:
    """The pool's bookkeeping: processes (alive or starting) now and at most so far, idle ones,
    calls running and waiting in each lane."""
    with _cond:
        return {"processes": _count, "peak_processes": _peak, "idle": len(_idle),
                "fast_running": _FAST.running, "fast_waiting": len(_FAST.waiting),
                "slow_running": _SLOW.running, "slow_waiting": len(_SLOW.waiting)}


def reset_peak() -> None:
    global _peak
    with _cond:
        _peak = _count


@atexit.register
def _shutdown() -> None:
    with _cond:
        workers = list(_all_workers)
    for worker in workers:
        worker.kill()

"""Run symbolic work in a separate, killable process with a hard time limit.

``signal.alarm`` only works in the main thread, and Streamlit runs scripts in other threads,
so the only hard limit that works everywhere is a process we can kill.

We do not use ``multiprocessing``: its spawn/forkserver children re-import the parent's
``__main__``, and inside Streamlit ``__main__`` is the user's page script, which the child would
run again. Instead each worker is ``python -m core._worker``, talking length-prefixed pickles
over its stdin/stdout. Workers stay warm (sympy imported) and are reused; one that overruns
its time limit is killed and replaced.

Two lanes, so that a cheap parse never waits long behind expensive ones (before: four texts that
needed the whole 5 s made an ordinary new function wait 11 s). Every call first runs in the fast
lane (MAX_WORKERS workers) for at most FAST_SLICE_S; a call that overruns its slice is killed
there and run again from the start in the slow lane (SLOW_WORKERS workers) with the rest of its
budget. A fast-lane worker is therefore never held longer than one slice, and at most
MAX_WORKERS + SLOW_WORKERS workers run at once. A call that cannot get a slow-lane worker within
SLOW_QUEUE_WAIT_S is refused with WorkerBusy (the server is busy; nothing about the text).
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

MAX_WORKERS = max(2, os.cpu_count() or 2)  # fast lane
SLOW_WORKERS = 1  # slow lane: the calls that overran their fast slice, one at a time
FAST_SLICE_S = 1.0  # what a call may hold a fast-lane worker for (an ordinary f needs ~20-200 ms)
SLOW_QUEUE_WAIT_S = 10.0  # a call waits at most this long for a slow-lane worker
MAX_CALLS_PER_WORKER = 200  # then recycle it: sympy's caches only grow
STARTUP_TIMEOUT_S = 60.0  # a cold interpreter importing sympy; not charged to the caller's budget
_ROOT = Path(__file__).resolve().parent.parent
_HEADER = struct.Struct("!I")


class WorkerTimeout(TimeoutError):
    """The isolated call did not finish within its time limit (the worker was killed)."""


class WorkerCrashed(RuntimeError):
    """The worker process died without an answer (e.g. it ran out of memory)."""


class WorkerBusy(RuntimeError):
    """Every slow-lane worker stayed busy with other long calls: try again later."""


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "core._worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd=str(_ROOT), env=env, bufsize=0, start_new_session=True)
        self.calls = 0
        with _idle_lock:
            _all_workers.add(self)
        self._receive(time.monotonic() + STARTUP_TIMEOUT_S)  # the worker's "ready"

    def call(self, fn: Callable[..., Any], args: tuple, timeout: float) -> tuple[str, Any]:
        payload = pickle.dumps((fn.__module__, fn.__qualname__, args))
        self.calls += 1
        try:
            self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerCrashed("the worker process is gone") from None
        return self._receive(time.monotonic() + timeout)

    def _receive(self, deadline: float) -> tuple[str, Any]:
        (size,) = _HEADER.unpack(self._read_exact(_HEADER.size, deadline))
        return pickle.loads(self._read_exact(size, deadline))

    def _read_exact(self, size: int, deadline: float) -> bytes:
        fd, chunks, remaining = self.process.stdout.fileno(), [], size
        while remaining:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise WorkerTimeout("the isolated call ran out of time")
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise WorkerCrashed("the worker process died without an answer")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        with _idle_lock:
            _all_workers.discard(self)
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


_fast_slots = threading.BoundedSemaphore(MAX_WORKERS)
_slow_slots = threading.BoundedSemaphore(SLOW_WORKERS)
_idle: list[_Worker] = []
_all_workers: set[_Worker] = set()  # every worker started and not yet killed
_idle_lock = threading.RLock()  # kill() takes it too, and is called under it


def _take_worker() -> _Worker:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.alive():
                return worker
            worker.kill()
    return _Worker()


def _give_back(worker: _Worker) -> None:
    with _idle_lock:
        if worker.calls < MAX_CALLS_PER_WORKER and worker.alive() and len(_idle) < MAX_WORKERS + SLOW_WORKERS:
            _idle.append(worker)
            return
    worker.kill()


_warming = threading.Lock()  # one warm-up at a time: a burst of kills must not fork a crowd


def warm_up() -> None:
    """Start a worker in the background (unless one is idle, another warm-up is under way, or
    the pool is at its size) so the next request does not wait for a cold interpreter to import
    sympy."""
    def start() -> None:
        if not _warming.acquire(blocking=False):
            return
        try:
            with _idle_lock:
                if _idle or len(_all_workers) >= MAX_WORKERS + SLOW_WORKERS:
                    return
            _give_back(_Worker())
        finally:
            _warming.release()
    threading.Thread(target=start, name="descent-lab-warm-up", daemon=True).start()


def call_isolated(fn: Callable[..., Any], args: tuple, timeout: float) -> Any:
    """Return ``fn(*args)`` computed in a worker process, re-raising its exception.

    ``fn`` must be a module-level function of the ``core`` package; ``args`` and the result must
    pickle. At most ``timeout`` seconds of work in all: FAST_SLICE_S in the fast lane, then the
    rest in the slow lane (see the module docstring). Raises WorkerTimeout when the call takes
    longer than ``timeout`` (its worker is killed), WorkerCrashed when a worker dies, WorkerBusy
    when no slow-lane worker frees up within SLOW_QUEUE_WAIT_S.
    """
    if not fn.__module__.startswith("core."):
        raise ValueError("only functions of the core package run in the worker")
    fast = min(timeout, FAST_SLICE_S)
    try:
        with _fast_slots:
            kind, payload = _call_on_a_worker(fn, args, fast)
    except WorkerTimeout:
        if timeout <= fast:
            raise
        if not _slow_slots.acquire(timeout=SLOW_QUEUE_WAIT_S):
            raise WorkerBusy("every slow-lane worker is busy with other long calls") from None
        try:
            kind, payload = _call_on_a_worker(fn, args, timeout - fast)
        finally:
            _slow_slots.release()
    if kind == "error":
        raise payload
    return payload


def _call_on_a_worker(fn: Callable[..., Any], args: tuple, timeout: float) -> tuple[str, Any]:
    """One attempt on one worker (the caller holds a lane slot); a worker that overruns or
    fails is killed, and a warm replacement started."""
    worker = _take_worker()
    try:
        answer = worker.call(fn, args, timeout)
    except BaseException:
        worker.kill()
        warm_up()  # have a replacement ready for the next caller
        raise
    _give_back(worker)
    return answer


def live_workers() -> int:
    """Worker processes of this process alive now (idle or busy): for tests and the benchmark."""
    with _idle_lock:
        workers = list(_all_workers)
    return sum(1 for worker in workers if worker.alive())


@atexit.register
def _shutdown() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().kill()

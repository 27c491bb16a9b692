"""Run symbolic work in a separate, killable process with a hard time limit.

``signal.alarm`` only works in the main thread, and Streamlit runs scripts in other threads,
so the only hard limit that works everywhere is a process we can kill.

We do not use ``multiprocessing``: its spawn/forkserver children re-import the parent's
``__main__``, and inside Streamlit ``__main__`` is the user's page script, which the child would
run again. Instead each worker is ``python -m core._worker``, talking length-prefixed pickles
over its stdin/stdout. Workers stay warm (sympy imported) and are reused; one that overruns
its time limit is killed and replaced. At most MAX_WORKERS run at once, so a class typing at
the same moment queues rather than forking a sympy process each on a 2-core server.
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

MAX_WORKERS = max(2, os.cpu_count() or 2)
MAX_CALLS_PER_WORKER = 200  # then recycle it: sympy's caches only grow
STARTUP_TIMEOUT_S = 60.0  # a cold interpreter importing sympy; not charged to the caller's budget
_ROOT = Path(__file__).resolve().parent.parent
_HEADER = struct.Struct("!I")


class WorkerTimeout(TimeoutError):
    """The isolated call did not finish within its time limit (the worker was killed)."""


class WorkerCrashed(RuntimeError):
    """The worker process died without an answer (e.g. it ran out of memory)."""


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "core._worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd=str(_ROOT), env=env, bufsize=0, start_new_session=True)
        self.calls = 0
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
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


_slots = threading.BoundedSemaphore(MAX_WORKERS)
_idle: list[_Worker] = []
_idle_lock = threading.Lock()


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
        if worker.calls < MAX_CALLS_PER_WORKER and worker.alive() and len(_idle) < MAX_WORKERS:
            _idle.append(worker)
            return
    worker.kill()


def warm_up() -> None:
    """Start a worker in the background (unless one is idle) so the next request does not
    wait for a cold interpreter to import sympy."""
    def start() -> None:
        with _idle_lock:
            if _idle:
                return
        _give_back(_Worker())
    threading.Thread(target=start, name="descent-lab-warm-up", daemon=True).start()


def call_isolated(fn: Callable[..., Any], args: tuple, timeout: float) -> Any:
    """Return ``fn(*args)`` computed in a worker process, re-raising its exception.

    ``fn`` must be a module-level function of the ``core`` package; ``args`` and the result must
    pickle. Raises WorkerTimeout when the call takes longer than ``timeout`` seconds (the worker
    is killed), WorkerCrashed when the worker dies.
    """
    if not fn.__module__.startswith("core."):
        raise ValueError("only functions of the core package run in the worker")
    with _slots:
        worker = _take_worker()
        try:
            kind, payload = worker.call(fn, args, timeout)
        except BaseException:
            worker.kill()
            warm_up()  # have a replacement ready for the next caller
            raise
        _give_back(worker)
    if kind == "error":
        raise payload
    return payload


@atexit.register
def _shutdown() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().kill()

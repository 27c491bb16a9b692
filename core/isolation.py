"""Run symbolic work in a separate process with a hard time limit.

``signal.alarm`` only works in the main thread and Streamlit runs scripts in other threads, so
the only hard limit that works everywhere is a process we can kill. Processes are forked from
a forkserver that has sympy already imported, so each one costs milliseconds, not the ~0.3 s
of a fresh interpreter.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from typing import Any, Callable

# At most this many symbolic workers at once: a class of 30 typing at the same moment queues
# instead of forking 30 sympy processes on a 2-core server.
MAX_WORKERS = max(2, os.cpu_count() or 2)
_slots = threading.BoundedSemaphore(MAX_WORKERS)
_context_lock = threading.Lock()
_context: Any = None


class WorkerTimeout(TimeoutError):
    """The isolated call did not finish within its time limit (the worker was killed)."""


class WorkerCrashed(RuntimeError):
    """The worker process died without an answer (e.g. out of memory)."""


def _get_context() -> Any:
    global _context
    with _context_lock:
        if _context is None:
            if sys.platform.startswith("linux"):
                ctx = multiprocessing.get_context("forkserver")
                # Preload the symbolic code once in the server; forks then start warm.
                ctx.set_forkserver_preload(["core.parsing", "core.problem"])
            else:
                ctx = multiprocessing.get_context("spawn")
            _context = ctx
        return _context


def _child(conn: Any, fn: Callable[..., Any], args: tuple) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as err:  # noqa: BLE001 - everything must reach the parent as data
        try:
            conn.send(("error", err))
        except Exception:  # the exception itself may not pickle
            conn.send(("error", RuntimeError(f"{type(err).__name__}: {err}")))
    finally:
        conn.close()


def call_isolated(fn: Callable[..., Any], args: tuple, timeout: float) -> Any:
    """Return ``fn(*args)`` computed in a child process, re-raising its exception.

    Raises WorkerTimeout when the child takes longer than ``timeout`` seconds (it is killed).
    ``fn``, ``args`` and the result must pickle; ``fn`` must be importable by module path.
    """
    ctx = _get_context()
    with _slots:
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_child, args=(sender, fn, args), daemon=True)
        process.start()
        sender.close()
        try:
            if not receiver.poll(timeout):
                raise WorkerTimeout(f"took longer than {timeout:g} s")
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise WorkerCrashed("the worker process died without an answer") from None
        finally:
            receiver.close()
            if process.is_alive():
                process.join(0.5)
            if process.is_alive():
                process.kill()
                process.join()
    if kind == "error":
        raise payload
    return payload

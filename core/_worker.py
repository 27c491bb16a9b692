"""The isolated worker process (see core.isolation): ``python -m core._worker``.

Reads length-prefixed pickled requests ``(module, function name, args, cpu budget)`` on stdin and
answers each with exactly one message on stdout:

- ``("ok", result)`` or ``("error", exception)``: the call returned or raised;
- ``("timeout", cpu seconds)``: the call used up its budget of this process's CPU time (a
  ``setitimer(ITIMER_PROF)`` timer: what the text costs, the same however busy the machine is);
- ``("interrupted", cpu seconds)``: the parent sent SIGUSR1 (its slice in the fast lane is over
  and it has to wait for the slow lane); the process stays warm and takes the next request.

Both stops raise ``_Stop`` (a BaseException, so sympy's ``except Exception`` does not swallow it)
in the main thread between two bytecodes, within a millisecond here; a stop that cannot land (a
long C call) ends with the parent's SIGKILL. Only functions of the ``core`` package can be
called. Its address space is capped so that a runaway expression ends in MemoryError here, not in
the server.
"""

from __future__ import annotations

import gc
import importlib
import pickle
import resource
import signal
import struct
import sys
import time

MEMORY_LIMIT_BYTES = 2 * 1024 ** 3
TIMER_REPEAT_S = 0.05  # the budget timer fires again every 50 ms of CPU until the call stops
_HEADER = struct.Struct("!I")


class _Stop(BaseException):
    """Raised in the call by a signal: its budget is spent, or the parent interrupts it."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_in_call = False  # a stop signal outside a call (a late one, after the answer) is ignored


def _on_budget(signum, frame) -> None:
    if _in_call:
        raise _Stop("timeout")


def _on_interrupt(signum, frame) -> None:
    if _in_call:
        raise _Stop("interrupted")


def _read_exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _send(stream, message: tuple) -> None:
    try:
        data = pickle.dumps(message)
    except Exception as err:  # e.g. an exception that does not pickle
        data = pickle.dumps(("error", RuntimeError(f"{type(err).__name__}: {err}")))
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _disarm() -> None:
    """End the call's window for stops; once ``_in_call`` is False no handler raises, so this
    returns even if a stop lands while it runs."""
    global _in_call
    while True:
        try:
            _in_call = False
            signal.setitimer(signal.ITIMER_PROF, 0)
            return
        except _Stop:
            continue


def _run(body: bytes) -> tuple:
    """One request, one answer, whatever happens (a stop may land anywhere in the call)."""
    global _in_call
    answer = None
    cpu_start = time.process_time()
    try:
        try:
            module, name, args, budget = pickle.loads(body)
            if not module.startswith("core."):
                raise ValueError("only core functions may be called")
            fn = getattr(importlib.import_module(module), name)
            _in_call = True
            signal.setitimer(signal.ITIMER_PROF, budget, TIMER_REPEAT_S)
            answer = ("ok", fn(*args))
        finally:
            _disarm()
    except _Stop as stop:
        if answer is None:  # a stop that lands after the result was computed changes nothing
            answer = (stop.kind, time.process_time() - cpu_start)
    except BaseException as err:  # noqa: BLE001 - everything goes back as data
        answer = ("error", err)
    return answer


def _clean_up() -> None:
    """After a stopped call: drop what it left in sympy's caches."""
    from sympy.core.cache import clear_cache

    clear_cache()
    gc.collect()


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the protocol
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):  # not permitted here: the time limit still holds
        pass
    signal.signal(signal.SIGPROF, _on_budget)
    signal.signal(signal.SIGUSR1, _on_interrupt)
    importlib.import_module("core.symbolic")  # warm: sympy and the parser are loaded
    try:
        _send(answers, ("ready", None))
        while True:
            header = _read_exact(requests, _HEADER.size)
            if header is None:
                return  # the parent closed the pipe
            body = _read_exact(requests, _HEADER.unpack(header)[0])
            if body is None:
                return
            answer = _run(body)
            _send(answers, answer)
            if answer[0] in ("interrupted", "timeout"):
                _clean_up()
    except BrokenPipeError:  # the parent is gone, or gave up on this worker
        return


if __name__ == "__main__":
    main()

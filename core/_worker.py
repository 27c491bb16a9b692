"""The isolated worker process (see core.isolation): ``python -m core._worker``.

Reads length-prefixed pickled requests ``(module, function name, args)`` on stdin, answers
``("ok", result)`` or ``("error", exception)`` on stdout. Only functions of the ``core`` package
can be called. Its address space is capped so that a runaway expression ends in MemoryError
here, not in the server.
"""

from __future__ import annotations

import importlib
import pickle
import resource
import struct
import sys

MEMORY_LIMIT_BYTES = 2 * 1024 ** 3
_HEADER = struct.Struct("!I")


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


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the protocol
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):  # not permitted here: the time limit still holds
        pass
    importlib.import_module("core.symbolic")  # warm: sympy and the parser are loaded
    _send(answers, ("ready", None))
    while True:
        header = _read_exact(requests, _HEADER.size)
        if header is None:
            return  # the parent closed the pipe
        body = _read_exact(requests, _HEADER.unpack(header)[0])
        if body is None:
            return
        try:
            module, name, args = pickle.loads(body)
            if not module.startswith("core."):
                raise ValueError("only core functions may be called")
            answer = ("ok", getattr(importlib.import_module(module), name)(*args))
        except BaseException as err:  # noqa: BLE001 - everything goes back as data
            answer = ("error", err)
        _send(answers, answer)


if __name__ == "__main__":
    main()

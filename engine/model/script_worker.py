"""The script worker: a process that runs script tasks, killed when one outlives its time
limit; JSON in and out, never pickle. `python -m engine.model.script_worker` runs it
(docs/DESIGN.md, "Who may do what, and what anyone may send").
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any

from .. import values
from .sandbox import ScriptError, ScriptTimeout

GRACE = 0.5  # seconds the worker has beyond the script's limit to answer
MEMORY_LIMIT = 1 << 30  # bytes of address space the worker may use
_HEADER = struct.Struct(">I")


class Workers:
    """This process's script worker (one at a time: scripts are short)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._owner = 0  # the pid that started it: a forked child starts its own

    def run(self, source: str, variables: dict[str, Any], time_limit: float
            ) -> dict[str, Any]:
        try:
            request = values.encode([source, variables, time_limit]).encode()
        except (TypeError, ValueError) as err:
            raise ScriptError(f"the task's data cannot be given to a script: {err}") from None
        with self._lock:
            process = self._worker()
            try:
                process.stdin.write(_HEADER.pack(len(request)) + request)
                process.stdin.flush()
                answer = _read_frame(process.stdout, time.monotonic() + time_limit + GRACE)
            except (OSError, EOFError, TimeoutError) as err:
                self._stop()
                if isinstance(err, TimeoutError):
                    raise ScriptTimeout(f"script ran longer than {time_limit:g} s") from None
                raise ScriptError("the script worker stopped (the script may have used "
                                  "too much memory)") from None
        kind, body = values.decode(answer.decode())
        if kind == "ok":
            return body
        if kind == "timeout":
            raise ScriptTimeout(body)
        raise ScriptError(body)

    def _worker(self) -> subprocess.Popen:
        if self._process is None or self._owner != os.getpid() or \
                self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "engine.model.script_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True,
                env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": _package_root()})
            self._owner = os.getpid()
        return self._process

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read_frame(stream, deadline: float) -> bytes:
    header = _read_exactly(stream, _HEADER.size, deadline)
    return _read_exactly(stream, _HEADER.unpack(header)[0], deadline)


def _read_exactly(stream, size: int, deadline: float) -> bytes:
    chunks, left = [], size
    fd = stream.fileno()
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise TimeoutError
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


WORKERS = Workers()


def main() -> None:
    """The worker: answer requests from stdin on stdout until stdin closes."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):  # not on every platform
        pass
    from .sandbox import run_here
    source_in, answer_out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source_in.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        source, variables, time_limit = values.decode(
            source_in.read(_HEADER.unpack(header)[0]).decode())
        try:
            answer = ["ok", run_here(source, variables, time_limit)]
        except ScriptTimeout as err:
            answer = ["timeout", str(err)]
        except ScriptError as err:
            answer = ["error", str(err)]
        except MemoryError:
            answer = ["error", "the script used too much memory"]
        try:
            text = values.encode(answer).encode()
        except (TypeError, ValueError) as err:
            text = values.encode(["error", f"the script left a value that cannot be "
                                           f"task data: {err}"]).encode()
        answer_out.write(_HEADER.pack(len(text)) + text)
        answer_out.flush()


if __name__ == "__main__":
    main()

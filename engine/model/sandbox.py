"""Python script tasks compiled by RestrictedPython: no imports, files or dunders, the
task's data as variables; run with a time limit in engine/model/script_worker.py.
"""

from __future__ import annotations

import ast
import operator
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

DEFAULT_TIME_LIMIT = 2.0


class ScriptError(Exception):
    """A script that does not compile, breaks a rule, fails or runs too long."""


class ScriptTimeout(ScriptError):
    pass


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "|=": operator.ior, "&=": operator.iand,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    if op not in _INPLACE:
        raise ScriptError(f"operator {op} is not allowed")
    return _INPLACE[op](x, y)


_BUILTINS = dict(safe_builtins)
_BUILTINS.update(limited_builtins)
_BUILTINS.update({
    name: getattr(__import__("builtins"), name)
    for name in ("dict", "list", "set", "frozenset", "sum", "min", "max", "any", "all",
                 "enumerate", "map", "filter", "reversed")
})
_BUILTINS.pop("__import__", None)

_GLOBALS = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
}


@lru_cache(maxsize=512)
def compile_script(source: str, name: str = "<script>"):
    """Compile once per text; raise ScriptError with the line of the first problem."""
    try:
        tree = ast.parse(source, filename=name, mode="exec")
    except SyntaxError as err:
        raise ScriptError(f"line {err.lineno}: {err.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise ScriptError(f"line {node.lineno}: imports are not allowed in scripts")
    try:
        return compile_restricted(source, filename=name, mode="exec")
    except SyntaxError as err:
        raise ScriptError(f"line {err.lineno}: {err.msg}") from None


def run_script(source: str, variables: dict[str, Any], *,
               time_limit: float = DEFAULT_TIME_LIMIT) -> dict[str, Any]:
    """Run `source` with `variables` as its namespace; return the variables it changed or
    added. It runs in the script worker, a process of its own that is ended when the
    script outlives its time, whatever the script does (engine/model/script_worker.py)."""
    from .script_worker import WORKERS
    return WORKERS.run(source, variables, time_limit)


def run_here(source: str, variables: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """`run_script` in this process (the script worker's own step): a loop of Python
    statements is stopped at the limit here; what runs long inside one builtin call is
    stopped by the worker's parent."""
    code = compile_script(source)
    # One namespace as globals, so comprehensions see the task's variables.
    namespace = {**_GLOBALS, **variables}
    before = {k: id(v) for k, v in variables.items()}
    try:
        with _stopped_at(time_limit):
            exec(code, namespace)  # noqa: S102 - RestrictedPython bytecode
    except ScriptError:
        raise
    except MemoryError:
        raise ScriptError("the script used more memory than a script may") from None
    except Exception as err:  # the script's own failure, reported to the process owner
        line = _line_of(err)
        where = f"line {line}: " if line else ""
        raise ScriptError(f"{where}{type(err).__name__}: {err}") from None
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and (k not in before or before[k] != id(v)
                                          or isinstance(v, (list, dict, set)))}


AGAIN = 0.05  # seconds between timeouts raised again in a script that caught one


@contextmanager
def _stopped_at(time_limit: float) -> Iterator[None]:
    """ScriptTimeout raised in the script once it has run `time_limit` seconds, and again
    every AGAIN seconds should it catch it. An interval timer's signal, which Python
    handles between two instructions of any loop, costs the script nothing while it
    runs; where there is none (or off the main thread), a tracer that looks at the clock
    at every instruction, which makes a script several times slower."""
    def expired(*_) -> None:
        raise ScriptTimeout(f"script ran longer than {time_limit:g} s")

    if not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        with _traced(time_limit, expired):
            yield
        return
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, time_limit, AGAIN)
    try:
        yield
    finally:
        while True:  # the timer may go off as the script ends: stopped all the same
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except ScriptTimeout:
                continue


@contextmanager
def _traced(time_limit: float, expired: Callable[[], None]) -> Iterator[None]:
    deadline = time.monotonic() + time_limit

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True  # a loop on one line makes no new line events
        if time.monotonic() > deadline:
            expired()
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


def _line_of(err: BaseException) -> int | None:
    tb = err.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<script>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line

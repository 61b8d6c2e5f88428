"""A safe evaluator for Camunda 7 `${...}` (JUEL) expressions in composite text, parsed
once (engine/model/juel_syntax.py) and walked over the task data
(engine/model/juel_evaluation.py); nothing reaches Python's `eval` (docs/DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from .juel_evaluation import Context, plain, to_text
from .juel_syntax import ExpressionError, parse

__all__ = ["ExpressionError", "evaluate", "is_expression", "referenced_variables"]


def is_expression(text: Any) -> bool:
    return isinstance(text, str) and ("${" in text or "#{" in text)


@lru_cache(maxsize=4096)
def _compile(text: str) -> tuple[tuple[str, Any], ...]:
    """Split composite text into ("text", str) and ("expr", tree) parts, parsing each once."""
    parts: list[tuple[str, Any]] = []
    pos = 0
    while True:
        start = _next_opening(text, pos)
        if start < 0:
            if pos < len(text):
                parts.append(("text", text[pos:]))
            return tuple(parts)
        if start > pos:
            parts.append(("text", text[pos:start]))
        end = _closing(text, start + 2)
        if end < 0:
            raise ExpressionError("missing '}'", text)
        parts.append(("expr", parse(text[start + 2:end])))
        pos = end + 1


def _next_opening(text: str, pos: int) -> int:
    found = [i for i in (text.find("${", pos), text.find("#{", pos)) if i >= 0]
    return min(found) if found else -1


def _closing(text: str, pos: int) -> int:
    """The `}` that ends an expression, skipping braces inside string literals."""
    quote = None
    while pos < len(text):
        ch = text[pos]
        if quote:
            if ch == "\\":
                pos += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "}":
            return pos
        pos += 1
    return -1


def evaluate(text: str, variables: Mapping[str, Any],
             now: Callable[[], datetime] | None = None) -> Any:
    """Evaluate Camunda expression text; text without `${...}` is a literal string."""
    if not is_expression(text):
        return text
    parts = _compile(text)
    context = Context(variables, now, text)
    if len(parts) == 1 and parts[0][0] == "expr":
        return plain(context.eval(parts[0][1]))
    return "".join(value if kind == "text" else to_text(plain(context.eval(value)))
                   for kind, value in parts)


@lru_cache(maxsize=1024)
def _parse_body(body: str):
    return parse(body)


def referenced_variables(text: str) -> set[str]:
    """The variable names an expression reads; raises ExpressionError if it does not parse."""
    names: set[str] = set()
    parts = _compile(text) if is_expression(text) else (("expr", _parse_body(text)),)
    for kind, tree in parts:
        if kind == "expr":
            _collect_names(tree, names)
    return names


def _collect_names(node, names: set[str]) -> None:
    if node[0] == "var":
        if node[1] != "execution":
            names.add(node[1])
        return
    for child in node[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            _collect_names(child, names)
        elif isinstance(child, tuple):
            for arg in child:
                if isinstance(arg, tuple):
                    _collect_names(arg, names)

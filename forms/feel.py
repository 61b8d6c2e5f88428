"""A tiny, safe subset of FEEL for `conditional.hide` in Camunda Forms.

Enough for what forms say: literals, names and dotted paths, `= != < <= > >=`,
`and`, `or`, `not(...)`, parentheses, `+ -` on numbers and `x in [a, b]`. A leading
`=` marks the text as an expression. Unknown names are null, as in FEEL; comparing
with null gives null, which does not hide. Parsed with a tokenizer and a recursive
descent parser; nothing is ever handed to `eval`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>!=|<=|>=|[=<>()\[\],.+-])
""", re.VERBOSE)
KEYWORDS = {"and", "or", "in", "true", "false", "null", "not"}


@lru_cache(maxsize=1024)
def parse_feel(text: str):
    """Parse; raises ValueError saying what is not understood."""
    body = text.strip()
    body = body[1:] if body.startswith("=") else body
    return _Parser(body, text).parse()


def evaluate_feel(text: str, scopes: Sequence[Mapping[str, Any]]) -> Any:
    """Evaluate against the first scope that has each name (row, form values, context)."""
    return _eval(parse_feel(text), scopes)


class _Parser:
    def __init__(self, body: str, text: str):
        self.text = text
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(body):
            match = TOKEN.match(body, pos)
            if not match:
                raise ValueError(f"'{body[pos]}' is not understood in '{text}'")
            kind, value = match.lastgroup, match.group()
            if kind == "number":
                self.tokens.append(("lit", float(value) if "." in value else int(value)))
            elif kind == "string":
                self.tokens.append(("lit", re.sub(r"\\(.)", r"\1", value[1:-1])))
            elif kind == "name" and value in ("true", "false", "null"):
                self.tokens.append(("lit", {"true": True, "false": False, "null": None}[value]))
            elif kind in ("name", "op"):
                self.tokens.append(("kw" if value in KEYWORDS else kind, value))
            pos = match.end()
        self.tokens.append(("end", None))
        self.i = 0

    def fail(self, what: str):
        raise ValueError(f"{what} in '{self.text}'")

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.i]

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] in ("op", "kw"):
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            self.fail(f"expected '{value}'")

    def parse(self):
        if self.peek()[0] == "end":
            self.fail("empty expression")
        node = self.disjunction()
        if self.peek()[0] != "end":
            self.fail(f"unexpected '{self.peek()[1]}'")
        return node

    def disjunction(self):
        node = self.conjunction()
        while self.accept("or"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self):
        node = self.comparison()
        while self.accept("and"):
            node = ("and", node, self.comparison())
        return node

    def comparison(self):
        node = self.additive()
        for op in ("!=", "<=", ">=", "=", "<", ">"):
            if self.accept(op):
                return ("cmp", op, node, self.additive())
        if self.accept("in"):
            return ("in", node, self.additive())
        return node

    def additive(self):
        node = self.primary()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.tokens[self.i][1]
            self.i += 1
            node = ("arith", op, node, self.primary())
        return node

    def primary(self):
        kind, value = self.peek()
        self.i += 1
        if kind == "lit":
            return ("lit", value)
        if kind == "kw" and value == "not":
            self.expect("(")
            inner = self.disjunction()
            self.expect(")")
            return ("not", inner)
        if kind == "name":
            path = [value]
            while self.accept("."):
                kind, value = self.peek()
                if kind != "name":
                    self.fail("expected a name after '.'")
                self.i += 1
                path.append(value)
            if self.peek() == ("op", "("):
                self.fail(f"function {path[-1]}() is not supported")
            return ("name", tuple(path))
        if (kind, value) == ("op", "("):
            node = self.disjunction()
            self.expect(")")
            return node
        if (kind, value) == ("op", "["):
            items = []
            if not self.accept("]"):
                items.append(self.disjunction())
                while self.accept(","):
                    items.append(self.disjunction())
                self.expect("]")
            return ("list", tuple(items))
        if (kind, value) == ("op", "-"):
            return ("arith", "-", ("lit", 0), self.primary())
        self.fail("unexpected end" if kind == "end" else f"unexpected '{value}'")


def _eval(node, scopes: Sequence[Mapping[str, Any]]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        value = _lookup(node[1][0], scopes)
        for part in node[1][1:]:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value
    if kind == "list":
        return [_eval(item, scopes) for item in node[1]]
    if kind == "not":
        value = _eval(node[1], scopes)
        return (not value) if isinstance(value, bool) else None
    if kind in ("and", "or"):
        left, right = _eval(node[1], scopes), _eval(node[2], scopes)
        if kind == "and":
            return False if False in (left, right) else (True if left is right is True else None)
        return True if True in (left, right) else (False if left is right is False else None)
    if kind == "in":
        left, right = _eval(node[1], scopes), _eval(node[2], scopes)
        return left in right if isinstance(right, list) else left == right
    if kind == "arith":
        left, right = _eval(node[2], scopes), _eval(node[3], scopes)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)):
            return None
        return left + right if node[1] == "+" else left - right
    op, left, right = node[1], _eval(node[2], scopes), _eval(node[3], scopes)
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return None
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right,
                ">=": left >= right}[op]
    except TypeError:
        return None


def _lookup(name: str, scopes: Sequence[Mapping[str, Any]]) -> Any:
    for scope in scopes:
        if name in scope:
            return scope[name]
    return None

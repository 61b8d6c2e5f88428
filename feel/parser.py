"""FEEL text to trees: expressions, and the unary tests of decision table input cells.

A tokenizer and a recursive descent parser; trees are tuples (`("cmp", "=", left,
right)`), cached per text. Nothing is ever handed to `eval`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .errors import FeelError

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<open_string>")
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\.\.|<=|>=|!=|[=<>()\[\],.+\-*/?])
""", re.VERBOSE)
CONSTANTS = {"true": True, "false": False, "null": None}
KEYWORDS = {"and", "or", "not", "in"}
COMPARISONS = ("<=", ">=", "!=", "=", "<", ">")


# the built-in functions FEEL expressions may call here, with their argument counts
FUNCTIONS = {"count": 1}


@lru_cache(maxsize=4096)
def parse_expression(text: str, start: int = 0) -> tuple:
    """The tree of an expression; `start` skips a prefix (a form's leading `=`)."""
    parser = _Parser(text, start, input_allowed=False)
    if parser.peek()[0] == "end":
        parser.fail("empty expression")
    return parser.done(parser.disjunction())


@lru_cache(maxsize=4096)
def parse_unary_tests(text: str) -> tuple:
    """The tree of an input cell: `("any",)`, `("any_of", tests)` or `("none_of", tests)`."""
    return _Parser(text, 0, input_allowed=True).unary_tests()


class _Parser:
    def __init__(self, text: str, start: int, input_allowed: bool):
        self.text = text
        self.input_allowed = input_allowed
        self.tokens: list[tuple[str, Any, int]] = []
        pos = start
        while pos < len(text):
            match = TOKEN.match(text, pos)
            if not match:
                self.fail(f"'{text[pos]}' is not understood", pos)
            kind, value = match.lastgroup, match.group()
            if kind == "open_string":
                self.fail("a text that is never closed with '\"' starts", pos)
            if kind == "number":
                self.tokens.append(("lit", float(value) if "." in value else int(value), pos))
            elif kind == "string":
                self.tokens.append(("lit", re.sub(r"\\(.)", r"\1", value[1:-1]), pos))
            elif kind == "name" and value in CONSTANTS:
                self.tokens.append(("lit", CONSTANTS[value], pos))
            elif kind == "name" and value in KEYWORDS:
                self.tokens.append(("op", value, pos))
            elif kind in ("name", "op"):
                self.tokens.append((kind, value, pos))
            pos = match.end()
        self.tokens.append(("end", None, len(text)))
        self.i = 0

    # ------------------------------------------------------------------ helpers
    def fail(self, what: str, pos: int | None = None):
        where = "" if pos is None else f" at character {pos + 1}"
        raise FeelError(f"{what}{where} in '{self.text}'")

    def unexpected(self, token: tuple[str, Any, int] | None = None):
        kind, value, pos = token or self.peek()
        if kind == "end":
            self.fail("unexpected end")
        self.fail(f"unexpected {_shown(kind, value)}", pos)

    def peek(self, ahead: int = 0) -> tuple[str, Any, int]:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def at(self, *ops: str) -> bool:
        kind, value, _ = self.peek()
        return kind == "op" and value in ops

    def take(self, op: str) -> None:
        if not self.at(op):
            kind, value, pos = self.peek()
            if kind == "end":
                self.fail(f"expected '{op}' but found the end")
            self.fail(f"expected '{op}' but found {_shown(kind, value)}", pos)
        self.i += 1

    def done(self, node: tuple) -> tuple:
        if self.peek()[0] != "end":
            self.unexpected()
        return node

    # ------------------------------------------------------------------ unary tests
    def unary_tests(self) -> tuple:
        if self.peek()[0] == "end" or (self.at("-") and self.peek(1)[0] == "end"):
            return ("any",)
        if self.at("not") and self.peek(1)[:2] == ("op", "("):
            self.i += 2
            tests = self.positive_list(self.disjunction)
            self.take(")")
            return self.done(("none_of", tests))
        return self.done(("any_of", self.positive_list(self.disjunction)))

    def positive_list(self, operand) -> tuple:
        tests = [self.positive(operand)]
        while self.at(","):
            self.i += 1
            tests.append(self.positive(operand))
        return tuple(tests)

    def positive(self, operand) -> tuple:
        """One positive unary test; `operand` parses a test that is a plain value."""
        if self.at(*COMPARISONS):
            op = self.peek()[1]
            self.i += 1
            return ("compare", op, self.additive())
        if self.at("[", "(", "]") and self._is_interval():
            low_open = self.peek()[1] != "["
            self.i += 1
            low = self.additive()
            self.take("..")
            high = self.additive()
            if not self.at("]", ")", "["):
                end = self.peek()[0] == "end"
                self.fail("an interval ends with ']', ')' or '['", None if end else self.peek()[2])
            high_open = self.peek()[1] != "]"
            self.i += 1
            return ("interval", low, low_open, high, high_open)
        return ("equals", operand())

    def _is_interval(self) -> bool:
        depth = 0
        for kind, value, _ in self.tokens[self.i + 1:]:
            if kind == "op" and value in ("(", "["):
                depth += 1
            elif kind == "op" and value in (")", "]"):
                if not depth:
                    return False
                depth -= 1
            elif kind == "op" and value == ".." and depth == 0:
                return True
            elif kind == "end" or (kind == "op" and value == "," and depth == 0):
                return False
        return False

    # ------------------------------------------------------------------ expressions
    def disjunction(self) -> tuple:
        node = self.conjunction()
        while self.at("or"):
            self.i += 1
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> tuple:
        node = self.comparison()
        while self.at("and"):
            self.i += 1
            node = ("and", node, self.comparison())
        return node

    def comparison(self) -> tuple:
        node = self.additive()
        if self.at(*COMPARISONS):
            op = self.peek()[1]
            self.i += 1
            return ("cmp", op, node, self.additive())
        if self.at("in"):
            self.i += 1
            if self.at("(") and not self._is_interval():
                self.i += 1
                tests = self.positive_list(self.additive)
                self.take(")")
            else:
                tests = (self.positive(self.additive),)
            return ("in", node, tests)
        return node

    def additive(self) -> tuple:
        node = self.multiplicative()
        while self.at("+", "-"):
            op = self.peek()[1]
            self.i += 1
            node = ("arith", op, node, self.multiplicative())
        return node

    def multiplicative(self) -> tuple:
        node = self.unary()
        while self.at("*", "/"):
            op = self.peek()[1]
            self.i += 1
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> tuple:
        if self.at("-"):
            self.i += 1
            return ("arith", "-", ("lit", 0), self.unary())
        node = self.primary()
        while self.at("."):
            self.i += 1
            kind, value, pos = self.peek()
            if kind != "name":
                self.fail("expected a name after '.'", pos)
            self.i += 1
            node = ("path", node, value)
        return node

    def primary(self) -> tuple:
        token = self.peek()
        kind, value, pos = token
        self.i += 1
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            if self.at("("):
                if value not in FUNCTIONS:
                    self.fail(f"function {value}() is not supported (known: "
                              f"{', '.join(sorted(FUNCTIONS))})", pos)
                self.take("(")
                args = [] if self.at(")") else [self.disjunction()]
                while self.at(","):
                    self.i += 1
                    args.append(self.disjunction())
                self.take(")")
                if len(args) != FUNCTIONS[value]:
                    self.fail(f"{value}() takes {FUNCTIONS[value]} argument(s)", pos)
                return ("call", value, tuple(args))
            return ("name", value)
        if (kind, value) == ("op", "?"):
            if not self.input_allowed:
                self.fail("'?' (the input value) is only known in a decision table's "
                          "input cells", pos)
            return ("input",)
        if (kind, value) == ("op", "not"):
            self.take("(")
            inner = self.disjunction()
            self.take(")")
            return ("not", inner)
        if (kind, value) == ("op", "("):
            node = self.disjunction()
            self.take(")")
            return node
        if (kind, value) == ("op", "["):
            items = []
            if not self.at("]"):
                items.append(self.disjunction())
                while self.at(","):
                    self.i += 1
                    items.append(self.disjunction())
            self.take("]")
            return ("list", tuple(items))
        self.unexpected(token)


def _shown(kind: str, value: Any) -> str:
    """A token as it was written."""
    if kind in ("op", "name"):
        return f"'{value}'"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    return str(value)

"""JUEL syntax: the tokens of a Camunda `${...}` expression and the recursive-descent
parser that turns one into a tree of tuples (docs/DESIGN.md, "Expressions").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class ExpressionError(ValueError):
    """An expression that does not parse or cannot be evaluated, with the reason."""

    def __init__(self, message: str, expression: str | None = None):
        self.expression = expression
        super().__init__(f"{message} in '{expression}'" if expression else message)


# ---------------------------------------------------------------------------- lexing

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\d*\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]])
""", re.VERBOSE)

WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<",
                  "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%"}
CONSTANTS = {"true": True, "false": False, "null": None}
RESERVED = {"empty", "instanceof", *WORD_OPERATORS, *CONSTANTS}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, end
    value: Any
    pos: int


def _tokens(body: str) -> list[Token]:
    result: list[Token] = []
    pos = 0
    while pos < len(body):
        match = TOKEN.match(body, pos)
        if not match:
            raise ExpressionError(f"unexpected character {body[pos]!r} at position {pos + 1}",
                                  body)
        kind = match.lastgroup
        text = match.group()
        if kind == "number":
            result.append(Token("number", float(text) if any(c in text for c in ".eE")
                                else int(text), pos))
        elif kind == "string":
            result.append(Token("string", _unescape(text[1:-1]), pos))
        elif kind == "name":
            if text in WORD_OPERATORS:
                result.append(Token("op", WORD_OPERATORS[text], pos))
            elif text == "empty":
                result.append(Token("op", "empty", pos))
            else:
                result.append(Token("name", text, pos))
        elif kind == "op":
            result.append(Token("op", text, pos))
        pos = match.end()
    result.append(Token("end", None, len(body)))
    return result


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


# ---------------------------------------------------------------------------- parsing
# Nodes are tuples: ("lit", v) ("var", name) ("prop", obj, key_node) ("call", obj, name, args)
# ("func", name, args) ("un", op, x) ("bin", op, a, b) ("and"/"or", a, b) ("if", c, a, b)

BINARY_LEVELS = [("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, body: str):
        self.body = body
        self.tokens = _tokens(body)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, value: str | None = None) -> Token:
        token = self.tokens[self.i]
        if value is not None and (token.kind != "op" or token.value != value):
            found = "the end" if token.kind == "end" else repr(token.value)
            raise ExpressionError(f"expected '{value}' but found {found} "
                                  f"at position {token.pos + 1}", self.body)
        self.i += 1
        return token

    def at(self, *values: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.value in values

    def parse(self):
        if self.peek().kind == "end":
            raise ExpressionError("empty expression", self.body)
        node = self.ternary()
        token = self.peek()
        if token.kind != "end":
            raise ExpressionError(f"unexpected {token.value!r} at position {token.pos + 1}",
                                  self.body)
        return node

    def ternary(self):
        cond = self.logical_or()
        if self.at("?"):
            self.take("?")
            then = self.ternary()
            self.take(":")
            return ("if", cond, then, self.ternary())
        return cond

    def logical_or(self):
        node = self.logical_and()
        while self.at("||"):
            self.take()
            node = ("or", node, self.logical_and())
        return node

    def logical_and(self):
        node = self.binary(0)
        while self.at("&&"):
            self.take()
            node = ("and", node, self.binary(0))
        return node

    def binary(self, level: int):
        if level == len(BINARY_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.at(*BINARY_LEVELS[level]):
            op = self.take().value
            node = ("bin", op, node, self.binary(level + 1))
        return node

    def unary(self):
        if self.at("!", "-", "empty"):
            op = self.take().value
            return ("un", op, self.unary())
        return self.postfix()

    def postfix(self):
        node = self.primary()
        while True:
            if self.at("."):
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise ExpressionError(f"expected a property name at position {name.pos + 1}",
                                          self.body)
                if self.at("("):
                    node = ("call", node, name.value, self.arguments())
                else:
                    node = ("prop", node, ("lit", name.value))
            elif self.at("["):
                self.take()
                key = self.ternary()
                self.take("]")
                node = ("prop", node, key)
            else:
                return node

    def arguments(self) -> tuple:
        self.take("(")
        args = []
        if not self.at(")"):
            args.append(self.ternary())
            while self.at(","):
                self.take()
                args.append(self.ternary())
        self.take(")")
        return tuple(args)

    def primary(self):
        token = self.take()
        if token.kind in ("number", "string"):
            return ("lit", token.value)
        if token.kind == "name":
            if token.value in CONSTANTS:
                return ("lit", CONSTANTS[token.value])
            if self.at("("):
                return ("func", token.value, self.arguments())
            return ("var", token.value)
        if token.kind == "op" and token.value == "(":
            node = self.ternary()
            self.take(")")
            return node
        found = "the end" if token.kind == "end" else repr(token.value)
        raise ExpressionError(f"unexpected {found} at position {token.pos + 1}", self.body)


def parse(body: str) -> tuple:
    """The tree of one expression's body (what stands between `${` and `}`)."""
    return _Parser(body).parse()

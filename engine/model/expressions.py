"""A safe evaluator for Camunda 7 `${...}` (JUEL) expressions, parsed into a small tree
and walked over the task data; nothing reaches Python's `eval` (docs/DESIGN.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from dateutil.relativedelta import relativedelta

from .. import clock


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


# ---------------------------------------------------------------------------- templates

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
        parts.append(("expr", _Parser(text[start + 2:end]).parse()))
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
    context = _Context(variables, now, text)
    if len(parts) == 1 and parts[0][0] == "expr":
        return _plain(context.eval(parts[0][1]))
    return "".join(value if kind == "text" else _to_text(_plain(context.eval(value)))
                   for kind, value in parts)


@lru_cache(maxsize=1024)
def _parse_body(body: str):
    return _Parser(body).parse()


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


# ---------------------------------------------------------------------------- evaluation

class DateTimeValue:
    """What `dateTime()` returns: an immutable moment with Joda-style plus/minus methods."""

    UNITS = {"Years": "years", "Months": "months", "Weeks": "weeks", "Days": "days",
             "Hours": "hours", "Minutes": "minutes", "Seconds": "seconds"}

    def __init__(self, moment: datetime):
        self.moment = moment

    def call(self, name: str, args: list[Any], expression: str) -> Any:
        for prefix, sign in (("plus", 1), ("minus", -1)):
            unit = self.UNITS.get(name.removeprefix(prefix)) if name.startswith(prefix) else None
            if unit:
                if len(args) != 1 or not _is_number(args[0]):
                    raise ExpressionError(f"{name}() takes one number", expression)
                return DateTimeValue(self.moment + relativedelta(**{unit: sign * args[0]}))
        if name in ("toDate", "toDateTime") and not args:
            return self.moment
        if name == "toLocalDate" and not args:
            return self.moment.date()
        if name == "toString" and not args:
            return self.moment.isoformat()
        raise ExpressionError(f"dateTime() has no method {name}()", expression)


def _plain(value: Any) -> Any:
    return value.moment if isinstance(value, DateTimeValue) else value


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | Sequence | Mapping | set) and not value)


STRING_METHODS: dict[str, Callable[..., Any]] = {
    "length": len, "isEmpty": lambda s: not s, "trim": str.strip,
    "toLowerCase": str.lower, "toUpperCase": str.upper,
    "contains": lambda s, x: str(x) in s, "startsWith": str.startswith,
    "endsWith": str.endswith, "equals": lambda s, x: s == x,
    "equalsIgnoreCase": lambda s, x: isinstance(x, str) and s.lower() == x.lower(),
    "substring": lambda s, a, b=None: s[a:b], "indexOf": str.find,
}
COLLECTION_METHODS: dict[str, Callable[..., Any]] = {
    "size": len, "isEmpty": lambda c: not c, "contains": lambda c, x: x in c,
    "get": lambda c, k: c[k] if isinstance(c, Sequence) else c.get(k),
    "containsKey": lambda c, k: k in c,
}


class _Context:
    def __init__(self, variables: Mapping[str, Any], now: Callable[[], datetime] | None,
                 expression: str):
        self.variables = variables
        self.now = now or (lambda: datetime.now(UTC))
        self.expression = expression

    def fail(self, message: str):
        raise ExpressionError(message, self.expression)

    def eval(self, node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            return self.variable(node[1])
        if kind == "prop":
            return self.property(self.eval(node[1]), self.eval(node[2]))
        if kind == "and":
            return self.truth(self.eval(node[1])) and self.truth(self.eval(node[2]))
        if kind == "or":
            return self.truth(self.eval(node[1])) or self.truth(self.eval(node[2]))
        if kind == "if":
            return self.eval(node[2] if self.truth(self.eval(node[1])) else node[3])
        if kind == "un":
            return self.unary(node[1], self.eval(node[2]))
        if kind == "bin":
            return self.binary(node[1], self.eval(node[2]), self.eval(node[3]))
        if kind == "func":
            return self.function(node[1], [self.eval(a) for a in node[2]])
        if kind == "call":
            return self.method(self.eval(node[1]), node[2], [self.eval(a) for a in node[3]])
        self.fail(f"cannot evaluate {kind}")

    def variable(self, name: str) -> Any:
        if name in self.variables:
            return self.variables[name]
        if name == "execution":
            return _Execution(self.variables)
        self.fail(f"unknown variable '{name}'")

    def property(self, obj: Any, key: Any) -> Any:
        if isinstance(obj, Mapping):
            if key not in obj:
                self.fail(f"no property '{key}'")
            return obj[key]
        if isinstance(obj, Sequence) and not isinstance(obj, str):
            if not isinstance(key, int) or isinstance(key, bool):
                self.fail(f"list index must be a whole number, not {key!r}")
            if not -len(obj) <= key < len(obj):
                self.fail(f"index {key} is out of range (size {len(obj)})")
            return obj[key]
        if isinstance(obj, _Execution):
            return obj.property(key, self)
        self.fail(f"cannot read property '{key}' of {_describe(obj)}")

    def truth(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.fail(f"expected true or false, got {_describe(value)}")

    def unary(self, op: str, value: Any) -> Any:
        if op == "!":
            return not self.truth(value)
        if op == "empty":
            return _is_empty(value)
        if not _is_number(value):
            self.fail(f"cannot negate {_describe(value)}")
        return -value

    def binary(self, op: str, left: Any, right: Any) -> Any:
        if op in ("==", "!="):
            left, right = _coerce_pair(left, right)
            return (left == right) if op == "==" else (left != right)
        if op in ("<", ">", "<=", ">="):
            left, right = _coerce_pair(left, right)
            if left is None or right is None:
                return False
            try:
                return {"<": left < right, ">": left > right,
                        "<=": left <= right, ">=": left >= right}[op]
            except TypeError:
                self.fail(f"cannot compare {_describe(left)} with {_describe(right)}")
        left, right = self.number(left), self.number(right)
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if right == 0:
            self.fail("division by zero")
        return left / right if op == "/" else left % right

    def number(self, value: Any) -> int | float:
        if _is_number(value):
            return value
        if value is None:
            return 0
        if isinstance(value, str):
            try:
                return float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                pass
        self.fail(f"expected a number, got {_describe(value)}")

    def function(self, name: str, args: list[Any]) -> Any:
        if name == "now" and not args:
            return self.now()
        if name == "dateTime" and not args:
            return DateTimeValue(self.now().astimezone(clock.zone()))
        if name == "dateTime" and len(args) == 1:
            return DateTimeValue(self.moment(args[0]))
        if name == "today" and not args:
            return self.now().astimezone(clock.zone()).date()
        if name == "date" and len(args) == 1 and isinstance(args[0], str):
            try:
                return date.fromisoformat(args[0])
            except ValueError:
                self.fail(f"not a date: {args[0]!r}")
        self.fail(f"unknown function {name}()")

    def moment(self, value: Any) -> datetime:
        """`dateTime(tiltak.frist)`: a date is its local midnight, text is read as ISO-8601."""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                self.fail(f"not a date or time: {value!r}")
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return clock.start_of(value)
        self.fail(f"dateTime() needs a date, not {_describe(value)}")

    def method(self, obj: Any, name: str, args: list[Any]) -> Any:
        if isinstance(obj, DateTimeValue):
            return obj.call(name, args, self.expression)
        if isinstance(obj, _Execution):
            return obj.call(name, args, self)
        table = STRING_METHODS if isinstance(obj, str) else \
            COLLECTION_METHODS if isinstance(obj, Sequence | Mapping | set) else None
        if table is None or name not in table:
            self.fail(f"{_describe(obj)} has no method {name}()")
        try:
            return table[name](obj, *args)
        except (TypeError, KeyError, IndexError) as err:
            self.fail(f"{name}() failed: {err}")


class _Execution:
    """The `execution` object of Camunda expressions: read access to variables only."""

    def __init__(self, variables: Mapping[str, Any]):
        self.variables = variables

    def call(self, name: str, args: list[Any], ctx: _Context) -> Any:
        if name == "getVariable" and len(args) == 1:
            return self.variables.get(args[0])
        if name == "hasVariable" and len(args) == 1:
            return args[0] in self.variables
        ctx.fail(f"execution.{name}() is not available")

    def property(self, key: Any, ctx: _Context) -> Any:
        if key == "processBusinessKey":
            return self.variables.get("business_key")
        ctx.fail(f"execution.{key} is not available")


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any]:
    """JUEL-style coercion for comparisons: numbers with numeric strings, dates with ISO text."""
    if isinstance(left, DateTimeValue):
        left = left.moment
    if isinstance(right, DateTimeValue):
        right = right.moment
    if _is_number(left) and isinstance(right, str):
        return left, _maybe_number(right)
    if _is_number(right) and isinstance(left, str):
        return _maybe_number(left), right
    if isinstance(left, date) and isinstance(right, str):
        return left, _maybe_moment(right, left)
    if isinstance(right, date) and isinstance(left, str):
        return _maybe_moment(left, right), right
    if isinstance(left, datetime) != isinstance(right, datetime) and \
            isinstance(left, date) and isinstance(right, date):
        return _as_datetime(left), _as_datetime(right)
    return left, right


def _maybe_number(text: str) -> Any:
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def _maybe_moment(text: str, like: date) -> Any:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment if isinstance(like, datetime) else moment.date()


def _as_datetime(value: date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return clock.start_of(value)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "a list"
    if isinstance(value, timedelta | date | datetime):
        return f"the date {value}"
    return type(value).__name__

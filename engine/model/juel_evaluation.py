"""JUEL evaluation: walks a parsed expression tree over the task data, with Camunda's
coercions, the whitelisted string and list methods, `dateTime()` and `execution`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from .. import clock
from .juel_syntax import ExpressionError


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


def plain(value: Any) -> Any:
    return value.moment if isinstance(value, DateTimeValue) else value


def to_text(value: Any) -> str:
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


class Context:
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

    def call(self, name: str, args: list[Any], ctx: Context) -> Any:
        if name == "getVariable" and len(args) == 1:
            return self.variables.get(args[0])
        if name == "hasVariable" and len(args) == 1:
            return args[0] in self.variables
        ctx.fail(f"execution.{name}() is not available")

    def property(self, key: Any, ctx: Context) -> Any:
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

"""FEEL trees evaluated: three-valued logic, null where FEEL says null, never a crash; a
name in no scope is null, or an error for `strict` callers (docs/DESIGN.md, "FEEL").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from .errors import FeelError
from .parser import parse_expression, parse_unary_tests

Scopes = Sequence[Mapping[str, Any]]


def evaluate(text: str, scopes: Scopes, *, strict: bool = False, start: int = 0) -> Any:
    """The value of an expression; `start` skips a prefix (a form's leading `=`)."""
    return evaluate_node(parse_expression(text, start), scopes, text, strict=strict)


def evaluate_node(node: tuple, scopes: Scopes, text: str, *, strict: bool = False) -> Any:
    """The value of an already parsed expression; `text` names it in errors."""
    return _Evaluation(scopes, text, strict).eval(node)


def matches(text: str, value: Any, scopes: Scopes, *, strict: bool = False) -> bool:
    """Do the unary tests of a decision table's input cell accept `value`?"""
    tests = parse_unary_tests(text)
    if tests[0] == "any":
        return True
    # a cell naming a list variable compares the whole list, as the tables always did;
    # a list written in the cell holds the values it accepts
    hit = _Evaluation(scopes, text, strict, value).any_test(tests[1], value, False)
    return hit if tests[0] == "any_of" else not hit


# ---------------------------------------------------------------------------- values
def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(a: Any, b: Any) -> bool:
    if _number(a) and _number(b):
        return True
    if isinstance(a, date) and isinstance(b, date):
        return isinstance(a, datetime) == isinstance(b, datetime)
    return type(a) is type(b) and not isinstance(a, bool)


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return _comparable(a, b) and a == b


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if op == "=":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if a is None or b is None or not _comparable(a, b) or isinstance(a, list | Mapping):
        return None
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if not (_number(left) and _number(right)):
        return None
    if op == "/":
        return None if right == 0 else left / right
    return {"+": left + right, "-": left - right, "*": left * right}[op]


# ---------------------------------------------------------------------------- trees
class _Evaluation:
    def __init__(self, scopes: Scopes, text: str, strict: bool, input_value: Any = None):
        self.scopes = scopes
        self.text = text
        self.strict = strict
        self.input_value = input_value

    def eval(self, node: tuple) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "input":
            return self.input_value
        if kind == "name":
            return self.lookup(node[1])
        if kind == "path":
            value = self.eval(node[1])
            return value.get(node[2]) if isinstance(value, Mapping) else None
        if kind == "list":
            return [self.eval(item) for item in node[1]]
        if kind == "not":
            value = self.eval(node[1])
            return (not value) if isinstance(value, bool) else None
        if kind == "and":
            left, right = self.eval(node[1]), self.eval(node[2])
            if left is False or right is False:
                return False
            return True if left is True and right is True else None
        if kind == "or":
            left, right = self.eval(node[1]), self.eval(node[2])
            if left is True or right is True:
                return True
            return False if left is False and right is False else None
        if kind == "cmp":
            return _compare(node[1], self.eval(node[2]), self.eval(node[3]))
        if kind == "arith":
            return _arithmetic(node[1], self.eval(node[2]), self.eval(node[3]))
        if kind == "in":
            return self.any_test(node[2], self.eval(node[1]), True)
        if kind == "call":  # count(list): its number of items; null for anything else
            value = self.eval(node[2][0])
            return len(value) if isinstance(value, list) else None
        raise FeelError(f"cannot evaluate {kind} in '{self.text}'")

    def lookup(self, name: str) -> Any:
        for scope in self.scopes:
            if name in scope:
                return scope[name]
        if self.strict:
            raise FeelError(f"no variable '{name}' for '{self.text}'")
        return None

    def any_test(self, tests: tuple, value: Any, any_list_holds: bool) -> bool:
        return any(self.test(test, value, any_list_holds) for test in tests)

    def test(self, test: tuple, value: Any, any_list_holds: bool) -> bool:
        """One positive unary test: a comparison, an interval, or a value to equal (or
        to find in the list, when the test is a list literal or `any_list_holds`)."""
        kind = test[0]
        if kind == "compare":
            return _compare(test[1], value, self.eval(test[2])) is True
        if kind == "interval":
            low, high = self.eval(test[1]), self.eval(test[3])
            above = _compare(">" if test[2] else ">=", value, low)
            below = _compare("<" if test[4] else "<=", value, high)
            return above is True and below is True
        if _uses_input(test[1]):
            return self.eval(test[1]) is True
        expected = self.eval(test[1])
        if isinstance(expected, list) and (any_list_holds or test[1][0] == "list"):
            return any(_equal(value, item) for item in expected)
        return _equal(value, expected)


def _uses_input(node: tuple) -> bool:
    return node == ("input",) or any(isinstance(part, tuple) and _uses_input(part)
                                     for part in node)

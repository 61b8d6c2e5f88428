"""Decision tables (DMN) as Camunda Modeler writes them, evaluated without eval.

SpiffWorkflow reads the table but would evaluate its cells as Python; Camunda 7 cells
are FEEL. Here input cells are FEEL *unary tests* (`-`, `"rod"`, `3`, `< 3`, `>= 4`,
`[1..2]`, `]1..5[`, `1, 3`, `not(...)`, `? > 2`), input expressions and output cells
are FEEL expressions (literals, names and paths, `+ - * /`, comparisons, `and`, `or`,
`not(...)`), and the column's `typeRef` converts values as Camunda does ("3" for an
integer column is 3). Hit policies UNIQUE, FIRST, ANY, RULE ORDER and COLLECT (without
aggregation). The result is stored as Camunda's business rule task says:
`camunda:resultVariable` with `camunda:mapDecisionResult` (singleEntry, singleResult,
collectEntries, resultList); without a result variable, the outputs go into the task
data by their names, as SpiffWorkflow does. A decision may require others in its file (a
decision requirements graph): they are evaluated first, in order, and their outputs are
there for it by their names, not as process variables (engine/specs.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any


class DecisionError(ValueError):
    """A cell that does not parse, a value that does not fit, or an ambiguous table."""


HIT_POLICIES = {"UNIQUE", "FIRST", "ANY", "RULE ORDER", "COLLECT"}
RESULT_MAPPINGS = {"singleEntry", "singleResult", "collectEntries", "resultList"}

# ---------------------------------------------------------------------------- parsing
TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[^\W\d]\w*)
  | (?P<op>\.\.|<=|>=|!=|[=<>()\[\],.+\-*/?])
""", re.VERBOSE)
CONSTANTS = {"true": True, "false": False, "null": None}
COMPARISONS = ("<=", ">=", "!=", "=", "<", ">")


class _Parser:
    """Recursive descent over FEEL tokens; nodes are tuples, as in engine/expressions.py."""

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(text):
            match = TOKEN.match(text, pos)
            if not match:
                raise DecisionError(f"'{text[pos]}' is not understood in '{text}'")
            kind, value = match.lastgroup, match.group()
            if kind == "number":
                self.tokens.append(("lit", float(value) if "." in value else int(value)))
            elif kind == "string":
                self.tokens.append(("lit", re.sub(r"\\(.)", r"\1", value[1:-1])))
            elif kind == "name" and value in CONSTANTS:
                self.tokens.append(("lit", CONSTANTS[value]))
            elif kind == "name" and value in ("and", "or", "not"):
                self.tokens.append(("op", value))
            elif kind in ("name", "op"):
                self.tokens.append((kind, value))
            pos = match.end()
        self.tokens.append(("end", None))
        self.i = 0

    def fail(self, what: str):
        raise DecisionError(f"{what} in '{self.text}'")

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.i]

    def at(self, *ops: str) -> bool:
        kind, value = self.peek()
        return kind == "op" and value in ops

    def take(self, op: str) -> None:
        if not self.at(op):
            kind, value = self.peek()
            self.fail(f"expected '{op}' but found {'the end' if kind == 'end' else repr(value)}")
        self.i += 1

    def done(self, node):
        if self.peek()[0] != "end":
            self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    # unary tests: the input cells
    def unary_tests(self):
        if self.peek()[0] == "end" or (self.at("-") and self.tokens[self.i + 1][0] == "end"):
            return ("any",)
        if self.at("not") and self.tokens[self.i + 1] == ("op", "("):
            self.i += 2
            tests = self.positive_list()
            self.take(")")
            return self.done(("none_of", tests))
        return self.done(("any_of", self.positive_list()))

    def positive_list(self) -> tuple:
        tests = [self.positive()]
        while self.at(","):
            self.i += 1
            tests.append(self.positive())
        return tuple(tests)

    def positive(self):
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
                self.fail("an interval ends with ']', ')' or '['")
            high_open = self.peek()[1] != "]"
            self.i += 1
            return ("interval", low, low_open, high, high_open)
        return ("equals", self.disjunction())

    def _is_interval(self) -> bool:
        depth = 0
        for kind, value in self.tokens[self.i + 1:]:
            if kind == "op" and value in ("(", "["):
                depth += 1
            elif kind == "op" and value in (")", "]") and depth:
                depth -= 1
            elif kind == "op" and value == ".." and depth == 0:
                return True
            elif kind == "end" or (kind == "op" and value == "," and depth == 0):
                return False
        return False

    # expressions: input expressions, output cells and interval ends
    def expression(self):
        return self.done(self.disjunction())

    def disjunction(self):
        node = self.conjunction()
        while self.at("or"):
            self.i += 1
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self):
        node = self.comparison()
        while self.at("and"):
            self.i += 1
            node = ("and", node, self.comparison())
        return node

    def comparison(self):
        node = self.additive()
        if self.at(*COMPARISONS):
            op = self.peek()[1]
            self.i += 1
            return ("cmp", op, node, self.additive())
        return node

    def additive(self):
        node = self.multiplicative()
        while self.at("+", "-"):
            op = self.peek()[1]
            self.i += 1
            node = ("arith", op, node, self.multiplicative())
        return node

    def multiplicative(self):
        node = self.unary()
        while self.at("*", "/"):
            op = self.peek()[1]
            self.i += 1
            node = ("arith", op, node, self.unary())
        return node

    def unary(self):
        if self.at("-"):
            self.i += 1
            return ("arith", "-", ("lit", 0), self.unary())
        node = self.primary()
        while self.at("."):
            self.i += 1
            kind, value = self.peek()
            if kind != "name":
                self.fail("expected a name after '.'")
            self.i += 1
            node = ("path", node, value)
        return node

    def primary(self):
        kind, value = self.peek()
        self.i += 1
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            if self.at("("):
                self.fail(f"function {value}() is not supported")
            return ("name", value)
        if (kind, value) == ("op", "?"):
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
        self.i -= 1
        self.fail("unexpected end" if kind == "end" else f"unexpected {value!r}")


@lru_cache(maxsize=2048)
def parse_unary_tests(text: str | None):
    return _Parser((text or "").strip()).unary_tests()


@lru_cache(maxsize=2048)
def parse_expression(text: str):
    if not (text or "").strip():
        raise DecisionError("empty expression")
    return _Parser(text.strip()).expression()


# ---------------------------------------------------------------------------- evaluation
def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(a: Any, b: Any) -> bool:
    return (_number(a) and _number(b)) or (type(a) is type(b) and not isinstance(a, bool)) \
        or (isinstance(a, date) and isinstance(b, date))


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return _comparable(a, b) and a == b


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if op == "=":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if a is None or b is None or not _comparable(a, b):
        return None  # FEEL: null, which never matches
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


class _Evaluation:
    def __init__(self, variables: Mapping[str, Any], text: str, input_value: Any = None):
        self.variables = variables
        self.text = text
        self.input_value = input_value

    def eval(self, node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "input":
            return self.input_value
        if kind == "name":
            if node[1] not in self.variables:
                raise DecisionError(f"no variable '{node[1]}' for '{self.text}'")
            return self.variables[node[1]]
        if kind == "path":
            value = self.eval(node[1])
            return value.get(node[2]) if isinstance(value, Mapping) else None
        if kind == "not":
            value = self.eval(node[1])
            return (not value) if isinstance(value, bool) else None
        if kind in ("and", "or"):
            left, right = self.eval(node[1]), self.eval(node[2])
            if kind == "and":
                return False if False in (left, right) else (
                    True if left is True and right is True else None)
            return True if True in (left, right) else (
                False if left is False and right is False else None)
        if kind == "cmp":
            return _compare(node[1], self.eval(node[2]), self.eval(node[3]))
        if kind == "arith":
            left, right = self.eval(node[2]), self.eval(node[3])
            if not (_number(left) and _number(right)):
                return None
            if node[1] == "/":
                return None if right == 0 else left / right
            return {"+": left + right, "-": left - right, "*": left * right}[node[1]]
        raise DecisionError(f"cannot evaluate {kind} in '{self.text}'")


def _uses_input(node) -> bool:
    if node[0] == "input":
        return True
    return any(isinstance(part, tuple) and _uses_input(part) for part in node[1:])


def evaluate_expression(text: str, variables: Mapping[str, Any]) -> Any:
    return _Evaluation(variables, text).eval(parse_expression(text))


def matches(text: str | None, value: Any, variables: Mapping[str, Any]) -> bool:
    """Does an input cell (unary tests) accept the input value?"""
    tests = parse_unary_tests(text)
    if tests[0] == "any":
        return True
    ev = _Evaluation(variables, text or "", value)
    hit = any(_test(ev, test, value) for test in tests[1])
    return hit if tests[0] == "any_of" else not hit


def _test(ev: _Evaluation, test, value: Any) -> bool:
    kind = test[0]
    if kind == "compare":
        return _compare(test[1], value, ev.eval(test[2])) is True
    if kind == "interval":
        low, high = ev.eval(test[1]), ev.eval(test[3])
        above = _compare(">" if test[2] else ">=", value, low)
        below = _compare("<" if test[4] else "<=", value, high)
        return above is True and below is True
    if _uses_input(test[1]):
        return ev.eval(test[1]) is True
    return _equal(value, ev.eval(test[1]))


def convert(value: Any, type_ref: str | None, what: str) -> Any:
    """A value as its column's typeRef says (Camunda's data type transformers)."""
    kind = (type_ref or "").strip().lower()
    if value is None or not kind:
        return value
    try:
        if kind in ("integer", "long"):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return value if isinstance(value, int) else int(str(value).strip())
        if kind == "double":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise ValueError
        if kind == "string":
            return value if isinstance(value, str) else str(value)
    except (TypeError, ValueError):
        raise DecisionError(f"{what}: {value!r} is not a {kind}") from None
    return value


# ---------------------------------------------------------------------------- tables
def _output_key(output) -> str:
    return output.name or output.label


def check(table) -> None:
    """Parse every cell of a decision table now, so a mistake is found at deploy time."""
    policy = (table.hit_policy or "UNIQUE").upper()
    if policy not in HIT_POLICIES:
        raise DecisionError(f"hit policy {policy} is not supported "
                            f"({', '.join(sorted(HIT_POLICIES))})")
    for column in table.inputs:
        try:
            parse_expression(column.expression or "")
        except DecisionError as err:
            raise DecisionError(f"input '{column.label or column.id}': {err}") from None
    for output in table.outputs:
        if not _output_key(output):
            raise DecisionError(f"output '{output.id}' needs a name")
    for rule in table.rules:
        where = f"rule {rule.row_number} ({rule.id})"
        for entry in rule.inputEntries:
            for text in entry.lhs:
                try:
                    parse_unary_tests(text)
                except DecisionError as err:
                    raise DecisionError(f"{where}: {err}") from None
        for entry in rule.outputEntries:
            if (entry.text or "").strip():
                try:
                    parse_expression(entry.text)
                except DecisionError as err:
                    raise DecisionError(f"{where}: {err}") from None


def decide(table, variables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The outputs of the matching rules, as the table's hit policy says."""
    values = {}
    for column in table.inputs:
        raw = evaluate_expression(column.expression or "", variables)
        values[column.id] = convert(raw, column.typeRef, f"input '{column.label or column.id}'")
    hits = []
    for rule in table.rules:
        if all(matches(text, values[entry.input.id], variables)
               for entry in rule.inputEntries for text in entry.lhs):
            hits.append(rule)
    policy = (table.hit_policy or "UNIQUE").upper()
    if policy == "UNIQUE" and len(hits) > 1:
        raise DecisionError(f"rules {', '.join(str(r.row_number) for r in hits)} all match, "
                            "but the hit policy is UNIQUE")
    results = [_outputs(rule, variables) for rule in hits]
    if policy == "FIRST":
        return results[:1]
    if policy == "ANY":
        if any(r != results[0] for r in results[1:]):
            raise DecisionError("matching rules give different outputs, but the hit "
                                "policy is ANY")
        return results[:1]
    return results


def _outputs(rule, variables: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for entry in rule.outputEntries:
        text = (entry.text or "").strip()
        value = evaluate_expression(text, variables) if text else None
        out[_output_key(entry.output)] = convert(
            value, entry.output.typeRef, f"output '{_output_key(entry.output)}'")
    return out


def result_variables(results: list[dict[str, Any]], result_variable: str | None,
                     mapping: str | None, collect: bool = False) -> dict[str, Any]:
    """What the business rule task adds to the process variables."""
    if not result_variable:
        if collect:
            merged: dict[str, Any] = {}
            for result in results:
                for key, value in result.items():
                    merged.setdefault(key, []).append(value)
            return merged
        return dict(results[0]) if results else {}
    mapping = mapping or "resultList"
    if mapping == "resultList":
        return {result_variable: [dict(r) for r in results]}
    if mapping == "singleResult":
        if len(results) > 1:
            raise DecisionError(f"{len(results)} rules match; singleResult takes one")
        return {result_variable: dict(results[0]) if results else None}
    if any(len(r) != 1 for r in results):
        raise DecisionError(f"{mapping} needs one output column per rule")
    entries = [next(iter(r.values())) for r in results]
    if mapping == "collectEntries":
        return {result_variable: entries}
    if mapping == "singleEntry":
        if len(entries) > 1:
            raise DecisionError(f"{len(entries)} rules match; singleEntry takes one")
        return {result_variable: entries[0] if entries else None}
    raise DecisionError(f"camunda:mapDecisionResult '{mapping}' is not one of "
                        f"{', '.join(sorted(RESULT_MAPPINGS))}")

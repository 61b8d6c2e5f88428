"""Decision tables (DMN) as Camunda Modeler writes them: FEEL cells read by `feel`,
evaluated without eval, the result stored as Camunda's business rule task does
(docs/DESIGN.md, "Decision tables").
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import feel


class DecisionError(ValueError):
    """A cell that does not parse, a value that does not fit, or an ambiguous table;
    where the table is at fault, with a `code` and `params` (engine/errors.py)."""

    def __init__(self, message: str, code: str | None = None, **params: Any):
        super().__init__(message)
        self.code, self.params = code, params


HIT_POLICIES = {"UNIQUE", "FIRST", "ANY", "RULE ORDER", "COLLECT"}
RESULT_MAPPINGS = {"singleEntry", "singleResult", "collectEntries", "resultList"}

# ---------------------------------------------------------------------------- cells
@contextmanager
def _feel():
    """FEEL's errors as decision errors (the deployment and the instance name the table)."""
    try:
        yield
    except feel.FeelError as err:
        raise DecisionError(str(err)) from None


def parse_unary_tests(text: str | None) -> tuple:
    with _feel():
        return feel.parse_unary_tests((text or "").strip())


def parse_expression(text: str) -> tuple:
    if not (text or "").strip():
        raise DecisionError("empty expression", "empty_expression")
    with _feel():
        return feel.parse_expression(text.strip())


def evaluate_expression(text: str, variables: Mapping[str, Any]) -> Any:
    """An input expression or output cell; a name that is not a variable is an error."""
    node = parse_expression(text)
    with _feel():
        return feel.evaluate_node(node, [variables], text.strip(), strict=True)


def matches(text: str | None, value: Any, variables: Mapping[str, Any]) -> bool:
    """Does an input cell (unary tests) accept the input value?"""
    with _feel():
        return feel.matches((text or "").strip(), value, [variables], strict=True)


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
                            f"({', '.join(sorted(HIT_POLICIES))})", "hit_policy_unsupported",
                            policy=policy, policies=sorted(HIT_POLICIES))
    for column in table.inputs:
        name = column.label or column.id
        try:
            parse_expression(column.expression or "")
        except DecisionError as err:
            code = "decision_input_empty" if err.code == "empty_expression" else \
                "decision_input_invalid"
            raise DecisionError(f"input '{name}': {err}", code, input=name,
                                detail=str(err)) from None
    for output in table.outputs:
        if not _output_key(output):
            raise DecisionError(f"output '{output.id}' needs a name", "decision_output_unnamed",
                                output=output.id)
    for rule in table.rules:
        where = f"rule {rule.row_number} ({rule.id})"
        cells = [(text, parse_unary_tests) for entry in rule.inputEntries
                 for text in entry.lhs]
        cells += [(entry.text, parse_expression) for entry in rule.outputEntries
                  if (entry.text or "").strip()]
        for text, parse in cells:
            try:
                parse(text)
            except DecisionError as err:
                raise DecisionError(f"{where}: {err}", "decision_rule_invalid",
                                    rule=rule.row_number, rule_id=rule.id,
                                    detail=str(err)) from None


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

"""Which variables a set of process files sets (form fields, Camunda's generated form
fields, scripts, result variables, mappings, multi-instance variables, start context)
and which ones their expressions read, so that the linter can name an expression that
reads a variable nothing sets."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

from .expressions import is_expression, referenced_variables
from .juel_syntax import ExpressionError
from .model_checks import BPMN_NS, CAMUNDA_NS

# what Camunda 7 itself gives an expression (multi-instance counters) and the engine's
# own context, besides the case's variables
GIVEN = {"nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances", "loopCounter",
         "execution", "task"}
# the user-task attributes Camunda evaluates as expressions
TASK_ATTRIBUTES = ("assignee", "candidateGroups", "candidateUsers", "dueDate",
                   "followUpDate", "priority", "collection", "expression")
TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")


@dataclass(frozen=True)
class Use:
    element: str | None
    line: int | None
    where: str  # the attribute or tag the expression is in
    name: str  # the variable it reads


def form_fields(form_json: bytes | str) -> set[str]:
    """Every key and path a Camunda Form's components name, nested ones included."""
    try:
        form = json.loads(form_json)
    except (ValueError, TypeError):
        return set()
    found: set[str] = set()
    stack = [form]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for name in ("key", "path"):
                if isinstance(item.get(name), str):
                    found.update(part for part in item[name].split(".") if part)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def set_by(root: etree._Element) -> set[str]:
    """The variables a BPMN file's own elements set."""
    found: set[str] = set()
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        tag = etree.QName(node).localname
        for attr in ("resultVariable", "elementVariable"):
            if node.get(f"{{{CAMUNDA_NS}}}{attr}"):
                found.add(node.get(f"{{{CAMUNDA_NS}}}{attr}"))
        if etree.QName(node).namespace == CAMUNDA_NS:
            if tag in ("outputParameter", "inputParameter") and node.get("name"):
                found.add(node.get("name"))
            elif tag == "formField" and node.get("id"):  # Camunda's generated forms
                found.add(node.get("id"))
            elif tag in ("in", "out") and node.get("target"):
                found.add(node.get("target"))
            elif tag == "property" and node.get("name") == "kontekst":
                found.update((node.get("value") or "").split())
        if tag == "script" and etree.QName(node).namespace == BPMN_NS:
            found |= _assigned(node.text or "")
    return found


def _assigned(script: str) -> set[str]:
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def uses(root: etree._Element) -> Iterator[Use]:
    """Every variable an expression of the file reads, with the element it belongs to."""
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        tag = etree.QName(node).localname
        owner = node if node.get("id") else _owner(node)
        element = owner.get("id") if owner is not None else None
        texts: list[tuple[str, str]] = []
        if tag == "conditionExpression" or tag == "completionCondition" or \
                tag in TIMER_TAGS:
            texts.append((tag, node.text or ""))
        if node.get("name") and node.get("id"):
            texts.append(("name", node.get("name")))
        texts += [(f"camunda:{attr}", node.get(f"{{{CAMUNDA_NS}}}{attr}"))
                  for attr in TASK_ATTRIBUTES if node.get(f"{{{CAMUNDA_NS}}}{attr}")]
        for where, text in texts:
            for name in _read(text):
                yield Use(element, node.sourceline, where, name)


def _read(text: str) -> Iterable[str]:
    if not is_expression(text):
        return ()
    try:
        return sorted(referenced_variables(text))
    except ExpressionError:  # the model checks report an expression that does not parse
        return ()


def _owner(node: etree._Element) -> etree._Element | None:
    parent = node.getparent()
    while parent is not None and not parent.get("id"):
        parent = parent.getparent()
    return parent

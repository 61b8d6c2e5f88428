"""Checks made while a BPMN file is parsed, each refusal naming the file and element:
script tasks, service tasks, business rule tasks, user task expressions and
multi-instance collections (docs/DESIGN.md, "Parsing Camunda Modeler files").
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference

from ..errors import DefinitionError
from . import decisions, expressions, model_checks
from .extensions import CAMUNDA_NAMESPACES, camunda_name
from .model_checks import BPMN_NS
from .sandbox import ScriptError, compile_script
from .specs import NOTIFY_TOPIC

PYTHON_FORMATS = {"python", "python3", "py"}


def check_scripts(root: etree._Element, filename: str) -> None:
    for node in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        fmt = (node.get("scriptFormat") or "").strip().lower()
        if fmt not in PYTHON_FORMATS:
            raise DefinitionError(
                f"script format '{node.get('scriptFormat') or ''}' is not supported; "
                "only scriptFormat=\"python\" runs here", file=filename, element=node.get("id")
            ).coded("script_format", format=node.get("scriptFormat") or "")
        script = node.find(f"{{{BPMN_NS}}}script")
        if script is None or not (script.text or "").strip():
            if node.get(f"{{{CAMUNDA_NAMESPACES[0]}}}resource"):
                raise DefinitionError("external script resources are not supported",
                                      file=filename, element=node.get("id")).coded(
                    "script_resource")
            raise DefinitionError("script task has no script", file=filename,
                                  element=node.get("id")).coded("script_missing")
        try:
            compile_script(script.text)
        except ScriptError as err:
            raise DefinitionError(f"script does not compile: {err}", file=filename,
                                  element=node.get("id")).coded(
                "script_does_not_compile", detail=str(err)) from None


def check_decision_refs(root: etree._Element, filename: str) -> None:
    """A business rule task runs here only as a camunda:decisionRef to a DMN table."""
    for node in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        attrs = {camunda_name(k): v for k, v in node.attrib.items() if camunda_name(k)}
        if not attrs.get("decisionRef"):
            raise DefinitionError("a business rule task needs camunda:decisionRef (the id "
                                  "of a decision in a deployed DMN file)", file=filename,
                                  element=node.get("id")).coded("decision_ref_missing")
        mapping = attrs.get("mapDecisionResult")
        if mapping and mapping not in decisions.RESULT_MAPPINGS:
            raise DefinitionError(
                f"camunda:mapDecisionResult '{mapping}' is not one of "
                f"{', '.join(sorted(decisions.RESULT_MAPPINGS))}", file=filename,
                element=node.get("id")).coded("result_mapping_unknown", mapping=mapping,
                                              mappings=sorted(decisions.RESULT_MAPPINGS))


def check_service_task(ext: dict[str, Any], node: etree._Element, filename: str) -> None:
    """A service task runs here as a notification (external, topic `varsel`) or as a
    Camunda expression whose value goes to `camunda:resultVariable`."""
    if ext.get("type") == "external" and ext.get("topic") == NOTIFY_TOPIC:
        return
    if ext.get("expression") and ext.get("type") is None:
        if not ext.get("resultVariable"):
            raise DefinitionError("a service task with camunda:expression needs "
                                  "camunda:resultVariable here: the value is its only effect",
                                  file=filename, element=node.get("id")).coded(
                "result_variable_missing")
        model_checks.check_expression(ext["expression"], "camunda:expression", filename,
                                      node.get("id"), attribute="camunda:expression")
        return
    raise DefinitionError(
        f"a serviceTask runs here only as camunda:type=\"external\" with "
        f"camunda:topic=\"{NOTIFY_TOPIC}\" (a notification), or with camunda:expression "
        "and camunda:resultVariable", file=filename, element=node.get("id")).coded(
        "service_task_unsupported", topic=NOTIFY_TOPIC)


SIMPLE_REFERENCE = re.compile(r"^\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")


def unwrap_collection(task_spec: Any, node: etree._Element, filename: str) -> None:
    """`camunda:collection="${klinikker}"` names a variable; SpiffWorkflow wants the bare name."""
    for attr in ("data_output", "data_input", "output_item", "input_item"):
        name = getattr(getattr(task_spec, attr, None), "bpmn_id", None)
        if not expressions.is_expression(name):
            continue
        match = SIMPLE_REFERENCE.match(name)
        if match is None:
            raise DefinitionError(
                f"multi-instance collection '{name}' must name one variable, like ${{liste}}",
                file=filename, element=node.get("id")).coded("collection_not_variable",
                                                             collection=name)
        setattr(task_spec, attr, TaskDataReference(match.group(1)))


def check_task_expressions(ext: dict, node: etree._Element, filename: str) -> None:
    for key in ("assignee", "candidateGroups", "candidateUsers", "dueDate", "followUpDate"):
        if ext.get(key):
            model_checks.check_expression(ext[key], f"camunda:{key}", filename, node.get("id"),
                                          attribute=f"camunda:{key}")
    name = node.get("name") or ""
    if "${" in name or "#{" in name:  # a name that says what the task is about
        model_checks.check_expression(name, "name", filename, node.get("id"),
                                      attribute="name")

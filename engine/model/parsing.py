"""The one place that turns BPMN/DMN files into SpiffWorkflow process specs, keeping what
Camunda 7 writes in each task spec's `extensions` and refusing what would not run
(docs/DESIGN.md, "Parsing Camunda Modeler files").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import (
    BusinessRuleTaskParser,
    CallActivityParser,
    CamundaTaskParser,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..errors import DefinitionError
from . import decisions, element_checks, model_checks
from .extensions import CAMUNDA_NAMESPACES, camunda_name, capture_extensions
from .multi_instance import with_multi_instance
from .reserved_ids import hide_reserved_ids, restore_reserved_ids, shown
from .specs import CamundaBusinessRuleTask, CamundaServiceTask, TenantCallActivity
from .xml import parse_xml

BPMN_NS = model_checks.BPMN_NS


def _normalise_camunda_namespace(root: etree._Element) -> None:
    """Rewrite the old activiti.org namespace to camunda.org, so SpiffWorkflow sees one."""
    old, new = CAMUNDA_NAMESPACES[1], CAMUNDA_NAMESPACES[0]
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag.startswith("{" + old + "}"):
            el.tag = "{" + new + "}" + el.tag[len(old) + 2:]
        for key in [k for k in el.attrib if k.startswith("{" + old + "}")]:
            el.attrib["{" + new + "}" + key[len(old) + 2:]] = el.attrib.pop(key)


class DecisionTaskParser(BusinessRuleTaskParser):
    """SpiffWorkflow's parser always builds its own BusinessRuleTask; build ours, with the
    tables of the decisions its decision requires, in the order they are evaluated."""

    def create_task(self):
        parser = self.process_parser.parser
        ref = self.get_decision_ref(self.node)
        engine = parser.get_engine(ref, self.node)
        spec = self.spec_class(self.spec, self.bpmn_id, dmnEngine=engine,
                               **self.bpmn_attributes)
        spec.required_tables = [
            parser.get_engine(required, self.node).decision_table
            for required in model_checks.requirement_order(parser.requirements, ref)]
        return spec


def _one_decision_each(root: etree._Element) -> list[etree._Element]:
    """A DMN file as SpiffWorkflow reads it: one document per decision (a decision
    requirements graph has several; each keeps the file's namespaces)."""
    decisions = [n for n in root if etree.QName(n).localname == "decision"]
    if len(decisions) < 2:
        return [root]
    documents = []
    for decision in decisions:
        single = etree.Element(root.tag, root.attrib, nsmap=root.nsmap)
        single.append(copy.deepcopy(decision))
        documents.append(single)
    return documents


class TiltakParser(CamundaParser):
    """CamundaParser whose call activities pick a tenant (clinic) variant at run time,
    whose business rule tasks evaluate FEEL and whose multi-instance activities follow
    Camunda 7 (engine/model/multi_instance.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requirements: dict[str, list[str]] = {}  # decision -> decisions it requires

    OVERRIDE_PARSER_CLASSES = {
        tag: (with_multi_instance(parser_class), spec_class)
        for tag, (parser_class, spec_class) in {
            **CamundaParser.OVERRIDE_PARSER_CLASSES,
            full_tag("callActivity"): (CallActivityParser, TenantCallActivity),
            full_tag("serviceTask"): (CamundaTaskParser, CamundaServiceTask),
            full_tag("businessRuleTask"): (DecisionTaskParser, CamundaBusinessRuleTask),
        }.items()
    }


@dataclass
class ParsedProcess:
    key: str
    name: str
    spec: Any
    called: set[str] = field(default_factory=set)
    embedded_specs: dict[str, Any] = field(default_factory=dict)
    starter_groups: list[str] = field(default_factory=list)
    start_form: dict[str, Any] = field(default_factory=dict)
    timer_start: dict[str, str] | None = None  # kind and text of a timer start event


def parse_bpmn(files: dict[str, bytes], dmn_files: dict[str, bytes] | None = None
               ) -> dict[str, ParsedProcess]:
    """Parse BPMN (and the DMN files they use) together; return every executable process.

    Called processes need not be among `files`: they are resolved against deployed
    definitions at start time. Raises DefinitionError naming file and element.
    """
    parser = TiltakParser()
    hidden: dict[str, str] = {}
    containers: dict[str, tuple[str, etree._Element]] = {}
    for filename, data in (dmn_files or {}).items():
        root = parse_xml(data, filename).getroot()
        model_checks.check_dmn(root, filename)
        parser.requirements.update(model_checks.required_decisions(root))
        with _reading(filename):
            try:
                for single in _one_decision_each(root):
                    parser.add_dmn_xml(single, filename=filename)
            except ValidationException as err:
                raise _definition_error(err, filename) from None
            _check_decisions(parser, filename)
    for filename, data in files.items():
        root = bpmn_root(data, filename)
        model_checks.check_bpmn(root, filename)
        element_checks.check_scripts(root, filename)
        element_checks.check_decision_refs(root, filename)
        hidden.update(hide_reserved_ids(root))
        for el in root.iter(f"{{{BPMN_NS}}}process", f"{{{BPMN_NS}}}subProcess",
                            f"{{{BPMN_NS}}}transaction"):
            containers[el.get("id")] = (filename, el)
        with _reading(filename):
            try:
                parser.add_bpmn_xml(root, filename=filename)
            except ValidationException as err:
                raise _definition_error(err, filename, hidden) from None

    result: dict[str, ParsedProcess] = {}
    for key in parser.get_process_ids():
        if key not in containers or containers[key][1].tag != f"{{{BPMN_NS}}}process":
            continue
        filename, node = containers[key]
        with _reading(filename, key):
            result[key] = _process(parser, key, filename, node, containers, hidden)
    return result


def bpmn_root(data: bytes, filename: str) -> etree._Element:
    """A BPMN file's root element, read safely, Activiti's namespace put under Camunda's."""
    root = parse_xml(data, filename).getroot()
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise DefinitionError("not a BPMN 2.0 file (root element must be bpmn:definitions)",
                              file=filename).coded("not_bpmn")
    _normalise_camunda_namespace(root)
    return root


@contextmanager
def _reading(filename: str, element: str | None = None) -> Iterator[None]:
    """Whatever goes wrong while SpiffWorkflow reads a file is a refusal that names the
    file (and the element, where known), in words, not a Python error."""
    try:
        yield
    except DefinitionError:
        raise
    except Exception as err:  # noqa: BLE001 - a model SpiffWorkflow cannot read
        detail = _in_words(err)
        code, params = _unsupported_or("model_unreadable", detail)
        raise DefinitionError(f"the model could not be read here: {detail}",
                              file=filename, element=element).coded(code, **params) from None


UNSUPPORTED = "it uses a construct this engine does not support"
PYTHON_ERROR = re.compile(r"^\w*(Error|Exception)\b|^\w+Error\(|^'.*'$")
XML_PIECE = re.compile(r"<\?xml|<[A-Za-z]+:[A-Za-z]+|xmlns")


def _in_words(err: Exception) -> str:
    """An error's first line where it is words; a Python error's name or a piece of XML
    is nothing a process owner can act on."""
    text = str(err).split("\n")[0].strip()
    if not text or PYTHON_ERROR.match(text) or XML_PIECE.search(text):
        return UNSUPPORTED
    return text if len(text) <= 300 else text[:297] + "..."


def _process(parser: TiltakParser, key: str, filename: str, node, containers: dict,
         hidden: dict[str, str]) -> ParsedProcess:
    try:
        spec = parser.get_spec(key)
    except ValidationException as err:
        raise _definition_error(err, filename, hidden) from None
    except SpiffWorkflowException as err:
        raise DefinitionError(shown(str(err), hidden), file=filename,
                              element=key).coded("model_invalid",
                                                 detail=shown(str(err), hidden)) from None
    process = ParsedProcess(key=key, name=node.get("name") or key, spec=spec)
    try:
        subs = _subprocess_specs(parser, key, {})
    except ValidationException as err:
        raise _definition_error(err, filename, hidden) from None
    process.embedded_specs = {
        name: sub for name, sub in subs.items()
        if sub is not None and name in containers
        and containers[name][1].tag != f"{{{BPMN_NS}}}process"}
    for sub in [spec, *process.embedded_specs.values()]:
        try:
            _decorate(sub, containers, process)
        except DefinitionError as err:
            shown_err = DefinitionError(shown(err.detail, hidden), file=err.file,
                                        element=shown(err.element, hidden), line=err.line)
            if err.code:
                shown_err.coded(err.code, **{
                    name: shown(value, hidden) if isinstance(value, str) else value
                    for name, value in err.params.items()})
            raise shown_err from None
        restore_reserved_ids(sub, hidden)
    for attr, value in node.attrib.items():
        if camunda_name(attr) == "candidateStarterGroups":
            process.starter_groups = [g.strip() for g in value.split(",") if g.strip()]
    return process


def _subprocess_specs(parser: TiltakParser, key: str, found: dict[str, Any]) -> dict[str, Any]:
    """The embedded and called processes below `key`, as SpiffWorkflow's
    `get_subprocess_specs(require_call_activity_specs=False)` finds them, but a called
    process that is not in these files is left to be bound from the deployed ones at
    every depth (SpiffWorkflow requires it inside an embedded subprocess)."""
    for task_spec in parser.get_spec(key).task_specs.values():
        if isinstance(task_spec, SubWorkflowTask) and task_spec.spec not in found:
            found[task_spec.spec] = parser.get_spec(task_spec.spec, required=False)
            if found[task_spec.spec] is not None:
                _subprocess_specs(parser, task_spec.spec, found)
    return found


def _decorate(spec: Any, containers: dict, process: ParsedProcess) -> None:
    """Attach captured extensions to every task spec of `spec` and its embedded subprocesses."""
    filename, container = containers[spec.name]
    nodes = {el.get("id"): el for el in container.iter()
             if isinstance(el.tag, str) and el.get("id")}
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None) or task_spec.name.removesuffix(" [child]")
        node = nodes.get(bpmn_id)
        if node is None:
            continue
        task_spec.extensions = capture_extensions(node)
        element_checks.unwrap_collection(task_spec, node, filename)
        local = etree.QName(node).localname
        if local == "startEvent" and node.getparent() is container and \
                container.tag == f"{{{BPMN_NS}}}process":
            process.start_form = task_spec.extensions
            definition = getattr(task_spec, "event_definition", None)
            if node.find(f"{{{BPMN_NS}}}timerEventDefinition") is not None and definition:
                process.timer_start = {"kind": type(definition).__name__,
                                       "expression": definition.expression}
        if isinstance(task_spec, UserTaskMixin) or local == "userTask":
            element_checks.check_task_expressions(task_spec.extensions, node, filename)
        if local == "serviceTask":
            element_checks.check_service_task(task_spec.extensions, node, filename)
        if isinstance(task_spec, SubWorkflowTask):
            if local == "callActivity":
                process.called.add(task_spec.spec)


def _check_decisions(parser: TiltakParser, filename: str) -> None:
    """Parse the decision table of a DMN file and every FEEL cell in it now."""
    for dmn in parser.dmn_parsers.values():
        if dmn.filename != filename:
            continue
        try:
            dmn.parse()
            for aggregated in dmn.xpath(".//dmn:decisionTable[@aggregation]"):
                raise decisions.DecisionError(
                    f"aggregation {aggregated.get('aggregation')} is not supported",
                    "aggregation_unsupported", aggregation=aggregated.get("aggregation"))
            for table in dmn.decision.decisionTables:
                decisions.check(table)
        except ValidationException as err:
            raise _definition_error(err, filename) from None
        except decisions.DecisionError as err:
            code, params = (err.code, err.params) if err.code else \
                ("decision_invalid", {"detail": str(err)})
            raise DefinitionError(str(err), file=filename, element=dmn.bpmn_id).coded(
                code, **params) from None


def decision_ids(data: bytes, filename: str) -> set[str]:
    """The ids of the decisions a DMN file defines."""
    root = parse_xml(data, filename).getroot()
    return {el.get("id") for el in root.iter() if isinstance(el.tag, str)
            and el.tag.endswith("}decision") and el.get("id")}


def decision_refs(data: bytes, filename: str) -> set[str]:
    """The decisions a BPMN file's business rule tasks use (camunda:decisionRef)."""
    root = parse_xml(data, filename).getroot()
    return {value for node in root.iter(f"{{{BPMN_NS}}}businessRuleTask")
            for key, value in node.attrib.items() if camunda_name(key) == "decisionRef"}


def _definition_error(err: ValidationException, filename: str,
                      hidden: dict[str, str] | None = None) -> DefinitionError:
    message = shown(_in_words(err), hidden or {})
    code, params = _unsupported_or("model_invalid", message)
    return DefinitionError(message, file=err.file_name or filename,
                           element=shown(err.id, hidden or {}) or None,
                           line=err.line_number or None).coded(code, **params)


def _unsupported_or(code: str, detail: str) -> tuple[str, dict[str, str]]:
    """The code of a refusal in SpiffWorkflow's words (`detail`), or of one without
    words a process owner could act on."""
    return ("model_unsupported", {}) if detail == UNSUPPORTED else (code, {"detail": detail})

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
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
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
from . import decisions, expressions, model_checks
from .multi_instance import with_multi_instance
from .sandbox import ScriptError, compile_script
from .specs import NOTIFY_TOPIC, CamundaBusinessRuleTask, CamundaServiceTask, TenantCallActivity
from .xml import parse_xml

BPMN_NS = model_checks.BPMN_NS
CAMUNDA_NAMESPACES = (model_checks.CAMUNDA_NS, "http://activiti.org/bpmn")
PYTHON_FORMATS = {"python", "python3", "py"}


def _camunda_name(tag_or_attr: str) -> str | None:
    """'{camunda-uri}assignee' -> 'assignee'; None for other namespaces."""
    if tag_or_attr.startswith("{"):
        uri, _, local = tag_or_attr[1:].partition("}")
        if uri in CAMUNDA_NAMESPACES:
            return local
    return None


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


def capture_extensions(node: etree._Element) -> dict[str, Any]:
    """Everything Camunda-specific on one flow node, as plain JSON-able data."""
    ext: dict[str, Any] = {}
    for key, value in node.attrib.items():
        name = _camunda_name(key)
        if name:
            ext[name] = value
    docs = node.find(f"{{{BPMN_NS}}}documentation")
    if docs is not None and docs.text:
        ext["documentation"] = docs.text.strip()
    ee = node.find(f"{{{BPMN_NS}}}extensionElements")
    if ee is None:
        return ext
    for child in ee:
        name = _camunda_name(child.tag) if isinstance(child.tag, str) else None
        if name == "formData":
            ext["formData"] = [_form_field(f) for f in child if _camunda_name(f.tag) == "formField"]
        elif name == "properties":
            ext["properties"] = {p.get("name"): p.get("value") for p in child}
        elif name == "inputOutput":
            ext["inputOutput"] = {
                "inputs": [{"name": p.get("name"), "value": (p.text or "").strip()}
                           for p in child if _camunda_name(p.tag) == "inputParameter"],
                "outputs": [{"name": p.get("name"), "value": (p.text or "").strip()}
                            for p in child if _camunda_name(p.tag) == "outputParameter"],
            }
        elif name in ("in", "out"):
            ext.setdefault(f"{name}Mappings", []).append(
                {_camunda_name(k) or k: v for k, v in child.attrib.items()})
    return ext


def _form_field(node: etree._Element) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": node.get("id"), "label": node.get("label"), "type": node.get("type"),
        "defaultValue": node.get("defaultValue"), "datePattern": node.get("datePattern"),
        "values": [], "validation": [], "properties": {},
    }
    for child in node:
        name = _camunda_name(child.tag) if isinstance(child.tag, str) else None
        if name == "value":
            result["values"].append({"id": child.get("id"), "name": child.get("name")})
        elif name == "validation":
            result["validation"] = [{"name": c.get("name"), "config": c.get("config")}
                                    for c in child]
        elif name == "properties":
            result["properties"] = {p.get("id"): p.get("value") for p in child}
    return result


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
        _check_scripts(root, filename)
        _check_decision_refs(root, filename)
        hidden.update(_hide_reserved_ids(root))
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
                              file=filename)
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
        raise DefinitionError(f"the model could not be read here: {_in_words(err)}",
                              file=filename, element=element) from None


PYTHON_ERROR = re.compile(r"^\w*(Error|Exception)\b|^\w+Error\(|^'.*'$")
XML_PIECE = re.compile(r"<\?xml|<[A-Za-z]+:[A-Za-z]+|xmlns")


def _in_words(err: Exception) -> str:
    """An error's first line where it is words; a Python error's name or a piece of XML
    is nothing a process owner can act on."""
    text = str(err).split("\n")[0].strip()
    if not text or PYTHON_ERROR.match(text) or XML_PIECE.search(text):
        return "it uses a construct this engine does not support"
    return text if len(text) <= 300 else text[:297] + "..."


def _process(parser: TiltakParser, key: str, filename: str, node, containers: dict,
         hidden: dict[str, str]) -> ParsedProcess:
    try:
        spec = parser.get_spec(key)
    except ValidationException as err:
        raise _definition_error(err, filename, hidden) from None
    except SpiffWorkflowException as err:
        raise DefinitionError(_shown(str(err), hidden), file=filename,
                              element=key) from None
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
            raise DefinitionError(_shown(err.detail, hidden), file=err.file,
                                  element=_shown(err.element, hidden),
                                  line=err.line) from None
        _restore_reserved_ids(sub, hidden)
    for attr, value in node.attrib.items():
        if _camunda_name(attr) == "candidateStarterGroups":
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
        _unwrap_collection(task_spec, node, filename)
        local = etree.QName(node).localname
        if local == "startEvent" and node.getparent() is container and \
                container.tag == f"{{{BPMN_NS}}}process":
            process.start_form = task_spec.extensions
            definition = getattr(task_spec, "event_definition", None)
            if node.find(f"{{{BPMN_NS}}}timerEventDefinition") is not None and definition:
                process.timer_start = {"kind": type(definition).__name__,
                                       "expression": definition.expression}
        if isinstance(task_spec, UserTaskMixin) or local == "userTask":
            _check_expressions(task_spec.extensions, node, filename)
        if local == "serviceTask":
            _check_service_task(task_spec.extensions, node, filename)
        if isinstance(task_spec, SubWorkflowTask):
            if local == "callActivity":
                process.called.add(task_spec.spec)


def _check_service_task(ext: dict[str, Any], node: etree._Element, filename: str) -> None:
    """A service task runs here as a notification (external, topic `varsel`) or as a
    Camunda expression whose value goes to `camunda:resultVariable`."""
    if ext.get("type") == "external" and ext.get("topic") == NOTIFY_TOPIC:
        return
    if ext.get("expression") and ext.get("type") is None:
        if not ext.get("resultVariable"):
            raise DefinitionError("a service task with camunda:expression needs "
                                  "camunda:resultVariable here: the value is its only effect",
                                  file=filename, element=node.get("id"))
        model_checks.check_expression(ext["expression"], "camunda:expression", filename,
                                      node.get("id"))
        return
    raise DefinitionError(
        f"a serviceTask runs here only as camunda:type=\"external\" with "
        f"camunda:topic=\"{NOTIFY_TOPIC}\" (a notification), or with camunda:expression "
        "and camunda:resultVariable", file=filename, element=node.get("id"))


SIMPLE_REFERENCE = re.compile(r"^\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")


def _unwrap_collection(task_spec: Any, node: etree._Element, filename: str) -> None:
    """`camunda:collection="${klinikker}"` names a variable; SpiffWorkflow wants the bare name."""
    for attr in ("data_output", "data_input", "output_item", "input_item"):
        name = getattr(getattr(task_spec, attr, None), "bpmn_id", None)
        if not expressions.is_expression(name):
            continue
        match = SIMPLE_REFERENCE.match(name)
        if match is None:
            raise DefinitionError(
                f"multi-instance collection '{name}' must name one variable, like ${{liste}}",
                file=filename, element=node.get("id"))
        setattr(task_spec, attr, TaskDataReference(match.group(1)))


def _check_expressions(ext: dict, node: etree._Element, filename: str) -> None:
    for key in ("assignee", "candidateGroups", "candidateUsers", "dueDate", "followUpDate"):
        if ext.get(key):
            model_checks.check_expression(ext[key], f"camunda:{key}", filename, node.get("id"))
    name = node.get("name") or ""
    if "${" in name or "#{" in name:  # a name that says what the task is about
        model_checks.check_expression(name, "name", filename, node.get("id"))


RESERVED_IDS = {"Start", "End", "Root"}
HIDDEN_SUFFIX = "#element"  # no BPMN id can hold '#', so a renamed id meets no other


def _hide_reserved_ids(root: etree._Element) -> dict[str, str]:
    """SpiffWorkflow names its own internal tasks Start, End and Root. An element the
    process owner called so is renamed for SpiffWorkflow (with every reference to it)
    and gets its own id back on its task spec afterwards (`_restore_reserved_ids`)."""
    hidden: dict[str, str] = {}
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id") in RESERVED_IDS and \
                node.tag.startswith(f"{{{BPMN_NS}}}"):
            hidden[node.get("id") + HIDDEN_SUFFIX] = node.get("id")
    if not hidden:
        return hidden
    renamed = {original: name for name, original in hidden.items()}
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        for key, value in node.attrib.items():
            if value in renamed and key not in ("name",):
                node.set(key, renamed[value])
        if etree.QName(node).localname in ("incoming", "outgoing") and \
                (node.text or "").strip() in renamed:
            node.text = renamed[node.text.strip()]
    return hidden


def _restore_reserved_ids(spec: Any, hidden: dict[str, str]) -> None:
    for task_spec in spec.task_specs.values():
        original = hidden.get(getattr(task_spec, "bpmn_id", None))
        if original is not None:
            task_spec.bpmn_id = original


def _shown(text: str | None, hidden: dict[str, str]) -> str | None:
    """A text or id from SpiffWorkflow with the process owner's own ids in it."""
    if not text:
        return text
    for name, original in hidden.items():
        text = text.replace(name, original)
    return text


def _check_scripts(root: etree._Element, filename: str) -> None:
    for node in root.iter(f"{{{BPMN_NS}}}scriptTask"):
        fmt = (node.get("scriptFormat") or "").strip().lower()
        if fmt not in PYTHON_FORMATS:
            raise DefinitionError(
                f"script format '{node.get('scriptFormat') or ''}' is not supported; "
                "only scriptFormat=\"python\" runs here", file=filename, element=node.get("id"))
        script = node.find(f"{{{BPMN_NS}}}script")
        if script is None or not (script.text or "").strip():
            if node.get(f"{{{CAMUNDA_NAMESPACES[0]}}}resource"):
                raise DefinitionError("external script resources are not supported",
                                      file=filename, element=node.get("id"))
            raise DefinitionError("script task has no script", file=filename,
                                  element=node.get("id"))
        try:
            compile_script(script.text)
        except ScriptError as err:
            raise DefinitionError(f"script does not compile: {err}", file=filename,
                                  element=node.get("id")) from None


def _check_decisions(parser: TiltakParser, filename: str) -> None:
    """Parse the decision table of a DMN file and every FEEL cell in it now."""
    for dmn in parser.dmn_parsers.values():
        if dmn.filename != filename:
            continue
        try:
            dmn.parse()
            for aggregated in dmn.xpath(".//dmn:decisionTable[@aggregation]"):
                raise decisions.DecisionError(
                    f"aggregation {aggregated.get('aggregation')} is not supported")
            for table in dmn.decision.decisionTables:
                decisions.check(table)
        except ValidationException as err:
            raise _definition_error(err, filename) from None
        except decisions.DecisionError as err:
            raise DefinitionError(str(err), file=filename, element=dmn.bpmn_id) from None


def _check_decision_refs(root: etree._Element, filename: str) -> None:
    """A business rule task runs here only as a camunda:decisionRef to a DMN table."""
    for node in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        attrs = {_camunda_name(k): v for k, v in node.attrib.items() if _camunda_name(k)}
        if not attrs.get("decisionRef"):
            raise DefinitionError("a business rule task needs camunda:decisionRef (the id "
                                  "of a decision in a deployed DMN file)", file=filename,
                                  element=node.get("id"))
        mapping = attrs.get("mapDecisionResult")
        if mapping and mapping not in decisions.RESULT_MAPPINGS:
            raise DefinitionError(
                f"camunda:mapDecisionResult '{mapping}' is not one of "
                f"{', '.join(sorted(decisions.RESULT_MAPPINGS))}", file=filename,
                element=node.get("id"))


def decision_ids(data: bytes, filename: str) -> set[str]:
    """The ids of the decisions a DMN file defines."""
    root = parse_xml(data, filename).getroot()
    return {el.get("id") for el in root.iter() if isinstance(el.tag, str)
            and el.tag.endswith("}decision") and el.get("id")}


def decision_refs(data: bytes, filename: str) -> set[str]:
    """The decisions a BPMN file's business rule tasks use (camunda:decisionRef)."""
    root = parse_xml(data, filename).getroot()
    return {value for node in root.iter(f"{{{BPMN_NS}}}businessRuleTask")
            for key, value in node.attrib.items() if _camunda_name(key) == "decisionRef"}


def _definition_error(err: ValidationException, filename: str,
                      hidden: dict[str, str] | None = None) -> DefinitionError:
    message = _shown(_in_words(err), hidden or {})
    return DefinitionError(message, file=err.file_name or filename,
                           element=_shown(err.id, hidden or {}) or None,
                           line=err.line_number or None)

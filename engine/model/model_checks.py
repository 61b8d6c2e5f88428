"""What a BPMN or DMN file must hold before SpiffWorkflow reads it: checked at deploy, one
sentence per problem naming the file and the element (docs/DESIGN.md, "Parsing Camunda
Modeler files").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from lxml import etree

from ..errors import DefinitionError
from . import carry_over, expressions

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
UNIQUE_ID_NAMESPACES = {BPMN_NS, "http://www.omg.org/spec/BPMN/20100524/DI",
                        "http://www.omg.org/spec/DD/20100524/DI"}
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/20191111/MODEL/",
                  "http://www.omg.org/spec/DMN/20180521/MODEL/",
                  "http://www.omg.org/spec/DMN/20151101/dmn.xsd")
CAMUNDA_FORM_KEYS = ("camunda-forms:deployment:", "camunda-forms:app:")
MAX_ID = 200  # characters in an element id (the columns that keep them hold no more)

FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "task", "userTask", "serviceTask", "scriptTask", "businessRuleTask",
    "sendTask", "receiveTask", "manualTask", "callActivity", "subProcess", "transaction",
    "adHocSubProcess", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway", "complexGateway"}
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
REFERENCES = {  # event definition -> (its reference attribute, the root element it names)
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "errorEventDefinition": ("errorRef", "error"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
}
UNSUPPORTED = {  # what does not run here: the refusal, and its code
    "executionListener": ("execution listeners (camunda:executionListener) do not run here: "
                          "use a script task or a service task instead",
                          "execution_listener"),
    "taskListener": ("task listeners (camunda:taskListener) do not run here: use a script "
                     "task or a boundary timer instead", "task_listener"),
}


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _bpmn(node, name: str) -> bool:
    return isinstance(node.tag, str) and node.tag == f"{{{BPMN_NS}}}{name}"


def check_bpmn(root: etree._Element, filename: str) -> None:
    """Refuse, naming file and element, what SpiffWorkflow would take and then fail on."""
    for problem in bpmn_problems(root, filename):
        raise problem


def bpmn_problems(root: etree._Element, filename: str) -> Iterator[DefinitionError]:
    """Every problem `check_bpmn` refuses a file for, in document order (the linter
    reports them all; deploying stops at the first)."""
    def refuse(message: str, element: str | None, code: str, **params) -> DefinitionError:
        return DefinitionError(message, file=filename, element=element).coded(code, **params)

    ids = dict.fromkeys(n.get("id") for n in root.iter()  # each once, in document order
                        if isinstance(n.tag, str) and n.get("id"))
    # BPMN's and its diagram's ids are unique in the file; an extension's are not
    # (a form field's id names a variable, which two tasks' forms may both show)
    unique = Counter(n.get("id") for n in root.iter()
                     if isinstance(n.tag, str) and n.get("id")
                     and etree.QName(n).namespace in UNIQUE_ID_NAMESPACES)
    for ident in ids:
        if (count := unique[ident]) > 1:
            yield refuse(f"the id '{ident[:80]}' is used by {count} elements", ident[:80],
                         "duplicate_id", id=ident[:80], count=count)
        if len(ident) > MAX_ID:
            yield refuse(f"an id longer than {MAX_ID} characters ('{ident[:40]}...')", None,
                         "id_too_long", start=ident[:40], limit=MAX_ID)
    processes = [p for p in root.iter(f"{{{BPMN_NS}}}process")]
    if not any(p.get("isExecutable", "true").lower() == "true" for p in processes):
        yield refuse("the file has no executable process (a bpmn:process with "
                     "isExecutable=\"true\"): there is nothing here to run", None,
                     "no_executable_process")
    defined = {name: {n.get("id") for n in root if _bpmn(n, name)}
               for _attr, name in REFERENCES.values()}
    for container in root.iter(*(f"{{{BPMN_NS}}}{c}" for c in CONTAINERS)):
        if not container.get("id"):
            yield refuse(f"a bpmn:{_local(container)} without an id", None,
                         "container_without_id", kind=f"bpmn:{_local(container)}")
        nodes = {n.get("id") for n in container if _local(n) in FLOW_NODES}
        for node in container:
            kind = _local(node)
            if kind in FLOW_NODES or kind == "sequenceFlow":
                if not node.get("id"):
                    yield refuse(f"a bpmn:{kind} in '{container.get('id')}' has no id",
                                 container.get("id"), "element_without_id",
                                 kind=f"bpmn:{kind}", container=container.get("id"))
            if kind == "sequenceFlow":
                for end in ("sourceRef", "targetRef"):
                    if node.get(end) not in nodes:
                        yield refuse(f"sequence flow '{node.get('id')}' leads "
                                     f"{'from' if end == 'sourceRef' else 'to'} "
                                     f"'{node.get(end) or ''}', which is not in "
                                     f"'{container.get('id')}'", node.get("id"),
                                     "flow_source_outside" if end == "sourceRef" else
                                     "flow_target_outside", flow=node.get("id"),
                                     end=node.get(end) or "", container=container.get("id"))
            if kind == "boundaryEvent" and node.get("attachedToRef") not in nodes:
                yield refuse(f"boundary event '{node.get('id')}' is attached to "
                             f"'{node.get('attachedToRef') or ''}', which is not in "
                             f"'{container.get('id')}'", node.get("id"), "boundary_outside",
                             event=node.get("id"), attached=node.get("attachedToRef") or "",
                             container=container.get("id"))
    for node in root.iter():
        kind = _local(node)
        if kind in REFERENCES:
            attr, target = REFERENCES[kind]
            ref = node.get(attr)
            if ref is not None and ref not in defined[target]:
                owner = node.getparent()
                yield refuse(f"the {target} '{ref}' is not defined in the file (a "
                             f"bpmn:{target} with that id)", owner.get("id"),
                             "reference_undefined", kind=target, ref=ref)
        elif kind in UNSUPPORTED and _camunda(node):
            message, code = UNSUPPORTED[kind]
            yield refuse(message, _owner_id(node), code)
        elif kind == "conditionExpression" or (
                kind in ("timeDate", "timeDuration", "timeCycle")
                and _bpmn(node, kind)):
            yield from _caught(_check_expression, node.text or "", kind, filename,
                               _owner_id(node))
        if kind == "property" and _camunda(node) and node.get("name") == carry_over.PROPERTY:
            yield from _caught(_check_carried, node, filename)
        for attr, value in node.attrib.items():
            if etree.QName(attr).localname == "formKey" and \
                    not value.startswith(CAMUNDA_FORM_KEYS):
                yield refuse(f"the form key '{value}' is not a form this engine renders: "
                             "link a Camunda Form (camunda:formRef, or camunda-forms:"
                             "deployment:FILE.form) or use generated form fields",
                             node.get("id"), "form_key_unsupported", key=value)


def _caught(check, *args) -> Iterator[DefinitionError]:
    try:
        check(*args)
    except DefinitionError as problem:
        yield problem


def _check_carried(node, filename: str) -> None:
    """`fra_forrige` on a user task names user tasks of the same process."""
    owner, task = _owner_id(node), node
    while task is not None and _local(task) not in FLOW_NODES:
        task = task.getparent()
    process = task
    while process is not None and _local(process) != "process":
        process = process.getparent()
    if task is None or _local(task) != "userTask" or process is None:
        raise DefinitionError(f"the property {carry_over.PROPERTY} belongs on a user task",
                              file=filename, element=owner).coded(
            "carry_over_not_on_user_task", property=carry_over.PROPERTY)
    try:
        sources = carry_over.sources(node.get("value") or "")
    except ValueError as err:
        raise DefinitionError(f"the property {carry_over.PROPERTY}: {err}", file=filename,
                              element=owner).coded("carry_over_invalid",
                                                   property=carry_over.PROPERTY,
                                                   detail=str(err)) from None
    user_tasks = {n.get("id") for n in process.iter(f"{{{BPMN_NS}}}userTask")}
    for element, _key in sources:
        if element not in user_tasks:
            raise DefinitionError(
                f"the property {carry_over.PROPERTY} names '{element}', which is not a user "
                f"task in the process '{process.get('id')}'", file=filename, element=owner
            ).coded("carry_over_unknown_task", property=carry_over.PROPERTY, task=element,
                    process=process.get("id"))


def _camunda(node) -> bool:
    # parsing.py has put Activiti's older namespace under Camunda's by now
    return etree.QName(node).namespace == CAMUNDA_NS


def _owner_id(node) -> str | None:
    while node is not None:
        if _local(node) in FLOW_NODES or _local(node) == "sequenceFlow":
            return node.get("id")
        node = node.getparent()
    return None


def check_expression(text: str, said: str, filename: str, element: str | None,
                     code: str = "attribute_unparsable", **params) -> None:
    """A `${...}` that does not parse is refused as "`said`: why", naming the element;
    coded `code` with `params`, the expression (`expression`) and why (`detail`)."""
    if not expressions.is_expression(text):
        return
    try:
        expressions.referenced_variables(text)
    except expressions.ExpressionError as err:
        raise DefinitionError(f"{said}: {err}", file=filename, element=element).coded(
            code, expression=text[:80], detail=str(err), **params) from None


def _check_expression(text: str, kind: str, filename: str, element: str | None) -> None:
    text = text.strip()
    what = "condition" if kind == "conditionExpression" else f"timer ({kind})"
    code = "condition_unparsable" if kind == "conditionExpression" else "timer_unparsable"
    check_expression(text, f"the {what} '{text[:80]}' does not parse", filename, element,
                     code, kind=kind)


def check_dmn(root: etree._Element, filename: str) -> None:
    """Decisions with ids, each a decision table; required decisions in the file and
    not in a circle (a decision requirements graph, as Camunda Modeler draws one)."""
    def refuse(message: str, element: str | None, code: str, **params) -> DefinitionError:
        return DefinitionError(message, file=filename, element=element).coded(code, **params)

    if etree.QName(root).namespace not in DMN_NAMESPACES or _local(root) != "definitions":
        raise refuse("not a DMN 1.1 to 1.3 file (root element must be dmn:definitions)",
                     None, "not_dmn")
    decisions = [n for n in root if _local(n) == "decision"]
    if not decisions:
        raise refuse("the file has no decision", None, "no_decision")
    for decision in decisions:
        if not decision.get("id"):
            raise refuse("a decision without an id (the id is what a business rule task's "
                         "camunda:decisionRef names)", None, "decision_without_id")
        if not any(_local(n) == "decisionTable" for n in decision):
            raise refuse(f"decision '{decision.get('id')}' is not a decision table (literal "
                         "expressions and other decision logic do not run here)",
                         decision.get("id"), "decision_not_table", decision=decision.get("id"))
    requirements = required_decisions(root)
    for decision, required in requirements.items():
        for other in required:
            if other not in requirements:
                raise refuse(f"decision '{decision}' requires decision '{other}', which is "
                             "not in the file", decision, "required_decision_missing",
                             decision=decision, required=other)
    for decision in requirements:
        requirement_order(requirements, decision, filename)  # refuses a cycle


def required_decisions(root: etree._Element) -> dict[str, list[str]]:
    """Each decision of a DMN file and the decisions it requires (its
    informationRequirement/requiredDecision links within the file)."""
    found: dict[str, list[str]] = {}
    for decision in root:
        if _local(decision) != "decision":
            continue
        found[decision.get("id")] = [
            (link.get("href") or "").removeprefix("#")
            for link in decision.iter() if _local(link) == "requiredDecision"]
    return found


def requirement_order(requirements: dict[str, list[str]], decision: str,
                      filename: str = "") -> list[str]:
    """The decisions `decision` requires, directly or not, each after those it requires."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name):], name])
            raise DefinitionError(f"decisions require each other in a circle ({cycle})",
                                  file=filename or None, element=name).coded(
                "decision_cycle", cycle=cycle)
        if name in order:
            return
        visiting.append(name)
        for required in requirements.get(name, ()):
            visit(required)
        visiting.pop()
        order.append(name)

    visit(decision)
    return order[:-1]

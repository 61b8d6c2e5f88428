"""Task spec classes the engine adds to SpiffWorkflow's: a call activity that picks a
clinic's variant and a business rule task that decides in FEEL (docs/DESIGN.md, "Call
activities and clinic variants" and "Decision tables").
"""

from __future__ import annotations

from copy import deepcopy
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, ServiceTask
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask

from . import decisions

TENANT_SEPARATOR = "@"


def variant_name(key: str, tenant: str | None) -> str:
    return f"{key}{TENANT_SEPARATOR}{tenant}" if tenant else key


class TenantCallActivity(CallActivity):
    def called_spec_name(self, my_task) -> str:
        tenant_expr = (getattr(self, "extensions", None) or {}).get("calledElementTenantId")
        specs = my_task.workflow.top_workflow.subprocess_specs
        if tenant_expr:
            tenant = my_task.workflow.script_engine.evaluate(my_task, tenant_expr)
            name = variant_name(self.spec, str(tenant) if tenant else None)
            if name in specs:
                return name
        return self.spec

    def start_workflow(self, my_task):
        name = self.called_spec_name(my_task)
        top = my_task.workflow.top_workflow
        if name not in top.subprocess_specs:
            my_task.error()
            raise WorkflowTaskException(self.get_missing_subworkflow_error(my_task), task=my_task)
        subworkflow = top.create_subprocess(my_task, name)
        subworkflow.completed_event.connect(self._on_subworkflow_completed, my_task)
        self.copy_data(my_task, subworkflow)
        start = subworkflow.get_next_task(spec_name="Start")
        start.run()

    def copy_data(self, my_task, subworkflow):
        start = subworkflow.get_next_task(spec_name="Start")
        start.set_data(**_mapped(self, "inMappings", my_task, dict(my_task.data)))

    def update_data(self, my_task, subworkflow):
        my_task.data.update(_mapped(self, "outMappings", my_task,
                                    dict(subworkflow.last_task.data)))


def _mapped(spec, kind: str, my_task, source: dict[str, Any]) -> dict[str, Any]:
    """The variables one side of a call activity hands to the other, per Camunda mappings."""
    result: dict[str, Any] = {}
    engine = my_task.workflow.script_engine
    for mapping in (getattr(spec, "extensions", None) or {}).get(kind, []):
        target = mapping.get("target")
        if mapping.get("variables") == "all":
            result.update(copy_of(source))
        elif mapping.get("source") and target:
            if mapping["source"] in source:
                result[target] = copy_of(source[mapping["source"]])
        elif mapping.get("sourceExpression") and target:
            result[target] = engine.evaluate(my_task, mapping["sourceExpression"],
                                             external_context=source)
    return result


def copy_of(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of task data, as `deepcopy` makes it (parts shared within the data stay
    shared in the copy, nothing is shared with the original that can be changed), twice
    as quick for data: the values nothing can change (texts, numbers, dates) are shared
    with the original rather than copied, which also lets a later `==` between the two
    find them identical at once. Other kinds are left to `deepcopy`."""
    kind = type(value)
    if kind in _UNCHANGING:
        return value
    if memo is None:
        memo = {}
    else:
        done = memo.get(id(value))
        if done is not None:
            return done
    if kind is dict:
        copied = memo[id(value)] = {}
        for key, item in value.items():
            copied[key] = item if type(item) in _UNCHANGING else copy_of(item, memo)
        return copied
    if kind is list:
        listed = memo[id(value)] = []
        for item in value:
            listed.append(item if type(item) in _UNCHANGING else copy_of(item, memo))
        return listed
    return deepcopy(value, memo)


_UNCHANGING = frozenset((str, int, float, bool, type(None), bytes, date, datetime, time,
                         timedelta, Decimal, UUID))


NOTIFY_TOPIC = "varsel"


class CamundaServiceTask(ServiceTask):
    """A Camunda service task. `camunda:expression` is evaluated and its value stored in
    `camunda:resultVariable` (e.g. the moment a report came in). An external task of
    topic `varsel` is handled here: its input parameters (recipient, template, values)
    are evaluated and kept on the task, and the engine queues the notification in the
    same transaction as the state."""

    def _run_hook(self, my_task):
        ext = getattr(self, "extensions", None) or {}
        if ext.get("expression") and ext.get("type") is None:
            value = my_task.workflow.script_engine.evaluate(my_task, ext["expression"])
            my_task.data[ext["resultVariable"]] = value
            return True
        if ext.get("type") != "external" or ext.get("topic") != NOTIFY_TOPIC:
            raise WorkflowTaskException(
                f"service task {self.bpmn_id}: only external tasks with topic "
                f"'{NOTIFY_TOPIC}' run here", task=my_task)
        engine = my_task.workflow.script_engine
        values = {p["name"]: engine.evaluate(my_task, p["value"])
                  for p in (ext.get("inputOutput") or {}).get("inputs", [])}
        my_task.internal_data["notification"] = {"values": values, "queued": False}
        noted = getattr(my_task.workflow.top_workflow, "_tiltak_notices", None)
        if noted is not None:  # see EngineWorkflow._tiltak_notices
            noted.append(my_task)
        return True


class CamundaBusinessRuleTask(BusinessRuleTask):
    """`camunda:decisionRef`: the decision table's cells are FEEL, not Python, and the
    result goes to `camunda:resultVariable` as `camunda:mapDecisionResult` says."""

    required_tables: list = []  # of the decisions this one requires, in order

    def _run_hook(self, my_task):
        ext = getattr(self, "extensions", None) or {}
        table = self.dmnEngine.decision_table
        try:
            # a required decision's outputs are there for the decisions after it, by
            # their output names, as in Camunda; they do not become process variables
            scope = my_task.data
            for required in self.required_tables:
                scope = {**scope, **decisions.result_variables(
                    decisions.decide(required, scope), None, None,
                    collect=(required.hit_policy or "").upper() in ("COLLECT", "RULE ORDER"))}
            results = decisions.decide(table, scope)
            my_task.data.update(decisions.result_variables(
                results, ext.get("resultVariable"), ext.get("mapDecisionResult"),
                collect=(table.hit_policy or "").upper() in ("COLLECT", "RULE ORDER")))
        except decisions.DecisionError as err:
            raise WorkflowTaskException(f"decision '{table.name or table.id}': {err}",
                                        task=my_task) from None
        return True

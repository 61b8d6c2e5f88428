"""Our own serialization format for specs and instance state.

The spec is stored once per deployed definition; an instance stores only its own state
(tasks, data, subprocesses) and is restored against the cached spec objects. Dates,
decimals and sets in task data get converters. The format carries its own version.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import NoneTask
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, ServiceTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    ParallelMultiInstanceTask as CamundaParallelMI,
)
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    SequentialMultiInstanceTask as CamundaSequentialMI,
)
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import task_states
from .multi_instance import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from .specs import CamundaBusinessRuleTask, CamundaServiceTask, TenantCallActivity
from .walking import EngineSubWorkflow, EngineWorkflow

STATE_FORMAT = "tiltak-state/1"
SPEC_FORMAT = "tiltak-spec/1"


class StateConverter(BpmnWorkflowConverter):
    """Top-level workflow without its specs: those live with the definition."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        # a finished workflow's data is its last task's, in the order values arrived;
        # sorted like task data so the same state always hashes the same
        dct["data"] = _sorted(dct.get("data") or {})
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct: dict[str, Any], spec, subprocess_specs, script_engine) -> BpmnWorkflow:
        workflow = EngineWorkflow(spec, subprocess_specs, script_engine=script_engine,
                                  deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dict(dct["subprocesses"]), workflow)
        workflow.bpmn_events = self.registry.restore(dct.get("bpmn_events", []))
        # SpiffWorkflow re-registers waiting catch events only; an event-based gateway
        # waits too, and must hear its message after a reload
        for task in workflow.get_tasks():
            if task.state == TaskState.WAITING and \
                    getattr(task.task_spec, "event_definition", None) is not None:
                workflow.event_manager.add_task(task)
        return workflow


class DeltaTaskConverter(TaskConverter):
    """SpiffWorkflow 3.2 stores a task's data as a delta to its parent's, and a root
    task's data whole, but leaves the values of both unconverted (a date breaks JSON)."""

    def to_dict(self, task) -> dict[str, Any]:
        dct = super().to_dict(task)
        # task data in one canonical order (sorted keys), so that the same state always
        # has the same hash however its data arrived; replay compares these hashes.
        # (The task list itself keeps its order: parents must be restored first.)
        if dct.get("data"):
            dct["data"] = _sorted(self.registry.convert(self.registry.clean(dct["data"])))
        delta = dct.get("delta")
        if delta and delta.get("updates"):
            delta["updates"] = _sorted(
                self.registry.convert(self.registry.clean(delta["updates"])))
        if delta and delta.get("deletions"):  # a set in SpiffWorkflow: give it one order
            delta["deletions"] = sorted(delta["deletions"])
        return dct


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


class VariantSubWorkflowConverter(BpmnSubWorkflowConverter):
    """Remembers which variant (tenant) of a called process a subprocess runs."""

    def to_dict(self, workflow) -> dict[str, Any]:
        dct = super().to_dict(workflow)
        dct["data"] = _sorted(dct.get("data") or {})
        for key, spec in workflow.top_workflow.subprocess_specs.items():
            if spec is workflow.spec:
                dct["spec"] = key
                break
        return dct

    def from_dict(self, dct, task, top_workflow):
        spec = top_workflow.subprocess_specs.get(dct["spec"]) or \
            top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = EngineSubWorkflow(spec, task.id, top_workflow, deserializing=True)
        subprocess.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=subprocess)
        subprocess.task_tree = subprocess.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(subprocess, dct)
        return subprocess


def _registry():
    config = dict(CAMUNDA_CONFIG)
    config.pop(BpmnWorkflow, None)
    config[BpmnSubWorkflow] = VariantSubWorkflowConverter
    config[Task] = DeltaTaskConverter
    config[TenantCallActivity] = config[CallActivity]
    config[ServiceTask] = config[NoneTask]
    config[CamundaServiceTask] = config[NoneTask]
    config[CamundaBusinessRuleTask] = config[BusinessRuleTask]
    for camunda_kind, kind in ((CamundaParallelMI, ParallelMultiInstanceTask),
                               (CamundaSequentialMI, SequentialMultiInstanceTask)):
        config[kind] = config.pop(camunda_kind)
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(date, lambda v: {"value": v.isoformat()},
                      lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    registry.register(set, lambda v: {"value": sorted(v, key=repr)}, lambda v: set(v["value"]))
    # the engine's subprocesses are stored as SpiffWorkflow's, under the same name
    registry.typenames[EngineSubWorkflow] = registry.typenames[BpmnSubWorkflow]
    return registry, StateConverter(BpmnWorkflow, registry)


REGISTRY, _STATE_CONVERTER = _registry()


def spec_to_json(spec) -> str:
    return json.dumps({"format": SPEC_FORMAT, "spec": REGISTRY.convert(spec)},
                      sort_keys=True, separators=(",", ":"))


def spec_from_json(text: str):
    dct = json.loads(text)
    if dct.get("format") != SPEC_FORMAT:
        raise ValueError(f"unknown spec format {dct.get('format')!r}")
    return REGISTRY.restore(dct["spec"])


def state_to_json(workflow: BpmnWorkflow) -> str:
    dct = _STATE_CONVERTER.to_dict(workflow)
    dct["format"] = STATE_FORMAT
    return json.dumps(dct, separators=(",", ":"), default=_refuse)


def state_from_json(text: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    dct = json.loads(text)
    if dct.pop("format", None) != STATE_FORMAT:
        raise ValueError("instance state has an unknown format")
    workflow = _STATE_CONVERTER.restore(dct, spec, subprocess_specs, script_engine)
    task_states.forget([workflow, *workflow.subprocesses.values()])  # states set directly
    return workflow


def data_to_json(value: Any) -> str:
    """Task data (with dates) as canonical JSON, for history events and hashes."""
    return json.dumps(REGISTRY.convert(value), sort_keys=True, separators=(",", ":"),
                      default=_refuse, ensure_ascii=False)


def data_from_json(text: str) -> Any:
    value = json.loads(text)
    # only an object with a "typename" key is restored to a typed value (a date, say);
    # a text that cannot hold that key, not even written with escapes, is plain JSON
    if "typename" not in text and "\\u" not in text:
        return value
    return REGISTRY.restore(value)


def plain(value: Any) -> Any:
    """Task data as plain JSON types (dates as ISO strings) for display and --json output."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, (date,)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _refuse(obj: Any) -> Any:
    raise TypeError(f"value of type {type(obj).__name__} cannot be stored in process data")

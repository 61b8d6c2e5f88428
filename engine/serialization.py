"""Instance states in their stored formats, and the data of history events: tiltak-state/2
through engine/store/state_format.py, and tiltak-state/1, read here for what was written
until 0.2 (docs/STATE_FORMAT.md).
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
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    ParallelMultiInstanceTask as CamundaParallelMI,
)
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    SequentialMultiInstanceTask as CamundaSequentialMI,
)
from SpiffWorkflow.dmn.serializer.task_spec import BaseBusinessRuleTaskConverter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import values
from .execution import task_states
from .execution.walking import EngineSubWorkflow, EngineWorkflow
from .model.multi_instance import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from .model.specs import CamundaBusinessRuleTask, CamundaServiceTask, TenantCallActivity
from .store import state_format

# a deployed definition's parsed specs, kept beside its BPMN by SpiffWorkflow's serializer
# (what is parsed from the deployed files, not part of any history)
SPEC_FORMAT = "tiltak-spec/1"
LEGACY_FORMAT = "tiltak-state/1"
FORMATS = (LEGACY_FORMAT, state_format.FORMAT)  # every state format this version reads


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


class DecisionTaskConverter(BaseBusinessRuleTaskConverter):
    """A business rule task with the tables of the decisions its decision requires."""

    def to_dict(self, spec) -> dict[str, Any]:
        dct = super().to_dict(spec)
        dct["required_tables"] = [self.decision_table_to_dict(table)
                                  for table in getattr(spec, "required_tables", ())]
        return dct

    def from_dict(self, dct):
        required = [self.decision_table_from_dict(t) for t in dct.pop("required_tables", ())]
        spec = super().from_dict(dct)
        spec.required_tables = required
        return spec


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
    config[CamundaBusinessRuleTask] = DecisionTaskConverter
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


def format_of(state: str) -> str:
    """The format a stored state is written in."""
    return state_format.FORMAT if state_format.is_current(state) else LEGACY_FORMAT


def restore_state(text: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    """An instance from its stored state, in whichever format it was written."""
    if state_format.is_current(text):
        return state_format.read(text, spec, subprocess_specs, script_engine)
    return state_from_json(text, spec, subprocess_specs, script_engine)


def state_to_json(workflow: BpmnWorkflow) -> str:
    """The state in tiltak-state/1 (for replaying histories written in it)."""
    dct = _STATE_CONVERTER.to_dict(workflow)
    dct["format"] = LEGACY_FORMAT
    return json.dumps(dct, separators=(",", ":"), default=_refuse)


def state_from_json(text: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    """An instance from its state in tiltak-state/1."""
    dct = json.loads(text)
    if dct.pop("format", None) != LEGACY_FORMAT:
        raise ValueError("instance state has an unknown format")
    workflow = _STATE_CONVERTER.restore(dct, spec, subprocess_specs, script_engine)
    task_states.forget([workflow, *workflow.subprocesses.values()])  # states set directly
    return workflow


def data_to_json(value: Any) -> str:
    """A history event's data (with dates) as canonical JSON, typed values tagged as in
    today's state format."""
    return values.encode_readable(value)


def data_from_json(text: str) -> Any:
    """An event's data, in today's encoding or in the one events had until 0.2 (typed
    values as SpiffWorkflow's registry wrote them, objects with a "typename" key)."""
    value = values.decode(text)
    if "typename" in text or "\\u" in text:  # could hold a value typed the old way
        value = REGISTRY.restore(value)
    return value


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

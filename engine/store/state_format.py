"""Tiltak's own state format (tiltak-state/2): an instance's tasks, their states and data.

What is stored for an instance and hashed into its history is written and read here, by
Tiltak's code, so that a SpiffWorkflow release that changes its own JSON changes no
archive. The format is canonical (the same state always gives the same text) and is
described in docs/STATE_FORMAT.md. Older formats are read by engine/serialization.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .. import task_states
from ..specs import copy_of
from ..walking import EngineSubWorkflow, EngineWorkflow

FORMAT = "tiltak-state/2"
_HEAD = '{"format":"tiltak-state/2",'  # how a text in this format begins

# a task's state by its name in the archive, not by SpiffWorkflow's number for it
STATE_NAMES = ("MAYBE", "LIKELY", "FUTURE", "WAITING", "READY", "STARTED", "COMPLETED",
               "ERROR", "CANCELLED")
_NAME_OF = {getattr(TaskState, name): name for name in STATE_NAMES}
_STATE_OF = {name: getattr(TaskState, name) for name in STATE_NAMES}

# a task's entry: [id, element, state, parent, changed_at, triggered, internal, data]
# (parent: the parent's position in the list; data: whole for the root task, else the
# keys set and unset against the parent's data, or null when they are the parent's)


def is_current(text: str) -> bool:
    return text.startswith(_HEAD)


def write(workflow) -> str:
    """The state of an instance (its workflow and every subprocess) as canonical text."""
    subprocesses = [
        {**_workflow(sub), "task": str(key), "spec": _spec_key(workflow, sub)}
        for key, sub in workflow.subprocesses.items()]
    return _encode({"format": FORMAT, "process": _workflow(workflow),
                    "subprocesses": subprocesses})


def _spec_key(top, sub) -> str:
    """The key the subprocess's spec has among the instance's (a clinic's variant of a
    called process has its own)."""
    for key, spec in top.subprocess_specs.items():
        if spec is sub.spec:
            return key
    return sub.spec.name


def _workflow(workflow) -> dict[str, Any]:
    position: dict = {}
    entries = []
    children: dict[str, list[int]] = {}
    listed: dict = {}  # parent -> its children in list order
    for number, task in enumerate(workflow.tasks.values()):
        position[task.id] = number
        parent_id = task._parent
        if parent_id is None:
            parent_number, data = None, task.data
        else:
            parent_number = position.get(parent_id)
            if parent_number is None:
                raise ValueError(f"task {task.id} is listed before its parent {parent_id}")
            data = _delta(workflow.tasks[parent_id].data, task.data)
            listed.setdefault(parent_id, []).append(task.id)
        entries.append([str(task.id), task.task_spec.name, _NAME_OF[task._state],
                        parent_number, task.last_state_change, task.triggered,
                        task.internal_data, data])
    for parent_id, found in listed.items():
        own = workflow.tasks[parent_id]._children
        if own != found:  # not in the order they were listed: say which
            children[str(position[parent_id])] = [position[c] for c in own]
    last = workflow.last_task
    return {"spec": workflow.spec.name, "data": workflow.data,
            "correlations": workflow.correlations,
            "last_task": str(last.id) if last is not None else None,
            "success": workflow.success, "completed": workflow.completed,
            "tasks": entries, "children": children}


def _delta(parent: dict, data: dict) -> dict | None:
    if data == parent:
        return None
    return {"set": {k: v for k, v in data.items() if k not in parent or parent[k] != v},
            "unset": sorted(k for k in parent if k not in data)}


def _tagged(value: Any) -> Any:
    """Values JSON has no type for, as an object with one key naming the type."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted(value, key=_encode)}
    if isinstance(value, timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    raise TypeError(f"value of type {type(value).__name__} cannot be stored in process data")


_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_tagged).encode
# a history event's data: the same, with letters outside ASCII as they are
encode_data = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                               default=_tagged).encode

_UNTAG = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$decimal": Decimal,
    "$set": set,
    "$timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "$uuid": UUID,
}


def _untag(obj: dict) -> Any:
    if len(obj) == 1:
        (key, value), = obj.items()
        restore = _UNTAG.get(key)
        if restore is not None:
            return restore(value)
    return obj


def decode(text: str) -> dict[str, Any]:
    """The document (or event data) a text in this format holds, typed values restored."""
    # only a text holding `{"$` can hold a typed value (the encoder writes no escapes there)
    return json.loads(text, object_hook=_untag if '{"$' in text else None)


def read(text: str, spec, subprocess_specs: dict, script_engine) -> EngineWorkflow:
    """The instance a text in this format holds, restored against its specs."""
    doc = decode(text)
    if doc.get("format") != FORMAT:
        raise ValueError(f"instance state has the format {doc.get('format')!r}, not {FORMAT}")
    workflow = EngineWorkflow(spec, subprocess_specs, script_engine=script_engine,
                              deserializing=True)
    _restore(workflow, doc["process"], workflow)
    pending = {entry["task"]: entry for entry in doc["subprocesses"]}
    _restore_subprocesses(workflow, workflow, pending)
    # an event-based gateway waits too, and must hear its message after a reload
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if getattr(task.task_spec, "event_definition", None) is not None:
            workflow.event_manager.add_task(task)
    task_states.forget([workflow, *workflow.subprocesses.values()])
    return workflow


def _restore_subprocesses(top, owner, pending: dict) -> None:
    """Subprocesses in task order, depth first: each after the task that runs it."""
    for task in list(owner.tasks.values()):
        entry = pending.pop(str(task.id), None)
        if entry is None or not isinstance(task.task_spec, SubWorkflowTask):
            continue
        spec = top.subprocess_specs.get(entry["spec"]) or \
            top.subprocess_specs.get(task.task_spec.spec)
        if spec is None:
            raise ValueError(f"the stored state runs process {entry['spec']!r}, "
                             "which this instance's definition does not call")
        sub = EngineSubWorkflow(spec, task.id, top, deserializing=True)
        _restore(sub, entry, top)
        top.subprocesses[task.id] = sub
        sub.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
        _restore_subprocesses(top, sub, pending)


def _restore(workflow, doc: dict[str, Any], top) -> None:
    specs = workflow.spec.task_specs
    made: list[Task] = []
    tasks = workflow.tasks
    for ident, element, state, parent, changed_at, triggered, internal, data in doc["tasks"]:
        task_spec = specs.get(element)
        if task_spec is None:
            raise ValueError(f"the stored state names element {element!r}, which process "
                             f"{workflow.spec.name!r} does not have")
        task = Task(workflow, task_spec, state=_STATE_OF[state], id=UUID(ident))
        task.last_state_change = changed_at
        task.triggered = triggered
        task.internal_data = internal
        if parent is None:
            task.data = data
        else:
            above = made[parent]
            task._parent = above.id
            above._children.append(task.id)
            task.data = own = copy_of(above.data)
            if data is not None:
                own.update(data["set"])
                for key in data["unset"]:
                    own.pop(key, None)
        if state == "WAITING" and isinstance(task_spec, CatchingEvent):
            top.event_manager.add_task(task)
        made.append(task)
    for number, order in doc.get("children", {}).items():
        made[int(number)]._children = [made[n].id for n in order]
    workflow.task_tree = made[0]
    workflow.data = doc["data"]
    workflow.correlations = doc["correlations"]
    workflow.success = doc["success"]
    workflow.completed = doc["completed"]
    last = doc["last_task"]
    workflow.last_task = tasks.get(UUID(last)) if last is not None else None

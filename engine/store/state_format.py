"""Tiltak's own state format (tiltak-state/2): an instance's tasks, their states and data.

What is stored for an instance and hashed into its history is written and read here, by
Tiltak's code, so that a SpiffWorkflow release that changes its own JSON changes no
archive. The format is canonical (the same state always gives the same text) and is
described in docs/STATE_FORMAT.md. Older formats are read by engine/serialization.py.
"""

from __future__ import annotations

import json
import math
import operator
from json.encoder import c_make_encoder, encode_basestring_ascii
from typing import Any, NamedTuple
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .. import values
from ..execution import task_states
from ..execution.walking import EngineSubWorkflow, EngineWorkflow
from ..model.specs import copy_of

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
    return Writer(keep=False).write(workflow)


class Writer:
    """Writes states as canonical text: the object keys in sorted order, put together
    from pieces. A writer that keeps (the replay's, one per instance) keeps, for each
    workflow, its tasks' entries with copies of what each was written from, and writes
    again only the entries where any of it changed; a workflow none of whose tasks
    changed (most subprocesses in a step) is told by comparing one list read off its
    tasks, and keeps its text (tests/test_state_format.py holds the text canonical)."""

    def __init__(self, *, keep: bool = True) -> None:
        self._keep = keep
        self._tables: dict = {}  # id(workflow) -> _Table, as the last write left them
        self._tables_now: dict = {}  # the same, for the workflows of this write
        self._ids: dict[int, str] = {}  # a task id's number -> its text

    def _id(self, ident: UUID) -> str:
        """A task id's text (kept by the id's number, which is quicker to look up)."""
        text = self._ids.get(ident.int)
        if text is None:
            text = self._ids[ident.int] = str(ident)
        return text

    def write(self, workflow) -> str:
        self._tables_now = {}
        subprocesses = ",".join(
            self._workflow(sub, f'"task":"{self._id(key)}",', _spec_key(workflow, sub))
            for key, sub in workflow.subprocesses.items())
        text = (f'{_HEAD}"process":{self._workflow(workflow, "", workflow.spec.name)},'
                f'"subprocesses":[{subprocesses}]}}')
        self._tables = self._tables_now  # what is no longer in the instance is let go
        return text

    def _workflow(self, workflow, task_key: str, spec: str) -> str:
        """A WORKFLOW object (docs/STATE_FORMAT.md); `task_key`: a subprocess's "task"."""
        last = workflow.last_task
        last_text = f'"{self._id(last.id)}"' if last is not None else "null"
        data = workflow.data
        if not self._keep:
            children, entries = self._tasks(list(workflow.tasks.values()), None)
            data_text = _text(data)
        else:
            order = list(workflow.tasks.values())
            rows = list(map(_ROW_OF, order))
            table = self._tables.get(id(workflow))
            if table is None or table.workflow is not workflow:
                table = _Table(workflow)
            self._tables_now[id(workflow)] = table
            if table.text is not None and table.order == order and table.rows == rows:
                children, entries = table.text  # not one task changed
            else:
                children, entries = self._tasks(order, table, rows)
            if table.data is None or table.data[0] != data:
                table.data = (_copy(data), _text(data))
            data_text = table.data[1]
        return (f'{{"children":{children},"completed":{_text(workflow.completed)},'
                f'"correlations":{_text(workflow.correlations)},'
                f'"data":{data_text},'
                f'"last_task":{last_text},'
                f'"spec":{_quote(spec)},"success":{_text(workflow.success)},{task_key}'
                f'"tasks":[{entries}]}}')

    def _tasks(self, order: list, kept: _Table | None, rows: list | None = None
               ) -> tuple[str, str]:
        """The values of a WORKFLOW object's "children" and "tasks" (without brackets);
        with `kept` (a keeping writer's table of the workflow, or a new one), the entries
        of tasks whose rows equal the kept ones (and whose parent's data did not change)
        are taken as they were, and `kept` is brought up to date."""
        position: dict[int, int] = {}  # a task id's number -> the task's position
        entries = []
        listed: dict[int, list] = {}  # a parent's position -> its children in list order
        changed: set[int] = set()  # positions of tasks whose data are not as kept
        written = kept.entries if kept is not None else {}
        kept_of = written.get
        now: dict = {}  # task -> (position, parent's position, row kept, entry)
        id_text = self._id
        kept_rows: list = []  # by position: the row kept of each task
        for number, task in enumerate(order):
            ident = task.id
            position[ident.int] = number
            parent_id = task._parent
            if parent_id is None:
                parent_number = None
            else:
                parent_number = position.get(parent_id.int)
                if parent_number is None:
                    raise ValueError(f"task {ident} is listed before its parent {parent_id}")
                listed.setdefault(parent_number, []).append(ident)
            data = task.data
            found = kept_of(task)
            if found is not None:
                row = rows[number]
                if found[0] == number and found[1] == parent_number and \
                        parent_number not in changed and found[2] == row:
                    now[task] = found
                    entries.append(found[3])
                    kept_rows.append(found[2])
                    continue
                same_data = found[2][5] == data
                same_internal = found[2][6] == task.internal_data
            else:
                same_data = same_internal = False
            if not same_data:
                changed.add(number)
            delta = data if parent_number is None else _delta(order[parent_number].data, data)
            internal = task.internal_data
            # [id, element, state, parent, changed_at, triggered, internal, data], as
            # `_encode` writes the list
            entry = (f'["{id_text(ident)}",{_quote(task.task_spec.name)},'
                     f'"{_NAME_OF[task._state]}",'
                     f'{"null" if parent_number is None else parent_number},'
                     f'{_number(task.last_state_change)},{_text(task.triggered)},'
                     f'{_text(internal)},{_text(delta)}]')
            entries.append(entry)
            if kept is not None:
                # copies are only compared, never changed: a task whose data equal its
                # parent's shares the parent's copy, and empty data share one
                if same_data:
                    data_copy = found[2][5]
                elif delta is None:
                    data_copy = kept_rows[parent_number][5]
                else:
                    data_copy = _copy(data)
                row = (ident, parent_id, task._state, task.last_state_change,
                       task.triggered, data_copy,
                       found[2][6] if same_internal else _copy(internal),
                       list(task._children))
                now[task] = (number, parent_number, row, entry)
                kept_rows.append(row)
        children: dict[str, list[int]] = {}
        for parent_number, found_children in listed.items():
            own = order[parent_number]._children
            if own != found_children:  # not in the order they were listed: say which
                children[str(parent_number)] = [position[c.int] for c in own]
        text = _text(children), ",".join(entries)
        if kept is not None:
            kept.order, kept.rows, kept.entries, kept.text = order, kept_rows, now, text
        return text


class _Table:
    """What a keeping writer keeps of one workflow: its tasks in order, for each the row
    (`_ROW_OF`, with copies of data, internal data and children) its entry was written
    from, the entries, the text of its tasks and of its data."""

    __slots__ = ("workflow", "order", "rows", "entries", "text", "data")

    def __init__(self, workflow) -> None:
        self.workflow = workflow
        self.order: list = []
        self.rows: list = []
        self.entries: dict = {}  # task -> (position, parent's position, row, entry)
        self.text: tuple[str, str] | None = None
        self.data: tuple[dict, str] | None = None  # a copy of the data, and their text


_EMPTY: dict = {}  # the copy kept of any empty data; never changed
# what a task's entry is written from (besides its position and its parent's), read off
# the task in one step; a table's list of these is compared with the kept one at once
_ROW_OF = operator.attrgetter("id", "_parent", "_state", "last_state_change", "triggered",
                             "data", "internal_data", "_children")


def _copy(value: Any) -> Any:
    """A copy of data, only ever compared with them later: it shares with them the
    values nothing can change (texts, numbers, dates), so that comparing the two mostly
    meets identical values; empty data share one copy."""
    if not value and type(value) is dict:
        return _EMPTY
    return copy_of(value)


def _spec_key(top, sub) -> str:
    """The key the subprocess's spec has among the instance's (a clinic's variant of a
    called process has its own)."""
    for key, spec in top.subprocess_specs.items():
        if spec is sub.spec:
            return key
    return sub.spec.name


def _delta(parent: dict, data: dict) -> dict | None:
    if data == parent:
        return None
    return {"set": {k: v for k, v in data.items() if k not in parent or parent[k] != v},
            "unset": sorted(k for k in parent if k not in data)}


def _tagged(value: Any) -> Any:
    """Besides what engine/values.py tags: an event a gateway or catch event has seen."""
    if isinstance(value, BpmnEvent):
        definition = value.event_definition
        return {"$event": {"kind": type(definition).__name__, "name": definition.name,
                           "payload": value.payload, "correlations": value.correlations}}
    return values.tagged(value)


_quote = encode_basestring_ascii  # a string, as _encode writes it
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_tagged)


def _encode(value: Any) -> str:
    """`_ENCODER.encode(value)`: object keys sorted, no spaces, typed values tagged;
    without building the encoder's parts again at each call, as `encode` does."""
    if c_make_encoder is None or type(value) is str:
        return _ENCODER.encode(value)
    return "".join(c_make_encoder({}, _tagged, _quote, None, ":", ",", True, False,
                                  True)(value, 0))


_LITERALS = {True: "true", False: "false", None: "null"}


def _number(value: Any) -> str:
    """`_encode(value)`, without the encoder for an int or a finite float."""
    kind = type(value)
    if kind is float and math.isfinite(value) or kind is int:
        return repr(value)
    return _encode(value)


def _text(value: Any) -> str:
    """`_encode(value)`, without the encoder for the values most often written alone."""
    if value is None or value is True or value is False:
        return _LITERALS[value]
    if not value and type(value) is dict:
        return "{}"
    return _encode(value)


_UNTAG = values.untagger({
    **values.UNTAG,
    "$event": lambda v: _SeenEvent(v["kind"], v["name"], v["payload"], v["correlations"]),
})


class _SeenEvent(NamedTuple):
    """An event as stored, until `_resolve_events` gives it its definition from the spec."""
    kind: str
    name: str
    payload: Any
    correlations: dict


def _resolve_events(task, internal: dict) -> None:
    """Events stored in a task's internal data, with their definitions from its spec."""
    for key, value in internal.items():
        if isinstance(value, list) and any(isinstance(v, _SeenEvent) for v in value):
            internal[key] = [_event(task, v) if isinstance(v, _SeenEvent) else v
                             for v in value]


def _event(task, seen: _SeenEvent) -> BpmnEvent:
    definition = getattr(task.task_spec, "event_definition", None)
    for candidate in [definition, *getattr(definition, "event_definitions", ())]:
        if type(candidate).__name__ == seen.kind and candidate.name == seen.name:
            return BpmnEvent(candidate, seen.payload, seen.correlations)
    raise ValueError(f"the stored state has element {task.task_spec.name!r} seeing event "
                     f"{seen.name!r} ({seen.kind}), which the element does not catch")


def decode(text: str) -> dict[str, Any]:
    """The document a text in this format holds, typed values restored."""
    return values.decode(text, _UNTAG)


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


def as_restored(workflow) -> None:
    """Put the subprocesses in the order restoring the state would give them.

    Restoring lists the subprocesses in task order (depth first), while a live workflow
    keeps them in the order they were created; the order shows in the state, and it
    decides which subprocess runs first. A workflow kept alive between commands (the
    engine's, the replay's) is put in this order before each command, so that it runs
    as one restored from its state would.
    """
    subprocesses = workflow.subprocesses
    if len(subprocesses) < 2 or \
            getattr(workflow, "_tiltak_ordered", None) == list(subprocesses):
        return  # none added since they were last put in order, none moved since
    ordered: dict = {}

    def visit(owner) -> None:
        for task in owner.tasks.values():
            sub = subprocesses.get(task.id)
            if sub is not None and task.id not in ordered and \
                    isinstance(task.task_spec, SubWorkflowTask):
                ordered[task.id] = sub
                visit(sub)

    visit(workflow)
    for key, sub in subprocesses.items():
        ordered.setdefault(key, sub)
    if list(ordered) != list(subprocesses):
        subprocesses.clear()
        subprocesses.update(ordered)
    workflow._tiltak_ordered = list(ordered)


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
        if internal and any(type(v) is list for v in internal.values()):
            _resolve_events(task, internal)
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

"""The replay's writer of tiltak-state/1: the text `serialization.state_to_json` writes,
faster, by writing again only the tasks that changed; a difference only sends the replay
down the reference path (docs/DESIGN.md, "Verification speed").
"""

from __future__ import annotations

import json
import math
import operator
from datetime import date
from types import ModuleType
from typing import Any

from ..model.specs import copy_of
from ..serialization import LEGACY_FORMAT, REGISTRY, _refuse, _sorted

_PLAIN = frozenset((str, int, float, bool, type(None)))
_NO_DATA: dict = {}  # the copy kept of any empty data; never changed
_AS_PARENT = '"data":{},"delta":{"updates":{},"deletions":[]}'  # data equal to the parent's

# what a task's entry was written from (a tuple, indexed by these)
_PARENT_DATA, _STATE, _CHANGED_AT, _CHILDREN, _TRIGGERED, _INTERNAL, _DATA, _TEXT, \
    _PARENT_ID, _PARENT, _DATA_TEXT = range(11)


class StateWriter:
    """One instance's writer, for the whole of its replay (it keeps what it wrote)."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}  # a task id's number -> its text
        self._written: dict[Any, tuple] = {}  # task -> what its entry was written from
        self._now: dict[Any, tuple] = {}  # the same, for the tasks written in this write
        self._workflow_data: dict[int, tuple] = {}  # id(workflow) -> (workflow, copy, text)
        self._spec_names: dict[Any, str] = {}  # task spec -> its name's text
        self._emptied: dict[int, tuple] = {}  # id(parent's data copy) -> (copy, text)
        self._tables: dict[int, tuple] = {}  # id(task table) -> what `_table` keeps

    def write(self, workflow) -> str:
        self._now = {}
        name_of = self._name
        specs = workflow.subprocess_specs
        # the text is put together from pieces, joined once: most of them are kept
        # texts of tables that did not change
        pieces = ["{"]
        self._workflow(workflow, pieces)
        pieces.append(',"subprocesses":{')
        first = True
        for key, sub in workflow.subprocesses.items():
            name = sub.spec.name
            for spec_key, spec in specs.items():
                if spec is sub.spec:
                    name = spec_key
                    break
            pieces.append(f'"{name_of(key)}":{{' if first else f',"{name_of(key)}":{{')
            first = False
            self._workflow(sub, pieces)
            pieces.append(f',"parent_task_id":"{name_of(sub.parent_task_id)}",'
                          f'"spec":{_text(name)},"typename":"BpmnSubWorkflow"}}')
        pieces.append(f'}},"bpmn_events":{_encode(REGISTRY.convert(workflow.bpmn_events))},'
                      f'"format":{_encode(LEGACY_FORMAT)}}}')
        self._written = self._now  # what is no longer in the workflow is let go
        return "".join(pieces)

    def _workflow(self, workflow, pieces: list[str]) -> None:
        name_of = self._name
        last = workflow.last_task
        pieces.append(
            f'"data":{self._data(workflow)},'
            f'"correlations":{_text(workflow.correlations)},'
            f'"last_task":{_quoted(name_of(last.id)) if last is not None else "null"},'
            f'"success":{_text(workflow.success)},'
            f'"completed":{_text(workflow.completed)},"tasks":{{')
        pieces.append(self._table(workflow.tasks))
        pieces.append(f'}},"root":"{name_of(workflow.task_tree.id)}"')

    def _data(self, workflow) -> str:
        kept = self._workflow_data.get(id(workflow))
        if kept is not None and kept[0] is workflow and kept[1] == workflow.data:
            return kept[2]
        text = _encode(_canonical(workflow.data))
        self._workflow_data[id(workflow)] = (workflow, _copy(workflow.data, None), text)
        return text

    def _table(self, tasks: dict) -> str:
        """A workflow's task entries, joined. A table whose tasks are all as they were
        (the same tasks in the same order, and for each what `_entries` compares) is
        told by comparing one list of tuples read off its tasks with the one kept, which
        Python does without a step per task, and keeps its text; most subprocesses do
        not change in a step."""
        order = list(tasks.values())
        kept = self._tables.get(id(tasks))
        if kept is not None and kept[0] is tasks and kept[1] == order and \
                list(map(_COMPARED_OF, order)) == kept[2]:
            self._now.update(kept[3])
            return kept[4]
        text = ",".join(self._entries(tasks))
        entries = list(map(self._now.__getitem__, order))
        self._tables[id(tasks)] = (tasks, order, list(map(_KEPT_COMPARED, entries)),
                                   dict(zip(order, entries, strict=True)), text)
        return text

    def _entries(self, tasks: dict) -> list[str]:
        """Each task's entry, in the table's order: those that did not change as they
        were (most tasks), the others from `_task`."""
        kept_of = self._written.get
        now = self._now
        now_of = now.get
        entries = []
        for task in tasks.values():
            kept = kept_of(task)
            parent_id = task._parent
            if kept is not None and kept[_PARENT_ID] is parent_id:  # a parent does not change
                parent = kept[_PARENT]
            else:
                parent = tasks.get(parent_id) if parent_id is not None else None
            if parent is None:
                parent_data = None
            else:
                # tasks are listed parents first: the parent's entry, written in this
                # same write, holds the copy of its data as it is now
                parent_entry = now_of(parent)
                if parent_entry is None:
                    raise ValueError("a task is listed before its parent")
                parent_data = parent_entry[_DATA]
            if kept is not None and kept[_PARENT_DATA] is parent_data and \
                    kept[_STATE] == task._state and \
                    kept[_CHANGED_AT] == task.last_state_change and \
                    kept[_CHILDREN] == task._children and \
                    kept[_TRIGGERED] == task.triggered and \
                    kept[_INTERNAL] == task.internal_data and kept[_DATA] == task.data:
                now[task] = kept
                entries.append(kept[_TEXT])
            else:
                entries.append(self._task(task, kept, parent, parent_data))
        return entries

    def _task(self, task, kept: tuple | None, parent, parent_data) -> str:
        """The entry of a task that is new or changed, and what it was written from."""
        data = task.data
        if kept is not None and kept[_PARENT_DATA] is parent_data and kept[_DATA] == data:
            copied, data_text = kept[_DATA], kept[_DATA_TEXT]
        else:
            copied = _copy(data, kept[_DATA] if kept is not None else None, parent_data)
            data_text = self._data_text(data, parent, copied, parent_data)
        text = self._entry(task, parent, data_text)
        internal = _copy(task.internal_data, kept[_INTERNAL] if kept is not None else None)
        self._now[task] = (
            parent_data, task._state, task.last_state_change, list(task._children),
            task.triggered, internal, copied, text, task._parent, parent, data_text)
        return text

    def _data_text(self, data: dict, parent, copied: dict, parent_data) -> str:
        """The `"data":...,"delta":...` part of a task's entry."""
        if parent is None:
            return f'"data":{_encode(_canonical(data)) if data else _encode(data)},"delta":{{}}'
        if copied is parent_data:  # data equal to its parent's: nothing updated or deleted
            return _AS_PARENT
        if not data and type(data) is dict and parent_data is not None:
            # only predicted: all its parent's keys deleted, the same for every such child
            kept = self._emptied.get(id(parent_data))
            if kept is None or kept[0] is not parent_data:
                kept = self._emptied[id(parent_data)] = (
                    parent_data, self._delta(data, parent.data))
            return kept[1]
        return self._delta(data, parent.data)

    @staticmethod
    def _delta(after: dict, before: dict) -> str:
        updates = {k: after[k] for k in after if k not in before or after[k] != before[k]}
        deletions = [k for k in before if k not in after]
        return (f'"data":{{}},"delta":{{"updates":'
                f'{_encode(_canonical(updates)) if updates else "{}"},'
                f'"deletions":{_encode(sorted(deletions)) if deletions else "[]"}}}')

    def _entry(self, task, parent, data_text: str) -> str:
        name = self._name
        spec = task.task_spec
        spec_name = self._spec_names.get(spec)
        if spec_name is None:
            spec_name = self._spec_names[spec] = _encode(spec.name)
        children = task._children
        listed = ",".join([f'"{name(child)}"' for child in children]) if children else ""
        internal = task.internal_data
        internal_text = _encode(_converted(internal)) if internal else _text(internal)
        own = name(task.id)
        return (f'"{own}":{{"id":"{own}",'
                f'"parent":{_quoted(name(parent.id)) if parent is not None else "null"},'
                f'"children":[{listed}],'
                f'"last_state_change":{_number(task.last_state_change)},'
                f'"state":{_number(task._state)},"task_spec":{spec_name},'
                f'"triggered":{_text(task.triggered)},'
                f'"internal_data":{internal_text},'
                f'{data_text},"typename":"Task"}}')

    def _name(self, task_id) -> str:
        """A task id's text (kept by the id's number, which is quicker to look up)."""
        names = self._names
        text = names.get(task_id.int)
        if text is None:
            text = names[task_id.int] = str(task_id)
        return text


# what `_entries` compares, read off a task and off what is kept of it
_COMPARED_OF = operator.attrgetter("_parent", "_state", "last_state_change", "triggered",
                                   "_children", "internal_data", "data")
_KEPT_COMPARED = operator.itemgetter(_PARENT_ID, _STATE, _CHANGED_AT, _TRIGGERED, _CHILDREN,
                                     _INTERNAL, _DATA)

_encode = json.JSONEncoder(separators=(",", ":"), default=_refuse).encode


_CONSTANTS = {True: "true", False: "false", None: "null"}


def _text(value: Any) -> str:
    """`_encode(value)`, quicker for what most often comes: constants, empty dicts."""
    if value is True or value is False or value is None:
        return _CONSTANTS[value]
    if type(value) is dict and not value:
        return "{}"
    return _encode(value)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _number(value: Any) -> str:
    """A number as JSON writes it (the encoder itself for anything else)."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    return _encode(value)


def _copy(value: Any, like: Any, other: Any = None) -> Any:
    """A copy of `value` to tell later whether it changed; `like` or `other`, earlier
    copies, when one is still equal to it (most tasks' data equal their parent's)."""
    if like is not None and like == value:
        return like
    if other is not None and other == value:
        return other
    if not value:
        return _NO_DATA if type(value) is dict else type(value)()
    return copy_of(value)


def _kept(value: Any) -> bool:
    """What the registry's `clean` keeps in a dictionary."""
    return not (callable(value) or isinstance(value, ModuleType))


def _converted(value: Any) -> Any:
    """`REGISTRY.convert(value)`, with plain JSON values handled here."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {k: v if type(v) in _PLAIN else _converted(v) for k, v in value.items()
                if type(v) in _PLAIN or _kept(v)}
    if kind is list:
        return [v if type(v) in _PLAIN else _converted(v) for v in value]
    return REGISTRY.convert(value)


def _canonical(value: Any) -> Any:
    """`_sorted(REGISTRY.convert(value))`: converted, every dictionary in key order."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        result = {}
        for key in sorted(value, key=str):
            item = value[key]
            if type(item) in _PLAIN:
                result[key] = item
            elif _kept(item):
                result[key] = _canonical(item)
        return result
    if kind is list:
        return [v if type(v) in _PLAIN else _canonical(v) for v in value]
    if kind is date:  # dates come often, and are converted once each (only ever encoded)
        converted = _DATES.get(value)
        if converted is None:
            if len(_DATES) >= 4096:
                _DATES.clear()
            converted = _DATES[value] = _sorted(REGISTRY.convert(value))
        return converted
    return _sorted(REGISTRY.convert(value))


_DATES: dict[date, dict] = {}

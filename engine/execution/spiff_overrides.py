"""Every change the engine makes to SpiffWorkflow's own classes and modules, in one place.

`install()` puts them in place when the engine package is imported; why each exists is
in docs/SPIFFWORKFLOW.md. The copies are of SpiffWorkflow 3.2.0, the version pinned.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
import SpiffWorkflow.task as spiff_task
import SpiffWorkflow.workflow as spiff_workflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from ..model.specs import copy_of
from . import task_states
from .determinism import TaskTime, TimerDatetime, task_uuid

SPIFFWORKFLOW_VERSION = "3.2.0"  # pyproject.toml pins it

_task_logger = spiff_task.logger
_spiff_add_child = spiff_task.Task._add_child
_spiff_merge = DeepMerge.merge


# Replaces `Task._set_state` (SpiffWorkflow 3.2.0, SpiffWorkflow/task.py). The same state
# change, timestamp and log records; the records' details (names, ids, the parent) are
# built only when the task logger is enabled, where SpiffWorkflow builds them at every
# change. It also tells engine/execution/task_states.py's note of the task's new state.
def _set_state(task, value: int) -> None:
    task_states.entered(task, value)
    if value != task._state:
        elapsed = TaskTime.time() - task.last_state_change
        task.last_state_change = TaskTime.time()
        task._state = value
        if _task_logger.isEnabledFor(logging.INFO):
            _task_logger.info(f"State changed to {TaskState.get_name(value)}",
                              extra=task.collect_log_extras({"elapsed": elapsed}))
    elif _task_logger.isEnabledFor(logging.DEBUG):
        _task_logger.debug(f"State set to {TaskState.get_name(value)}",
                           extra=task.collect_log_extras())


# Wraps `Task._add_child` (SpiffWorkflow 3.2.0): the one other place a task gets a state,
# at its creation; a child made waiting or ready is told to engine/execution/task_states.py's note.
def _add_child(self, task_spec, state: int = TaskState.MAYBE):
    task = _spiff_add_child(self, task_spec, state)
    if state & task_states.SPARSE:
        task_states.entered(task, state)
    return task


# Replaces `Task.is_descendant_of` (SpiffWorkflow 3.2.0): the same answer, each parent
# looked up once where SpiffWorkflow looks it up three times (`parent` is a property that
# searches the task table); joins ask this for many tasks at every step.
def _is_descendant_of(self, task) -> bool:
    parent = self.parent
    while parent is not None:
        if parent == task:
            return True
        parent = parent.parent
    return False


# Wraps `DeepMerge.merge` (SpiffWorkflow 3.2.0, util/deep_merge.py), which merges a parent
# task's data into a child's. Every value taken from `b` is copied whole, where
# SpiffWorkflow copies one level: a task never shares data with another task, whether it
# was made while running or restored from a stored state, so a change in place touches
# one task only (and a live workflow and a restored one cannot drift apart). The two
# common cases, empty data and equal data, take one pass or none.
def _merge(a, b, path=None):
    if type(a) is dict and type(b) is dict:
        if not a:  # a new task taking its parent's data
            a.update(copy_of(b))
            return a
        if a == b:  # every value of b equal to a's: SpiffWorkflow's merge changes nothing
            return a
    return _spiff_merge(a, copy_of(b), path)


_parsed_moment = functools.lru_cache(maxsize=4096)(TimerEventDefinition.parse_time_or_duration)


# Replaces `TimeDateEventDefinition.has_fired` (SpiffWorkflow 3.2.0,
# bpmn/specs/event_definitions/timer.py). It is asked for every waiting date timer
# whenever another task of its workflow completes, and SpiffWorkflow parses the timer's
# date text (fixed once the timer waits) each time; here each text is parsed once. The
# same internal data, the same clock (the injected one, below) and the same errors.
def _has_fired(self, my_task) -> bool:
    internal = my_task.internal_data
    event_value = internal.get("event_value")
    if event_value is None:
        event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        my_task._set_internal_data(event_value=event_value)
    moment = _parsed_moment(event_value) if type(event_value) is str else \
        TimerEventDefinition.parse_time_or_duration(event_value)
    if moment < TimerDatetime.now(UTC):
        my_task._set_internal_data(event_fired=True)
    return internal.get("event_fired", False)


def install() -> None:
    """Put every override in SpiffWorkflow's place (calling it again changes nothing)."""
    # Task ids and timestamps, and the timers' clock, from engine/execution/determinism.py: inside a
    # command they come from the instance and the injected clock, so a replay produces
    # the same state. These replace the names `uuid4` and `time` in SpiffWorkflow/task.py
    # and `datetime` in bpmn/specs/event_definitions/timer.py (SpiffWorkflow 3.2.0).
    spiff_task.uuid4 = task_uuid
    spiff_task.time = TaskTime
    spiff_timer.datetime = TimerDatetime

    spiff_task.Task._set_state = _set_state
    spiff_task.Task._add_child = _add_child
    spiff_task.Task.is_descendant_of = _is_descendant_of
    DeepMerge.merge = staticmethod(_merge)
    TimeDateEventDefinition.has_fired = _has_fired

    # engine/execution/task_states.py's note of a workflow (None until first asked for) and mark of
    # a task taken out, as class defaults: reading them then never makes Python build an
    # instance's attribute dictionary (reading `__dict__` does, and makes every later
    # attribute of that object slower). New names, replacing nothing.
    spiff_workflow.Workflow._tiltak_sparse = None
    spiff_task.Task._tiltak_removed = False


# SpiffWorkflow's functions that the overrides above replace or wrap, or that read a
# module global they replace, with the SHA-256 of each one's source in
# SPIFFWORKFLOW_VERSION (whitespace normalised). tests/test_spiff_overrides.py fails when
# the installed SpiffWorkflow's differ: then review the override before changing a digest.
REPLACED: dict[str, str] = {
    "SpiffWorkflow.task:Task._set_state":
        "4c5709fff4edf850f34fac434693f8c535b85b96f60c58a4b0c47df3cabc3b24",
    "SpiffWorkflow.task:Task._add_child":
        "ab370394202766d756b34fa122bd66c86abfbcb53e4e7d4ea9a4b7f4eb359062",
    "SpiffWorkflow.task:Task.is_descendant_of":
        "fcb109964b8a35dc20faee4a44a16367c2984cf50031892bcd19410fbbc86980",
    "SpiffWorkflow.task:Task.__init__":
        "d8d7eb3303645ee871e3bbcd662ed663cc04b937dd00950707f766b0bbb8643f",
    "SpiffWorkflow.util.deep_merge:DeepMerge.merge":
        "20aff72bcff9e2ba23b0232056007dc2bb50fbd245ab5cba77b50b9a189002ca",
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:TimeDateEventDefinition.has_fired":
        "8b41017cf20ebbec22bfc45f8fd5df2c5f8f0c9e2273a0b37440c6655a7cc666",
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:TimerEventDefinition.get_datetime":
        "f33bc1750fb9165fb7580c41d645c7d43a34bc64f53ecf95fc3354b2c1a6e12f",
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:"
    "TimerEventDefinition.get_timedelta_from_start":
        "4e39a54a06d1a446df962532a516d442ee5d3ab2f4f8f6c8cb9d835008a8e4c1",
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:TimerEventDefinition.parse_iso_week":
        "6ccfaaf638e143f1a94d308f6421c0ce8718a0369fa0a41440ae0a8a7c3ea12f",
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:"
    "TimerEventDefinition.parse_iso_recurring_interval":
        "846a2deda581db1a56c9dd86a82f52374f8e7fa459bbe83b96c0d78833309839",
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:DurationTimerEventDefinition.has_fired":
        "8bdf56b4305e92e07c45450bb8fcb8f2484ac1f738d333f6fc4760c8aacab8bb",
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:CycleTimerEventDefinition.cycle_complete":
        "1a6e95cf0a1b2c3ff88d7e0053388d014319ebb054e114555c209c88e1b1ebbf",
}

# SpiffWorkflow's functions that the engine's own subclasses repeat, changed only in how
# quickly they do it, with the same digests: the task walk (engine/execution/walking.py `walk`,
# `_FastWalk`, `EngineWorkflow`), a call activity's start (engine/model/specs.py
# `TenantCallActivity`), the legacy state's restore (engine/serialization.py) and the
# Camunda multi-instance parser (engine/model/multi_instance.py).
REPEATED: dict[str, str] = {
    "SpiffWorkflow.util.task:TaskFilter.matches":
        "8bfa371c9fbd0be4762fe3213c57573aa92575bca18fa59fbada84bd2b462225",
    "SpiffWorkflow.util.task:TaskIterator.__init__":
        "9f9c072e7ca0755ad2ea3dda82bda93a7457b2a4bb6ca7fd35f15ee4dc97676a",
    "SpiffWorkflow.util.task:TaskIterator._next":
        "48631e5b5542073e83fed1b70b48045feda08f9c3ddc89081bd7dc47041fd626",
    "SpiffWorkflow.util.task:TaskIterator._update_depth":
        "0eefa163be3da534b301a3d2bed371d5b1a250c9129c239446885824efe2f4f4",
    "SpiffWorkflow.util.task:TaskIterator._handle_leaf_depth":
        "ee8e35e6efee0fc2b60e3ac335ef572c8fae1cf04dc75aff96e27e53110b03bf",
    "SpiffWorkflow.bpmn.util.task:BpmnTaskIterator._next":
        "309d90b27b6e3a59cb28face2c49d0517abc8a23f859dedbab6626243a5fc4f8",
    "SpiffWorkflow.workflow:Workflow.update_waiting_tasks":
        "78b490b43b02e31651aba622adf7ca71b905598a4737309a24a28bd3c2e5f2eb",
    "SpiffWorkflow.workflow:Workflow.collect_log_extras":
        "c4657446d63e90b2b0dec25c4bdb125b633c41fc6bd9f9d51006e96ebea7f0f4",
    "SpiffWorkflow.bpmn.workflow:BpmnWorkflow._do_engine_steps":
        "abd86e4bbb22d06ffd6ae89b2a5d05c93583c568e79799a0efa1dc7ecad59022",
    "SpiffWorkflow.bpmn.workflow:BpmnWorkflow.create_subprocess":
        "9003fd0b3201d37119abf64c4638fe3dd530123b572d55c2e3a7b65cfb3b0c86",
    "SpiffWorkflow.bpmn.specs.mixins.subworkflow_task:SubWorkflowTask.start_workflow":
        "77c7b171f620f97269180000fde1b6894fa64b5127001696ae0d6f71cbf04d3c",
    "SpiffWorkflow.bpmn.serializer.default.workflow:BpmnWorkflowConverter.from_dict":
        "fc4e57b2442f1e73bc9a62d70e5382e4a1ae8371977acb860f1b4b0f1ea11ea6",
    "SpiffWorkflow.camunda.parser.task_spec:CamundaTaskParser._add_multiinstance_task":
        "4799e675e65ceb0a64ac63becae5404e6be2e5a1f54c392be23fd5dd51b0023b",
}

# The module globals `install()` replaces, each with the functions of its module that
# read it (all of them are in REPLACED).
GLOBALS_READ_BY: dict[str, tuple[str, ...]] = {
    "SpiffWorkflow.task:uuid4": ("Task.__init__",),
    "SpiffWorkflow.task:time": ("Task.__init__", "Task._set_state"),
    "SpiffWorkflow.bpmn.specs.event_definitions.timer:datetime": (
        "TimerEventDefinition.get_datetime", "TimerEventDefinition.get_timedelta_from_start",
        "TimerEventDefinition.parse_iso_week",
        "TimerEventDefinition.parse_iso_recurring_interval",
        "TimeDateEventDefinition.has_fired", "DurationTimerEventDefinition.has_fired",
        "CycleTimerEventDefinition.cycle_complete"),
}

# SpiffWorkflow's private members the engine uses: attributes it reads or writes, methods
# it calls or overrides in its subclasses. An upgrade must keep each of them, or the
# engine changes with it.
PRIVATE_MEMBERS: dict[str, tuple[str, ...]] = {
    "SpiffWorkflow.task:Task": (
        "_state", "_parent", "_children",  # walks, task notes, the state format
        "_set_state", "_add_child", "_ready", "_inherit_data", "_set_internal_data"),
    "SpiffWorkflow.workflow:Workflow": (
        "_remove_task",  # calls `_task_removed_notify`, which the engine's workflows extend
        "_task_removed_notify"),
    "SpiffWorkflow.bpmn.workflow:BpmnWorkflow": ("_do_engine_steps",),
    "SpiffWorkflow.specs.base:TaskSpec": ("_update", "_update_hook", "_run_hook"),
    "SpiffWorkflow.bpmn.specs.mixins.subworkflow_task:SubWorkflowTask": (
        "_on_subworkflow_completed",),
    "SpiffWorkflow.bpmn.specs.mixins.multiinstance_task:MultiInstanceTask": ("_instances",),
    "SpiffWorkflow.bpmn.parser.TaskParser:TaskParser": (
        "_add_multiinstance_task", "_copy_task_attrs"),
}

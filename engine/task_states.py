"""The tasks of an instance that are waiting, ready, started or in error, kept as they change.

After a step few of an instance's tasks are in one of these states, and the engine asks
for them many times per step: SpiffWorkflow looks for ready tasks before and after every
task it runs, the engine for waiting and ready ones after every command. Looking
through every task table each time cost more than running the tasks themselves.

So each workflow (an instance's own and each of its subprocesses) keeps a note of its
tasks in one of these states. SpiffWorkflow puts a task into a state in two places only:
when it creates the task (`Task._add_child`) and in `Task._set_state` (the engine's own
version, engine/walking.py), and takes a task out in `Workflow._remove_task`, which
tells `_task_removed_notify`. All of them tell this module; a task taken out is marked,
since SpiffWorkflow sometimes sets the state of a task it has just taken out. A restored
workflow had its tasks' states set directly, so a workflow's note is made by one look
through its table the first time it is asked for, and `forget` drops the notes of a
restored instance.
Under tests (`walking.CHECKED`) every answer is compared with a look through the tables.
"""

from __future__ import annotations

import operator
from itertools import chain, compress, repeat

import SpiffWorkflow.task as _spiff_task
import SpiffWorkflow.workflow as _spiff_workflow
from SpiffWorkflow.util.task import TaskState

SPARSE = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.ERROR

# a workflow's note: {task: task} for its tasks in SPARSE, None until first asked for;
# a task's mark: True once it was taken out of its workflow. Both are class defaults,
# so that reading them never makes Python build an instance's attribute dictionary
# (reading `__dict__` does, and makes every later attribute of that object slower)
_spiff_workflow.Workflow._tiltak_sparse = None
_spiff_task.Task._tiltak_removed = False


def entered(task, state: int) -> None:
    """A task was created in, or set to, `state`."""
    note = task.workflow._tiltak_sparse
    if note is not None:
        if state & SPARSE and not task._tiltak_removed:
            note[task] = task
        else:
            note.pop(task, None)


def removed(task) -> None:
    """A task was taken out of its workflow (SpiffWorkflow may still set its state)."""
    task._tiltak_removed = True
    note = task.workflow._tiltak_sparse
    if note is not None:
        note.pop(task, None)


def forget(workflows) -> None:
    """Drop these workflows' notes (their tasks' states were set without telling us)."""
    for workflow in workflows:
        workflow._tiltak_sparse = None


def _note(workflow) -> dict:
    note = workflow._tiltak_sparse
    if note is None:
        note = workflow._tiltak_sparse = {
            task: task for task in workflow.tasks.values() if task._state & SPARSE}
    return note


STATE_OF = operator.attrgetter("_state")


def picked(tables: list[dict], read: operator.attrgetter, test, value) -> list:
    """The tasks of these task tables (or notes) for which `test(read(task), value)`
    holds, table by table in each table's order, picked out without a Python step per
    task (`test` and `read` being C functions such as `operator.and_` and an
    attrgetter)."""
    tasks = chain.from_iterable(map(dict.values, tables))
    read_off = map(read, chain.from_iterable(map(dict.values, tables)))
    return list(compress(tasks, map(test, read_off, repeat(value))))


def in_states(workflows: list, wanted: int) -> list:
    """The tasks of these workflows in one of the `wanted` states, which are among the
    states noted here; in no particular order."""
    # the notes hold a handful of tasks: a plain loop is quicker here than `picked`
    return [task for note in map(_note, workflows) if note for task in note
            if task._state & wanted]


_spiff_add_child = _spiff_task.Task._add_child


def _add_child(self, task_spec, state: int = TaskState.MAYBE):
    """SpiffWorkflow's `Task._add_child`, telling the note of a child made waiting or
    ready."""
    task = _spiff_add_child(self, task_spec, state)
    if state & SPARSE:
        entered(task, state)
    return task


_spiff_task.Task._add_child = _add_child

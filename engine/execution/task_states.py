"""The tasks of an instance that are waiting, ready, started or in error, kept as they change.

Each workflow keeps a note of its tasks in these states (docs/SPIFFWORKFLOW.md says why
and how SpiffWorkflow tells it); `in_states` answers from the note.
"""

from __future__ import annotations

import operator
from itertools import chain, compress, repeat

from SpiffWorkflow.util.task import TaskState

SPARSE = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.ERROR

# a workflow's note (`_tiltak_sparse`): {task: task} for its tasks in SPARSE, None until
# first asked for; a task's mark (`_tiltak_removed`): True once it was taken out of its
# workflow. Both default to their class's value (engine/execution/spiff_overrides.py).


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


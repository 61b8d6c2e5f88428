"""The engine's workflow classes: SpiffWorkflow's, with a faster walk over the task tree.

`walk` visits the tasks SpiffWorkflow's task iterators visit, in the same order, with a
stack for a work list (docs/DESIGN.md, "Task walks"); tests/test_walking.py compares them.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterator

from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState
from SpiffWorkflow.workflow import logger as workflow_logger

from . import task_states
from .task_states import SPARSE, STATE_OF, picked

MAX_DEPTH = 1000  # SpiffWorkflow's default
CHECKED = False  # tests set it: then every walk runs beside SpiffWorkflow's own


class WalkMismatch(AssertionError):
    """The fast walk and SpiffWorkflow's iterator disagreed (only when CHECKED)."""


def _beside(ours: Iterator, theirs: Iterator, what: str) -> Iterator:
    """Our walk's tasks, each compared with SpiffWorkflow's before it is handed on (both
    are lazy, so both see the tree as the caller changes it)."""
    for task in ours:
        other = next(theirs, None)
        if other is not task:
            raise WalkMismatch(f"{what}: walked to {task} where SpiffWorkflow has {other}")
        yield task
    other = next(theirs, None)
    if other is not None:
        raise WalkMismatch(f"{what}: the walk ended before SpiffWorkflow's {other}")


def _descent_floor(wanted: int) -> int:
    """The lowest state of a task the walk for `wanted` states descends below
    (SpiffWorkflow's rule: predicted tasks only lead to predicted ones, definite tasks
    only to definite or predicted ones)."""
    if wanted & TaskState.PREDICTED_MASK:
        return TaskState.MAYBE
    if wanted & TaskState.DEFINITE_MASK:
        return TaskState.FUTURE
    return TaskState.COMPLETED


def walk(first, task_filter: TaskFilter, *, into_subprocesses: bool,
         end_at_spec: str | None = None, max_depth: int = MAX_DEPTH) -> Iterator:
    """The tasks from `first` on that pass `task_filter`, depth first, in the order of
    SpiffWorkflow's `TaskIterator` (or `BpmnTaskIterator` with `into_subprocesses`).

    Lazy like those: a task's children are taken when the walk reaches it, so tasks
    added or removed meanwhile are seen (or not) exactly as SpiffWorkflow's walk sees
    them. Its `depth` is kept the same way, for `max_depth`.
    """
    wanted = task_filter.state
    min_state = _descent_floor(wanted)
    enter_finished = not wanted <= TaskState.FINISHED_MASK
    subprocesses = first.workflow.top_workflow.subprocesses if into_subprocesses else {}
    plain = type(task_filter) in (TaskFilter, BpmnTaskFilter) and \
        getattr(task_filter, "catches_event", None) is None and \
        getattr(task_filter, "lane", None) is None
    updated_ts, manual = task_filter.updated_ts, task_filter.manual
    spec_name, spec_class = task_filter.spec_name, task_filter.spec_class
    parents = _parents(first.workflow.top_workflow)
    stack = [first]  # the work list, next task last
    depth = 0
    while stack:
        task = stack.pop()
        subprocess = subprocesses.get(task.id) if subprocesses else None
        if (task._children or subprocess is not None) and \
                (task._state >= min_state or subprocess is not None) and \
                depth < max_depth and task.task_spec.name != end_at_spec:
            tasks = task.workflow.tasks
            stack.extend([tasks.get(child) for child in reversed(task._children)])
            if subprocess is not None and \
                    (task._state < TaskState.FINISHED_MASK or enter_finished):
                stack.append(subprocess.task_tree)
            depth += 1
        elif stack:  # a leaf: back up to the parent of the task visited next
            ancestor = _parent(stack[-1], parents)
            current = _parent(task, parents)
            while current is not None and current != ancestor:
                current = _parent(current, parents)
                depth -= 1
        if not plain:
            if task_filter.matches(task):
                yield task
        elif task._state & wanted and task.last_state_change >= updated_ts and \
                (manual is None or task.task_spec.manual == manual) and \
                (spec_name is None or task.task_spec.name == spec_name) and \
                (spec_class is None or isinstance(task.task_spec, spec_class)):
            yield task


FEW = 32  # more matching tasks than this: walking is as quick as sorting them
_FILTER_ARGS = frozenset(("state", "updated_ts", "manual", "spec_name", "spec_class"))


def found_in_order(workflow, task_filter: TaskFilter) -> list | None:
    """`list(walk(workflow.task_tree, task_filter, into_subprocesses=True))` where few
    tasks can match (ready or waiting ones, the tasks of one element): the matching
    tasks are picked out of the task tables and put in the walk's order by their paths
    from the root, so the tree is not walked at all. None where the walk is quicker.

    A task is in the walk's result only if the walk reaches it: every task above it
    must be one the walk descends below (by state, or as the caller of a subprocess it
    enters), and the tree small enough that SpiffWorkflow's depth limit cannot cut in.
    """
    wanted = task_filter.state
    spec_name = task_filter.spec_name
    if spec_name is None and (not wanted & SPARSE or wanted & ~SPARSE):
        return None
    top = workflow.top_workflow
    if spec_name is None:
        found = in_states(_within(workflow, top), wanted)
    else:
        found = [task for sub in _within(workflow, top) for task in sub.tasks.values()
                 if task._state & wanted and task.task_spec.name == spec_name]
    found = [task for task in found if task_filter.matches(task)]
    if not found:  # none to find: the walk finds none either
        return []
    if len(found) > FEW or \
            len(top.tasks) + sum(map(len, map(_TASKS_OF, top.subprocesses.values()))) >= MAX_DEPTH:
        return None
    min_state = _descent_floor(wanted)
    enter_finished = not wanted <= TaskState.FINISHED_MASK
    root = workflow.task_tree
    parents = _parents(top)
    placed = []
    for task in found:
        path = _path(task, root, top, parents, min_state, enter_finished)
        if path is not None:
            placed.append((path, task))
    placed.sort(key=lambda item: item[0])
    return [task for _, task in placed]


_TASKS_OF = operator.attrgetter("tasks")


def task_tables(workflow) -> list[dict]:
    """The task tables of the instance's workflows: its own and its subprocesses'."""
    return list(map(_TASKS_OF, instance_workflows(workflow)))


def in_states(workflows: list, wanted: int) -> list:
    """The tasks of these workflows (of one instance) in one of the `wanted` states, in
    no particular order (most often, after a step, there are none). Waiting, ready,
    started and failed tasks come from engine/execution/task_states.py's note, others from a
    look through the task tables."""
    def scanned() -> list:
        return picked(list(map(_TASKS_OF, workflows)), STATE_OF, operator.and_, wanted)

    if wanted & ~SPARSE:
        return scanned()
    found = task_states.in_states(workflows, wanted)
    if CHECKED:
        tables = scanned()
        if set(found) != set(tables) or len(found) != len(tables):
            raise WalkMismatch(f"tasks in state {wanted}: noted {found}, in the tables "
                               f"{tables}")
    return found


def instance_workflows(workflow) -> list:
    """The instance's workflows: its own and its subprocesses'."""
    top = workflow.top_workflow
    return _within(top, top)


def _within(workflow, top) -> list:
    """The workflow and the subprocesses it runs, at any depth: where its walk goes."""
    if workflow is top:
        return [top, *top.subprocesses.values()]
    subprocesses = list(top.subprocesses.values())
    known = getattr(workflow, "_tiltak_within", None)
    if known is not None and known[0] == subprocesses:
        return known[1]
    inside = [workflow]
    for sub in top.subprocesses.values():
        outer = sub
        while outer is not workflow and outer is not top and outer is not None:
            caller = _caller(outer, top)
            outer = caller.workflow if caller is not None else None
        if outer is workflow and sub is not workflow:
            inside.append(sub)
    workflow._tiltak_within = (subprocesses, inside)  # until a subprocess comes or goes
    return inside


def _parents(top) -> dict[int, tuple]:
    """id(task) -> (task, its parent task), id(subprocess) -> (subprocess, its caller):
    neither changes, and looking them up by id is slow (SpiffWorkflow's ids hash in
    Python)."""
    try:
        return top._tiltak_parents
    except AttributeError:
        top._tiltak_parents = {}
        return top._tiltak_parents


def _parent(task, parents: dict[int, tuple]):
    """`task.parent`, remembered."""
    known = parents.get(id(task))
    if known is not None and known[0] is task:
        return known[1]
    parent = task.workflow.tasks.get(task._parent) if task._parent is not None else None
    parents[id(task)] = (task, parent)
    return parent


def _path(task, root, top, parents: dict[int, tuple], min_state: int, enter_finished: bool
          ) -> list[int] | None:
    """Where the walk from `root` meets `task`: the child index taken at each level
    (-1 for entering a subprocess, which the walk does before the children); None if
    the walk never gets there. The walk descends below every task from `min_state` on,
    and always into a subprocess's caller."""
    subprocesses = top.subprocesses
    path = []
    node = task
    while node is not root:
        parent = _parent(node, parents)
        if parent is None:  # the first task of a subprocess: go on from its caller
            workflow = node.workflow
            if workflow is top or workflow.task_tree is not node:
                return None
            caller = _caller(workflow, top)
            if caller is None or subprocesses.get(caller.id) is not workflow or \
                    not (caller._state < TaskState.FINISHED_MASK or enter_finished):
                return None
            path.append(-1)
            node = caller
            continue
        if parent._state < min_state and parent.id not in subprocesses:
            return None
        try:
            path.append(parent._children.index(node.id))
        except ValueError:
            return None
        node = parent
    path.reverse()
    return path


def _caller(subprocess, top):
    """The task that runs a subprocess (remembered: it does not change)."""
    parents = _parents(top)
    known = parents.get(id(subprocess))
    if known is not None and known[0] is subprocess:
        return known[1]
    task_id = subprocess.parent_task_id
    found = top.tasks.get(task_id)
    if found is None:
        for sub in top.subprocesses.values():
            found = sub.tasks.get(task_id)
            if found is not None:
                break
    if found is not None:
        parents[id(subprocess)] = (subprocess, found)
    return found


class _FastWalk:
    """What the engine's top workflow and its subprocesses share."""

    def get_tasks(self, first_task=None, **kwargs) -> list:
        if first_task is None and kwargs.keys() <= _FILTER_ARGS:
            found = found_in_order(self, TaskFilter(**kwargs))
            if found is not None:
                if CHECKED:
                    theirs = list(BpmnTaskIterator(self.task_tree, **kwargs))
                    if found != theirs:
                        raise WalkMismatch(f"get_tasks({kwargs}): {found} != {theirs}")
                return found
        return list(self.get_tasks_iterator(first_task, **kwargs))

    def get_tasks_iterator(self, first_task=None, end_at_spec=None, max_depth=MAX_DEPTH,
                           depth_first=True, skip_subprocesses=False, task_filter=None,
                           **kwargs):
        if not depth_first:
            return super().get_tasks_iterator(
                first_task, end_at_spec=end_at_spec, max_depth=max_depth, depth_first=False,
                skip_subprocesses=skip_subprocesses, task_filter=task_filter, **kwargs)
        first = first_task or self.task_tree
        ours = walk(first, task_filter or BpmnTaskFilter(**kwargs),
                    into_subprocesses=not skip_subprocesses, end_at_spec=end_at_spec,
                    max_depth=max_depth)
        if not CHECKED:
            return ours
        return _beside(ours, BpmnTaskIterator(
            first, end_at_spec=end_at_spec, max_depth=max_depth,
            skip_subprocesses=skip_subprocesses, task_filter=task_filter, **kwargs),
            f"get_tasks_iterator({kwargs})")

    def collect_log_extras(self, dct: dict | None = None) -> dict:
        # only ever the details of a record for SpiffWorkflow's workflow logger, which
        # lists every task of the workflow (another whole walk) when it has no level
        if workflow_logger.isEnabledFor(logging.INFO):
            return super().collect_log_extras(dct)
        return dct or {}

    def _task_removed_notify(self, task) -> None:
        task_states.removed(task)
        super()._task_removed_notify(task)

    def update_waiting_tasks(self) -> None:
        # SpiffWorkflow walks with its plain iterator here, which stays in this workflow;
        # with no task of this workflow waiting, it finds none and changes nothing
        if not in_states([self], TaskState.WAITING):
            return
        waiting = walk(self.task_tree, TaskFilter(state=TaskState.WAITING),
                       into_subprocesses=False)
        if CHECKED:
            waiting = _beside(waiting, TaskIterator(self.task_tree, state=TaskState.WAITING),
                              "update_waiting_tasks")
        for task in waiting:
            task.task_spec._update(task)


class EngineSubWorkflow(_FastWalk, BpmnSubWorkflow):
    """A called process or embedded subprocess, as the engine runs it."""


class EngineWorkflow(_FastWalk, BpmnWorkflow):
    """A process instance, as the engine runs it."""

    def __init__(self, spec, subprocess_specs=None, script_engine=None, *,
                 deserializing: bool = False, **kwargs):
        # the tasks that raised a notification (engine/model/specs.py), noted from the start;
        # None for a restored workflow, whose tables tell instead
        self._tiltak_notices: list | None = None if deserializing else []
        super().__init__(spec, subprocess_specs, script_engine,
                         deserializing=deserializing, **kwargs)

    def _do_engine_steps(self, will_complete_task=None, did_complete_task=None):
        # SpiffWorkflow's own round, asking only for the tasks it then runs (its list of
        # every ready task, manual ones skipped, has the same tasks in the same order)
        def run_ready(workflow) -> int:
            count = 0
            for task in workflow.get_tasks(state=TaskState.READY, manual=False):
                if will_complete_task is not None:
                    will_complete_task(task)
                task.run()
                count += 1
                if did_complete_task is not None:
                    did_complete_task(task)
            return count

        active = self.get_active_subprocesses()
        for subprocess in sorted(active, key=lambda sub: sub.depth, reverse=True):
            while run_ready(subprocess):
                pass
            if subprocess.parent_task_id is not None:
                caller = self.get_task_from_id(subprocess.parent_task_id)
                caller.task_spec._update(caller)
        count = run_ready(self)
        return count > 0 or len(self.get_active_subprocesses()) > len(active)

    def create_subprocess(self, my_task, spec_name):
        subprocess = EngineSubWorkflow(self.subprocess_specs[spec_name],
                                       parent_task_id=my_task.id, top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess


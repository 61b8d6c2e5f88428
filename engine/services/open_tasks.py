"""Open human tasks as the services read them, and who may work on one: the task rows in
due order, the READY task a completion runs, and the checks before claiming, completing
or adding to a task."""

from __future__ import annotations

import collections
import uuid
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..core import Service
from ..errors import NotFound, PermissionDenied, TaskNotOpen
from ..models import HistoryEvent, HumanTask
from ..store.prepared import Prepared


class TaskAccess(Service):
    """What the services that work on a task check before they do."""

    def _open_task(self, session: Session, task_id: str) -> HumanTask:
        task = session.get(HumanTask, task_id)
        if task is not None:
            return task
        done = session.scalars(select(HistoryEvent).where(
            HistoryEvent.task_id == task_id, HistoryEvent.type == "complete")).first()
        if done is not None:
            raise TaskNotOpen(f"task {task_id} was already completed by {done.actor} "
                              f"at {done.at.isoformat()}").coded(
                "task_done_by", who=done.actor, at=done.at)
        raise NotFound(f"no open task '{task_id}'").coded("no_open_task", task=task_id)

    def _authorise_work(self, session: Session, task: HumanTask, actor: str) -> None:
        """Completing a task or adding to it: the actor may work on it, and nobody else
        has claimed it."""
        self._authorise(session, task, actor)
        if task.assignee and task.assignee != actor:
            raise PermissionDenied(f"task '{task.name}' is assigned to {task.assignee}, "
                                   f"not to {actor}").coded(
                "task_assigned_to", task=task.name, who=task.assignee)

    def _authorise(self, session: Session, task: HumanTask, actor: str) -> None:
        groups = self.core._groups(actor, operator=False)
        self.core.roles.check_writer(actor, groups)
        if task.assignee == actor or actor in task.candidate_users or \
                groups & set(task.candidate_groups):
            return
        raise PermissionDenied(f"user '{actor}' may not work on task '{task.name}' "
                               f"({task.element_id})").coded(
            "may_not_work_on", task=task.name, element=task.element_id)


TASKS = HumanTask.__table__
DUE_ORDER = (TASKS.c.due_at.is_(None), TASKS.c.due_at, TASKS.c.created_at, TASKS.c.id)
INSTANCE_TASKS = Prepared(select(TASKS).where(
    TASKS.c.instance_id == bindparam("instance_id")).order_by(*DUE_ORDER))
TaskRow = collections.namedtuple("TaskRow", [c.key for c in TASKS.columns])


def ready_task(workflow, task_id: str):
    """The READY manual task with this id; TaskNotOpen when it is gone or done."""
    spiff_task = workflow.get_task_from_id(uuid.UUID(task_id))
    if spiff_task is None or spiff_task.state != TaskState.READY \
            or not spiff_task.task_spec.manual:
        raise TaskNotOpen(f"task {task_id} is no longer open").coded("task_gone")
    return spiff_task


def task_summary(task: HumanTask) -> dict[str, Any]:
    return {"id": task.id, "element_id": task.element_id, "name": task.name,
            "assignee": task.assignee, "candidate_groups": task.candidate_groups,
            "due": task.due_at.isoformat() if task.due_at else None}

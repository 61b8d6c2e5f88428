"""Human tasks: the worklist, claim, unclaim, complete, and a task's form context."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import limits
from ..core import command
from ..errors import (
    Conflict,
    PermissionDenied,
    TaskNotOpen,
)
from ..execution.determinism import deterministic
from ..identity.users import groups_of
from ..models import (
    HumanTask,
    ProcessInstance,
)
from ..queries import carry_over, worklist
from ..queries.worklist import WorklistPage, WorklistQuery, visible_to
from ..store import reads, visibility
from ..store.prepared import query_rows
from .open_tasks import DUE_ORDER, INSTANCE_TASKS, TASKS, TaskAccess, TaskRow, ready_task
from .suspension import SuspensionService

refuse_if_suspended = SuspensionService.refuse_if_suspended


class TaskService(TaskAccess):
    @command
    def claim(self, task_id: str, *, actor: str) -> HumanTask:
        with self.core.db.transaction() as session:
            task = self._open_task(session, task_id)
            self._authorise(session, task, actor)
            if task.assignee and task.assignee != actor:
                raise PermissionDenied(
                    f"task '{task.name}' is already claimed by {task.assignee}").coded(
                    "task_claimed_by", who=task.assignee, task=task.name)
            return self._hand_over(session, task, actor, actor, "claim")

    @command
    def unclaim(self, task_id: str, *, actor: str) -> HumanTask:
        with self.core.db.transaction() as session:
            task = self._open_task(session, task_id)
            if task.assignee != actor:
                raise PermissionDenied(f"task '{task.name}' is not claimed by {actor}").coded(
                    "task_not_yours", task=task.name)
            if not task.candidate_groups and not task.candidate_users:
                raise PermissionDenied(
                    f"task '{task.name}' was assigned to {actor} by the process and has no "
                    "group to give it back to; a process owner can reassign it").coded(
                    "task_assigned", task=task.name)
            return self._hand_over(session, task, None, actor, "unclaim")

    def _hand_over(self, session: Session, task: HumanTask, assignee: str | None,
                   actor: str, event_type: str) -> HumanTask:
        """The task to `assignee` (None: back to its candidates), recorded as one event."""
        row = self.core._lock_instance(session, task.instance_id)
        refuse_if_suspended(row, f"{event_type}ing a task")
        task.assignee = assignee
        session.flush()
        visibility.reassign(session.connection(), task)
        self.core._record(session, row, event_type, actor, {}, element_id=task.element_id,
                          task_id=task.id)
        return task

    @command
    def complete(self, task_id: str, *, actor: str,
                 data: dict[str, Any] | None = None) -> ProcessInstance:
        limits.check_data(data or {})
        with self.core.db.transaction() as session:
            found = reads.task_with_instance(session.connection(), task_id,
                                             restore=not self.core.keeps_task(task_id))
            if found is None:
                self._open_task(session, task_id)  # says why it is not open
                raise Conflict("the task opened meanwhile; try again").coded("changed")
            task = TaskRow(*found.task)
            refuse_if_suspended(found.row, "completing a task")
            self._authorise_work(session, task, actor)
            loaded = self.core._load(session, task.instance_id, found=found)
            with deterministic(loaded.ids, self.core.clock):
                spiff_task = ready_task(loaded.workflow, task.id)
                definition = self.core._definition(session, task.definition_id)
                values = self.core._validate(session, definition, task.form, dict(data or {}),
                                             {**self._carried(session, task, spiff_task),
                                              **spiff_task.data})
                self.engine.runtime.complete_in(loaded.workflow, task.id, values)
            self.core._save(session, loaded, "complete", actor, {"values": values}, task=task)
            self.core.hooks.completed(session, loaded.row, spiff_task, values,
                                      self.core.clock.now())
            return loaded.row

    def find(self, *, actor: str | None = None, instance_id: str | None = None
             ) -> list[HumanTask]:
        """Open tasks (of an instance, those `actor` may work on), the earliest due first;
        each as read, with a HumanTask's attributes."""
        if actor is None and instance_id is not None:
            with self.core.db.reading(one_statement=True) as session:
                found = query_rows(session.connection(), INSTANCE_TASKS,
                                   {"instance_id": instance_id})
                return [TaskRow(*r) for r in found]
        with self.core.db.reading() as session:
            query = select(TASKS)
            if instance_id is not None:
                query = query.where(TASKS.c.instance_id == instance_id)
            if actor is not None:
                query = query.where(visible_to(actor, groups_of(session, actor)))
            return [TaskRow(*r) for r in session.execute(query.order_by(*DUE_ORDER))]

    def worklist(self, query: WorklistQuery) -> WorklistPage:
        limits.check_page(query.page)
        with self.core.db.reading() as session:
            groups = query.groups if query.groups is not None else \
                groups_of(session, query.actor)
            return worklist.worklist(session, query, groups, self.core.clock.now())

    def open_task(self, task_id: str, *, actor: str) -> HumanTask:
        """An open task the actor may work on; PermissionDenied or TaskNotOpen otherwise."""
        with self.core.db.reading() as session:
            task = self._open_task(session, task_id)
            self._authorise(session, task, actor)
            return task

    def task_context(self, task: HumanTask) -> dict[str, Any]:
        """The data a task's form is filled in against (for rendering and defaults)."""
        with self.core.db.reading() as session:
            loaded = self.core._load(session, task.instance_id, lock=False)
            if loaded.workflow is None:
                raise TaskNotOpen(f"task {task.id} is no longer open: its case has finished"
                                  ).coded("case_finished")
            spiff_task = loaded.workflow.get_task_from_id(uuid.UUID(task.id))
            data = dict(spiff_task.data) if spiff_task is not None else {}
            return {**self.core.context_variables(), **self._carried(session, task, spiff_task),
                    **data}

    def _carried(self, session: Session, task: HumanTask, spiff_task) -> dict[str, Any]:
        """What the task is shown from the last finished round (engine/queries/carry_over.py)."""
        ext = getattr(getattr(spiff_task, "task_spec", None), "extensions", None) or {}
        return carry_over.values_for(session, ext.get("properties"),
                                     process_key=task.process_key, clinic=task.clinic,
                                     before=self.core.clock.now())

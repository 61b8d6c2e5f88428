"""A case's life: start, messages, cancel, timers and incidents, attachments."""

from __future__ import annotations

import functools
import time
from collections.abc import Collection
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import attachments, definitions, limits
from ..core import (
    CONTEXT_PROPERTY,
    OPERATOR,
    Loaded,
    command,
    log,
)
from ..database import AFTER_COMMIT
from ..errors import (
    ExecutionError,
    NotFound,
    PermissionDenied,
    Suspended,
    TaskNotOpen,
)
from ..execution import projection, timer_starts
from ..execution.determinism import IdSource, deterministic
from ..execution.walking import EngineWorkflow
from ..identity import users
from ..model import multi_instance
from ..model.specs import copy_of
from ..models import (
    Attachment,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    TimerStart,
)
from ..queries import search
from ..store import instances
from ..store import projections as store_projections
from ..store.instances import InstanceRow, StaleDefinition
from .open_tasks import TaskAccess, ready_task
from .suspension import DEFINITIONS, SuspensionService


class InstanceService(TaskAccess):
    @command
    def start(self, process_key: str, *, actor: str, data: dict[str, Any] | None = None,
              business_key: str | None = None, tenant: str = "") -> ProcessInstance:
        submitted = dict(data or {})
        limits.check_data(submitted)
        limits.check_business_key(business_key)
        try:
            return self._start(process_key, actor, submitted, business_key, tenant)
        except StaleDefinition:  # a newer version was deployed meanwhile, or it is suspended
            self.core._latest.pop((process_key, tenant), None)
            return self._start(process_key, actor, submitted, business_key, tenant,
                               read_suspension=True)

    def _start(self, process_key: str, actor: str, submitted: dict[str, Any],
               business_key: str | None, tenant: str, *,
               read_suspension: bool = False) -> ProcessInstance:
        with self.core.db.transaction() as session:
            groups = self.core._groups(actor)
            self.core.roles.check_writer(actor, groups)
            latest = (process_key, tenant)
            if latest not in self.core._latest:
                self.core._latest[latest] = definitions.definition_id_to_start(
                    session, process_key, tenant)
            definition = self.core._definition(session, self.core._latest[latest])
            if not self.core.roles.may_start(actor, groups, definition.starter_groups):
                raise PermissionDenied(
                    f"user '{actor}' may not start '{process_key}' (allowed groups: "
                    f"{', '.join(definition.starter_groups) or 'none'})").coded(
                    "may_not_start", name=definition.name or process_key,
                    groups=list(definition.starter_groups))
            values = self.core._validate(session, definition, definition.start_form, submitted, {})
            values, reporter, kept = self.core.hooks.reporter(values, actor)
            row = self._create(session, definition, reporter, values, business_key,
                               started_as=latest, read_suspension=read_suspension)
            self.core.hooks.started(session, row, kept, actor)
            return row

    def _create(self, session: Session, definition: ProcessDefinition, actor: str,
                values: dict[str, Any], business_key: str | None, *,
                by_timer: bool = False, started_as: tuple[str, str] | None = None,
                read_suspension: bool = False) -> ProcessInstance:
        """A new instance. Started by key (`started_as`), its row is written only if the
        definition is still the latest and not suspended (store/instances.py); otherwise,
        or when asked, suspension is read first, to be refused in words."""
        if (started_as is None or read_suspension) and session.connection().scalar(
                select(DEFINITIONS.c.suspended).where(DEFINITIONS.c.id == definition.id)):
            raise Suspended(f"process '{definition.key}' version {definition.version} is "
                            "suspended: it starts no new cases until it is activated").coded(
                "definition_suspended", name=definition.name or definition.key,
                version=definition.version)
        bindings = definitions.bind_called(session, definition)
        values = {**values, **self._context_for(definition)}
        initiator = (definition.start_form or {}).get("initiator")
        if initiator:  # camunda:initiator: who started it; nobody when a timer did
            values = {**values, initiator: None if by_timer else actor}
        instance_id = self.core.new_id()
        now = self.core.clock.now()
        row = InstanceRow(id=instance_id, definition_id=definition.id,
                          process_key=definition.key, business_key=business_key,
                          status="running", state="", bindings=bindings, id_counter=0,
                          started_at=now, started_by=actor, started_as=started_as)
        spec, subprocess_specs, owner = self.core._specs_for(session, definition, bindings)
        ids = IdSource(instance_id, 0)
        with deterministic(ids, self.core.clock):
            workflow = self.begin(spec, subprocess_specs, values, by_timer=by_timer)
        loaded = Loaded(row, workflow, owner, ids, store_projections.NOTHING)
        self.core._save(session, loaded, "start", actor, {
            "process_key": definition.key, "version": definition.version,
            "definition_id": definition.id, "bindings": bindings,
            "business_key": business_key, "data": values, "by_timer": by_timer or None})
        search.record_clinics(session, instance_id, values)
        return row

    @command
    def begin(self, spec, subprocess_specs: dict[str, Any], values: dict[str, Any], *,
              by_timer: bool = False):
        """A new workflow run up to its first wait (also used by replay)."""
        workflow = EngineWorkflow(spec, subprocess_specs, script_engine=self.core.script_engine)
        start = workflow.get_next_task(state=TaskState.READY, spec_name="Start") or \
            workflow.task_tree
        start.data.update(values)
        if by_timer:
            timer_starts.fired_once(workflow, self.core.clock.now())
        self.core._advance(workflow)
        if by_timer:  # the timer that started it has fired: pass its start event
            for task in projection.tasks_in(workflow, TaskState.WAITING):
                if isinstance(task.task_spec, StartEvent):
                    task._ready()
                    self.core._run(task)
                    if not task.children:  # a cycle adds its path only when it fires
                        for output in task.task_spec.outputs:
                            child = task._add_child(output, TaskState.FUTURE)
                            child.task_spec._update(child)
            self.core._advance(workflow)
        return workflow

    def complete_in(self, workflow, task_id: str, values: dict[str, Any]) -> None:
        """Complete one READY manual task of a loaded workflow and run on (also replay)."""
        spiff_task = ready_task(workflow, task_id)
        spiff_task.data.update(copy_of(values))
        multi_instance.note_written(spiff_task, values)
        self.core._run(spiff_task)
        self.core._advance(workflow)

    def message_in(self, workflow, name: str, data: dict[str, Any] | None) -> None:
        try:
            workflow.send_event(BpmnEvent(MessageEventDefinition(name),
                                          {"payload": dict(data or {}), "result_var": "melding"}))
        except WorkflowException as err:
            raise NotFound(str(err)).coded("message_not_caught", message=name,
                                           detail=str(err)) from None
        self.core._advance(workflow)

    def fire_timer_start(self, schedule_id: int) -> bool:
        """Start the one instance a due timer start event asks for; False if not due or
        another worker has it."""
        now, began = self.core.clock.now(), time.perf_counter()
        with self.core.db.transaction() as session:
            schedule = session.scalars(self.core.db.lock_free(select(TimerStart).where(
                TimerStart.id == schedule_id, TimerStart.next_at <= now))).first()
            if schedule is None:
                return False
            definition = self.core._definition(session, schedule.definition_id)
            if session.connection().scalar(select(DEFINITIONS.c.suspended).where(
                    DEFINITIONS.c.id == definition.id)):
                return False  # held while its definition is suspended, as Camunda's job
            self._create(session, definition, OPERATOR, {}, None, by_timer=True)
            timer_starts.move_on(session, schedule)
        self.core.observe("fire_timer_start", time.perf_counter() - began, "ok")
        return True

    @command
    def message(self, name: str, *, actor: str = OPERATOR, business_key: str | None = None,
                data: dict[str, Any] | None = None,
                process_keys: Collection[str] | None = None) -> ProcessInstance:
        """Deliver a message to the (first) instance waiting for it; `process_keys`, when
        given, limits the instances that may receive it to cases of those processes."""
        limits.check_data(data or {})
        limits.check_business_key(business_key)
        with self.core.db.transaction() as session:
            query = select(MessageSubscription).where(MessageSubscription.message_name == name)
            if business_key is not None:
                query = query.where(MessageSubscription.business_key == business_key)
            if process_keys is not None:
                query = query.join(ProcessInstance,
                                   ProcessInstance.id == MessageSubscription.instance_id) \
                    .where(ProcessInstance.process_key.in_(sorted(process_keys)))
            subscription = session.scalars(query.order_by(MessageSubscription.id).limit(1)).first()
            if subscription is None:
                where = f" with business key '{business_key}'" if business_key else ""
                raise NotFound(f"no instance{where} is waiting for message '{name}'").coded(
                    "no_case_waits", message=name, business_key=business_key)
            loaded = self.core._load(session, subscription.instance_id)
            SuspensionService.refuse_if_suspended(loaded.row, f"message '{name}'")
            with deterministic(loaded.ids, self.core.clock):
                self.message_in(loaded.workflow, name, data)
            self.core._save(session, loaded, "message", actor, {"name": name, "data": data or {}},
                            element_id=subscription.element_id)
            return loaded.row

    @command
    def cancel(self, instance_id: str, *, actor: str, reason: str = "") -> ProcessInstance:
        with self.core.db.transaction() as session:
            loaded = self.core._load(session, instance_id)
            # the starter may be no user (an anonymous reporter): no groups, then
            groups = users.known_groups(session, actor)
            self.core.roles.check_writer(actor, groups)
            if not self.core.roles.may_cancel(actor, groups, loaded.row.started_by):
                raise PermissionDenied(f"user '{actor}' may not cancel this case: only the "
                                       "person who started it and process owners may"
                                       ).coded("may_not_cancel", case=instance_id)
            if loaded.row.status not in ("running", "error"):
                raise TaskNotOpen(f"instance {instance_id} is already {loaded.row.status}"
                                  ).coded("case_ended", case=instance_id,
                                          status=loaded.row.status)
            with deterministic(loaded.ids, self.core.clock):
                loaded.workflow.cancel()
            loaded.row.status = "cancelled"
            self.core._save(session, loaded, "cancel", actor, {"reason": reason})
            return loaded.row

    @command
    def fire_timers(self, instance_id: str) -> bool:
        """Fire the instance's due timers, if no one else is doing it; one transaction.

        The row is locked (SKIP LOCKED on PostgreSQL, the write lock on SQLite) and the due
        time re-read under the lock, so each timer fires exactly once however many workers
        sweep. A failure becomes an incident on the instance instead of a silent retry.
        """
        now = self.core.clock.now()
        try:
            with self.core.db.transaction() as session:
                row = instances.load(session.connection(), instance_id, lock="skip", where=(
                    instances.TABLE.c.status == "running",
                    instances.TABLE.c.next_timer_at < now))  # as instances.due
                if row is None:
                    return False
                self._fire(session, row)
                return True
        except ExecutionError as err:
            self._incident(instance_id, err)
            return False

    def fire_due_timers(self, limit: int = 100, budget: float = 0.25) -> tuple[int, int]:
        """Fire the timers of due instances, many in one transaction: up to `limit` rows
        are taken (locked, others' skipped, as in `fire_timers`) and fired one after
        another until `budget` seconds have passed; the rest stay due for the next call.
        An instance whose process fails becomes an incident and the others are kept (the
        failure comes before anything of it is written); should the batch itself fail,
        its instances are fired again one by one. Returns (instances taken, fired)."""
        failed: list[tuple[str, ExecutionError]] = []
        fired = 0
        taken: list[str] = []
        try:
            with self.core.db.transaction() as session:
                rows = instances.due(session.connection(), self.core.clock.now(), limit)
                taken = [row.id for row in rows]
                deadline = time.monotonic() + budget
                for row in rows:
                    began = time.perf_counter()
                    try:
                        self._fire(session, row)
                        fired += 1
                        outcome = "ok"
                    except ExecutionError as err:
                        failed.append((row.id, err))
                        outcome = type(err).__name__
                    # one command per instance, as `fire_timers`; told once the batch commits
                    session.info.setdefault(AFTER_COMMIT, []).append(functools.partial(
                        self.core.observe, "fire_timers", time.perf_counter() - began, outcome))
                    if time.monotonic() > deadline:
                        break
        except Exception:
            if not taken:
                raise
            log.exception("a batch of %d timers failed; firing them one by one", len(taken))
            return len(taken), self._fire_one_by_one(taken)
        for instance_id, err in failed:
            self._incident(instance_id, err)
        return len(taken), fired

    def _fire_one_by_one(self, instance_ids: list[str]) -> int:
        fired = 0
        for instance_id in instance_ids:
            try:
                fired += self.fire_timers(instance_id)
            except Exception:  # kept due and logged; the others still fire
                log.exception("firing the timers of instance %s failed", instance_id)
        return fired

    def _fire(self, session: Session, row: InstanceRow) -> None:
        due = row.next_timer_at
        loaded = self.core._load_row(session, row)
        with deterministic(loaded.ids, self.core.clock):
            self.core._advance(loaded.workflow)
        self.core._save(session, loaded, "timer", OPERATOR,
                        {"due": due.isoformat() if due else None})

    def _incident(self, instance_id: str, err: ExecutionError) -> None:
        with self.core.db.transaction() as session:
            row = self.core._lock_instance(session, instance_id)
            if row.status != "running":
                return
            row.status, row.error, row.next_timer_at = "error", str(err), None
            self.core._record(session, row, "incident", OPERATOR,
                              {"error": str(err), "element_id": err.element},
                              element_id=err.element)

    @command
    def retry(self, instance_id: str, *, actor: str) -> ProcessInstance:
        """Put a failed instance back: its timers are due again at once."""
        with self.core.db.transaction() as session:
            groups = self.core._groups(actor)
            if not self.core.roles.may_retry(actor, groups):
                raise PermissionDenied(f"user '{actor}' may not retry an incident: process "
                                       "owners may").coded("may_not_retry", case=instance_id)
            row = self.core._lock_instance(session, instance_id)
            if row.status != "error":
                raise TaskNotOpen(f"instance {instance_id} has no incident to retry").coded(
                    "no_incident", case=instance_id, status=row.status)
            loaded = self.core._load_row(session, row)
            row.status, row.error = "running", None
            row.next_timer_at = projection.next_timer(loaded.workflow) or self.core.clock.now()
            self.core._record(session, row, "retry", actor, {})
            return row

    @command
    def attach(self, instance_id: str, *, actor: str, filename: str, content: bytes,
               task_id: str | None = None, field: str | None = None) -> Attachment:
        with self.core.db.transaction() as session:
            row = self.core._lock_instance(session, instance_id)
            task = self._open_task(session, task_id) if task_id else None
            if task is not None:
                if task.instance_id != instance_id:
                    raise NotFound(f"task {task_id} does not belong to instance {instance_id}"
                                   ).coded("task_not_in_case", task=task.name,
                                           case=instance_id)
                self._authorise_work(session, task, actor)
            elif actor != row.started_by:
                raise PermissionDenied(f"user '{actor}' may not add documents to this case"
                                       ).coded("may_not_attach", case=instance_id)
            stored = attachments.store(
                session, instance_id=instance_id, filename=filename, content=content,
                actor=actor, at=self.core.clock.now(), task_id=task_id, field=field,
                element_id=task.element_id if task else None)
            self.core._record(session, row, "attach", actor, {
                "attachment_id": stored.id, "filename": stored.filename, "size": stored.size,
                "sha256": stored.sha256, "field": field},
                element_id=stored.element_id, task_id=task_id)
            return stored

    def _context_for(self, definition: ProcessDefinition) -> dict[str, Any]:
        """The context variables the start event asks for (its extension property
        `kontekst`, names separated by spaces), copied into the start data so that the
        history records them and a replay needs no organisation file."""
        properties = (definition.start_form or {}).get("properties") or {}
        names = (properties.get(CONTEXT_PROPERTY) or "").split()
        if not names:
            return {}
        known = self.core.context_variables()
        missing = [name for name in names if name not in known]
        if missing:
            raise ExecutionError(
                f"the start event asks for context variables this installation does not "
                f"provide ({CONTEXT_PROPERTY}): {', '.join(missing)}",
                element=definition.key).coded("context_missing", process=definition.key,
                                              names=missing, property=CONTEXT_PROPERTY)
        return {name: copy_of(known[name]) for name in names}

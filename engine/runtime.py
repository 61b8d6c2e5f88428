"""The engine's commands: start, claim, unclaim, complete, message, cancel, and reads.

Every command runs in one transaction: the workflow state, the task projection, the
next timer, the subscriptions and the history event commit together or not at all.
The command line, the web UI and the scheduler all call these same functions.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import (
    attachments,
    carry_over,
    definitions,
    facts,
    history,
    limits,
    multi_instance,
    notifications,
    permissions,
    projection,
    search,
    timer_starts,
    users,
    worklist,
)
from .clock import Clock, CommandClock, SystemClock
from .database import AFTER_COMMIT, Database
from .determinism import IdSource, deterministic
from .errors import (
    Conflict,
    ExecutionError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TaskNotOpen,
)
from .hooks import CaseHooks
from .live import LiveWorkflows
from .models import (
    AccessLog,
    Attachment,
    HistoryEvent,
    HumanTask,
    MessageSubscription,
    Notification,
    ProcessDefinition,
    ProcessInstance,
    TimerStart,
    User,
)
from .scripting import CamundaScriptEngine
from .serialization import format_of, plain, restore_state
from .specs import copy_of
from .store import instances, state_format, visibility
from .store import projections as store_projections
from .store.instances import InstanceRow, StaleDefinition
from .store.prepared import Prepared, Writes, query_rows
from .users import authenticate, groups_of
from .walking import EngineWorkflow
from .worklist import WorklistPage, WorklistQuery, visible_to

MAX_STEP_ROUNDS = 1000
USER_SECONDS = 5.0  # how long a signed-in user and their groups are kept between requests
CONTEXT_PROPERTY = "kontekst"  # start event property: context variables a case starts with
log = logging.getLogger("tiltak.engine")
OPERATOR = permissions.OPERATOR


class FormValidator(Protocol):
    """Validates submitted values against a task's (or start event's) form.

    `form` holds the Camunda form attributes (formKey/formRef/formData...), `lookup`
    finds a deployed Camunda Form document by id, `context` is the current data. Returns
    typed values; raises InvalidInput listing every bad field.
    """

    def __call__(self, form: dict[str, Any], submitted: dict[str, Any], context: dict[str, Any],
                 lookup: Callable[[str], dict | None]) -> dict[str, Any]: ...


def refuse_unvalidated(form, submitted, context, lookup):
    if submitted:
        raise InvalidInput("no form validator is configured; values cannot be accepted")
    return {}


@dataclass
class Loaded:
    row: ProcessInstance
    workflow: Any
    owner: dict[int, int]
    ids: IdSource
    # the projections as the last command wrote them, when known without reading them
    projected: store_projections.Projected | None = None


def command(method):
    """One command: its own frozen moment (see CommandClock)."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.clock.frozen():
            return method(self, *args, **kwargs)
    return run


class Engine:
    def __init__(self, database: Database, *, clock: Clock | None = None,
                 validator: FormValidator = refuse_unvalidated,
                 context_variables: Callable[[], dict[str, Any]] | None = None,
                 new_id: Callable[[], str] | None = None,
                 roles: permissions.Roles | None = None, hooks: CaseHooks | None = None):
        self.db = database
        self.roles = roles or permissions.Roles()
        self.hooks = hooks or CaseHooks()
        self.clock = CommandClock(clock or SystemClock())
        self.validator = validator
        self.context_variables = context_variables or dict
        self.new_id = new_id or (lambda: str(uuid.uuid4()))
        self.specs = definitions.SpecCache()
        self.script_engine = CamundaScriptEngine(self.clock)
        self._assembled: dict[tuple, tuple[dict[str, Any], dict[int, int]]] = {}
        self._definitions: dict[int, ProcessDefinition] = {}
        # the latest definition of (key, tenant) as last seen: a start on it checks, as
        # it inserts the instance, that it still is (another process may have deployed)
        self._latest: dict[tuple[str, str], int] = {}
        self._users: dict[str, tuple[float, User | None, frozenset[str]]] = {}
        self._live = LiveWorkflows()

    # ----------------------------------------------------------------- deployment
    @command
    def deploy(self, files: dict[str, bytes], *, actor: str = OPERATOR, tenant: str = "",
               name: str = "") -> list[definitions.Deployed]:
        with self.db.transaction() as session:
            results = definitions.deploy(session, files, actor=actor, at=self.clock.now(),
                                         tenant=tenant, name=name)
            for result in results:
                if result.created and result.kind == "process":
                    timer_starts.schedule(session, session.get(ProcessDefinition,
                                                               result.definition_id), self.clock)
        self._latest.clear()
        return results

    # ----------------------------------------------------------------- commands
    @command
    def start(self, process_key: str, *, actor: str, data: dict[str, Any] | None = None,
              business_key: str | None = None, tenant: str = "") -> ProcessInstance:
        submitted = dict(data or {})
        limits.check_data(submitted)
        limits.check_business_key(business_key)
        try:
            return self._start(process_key, actor, submitted, business_key, tenant)
        except StaleDefinition:  # another process deployed a newer version meanwhile
            self._latest.pop((process_key, tenant), None)
            return self._start(process_key, actor, submitted, business_key, tenant)

    def _start(self, process_key: str, actor: str, submitted: dict[str, Any],
               business_key: str | None, tenant: str) -> ProcessInstance:
        with self.db.transaction() as session:
            groups = self._groups(actor)
            self.roles.check_writer(actor, groups)
            latest = (process_key, tenant)
            if latest not in self._latest:
                self._latest[latest] = definitions.definition_id_to_start(
                    session, process_key, tenant)
            definition = self._definition(session, self._latest[latest])
            if not self.roles.may_start(actor, groups, definition.starter_groups):
                raise PermissionDenied(
                    f"user '{actor}' may not start '{process_key}' (allowed groups: "
                    f"{', '.join(definition.starter_groups) or 'none'})")
            values = self._validate(session, definition, definition.start_form, submitted, {})
            values, reporter, kept = self.hooks.reporter(values, actor)
            row = self._create(session, definition, reporter, values, business_key,
                               started_as=latest)
            self.hooks.started(session, row, kept, actor)
            return row

    def _create(self, session: Session, definition: ProcessDefinition, actor: str,
                values: dict[str, Any], business_key: str | None, *,
                by_timer: bool = False, started_as: tuple[str, str] | None = None
                ) -> ProcessInstance:
        bindings = definitions.bind_called(session, definition)
        values = {**values, **self._context_for(definition)}
        initiator = (definition.start_form or {}).get("initiator")
        if initiator:  # camunda:initiator: who started it; nobody when a timer did
            values = {**values, initiator: None if by_timer else actor}
        instance_id = self.new_id()
        now = self.clock.now()
        row = InstanceRow(id=instance_id, definition_id=definition.id,
                          process_key=definition.key, business_key=business_key,
                          status="running", state="", bindings=bindings, id_counter=0,
                          started_at=now, started_by=actor, started_as=started_as)
        spec, subprocess_specs, owner = self._specs_for(session, definition, bindings)
        ids = IdSource(instance_id, 0)
        with deterministic(ids, self.clock):
            workflow = self.begin(spec, subprocess_specs, values, by_timer=by_timer)
        loaded = Loaded(row, workflow, owner, ids, store_projections.NOTHING)
        self._save(session, loaded, "start", actor, {
            "process_key": definition.key, "version": definition.version,
            "definition_id": definition.id, "bindings": bindings,
            "business_key": business_key, "data": values, "by_timer": by_timer or None})
        search.record_clinics(session, instance_id, values)
        return row

    @command
    def begin(self, spec, subprocess_specs: dict[str, Any], values: dict[str, Any], *,
              by_timer: bool = False):
        """A new workflow run up to its first wait (also used by replay)."""
        workflow = EngineWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        start = workflow.get_next_task(state=TaskState.READY, spec_name="Start") or \
            workflow.task_tree
        start.data.update(values)
        if by_timer:
            timer_starts.fired_once(workflow, self.clock.now())
        self._advance(workflow)
        if by_timer:  # the timer that started it has fired: pass its start event
            for task in projection.tasks_in(workflow, TaskState.WAITING):
                if isinstance(task.task_spec, StartEvent):
                    task._ready()
                    self._run(task)
                    if not task.children:  # a cycle adds its path only when it fires
                        for output in task.task_spec.outputs:
                            child = task._add_child(output, TaskState.FUTURE)
                            child.task_spec._update(child)
            self._advance(workflow)
        return workflow

    def complete_in(self, workflow, task_id: str, values: dict[str, Any]) -> None:
        """Complete one READY manual task of a loaded workflow and run on (also replay)."""
        spiff_task = ready_task(workflow, task_id)
        spiff_task.data.update(copy_of(values))
        multi_instance.note_written(spiff_task, values)
        self._run(spiff_task)
        self._advance(workflow)

    def message_in(self, workflow, name: str, data: dict[str, Any] | None) -> None:
        try:
            workflow.send_event(BpmnEvent(MessageEventDefinition(name),
                                          {"payload": dict(data or {}), "result_var": "melding"}))
        except WorkflowException as err:
            raise NotFound(str(err)) from None
        self._advance(workflow)

    def fire_timer_start(self, schedule_id: int) -> bool:
        """Start the one instance a due timer start event asks for; False if not due or
        another worker has it."""
        now = self.clock.now()
        with self.db.transaction() as session:
            schedule = session.scalars(self.db.lock_free(select(TimerStart).where(
                TimerStart.id == schedule_id, TimerStart.next_at <= now))).first()
            if schedule is None:
                return False
            definition = self._definition(session, schedule.definition_id)
            self._create(session, definition, OPERATOR, {}, None, by_timer=True)
            timer_starts.move_on(session, schedule)
            return True

    @command
    def claim(self, task_id: str, *, actor: str) -> HumanTask:
        with self.db.transaction() as session:
            task = self._open_task(session, task_id)
            self._authorise(session, task, actor)
            if task.assignee and task.assignee != actor:
                raise PermissionDenied(f"task '{task.name}' is already claimed by {task.assignee}")
            row = self._lock_instance(session, task.instance_id)
            task.assignee = actor
            session.flush()
            visibility.reassign(session.connection(), task)
            self._record(session, row, "claim", actor, {}, element_id=task.element_id,
                         task_id=task.id)
            return task

    @command
    def unclaim(self, task_id: str, *, actor: str) -> HumanTask:
        with self.db.transaction() as session:
            task = self._open_task(session, task_id)
            if task.assignee != actor:
                raise PermissionDenied(f"task '{task.name}' is not claimed by {actor}")
            if not task.candidate_groups and not task.candidate_users:
                raise PermissionDenied(
                    f"task '{task.name}' was assigned to {actor} by the process and has no "
                    "group to give it back to; a process owner can reassign it")
            row = self._lock_instance(session, task.instance_id)
            task.assignee = None
            session.flush()
            visibility.reassign(session.connection(), task)
            self._record(session, row, "unclaim", actor, {}, element_id=task.element_id,
                         task_id=task.id)
            return task

    @command
    def complete(self, task_id: str, *, actor: str,
                 data: dict[str, Any] | None = None) -> ProcessInstance:
        limits.check_data(data or {})
        with self.db.transaction() as session:
            found = instances.locked_with_task(session.connection(), task_id)
            if found is None:
                self._open_task(session, task_id)  # says why it is not open
                raise Conflict("the task opened meanwhile; try again")
            task = _TaskRow(*found[0])
            self._authorise_work(session, task, actor)
            loaded = self._load(session, task.instance_id, row=found[1])
            with deterministic(loaded.ids, self.clock):
                spiff_task = ready_task(loaded.workflow, task.id)
                definition = self._definition(session, task.definition_id)
                values = self._validate(session, definition, task.form, dict(data or {}),
                                        {**self._carried(session, task, spiff_task),
                                         **spiff_task.data})
                self.complete_in(loaded.workflow, task.id, values)
            self._save(session, loaded, "complete", actor, {"values": values},
                       element_id=task.element_id, task_id=task.id)
            self.hooks.completed(session, loaded.row, spiff_task, values, self.clock.now())
            return loaded.row

    @command
    def message(self, name: str, *, actor: str = OPERATOR, business_key: str | None = None,
                data: dict[str, Any] | None = None) -> ProcessInstance:
        limits.check_data(data or {})
        limits.check_business_key(business_key)
        with self.db.transaction() as session:
            query = select(MessageSubscription).where(MessageSubscription.message_name == name)
            if business_key is not None:
                query = query.where(MessageSubscription.business_key == business_key)
            subscription = session.scalars(query.order_by(MessageSubscription.id).limit(1)).first()
            if subscription is None:
                where = f" with business key '{business_key}'" if business_key else ""
                raise NotFound(f"no instance{where} is waiting for message '{name}'")
            loaded = self._load(session, subscription.instance_id)
            with deterministic(loaded.ids, self.clock):
                self.message_in(loaded.workflow, name, data)
            self._save(session, loaded, "message", actor, {"name": name, "data": data or {}},
                       element_id=subscription.element_id)
            return loaded.row

    @command
    def cancel(self, instance_id: str, *, actor: str, reason: str = "") -> ProcessInstance:
        with self.db.transaction() as session:
            loaded = self._load(session, instance_id)
            # the starter may be no user (an anonymous reporter): no groups, then
            groups = users.known_groups(session, actor)
            self.roles.check_writer(actor, groups)
            if not self.roles.may_cancel(actor, groups, loaded.row.started_by):
                raise PermissionDenied(f"user '{actor}' may not cancel this case: only the "
                                       "person who started it and process owners may")
            if loaded.row.status not in ("running", "error"):
                raise TaskNotOpen(f"instance {instance_id} is already {loaded.row.status}")
            with deterministic(loaded.ids, self.clock):
                loaded.workflow.cancel()
            loaded.row.status = "cancelled"
            self._save(session, loaded, "cancel", actor, {"reason": reason})
            return loaded.row

    @command
    def fire_timers(self, instance_id: str) -> bool:
        """Fire the instance's due timers, if no one else is doing it; one transaction.

        The row is locked (SKIP LOCKED on PostgreSQL, the write lock on SQLite) and the due
        time re-read under the lock, so each timer fires exactly once however many workers
        sweep. A failure becomes an incident on the instance instead of a silent retry.
        """
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
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
            with self.db.transaction() as session:
                rows = instances.due(session.connection(), self.clock.now(), limit)
                taken = [row.id for row in rows]
                deadline = time.monotonic() + budget
                for row in rows:
                    try:
                        self._fire(session, row)
                        fired += 1
                    except ExecutionError as err:
                        failed.append((row.id, err))
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
        loaded = self._load_row(session, row)
        with deterministic(loaded.ids, self.clock):
            self._advance(loaded.workflow)
        self._save(session, loaded, "timer", OPERATOR,
                   {"due": due.isoformat() if due else None})

    def _incident(self, instance_id: str, err: ExecutionError) -> None:
        with self.db.transaction() as session:
            row = self._lock_instance(session, instance_id)
            if row.status != "running":
                return
            row.status, row.error, row.next_timer_at = "error", str(err), None
            self._record(session, row, "incident", OPERATOR,
                         {"error": str(err), "element_id": err.element}, element_id=err.element)

    @command
    def retry(self, instance_id: str, *, actor: str) -> ProcessInstance:
        """Put a failed instance back: its timers are due again at once."""
        with self.db.transaction() as session:
            groups = self._groups(actor)
            if not self.roles.may_retry(actor, groups):
                raise PermissionDenied(f"user '{actor}' may not retry an incident: process "
                                       "owners may")
            row = self._lock_instance(session, instance_id)
            if row.status != "error":
                raise TaskNotOpen(f"instance {instance_id} has no incident to retry")
            loaded = self._load_row(session, row)
            row.status, row.error = "running", None
            row.next_timer_at = projection.next_timer(loaded.workflow) or self.clock.now()
            self._record(session, row, "retry", actor, {})
            return row

    # ----------------------------------------------------------------- reads
    def tasks(self, *, actor: str | None = None, instance_id: str | None = None
              ) -> list[HumanTask]:
        """Open tasks (of an instance, those `actor` may work on), the earliest due first;
        each as read, with a HumanTask's attributes."""
        if actor is None and instance_id is not None:
            with self.db.reading(one_statement=True) as session:
                found = query_rows(session.connection(), _INSTANCE_TASKS,
                                   {"instance_id": instance_id})
                return [_TaskRow(*r) for r in found]
        with self.db.reading() as session:
            query = select(_TASKS)
            if instance_id is not None:
                query = query.where(_TASKS.c.instance_id == instance_id)
            if actor is not None:
                query = query.where(visible_to(actor, groups_of(session, actor)))
            return [_TaskRow(*r) for r in session.execute(query.order_by(*_DUE_ORDER))]

    def instance(self, instance_id: str) -> ProcessInstance:
        with self.db.reading() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"no process instance '{instance_id}'")
            return row

    def show(self, instance_id: str) -> dict[str, Any]:
        with self.db.reading() as session:
            loaded = self._load(session, instance_id, lock=False)
            return self._shown(session, loaded.row, projection.variables(loaded.workflow))

    def shown(self, row: InstanceRow) -> dict[str, Any]:
        """What `show` gives, for an instance a command has just written: from that
        command's own result (its variables and open tasks), without a transaction once
        the definition is known."""
        if row.open_tasks is not None and row.definition_id in self._definitions:
            return self._shown(None, row, row.variables, row.open_tasks)
        with self.db.reading() as session:
            return self._shown(session, row, row.variables, row.open_tasks)

    def _shown(self, session: Session | None, row: InstanceRow, variables: dict[str, Any],
               open_tasks: list | None = None) -> dict[str, Any]:
        definition = self._definition(session, row.definition_id)
        if open_tasks is None:
            open_tasks = session.scalars(select(HumanTask).where(
                HumanTask.instance_id == row.id).order_by(HumanTask.created_at)).all()
        return {
            "id": row.id, "process_key": row.process_key, "version": definition.version,
            "tenant": definition.tenant or None, "name": definition.name,
            "business_key": row.business_key, "status": row.status,
            "started_at": row.started_at.isoformat(), "started_by": row.started_by,
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "error": row.error,
            "next_timer_at": row.next_timer_at.isoformat() if row.next_timer_at else None,
            "data": plain(variables),
            "open_tasks": [task_summary(t) for t in open_tasks],
            "called": {k: v for k, v in sorted(row.bindings.items())},
        }

    def history(self, instance_id: str) -> list[HistoryEvent]:
        with self.db.reading() as session:
            if session.get(ProcessInstance, instance_id) is None:
                raise NotFound(f"no process instance '{instance_id}'")
            return history.events_of(session, instance_id)

    def find_instances(self, filter: search.InstanceFilter | None = None, limit: int = 50,
                       offset: int = 0, *, reader: str | None = None
                       ) -> tuple[list[search.InstanceRow], int]:
        """The auditors' search: one page of matching instances and the total (SQL only);
        for a `reader` who is no auditor, without sensitive cases."""
        with self.db.reading() as session:
            return search.find_instances(session, self._for_reader(session, filter, reader),
                                         limit=limit, offset=offset)

    def find_instance_ids(self, filter: search.InstanceFilter | None = None, *,
                          reader: str | None = None) -> list[str]:
        """Every matching instance's id, oldest first (to export all that a search finds)."""
        with self.db.reading() as session:
            return search.matching_ids(session, self._for_reader(session, filter, reader))

    def _for_reader(self, session: Session, filter: search.InstanceFilter | None,
                    reader: str | None) -> search.InstanceFilter | None:
        if reader is None or self.roles.is_auditor(groups_of(session, reader)):
            return filter
        return dataclasses.replace(filter or search.InstanceFilter(), without_sensitive=True)

    def worklist(self, query: WorklistQuery) -> WorklistPage:
        limits.check_page(query.page)
        with self.db.reading() as session:
            groups = query.groups if query.groups is not None else \
                groups_of(session, query.actor)
            return worklist.worklist(session, query, groups, self.clock.now())

    def groups(self, user: str) -> set[str]:
        with self.db.reading() as session:
            return groups_of(session, user)

    def authenticate(self, name: str, password: str) -> User | None:
        with self.db.transaction() as session:
            return authenticate(session, name, password, self.clock.now())

    def set_active(self, name: str, active: bool) -> None:
        """Let a user sign in, or not; disabling ends every session of theirs."""
        with self.db.transaction() as session:
            users.set_active(session, name, active)
        self._users.pop(name, None)

    def end_sessions(self, name: str) -> None:
        """Every signed-in session of the user ends, in every server process (logout)."""
        with self.db.transaction() as session:
            users.end_sessions(session, name)
        self._users.pop(name, None)

    def user(self, name: str) -> User | None:
        with self.db.reading() as session:
            return session.get(User, name)

    def user_and_groups(self, name: str) -> tuple[User | None, set[str]]:
        """A signed-in user and their groups, read together; kept for USER_SECONDS, so
        that a user's requests do not each read them again (a change made anywhere,
        a user disabled say, counts everywhere within that time)."""
        now = time.monotonic()
        kept = self._users.get(name)
        if kept is not None and kept[0] > now:
            return kept[1], set(kept[2])
        with self.db.reading() as session:
            user = session.get(User, name)
            groups = groups_of(session, name) if user is not None else set()
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[name] = (now + USER_SECONDS, user, frozenset(groups))
        return user, groups

    def open_task(self, task_id: str, *, actor: str) -> HumanTask:
        """An open task the actor may work on; PermissionDenied or TaskNotOpen otherwise."""
        with self.db.reading() as session:
            task = self._open_task(session, task_id)
            self._authorise(session, task, actor)
            return task

    def startable(self, actor: str) -> list[ProcessDefinition]:
        """The latest version of each process the actor's groups may start."""
        with self.db.reading() as session:
            groups = groups_of(session, actor)
            latest: dict[str, ProcessDefinition] = {}
            for d in session.scalars(select(ProcessDefinition).where(
                    ProcessDefinition.tenant == "").order_by(ProcessDefinition.version)):
                latest[d.key] = d
            return [d for d in latest.values()
                    if self.roles.may_start(actor, groups, d.starter_groups)]

    def record_read(self, instance_id: str, *, actor: str, what: str) -> None:
        """Log that `actor` read a sensitive case (other cases are not logged)."""
        with self.db.transaction() as session:
            if facts.is_sensitive(session, instance_id):
                session.add(AccessLog(instance_id=instance_id, user_name=actor,
                                      at=self.clock.now(), what=what))

    def reads(self, instance_id: str) -> list[AccessLog]:
        with self.db.reading() as session:
            return list(session.scalars(select(AccessLog).where(
                AccessLog.instance_id == instance_id).order_by(AccessLog.id)))

    def receipt(self, code: str) -> dict[str, Any]:
        """What a reporter may know about their report, given its receipt code."""
        with self.db.reading() as session:
            found = self.hooks.receipt(session, code) if code and code.strip() else None
            if found is None:
                raise NotFound("no report has this receipt code")
            row = session.get(ProcessInstance, found.instance_id)
            definition = self._definition(session, row.definition_id)
            return {"process": definition.name, "business_key": row.business_key,
                    "reported_at": row.started_at, "status": row.status,
                    "closed_at": row.ended_at, "feedback": found.feedback,
                    "feedback_at": found.feedback_at}

    def process_names(self) -> dict[str, str]:
        """Each deployed process key with the name of its latest version."""
        with self.db.reading() as session:
            return {d.key: d.name for d in session.scalars(
                select(ProcessDefinition).order_by(ProcessDefinition.version))}

    def latest(self, process_key: str) -> ProcessDefinition:
        with self.db.reading() as session:
            return definitions.definition_to_start(session, process_key, "")

    def notifications(self, user: str, *, unread_only: bool = False,
                      limit: int = 100) -> list[Notification]:
        with self.db.reading() as session:
            query = select(Notification).where(Notification.user_name == user)
            if unread_only:
                query = query.where(Notification.read_at.is_(None))
            return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))

    def mark_read(self, user: str) -> None:
        with self.db.transaction() as session:
            for note in session.scalars(select(Notification).where(
                    Notification.user_name == user, Notification.read_at.is_(None))):
                note.read_at = self.clock.now()

    def may_view(self, actor: str, instance_id: str) -> bool:
        """Readers: auditors and process owners see all; others the cases they work on.

        A sensitive case is seen only by those who handle it, and by auditors."""
        with self.db.reading() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"no process instance '{instance_id}'")
            groups = groups_of(session, actor)
            if facts.is_sensitive(session, instance_id):
                # a sensitive case: its handlers and auditors, not every process owner
                if self.roles.is_auditor(groups):
                    return True
            elif groups & self.roles.read_all or row.started_by == actor:
                return True
            took_part = session.scalar(select(HistoryEvent.id).where(
                HistoryEvent.stream == instance_id, HistoryEvent.actor == actor).limit(1))
            offered = session.scalar(select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, visible_to(actor, groups)).limit(1))
            return took_part is not None or offered is not None

    @command
    def attach(self, instance_id: str, *, actor: str, filename: str, content: bytes,
               task_id: str | None = None, field: str | None = None) -> Attachment:
        with self.db.transaction() as session:
            row = self._lock_instance(session, instance_id)
            task = self._open_task(session, task_id) if task_id else None
            if task is not None:
                if task.instance_id != instance_id:
                    raise NotFound(f"task {task_id} does not belong to instance {instance_id}")
                self._authorise_work(session, task, actor)
            elif actor != row.started_by:
                raise PermissionDenied(f"user '{actor}' may not add documents to this case")
            stored = attachments.store(
                session, instance_id=instance_id, filename=filename, content=content,
                actor=actor, at=self.clock.now(), task_id=task_id, field=field,
                element_id=task.element_id if task else None)
            self._record(session, row, "attach", actor, {
                "attachment_id": stored.id, "filename": stored.filename, "size": stored.size,
                "sha256": stored.sha256, "field": field},
                element_id=stored.element_id, task_id=task_id)
            return stored

    def attachments(self, instance_id: str) -> list[Attachment]:
        with self.db.reading() as session:
            return attachments.of_instance(session, instance_id)

    def attachment(self, attachment_id: int) -> Attachment:
        with self.db.reading() as session:
            found = session.get(Attachment, attachment_id)
            if found is None:
                raise NotFound(f"no attachment {attachment_id}")
            return found

    def progress(self, instance_id: str) -> list[dict[str, Any]]:
        """Per diagram (the process and each called process): done and active elements."""
        with self.db.reading() as session:
            loaded = self._load(session, instance_id, lock=False)
            return projection.progress(loaded.workflow, loaded.owner)

    def definition_xml(self, definition_id: int) -> str:
        with self.db.reading() as session:
            return definitions.definition_xml(session, definition_id)

    def form_document(self, form_ref: str, definition_id: int | None = None) -> dict | None:
        with self.db.reading() as session:
            definition = self._definition(session, definition_id) if definition_id else None
            return definitions.form_document(session, form_ref, definition.tenant
                                             if definition else "")

    def task_context(self, task: HumanTask) -> dict[str, Any]:
        """The data a task's form is filled in against (for rendering and defaults)."""
        with self.db.reading() as session:
            loaded = self._load(session, task.instance_id, lock=False)
            spiff_task = loaded.workflow.get_task_from_id(uuid.UUID(task.id))
            data = dict(spiff_task.data) if spiff_task is not None else {}
            return {**self.context_variables(), **self._carried(session, task, spiff_task),
                    **data}

    # ----------------------------------------------------------------- internals
    def _carried(self, session: Session, task: HumanTask, spiff_task) -> dict[str, Any]:
        """What the task is shown from the last finished round (engine/carry_over.py)."""
        ext = getattr(getattr(spiff_task, "task_spec", None), "extensions", None) or {}
        return carry_over.values_for(session, ext.get("properties"),
                                     process_key=task.process_key, clinic=task.clinic,
                                     before=self.clock.now())

    def _context_for(self, definition: ProcessDefinition) -> dict[str, Any]:
        """The context variables the start event asks for (its extension property
        `kontekst`, names separated by spaces), copied into the start data so that the
        history records them and a replay needs no organisation file."""
        properties = (definition.start_form or {}).get("properties") or {}
        names = (properties.get(CONTEXT_PROPERTY) or "").split()
        if not names:
            return {}
        known = self.context_variables()
        missing = [name for name in names if name not in known]
        if missing:
            raise ExecutionError(
                f"the start event asks for context variables this installation does not "
                f"provide ({CONTEXT_PROPERTY}): {', '.join(missing)}",
                element=definition.key)
        return {name: copy_of(known[name]) for name in names}

    def _validate(self, session: Session, definition: ProcessDefinition | None,
                  form: dict[str, Any], submitted: dict[str, Any],
                  context: dict[str, Any]) -> dict[str, Any]:
        tenant = definition.tenant if definition else ""

        def lookup(form_ref: str) -> dict | None:
            return definitions.form_document(session, form_ref, tenant)

        return self.validator(form or {}, submitted, {**self.context_variables(), **context},
                              lookup)

    def _specs_for(self, session: Session, definition: ProcessDefinition,
                   bindings: dict[str, int]) -> tuple[Any, dict[str, Any], dict[int, int]]:
        spec, embedded = self.specs.get(definition)
        key = (definition.id, tuple(sorted(bindings.items())))
        cached = self._assembled.get(key)
        if cached is None:
            subprocess_specs = dict(embedded)
            owner = {id(spec): definition.id}
            owner.update({id(s): definition.id for s in embedded.values()})
            for name, definition_id in bindings.items():
                called = self._definition(session, definition_id)
                called_spec, called_embedded = self.specs.get(called)
                subprocess_specs[name] = called_spec
                owner[id(called_spec)] = definition_id
                for sub_name, sub in called_embedded.items():
                    subprocess_specs.setdefault(sub_name, sub)
                    owner[id(sub)] = definition_id
            cached = (subprocess_specs, owner)
            self._assembled[key] = cached
        return spec, cached[0], cached[1]

    def _definition(self, session: Session, definition_id: int) -> ProcessDefinition:
        """Deployed definitions never change, so each is read once per process."""
        found = self._definitions.get(definition_id)
        if found is None:
            found = session.get(ProcessDefinition, definition_id)
            if found is None:
                raise NotFound(f"no process definition {definition_id}")
            session.expunge(found)
            self._definitions[definition_id] = found
        return found

    def _lock_instance(self, session: Session, instance_id: str) -> InstanceRow:
        return instances.locked(session.connection(), instance_id)

    def _load(self, session: Session, instance_id: str, *, lock: bool = True,
              row: InstanceRow | None = None) -> Loaded:
        """The instance for a command: its workflow as the last command in this process
        left it when that is still the stored version (engine/live.py), else restored.
        `row`: the instance's row as just read (locked), without its state."""
        conn = session.connection()
        kept = instance_id in self._live or row is not None
        if row is None:
            row = instances.load(conn, instance_id, lock=lock, with_state=not kept)
        if row is None:
            raise NotFound(f"no process instance '{instance_id}'")
        found = self._live.take(instance_id, row.version) if kept else None
        if found is not None:
            workflow, row.stored, projected = found
            row.state = row.stored.text
            state_format.as_restored(workflow)
            loaded = self._load_row(session, row, workflow)
            loaded.projected = projected
            return loaded
        if kept:  # not kept at this version: the state was not read with the row
            instances.read_state(conn, row)
        return self._load_row(session, row)

    def _record(self, session: Session, row: InstanceRow, event_type: str, actor: str,
                data: dict[str, Any], **where) -> None:
        """An event that leaves the workflow as it was: its chain head and status written."""
        writes = Writes()
        history.record(writes, row, event_type, actor, self.clock.now(), data,
                       state_hash=history.sha256(row.state), state_format=format_of(row.state),
                       **where)
        before = row.version
        instances.write(writes, row, with_state=False)
        writes.send(session.connection())
        session.info.setdefault(AFTER_COMMIT, []).append(
            functools.partial(self._live.moved, row.id, before, row.version))

    def _load_row(self, session: Session, row: InstanceRow, workflow=None) -> Loaded:
        """The instance for a command: `workflow` when one is kept alive, else restored."""
        definition = self._definition(session, row.definition_id)
        spec, subprocess_specs, owner = self._specs_for(session, definition, row.bindings)
        if workflow is None:
            workflow = restore_state(row.state, spec, subprocess_specs, self.script_engine)
        return Loaded(row, workflow, owner, IdSource(row.id, row.id_counter))

    def _advance(self, workflow) -> None:
        """Run automatic tasks until only human tasks and waiting events remain."""
        for _ in range(MAX_STEP_ROUNDS):
            try:
                workflow.refresh_timers()
                workflow.do_engine_steps()
            except WorkflowTaskException as err:
                raise self._execution_error(err) from None
            except SpiffWorkflowException as err:
                raise ExecutionError(str(err).split("\n")[0]) from None
            if not projection.tasks_in(workflow, TaskState.READY, manual=False):
                return
        raise ExecutionError(f"the process did not settle after {MAX_STEP_ROUNDS} rounds")

    def _run(self, spiff_task) -> None:
        try:
            spiff_task.run()
        except WorkflowTaskException as err:
            raise self._execution_error(err) from None

    @staticmethod
    def _execution_error(err: WorkflowTaskException) -> ExecutionError:
        task = getattr(err, "task", None)
        element = projection.element_id(task) if task is not None else None
        message = getattr(err, "error_msg", None) or str(err).split("\n")[0]
        return ExecutionError(message, element=element)

    def _save(self, session: Session, loaded: Loaded, event_type: str, actor: str,
              data: dict[str, Any], *, element_id: str | None = None,
              task_id: str | None = None) -> None:
        """The command's result, written once: the instance row (state, status, next
        timer, chain head), its history event, the open tasks, subscriptions and facts."""
        row, workflow = loaded.row, loaded.workflow
        now = self.clock.now()
        try:
            views = projection.open_human_tasks(workflow, loaded.owner,
                                                self.script_engine.evaluate)
        except WorkflowTaskException as err:
            raise self._execution_error(err) from None
        except ValueError as err:
            raise ExecutionError(f"bad due date: {err}") from None
        self._queue_notifications(session, row, workflow, now)  # marks them in the state
        row.state = state_format.write(workflow)
        row.id_counter = loaded.ids.counter
        if row.status == "running" and workflow.is_completed():
            row.status = "completed"
        if row.status != "running" and row.ended_at is None:
            row.ended_at = now
        row.next_timer_at = projection.next_timer(workflow) if row.status == "running" else None
        conn = session.connection()
        before = loaded.projected or store_projections.stored(conn, row.id)
        writes = Writes()
        history.record(writes, row, event_type, actor, now, data, element_id=element_id,
                       task_id=task_id, state_hash=history.sha256(row.state))
        instances.write(writes, row)
        tasks = store_projections.sync_tasks(
            writes, row, views, now,
            (task_id, actor) if event_type == "complete" and task_id else None, before.tasks)
        row.variables = projection.variables(workflow)  # the command's result, for callers
        row.open_tasks = views
        facts = store_projections.record_case(writes, conn.dialect.name, row, row.variables,
                                              before.facts)
        subscribed = store_projections.sync_subscriptions(
            writes, row, projection.message_names(workflow), before.subscriptions)
        writes.send(conn)
        if row.status == "running":  # kept for the next command, once this one committed
            after = store_projections.Projected(tasks, subscribed, facts)
            session.info.setdefault(AFTER_COMMIT, []).append(functools.partial(
                self._live.keep, row.id, row.version, (workflow, row.stored, after)))
        else:
            self._live.forget(row.id)

    def _queue_notifications(self, session: Session, row: InstanceRow, workflow,
                             now) -> None:
        for element, values in projection.take_notifications(workflow):
            notifications.queue(session, instance_id=row.id, element_id=element,
                                values=plain(values), at=now)

    def _open_task(self, session: Session, task_id: str) -> HumanTask:
        task = session.get(HumanTask, task_id)
        if task is not None:
            return task
        done = session.scalars(select(HistoryEvent).where(
            HistoryEvent.task_id == task_id, HistoryEvent.type == "complete")).first()
        if done is not None:
            raise TaskNotOpen(f"task {task_id} was already completed by {done.actor} "
                              f"at {done.at.isoformat()}")
        raise NotFound(f"no open task '{task_id}'")

    def _authorise_work(self, session: Session, task: HumanTask, actor: str) -> None:
        """Completing a task or adding to it: the actor may work on it, and nobody else
        has claimed it."""
        self._authorise(session, task, actor)
        if task.assignee and task.assignee != actor:
            raise PermissionDenied(f"task '{task.name}' is assigned to {task.assignee}, "
                                   f"not to {actor}")

    def _groups(self, actor: str, *, operator: bool = True) -> set[str]:
        """The actor's groups as kept for USER_SECONDS (`user_and_groups`): a request has
        read them already; the operator, who is no user, has none; NotFound for anyone
        else who is no user."""
        if operator and actor == OPERATOR:
            return set()
        user, groups = self.user_and_groups(actor)
        if user is None:
            raise NotFound(f"unknown user '{actor}'")
        return groups

    def _authorise(self, session: Session, task: HumanTask, actor: str) -> None:
        groups = self._groups(actor, operator=False)
        self.roles.check_writer(actor, groups)
        if task.assignee == actor or actor in task.candidate_users or \
                groups & set(task.candidate_groups):
            return
        raise PermissionDenied(f"user '{actor}' may not work on task '{task.name}' "
                               f"({task.element_id})")


_TASKS = HumanTask.__table__
_DUE_ORDER = (_TASKS.c.due_at.is_(None), _TASKS.c.due_at, _TASKS.c.created_at, _TASKS.c.id)
_INSTANCE_TASKS = Prepared(select(_TASKS).where(
    _TASKS.c.instance_id == bindparam("instance_id")).order_by(*_DUE_ORDER))
_TaskRow = collections.namedtuple("_TaskRow", [c.key for c in _TASKS.columns])


def ready_task(workflow, task_id: str):
    """The READY manual task with this id; TaskNotOpen when it is gone or done."""
    spiff_task = workflow.get_task_from_id(uuid.UUID(task_id))
    if spiff_task is None or spiff_task.state != TaskState.READY \
            or not spiff_task.task_spec.manual:
        raise TaskNotOpen(f"task {task_id} is no longer open")
    return spiff_task


def task_summary(task: HumanTask) -> dict[str, Any]:
    return {"id": task.id, "element_id": task.element_id, "name": task.name,
            "assignee": task.assignee, "candidate_groups": task.candidate_groups,
            "due": task.due_at.isoformat() if task.due_at else None}


@contextmanager
def _noop() -> Iterator[None]:
    yield

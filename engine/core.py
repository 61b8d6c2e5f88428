"""The engine's shared core: its parts (database, clock, specs, live workflows, roles,
hooks) and the internals every service uses: load, validate, run, save one command."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from . import (
    definitions,
    history,
    notifications,
)
from .clock import Clock, CommandClock, SystemClock, in_command
from .clock import zone as local_zone
from .database import AFTER_COMMIT, Database
from .errors import (
    ExecutionError,
    InvalidInput,
    NotFound,
)
from .execution import projection
from .execution.determinism import IdSource
from .execution.live import LiveWorkflows
from .hooks import CaseChange, CaseHooks
from .identity import permissions
from .identity.users import groups_of
from .model.scripting import CamundaScriptEngine
from .models import (
    ProcessDefinition,
    ProcessInstance,
    User,
)
from .serialization import data_to_json, format_of, plain, restore_state
from .store import instances, reads, state_format, states
from .store import projections as store_projections
from .store.instances import InstanceRow
from .store.prepared import Writes

MAX_STEP_ROUNDS = 1000
USER_SECONDS = 5.0  # how long a signed-in user and their groups are kept between requests
CONTEXT_PROPERTY = "kontekst"  # start event property: context variables a case starts with
log = logging.getLogger("tiltak.engine")
OPERATOR = permissions.OPERATOR


class Directory:
    """What a form validator may ask about the organisation while a command runs: who a
    person is (read in the command's own transaction) and which day it is locally."""

    def __init__(self, session: Session, today: date):
        self._session, self.today = session, today

    def groups_of_active(self, name: str) -> set[str] | None:
        """The groups of an active user by this name; None when there is no such user."""
        user = self._session.get(User, name) if isinstance(name, str) and name else None
        if user is None or not user.active:
            return None
        return groups_of(self._session, name)


class FormValidator(Protocol):
    """Validates submitted values against a task's (or start event's) form.

    `form` holds the Camunda form attributes (formKey/formRef/formData...), `lookup`
    finds a deployed Camunda Form document by id, `context` is the current data,
    `directory` answers for people and today's date. Returns typed values; raises
    InvalidInput listing every bad field.
    """

    def __call__(self, form: dict[str, Any], submitted: dict[str, Any], context: dict[str, Any],
                 lookup: Callable[[str], dict | None], *,
                 directory: Directory | None = None) -> dict[str, Any]: ...


def refuse_unvalidated(form, submitted, context, lookup, *, directory=None):
    if submitted:
        raise InvalidInput("no form validator is configured; values cannot be accepted"
                           ).coded("no_validator")
    return {}


@dataclass
class Loaded:
    row: ProcessInstance
    workflow: Any  # None for a finished instance: row.final holds what it kept
    owner: dict[int, int]
    ids: IdSource
    # the projections as the last command wrote them, when known without reading them
    projected: store_projections.Projected | None = None


class CommandObserver(Protocol):
    """Told of every command a caller ran: its name, how long it took (seconds) and its
    outcome (`ok`, or the name of the error it ended with). The installation counts them
    for its metrics; the engine knows nothing of how."""

    def __call__(self, name: str, seconds: float, outcome: str) -> None: ...


def _unobserved(name: str, seconds: float, outcome: str) -> None:
    pass


def command(method):
    """One command: its own frozen moment (see CommandClock), observed when a caller ran
    it (a command another command runs inside itself, or a replay, is part of that)."""
    name = method.__name__

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        core = self.core
        if in_command():
            with core.clock.frozen():
                return method(self, *args, **kwargs)
        began, outcome = time.perf_counter(), "ok"
        try:
            with core.clock.frozen():
                return method(self, *args, **kwargs)
        except Exception as err:
            outcome = type(err).__name__
            raise
        finally:
            core.observe(name, time.perf_counter() - began, outcome)
    return run


class EngineCore:
    """What the services share: the engine's parts and how one command loads, validates,
    runs and saves a case. The commands are the services' (engine/services/)."""

    def __init__(self, database: Database, *, clock: Clock | None = None,
                 validator: FormValidator = refuse_unvalidated,
                 context_variables: Callable[[], dict[str, Any]] | None = None,
                 new_id: Callable[[], str] | None = None,
                 roles: permissions.Roles | None = None, hooks: CaseHooks | None = None,
                 observe: CommandObserver = _unobserved):
        self.db = database
        self.observe = observe
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

    def _groups(self, actor: str, *, operator: bool = True) -> set[str]:
        """The actor's groups as kept for USER_SECONDS (`user_and_groups`): a request has
        read them already; the operator, who is no user, has none; NotFound for anyone
        else who is no user."""
        if operator and actor == OPERATOR:
            return set()
        user, groups = self.user_and_groups(actor)
        if user is None:
            raise NotFound(f"unknown user '{actor}'").coded("unknown_user", name=actor)
        return groups

    def _validate(self, session: Session, definition: ProcessDefinition | None,
                  form: dict[str, Any], submitted: dict[str, Any],
                  context: dict[str, Any]) -> dict[str, Any]:
        tenant = definition.tenant if definition else ""

        def lookup(form_ref: str) -> dict | None:
            return definitions.form_document(session, form_ref, tenant)

        today = self.clock.now().astimezone(local_zone()).date()
        return self.validator(form or {}, submitted, {**self.context_variables(), **context},
                              lookup, directory=Directory(session, today))

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
                raise NotFound(f"no process definition {definition_id}").coded(
                    "no_definition", definition=definition_id)
            session.expunge(found)
            self._definitions[definition_id] = found
        return found

    def _lock_instance(self, session: Session, instance_id: str) -> InstanceRow:
        return instances.locked(session.connection(), instance_id)

    def keeps_task(self, task_id: str) -> bool:
        """Whether the task is open in a workflow this process keeps alive, so that a
        command on it need not read the state to restore it (it may still have to)."""
        return self._live.holds_task(task_id)

    def _load(self, session: Session, instance_id: str, *, lock: bool = True,
              found: reads.Found | None = None) -> Loaded:
        """The instance for a command: its workflow as the last command in this process
        left it when that is still the stored version (engine/execution/live.py), else
        restored. `found`: the instance as the command has just read it (locked)."""
        conn = session.connection()
        if found is None:
            found = reads.instance(conn, instance_id, lock=lock,
                                   restore=instance_id not in self._live)
        if found is None:
            raise NotFound(f"no process instance '{instance_id}'").coded(
                "no_case", case=instance_id)
        row = found.row
        kept = None if found.restored else self._live.take(instance_id, row.version)
        if kept is not None:
            workflow, row.stored, projected = kept
            row.state = row.stored.text
            state_format.as_restored(workflow)
            loaded = self._load_row(session, row, workflow)
            loaded.projected = projected
            return loaded
        if not found.restored or (not row.state and row.final is None):
            # not kept at this version, or the task it was found by left meanwhile: read
            # by the instance
            found = reads.restore(conn, row)
        loaded = self._load_row(session, row)
        loaded.projected = found.projected
        return loaded

    def _record(self, session: Session, row: InstanceRow, event_type: str, actor: str,
                data: dict[str, Any], **where) -> None:
        """An event that leaves the workflow as it was: its chain head and status written."""
        writes = Writes()
        if row.final is not None:
            state_hash, written_in = row.final.hash, row.final.format
        else:
            state_hash, written_in = history.sha256(row.state), format_of(row.state)
        history.record(writes, row, event_type, actor, self.clock.now(), data,
                       state_hash=state_hash, state_format=written_in, **where)
        before = row.version
        instances.write(writes, row, with_state=False)
        writes.send(session.connection())
        session.info.setdefault(AFTER_COMMIT, []).append(
            functools.partial(self._live.moved, row.id, before, row.version))

    def _load_row(self, session: Session, row: InstanceRow, workflow=None) -> Loaded:
        """The instance for a command: `workflow` when one is kept alive, else restored;
        a finished instance's is not (its row keeps its final record)."""
        definition = self._definition(session, row.definition_id)
        spec, subprocess_specs, owner = self._specs_for(session, definition, row.bindings)
        if row.final is not None:
            return Loaded(row, None, owner, IdSource(row.id, row.id_counter))
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
                detail = str(err).split("\n")[0]
                raise ExecutionError(detail).coded("process_failed", element=None,
                                                   detail=detail) from None
            if not projection.tasks_in(workflow, TaskState.READY, manual=False):
                return
        raise ExecutionError(f"the process did not settle after {MAX_STEP_ROUNDS} rounds"
                             ).coded("process_loops", rounds=MAX_STEP_ROUNDS)

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
        return ExecutionError(message, element=element).coded(
            "process_failed", element=element, detail=message)

    def _save(self, session: Session, loaded: Loaded, event_type: str, actor: str,
              data: dict[str, Any], *, element_id: str | None = None,
              task: Any = None) -> None:
        """The command's result, written once: the instance row (state, status, next
        timer, chain head), its history event, the open tasks, subscriptions and facts,
        and what the installation's hooks add. `element_id`: the element the event
        concerns; `task`: the user task a completion completed (its id, element_id, name
        and process_key), if any."""
        row, workflow = loaded.row, loaded.workflow
        now = self.clock.now()
        ending = row.ended_at is None
        try:
            views = projection.open_human_tasks(workflow, loaded.owner,
                                                self.script_engine.evaluate)
        except WorkflowTaskException as err:
            raise self._execution_error(err) from None
        except ValueError as err:
            raise ExecutionError(f"bad due date: {err}").coded("bad_due_date",
                                                               detail=str(err)) from None
        self._queue_notifications(session, row, workflow, now)  # marks them in the state
        row.state = state_format.write(workflow)
        row.id_counter = loaded.ids.counter
        if row.status == "running" and workflow.is_completed():
            row.status = "completed"
        if row.status != "running" and row.ended_at is None:
            row.ended_at = now
        row.next_timer_at = projection.next_timer(workflow) \
            if row.status == "running" and not row.suspended else None
        conn = session.connection()
        before = loaded.projected or store_projections.stored(conn, row.id)
        writes = Writes()
        state_hash = history.sha256(row.state)
        task_id = task.id if task is not None else None
        history.record(writes, row, event_type, actor, now, data,
                       element_id=task.element_id if task is not None else element_id,
                       task_id=task_id, state_hash=state_hash)
        row.variables = projection.variables(workflow)  # the command's result, for callers
        if row.status in instances.FINISHED:
            row.final = states.Final(state_hash, format_of(row.state),
                                     data_to_json(row.variables),
                                     projection.progress(workflow, loaded.owner))
        instances.write(writes, row)
        facts = store_projections.record_case(writes, conn.dialect.name, row,
                                              self.hooks.case_facts(row.variables),
                                              before.facts)
        tasks = store_projections.sync_tasks(
            writes, row, views, now,
            (task_id, actor) if event_type == "complete" and task_id else None, before.tasks,
            facts["title"], before.facts is None or before.facts["title"] != facts["title"])
        searched = store_projections.sync_search(writes, conn, row, facts["title"],
                                                 before.searched)
        row.open_tasks = views
        subscribed = store_projections.sync_subscriptions(
            writes, row, projection.message_names(workflow), before.subscriptions)
        self.hooks.saved(session, CaseChange(
            row, event_type, actor, now, data,
            opened=tuple({"id": v.id, "element_id": v.element_id, "name": v.name,
                          "process_key": v.process_key}
                         for v in views if v.id not in before.tasks),
            completed={"id": task.id, "element_id": task.element_id, "name": task.name,
                       "process_key": task.process_key}
            if event_type == "complete" and task is not None else None,
            ended=row.status if ending and row.status in instances.FINISHED else None),
            writes)
        writes.send(conn)
        if row.status == "running":  # kept for the next command, once this one committed
            after = store_projections.Projected(tasks, subscribed, facts, searched)
            session.info.setdefault(AFTER_COMMIT, []).append(functools.partial(
                self._live.keep, row.id, row.version, (workflow, row.stored, after), tasks))
        else:
            self._live.forget(row.id)

    def _queue_notifications(self, session: Session, row: InstanceRow, workflow,
                             now) -> None:
        for element, values in projection.take_notifications(workflow):
            notifications.queue(session, instance_id=row.id, element_id=element,
                                values=plain(values), at=now)


class Service:
    """One of the engine's services (engine/services/): its commands over the core that
    every service shares, and the other services, for a command that needs one."""

    def __init__(self, core: EngineCore, engine):
        self.core = core
        self.engine = engine

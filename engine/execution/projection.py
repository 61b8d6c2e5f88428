"""Read models derived from a workflow after each command.

Open human tasks (with assignee, candidates, due date evaluated from the Camunda
attributes), the instance's next timer, message subscriptions and its variables.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import CallActivity
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

from .. import clock
from ..model import multi_instance
from ..model.specs import TenantCallActivity
from .task_states import picked
from .walking import in_states, instance_workflows, task_tables, walk

FORM_KEYS = ("formKey", "formRef", "formRefBinding", "formRefVersion", "formData")


@dataclass
class TaskView:
    id: str
    element_id: str
    name: str
    definition_id: int
    assignee: str | None = None
    candidate_groups: list[str] = field(default_factory=list)
    candidate_users: list[str] = field(default_factory=list)
    due_at: datetime | None = None
    follow_up_at: datetime | None = None
    priority: int = 50
    form: dict[str, Any] = field(default_factory=dict)
    clinic: str | None = None
    process_key: str = ""
    unit: str | None = None
    indicator: str | None = None


def tasks_in(workflow, state: int, manual: bool | None = None) -> list:
    """Tasks in `state`, found in every branch. SpiffWorkflow's own state filter does not
    descend below tasks in an earlier state, so it misses e.g. the catch events behind an
    event-based gateway on a boundary path; we filter ourselves.

    The task tables are looked through first: where no task there is wanted, none is
    in the tree either, and the tree is not walked (the usual answer after a step)."""
    def wanted(task) -> bool:
        return manual is None or task.task_spec.manual == manual

    if not any(wanted(task) for task in in_states(instance_workflows(workflow), state)):
        return []
    return [task for task in every_task(workflow) if task._state & state and wanted(task)]


_INTERNAL_DATA = operator.attrgetter("internal_data")


def every_task(workflow) -> list:
    """`workflow.get_tasks()`: the same tasks in the same order, walked the engine's
    faster way (engine/execution/walking.py), also for a workflow SpiffWorkflow restored."""
    return list(walk(workflow.task_tree, BpmnTaskFilter(), into_subprocesses=True))


def _definitions(task) -> list:
    """The events a waiting task waits for (an event-based gateway waits for several)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def element_id(task) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_id", None) or spec.name.removesuffix(" [child]")


def process_key_of(workflow) -> str:
    """The process a workflow's tasks belong to: an embedded subprocess's tasks belong
    to the process it is drawn in (a called process is its own)."""
    while workflow.parent_task_id is not None:
        caller = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        if caller is None or isinstance(caller.task_spec, TenantCallActivity):
            break
        workflow = caller.workflow
    return workflow.spec.name


def element_name(task) -> str:
    return getattr(task.task_spec, "bpmn_name", None) or element_id(task)


_EXPRESSION_IN_NAME = re.compile(r"[$#]\{[^}]*\}")


def element_label(name: str) -> str:
    """An element's name as one label for every case: any `${...}` it holds left out
    ("Gjennomfør tiltak: ${tiltak.tittel}" is "Gjennomfør tiltak"), for lists of
    activities such as an export or a replay's steps."""
    plain = re.sub(r"\(\s*\)", "", _EXPRESSION_IN_NAME.sub("", name))
    return " ".join(plain.split()).rstrip(" :-,(") or " ".join(name.split())


def task_name(task, evaluate) -> str:
    """A user task's name, with the `${...}` Camunda 7 allows in it evaluated in the
    task's data ("Gjennomfør tiltak: ${tiltak.tittel}"). A name that cannot be evaluated
    (a variable not set on this path) is shown as written rather than stopping the case."""
    name = element_name(task)
    if "${" not in name and "#{" not in name:
        return name
    try:
        return str(evaluate(task, name))
    except WorkflowTaskException:  # the name is a label; the written one will do
        return name


def open_human_tasks(workflow, owner: dict[int, int], evaluate) -> list[TaskView]:
    """Every READY manual task, with its Camunda attributes evaluated in its own data."""
    views = []
    for task in tasks_in(workflow, TaskState.READY, manual=True):
        ext = getattr(task.task_spec, "extensions", None) or {}

        def value(name: str, task=task, ext=ext) -> Any:
            text = ext.get(name)
            return evaluate(task, text) if text else None

        form = {k: ext[k] for k in FORM_KEYS if k in ext}
        if ext.get("documentation"):
            form["documentation"] = ext["documentation"]
        priority = value("priority")
        views.append(TaskView(
            id=str(task.id), element_id=element_id(task), name=task_name(task, evaluate),
            definition_id=owner[id(task.workflow.spec)],
            assignee=_text_or_none(value("assignee")),
            candidate_groups=_names(value("candidateGroups")),
            candidate_users=_names(value("candidateUsers")),
            due_at=as_deadline(value("dueDate")),
            follow_up_at=as_deadline(value("followUpDate")),
            priority=int(priority) if priority not in (None, "") else 50,
            form=form,
            clinic=_text_or_none(task.data.get("klinikk")),
            process_key=process_key_of(task.workflow),
            unit=_text_or_none(task.data.get("enhet")),
            indicator=indicator_of(task),
        ))
    return views


def indicator_of(task) -> str | None:
    """The indicator a user task counts towards (its `indikator` property), if any."""
    ext = getattr(task.task_spec, "extensions", None) or {}
    return _text_or_none((ext.get("properties") or {}).get("indikator"))


def next_timer(workflow) -> datetime | None:
    """The earliest due time of any waiting timer (boundary, intermediate or in a subprocess)."""
    due: list[datetime] = []
    for task in tasks_in(workflow, TaskState.WAITING):
        if not any(isinstance(d, TimerEventDefinition) for d in _definitions(task)):
            continue
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            value = value.get("next")
        if isinstance(value, str):
            try:
                due.append(as_deadline(value))
            except ValueError:
                continue
    return min(due) if due else None


def message_names(workflow) -> list[tuple[str, str]]:
    """(message name, element id) of every waiting message catch event."""
    result = []
    for task in tasks_in(workflow, TaskState.WAITING):
        for definition in _definitions(task):
            if isinstance(definition, MessageEventDefinition):
                result.append((definition.name, element_id(task)))
    return result


def variables(workflow) -> dict[str, Any]:
    """The process variables as the top-level process sees them now."""
    if workflow.is_completed() and workflow.last_task is not None \
            and workflow.last_task.workflow is workflow:
        return dict(workflow.last_task.data)
    latest = None
    # not cancelled tasks: a boundary timer cancelled by the command that completed its
    # task changes state last but holds the data from before the task; nor a join
    # waiting for its other branches, which holds no data until they have all come
    for task in workflow.get_tasks(state=TaskState.COMPLETED | TaskState.ERROR
                                   | TaskState.READY | TaskState.WAITING | TaskState.STARTED,
                                   skip_subprocesses=True):
        if task.state == TaskState.WAITING and isinstance(task.task_spec, Join):
            continue
        if latest is None or task.last_state_change >= latest.last_state_change:
            latest = task
    if latest is None:
        return dict(workflow.data)
    return multi_instance.enclosing_data(latest)


def as_deadline(value: Any) -> datetime | None:
    """A due date in UTC from a date (the end of that local day), a datetime or an ISO
    string."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):  # stored in UTC: SQLite keeps no offset
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return clock.end_of(value).astimezone(UTC)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        if len(text) == 10:
            return as_deadline(date.fromisoformat(text))
        return as_deadline(datetime.fromisoformat(text))
    raise ValueError(f"not a date: {value!r}")


def _names(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, (list, tuple, set)):
        return sorted({str(v).strip() for v in value if str(v).strip()})
    return sorted({part.strip() for part in str(value).split(",") if part.strip()})


def _text_or_none(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None




def progress(workflow, owner: dict[int, int]) -> list[dict[str, Any]]:
    """For the diagram: each (sub)process's completed and active BPMN elements."""
    result = [_progress_of(workflow, owner, None)]
    for task_id, sub in workflow.subprocesses.items():
        try:
            caller = workflow.get_task_from_id(task_id)
        except TaskNotFoundException:  # a cancelled case's calls may have lost theirs
            continue
        if caller is not None and isinstance(caller.task_spec, CallActivity):
            result.append(_progress_of(sub, owner, caller))
    return result


def _progress_of(workflow, owner: dict[int, int], caller) -> dict[str, Any]:
    done: set[str] = set()
    active: set[str] = set()
    for task in workflow.get_tasks(skip_subprocesses=True):
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        if task.state == TaskState.COMPLETED:
            done.add(bpmn_id)
        elif task.state in (TaskState.READY, TaskState.STARTED, TaskState.WAITING):
            active.add(bpmn_id)
    data = caller.data if caller is not None else {}
    return {
        "process_key": workflow.spec.name, "label": workflow.spec.description or
        workflow.spec.name, "definition_id": owner.get(id(workflow.spec)),
        "called_from": element_id(caller) if caller is not None else None,
        "clinic": data.get("klinikk") if isinstance(data.get("klinikk"), str) else None,
        "completed": sorted(done - active), "active": sorted(active),
    }


def take_notifications(workflow) -> list[tuple[str, dict[str, Any]]]:
    """Notifications raised by `varsel` tasks since the last save, marked as taken."""
    def pending_in(task) -> dict | None:
        pending = task.internal_data.get("notification")
        return pending if pending and not pending.get("queued") else None

    # the tasks that raised one, as noted since the workflow began (EngineWorkflow); a
    # restored workflow's tables are looked through instead
    noted = getattr(workflow.top_workflow, "_tiltak_notices", None)
    if noted is None:
        noted = picked(task_tables(workflow), _INTERNAL_DATA, operator.contains, "notification")
    if not any(pending_in(task) for task in noted):
        return []
    taken = []
    for task in tasks_in(workflow, TaskState.COMPLETED):
        pending = pending_in(task)
        if pending is not None:
            pending["queued"] = True
            taken.append((element_id(task), pending["values"]))
    return taken

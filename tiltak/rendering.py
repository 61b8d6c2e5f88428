"""Plain-text and JSON rendering of tasks, instances and history for the command line."""

from __future__ import annotations

from typing import Any

from engine.models import HistoryEvent, HumanTask
from engine.runtime import Engine
from forms.resolve import FormResolutionError, form_for


def task_json(engine: Engine, task: HumanTask) -> dict[str, Any]:
    try:
        form = form_for(task.form, lambda ref: engine.form_document(ref, task.definition_id))
    except FormResolutionError as err:
        form, form_error = None, str(err)
    else:
        form_error = None
    result = {
        "id": task.id, "instance_id": task.instance_id, "process_key": task.process_key,
        "element_id": task.element_id, "name": task.name,
        "candidate_groups": task.candidate_groups, "candidate_users": task.candidate_users,
        "assignee": task.assignee, "due": task.due_at.isoformat() if task.due_at else None,
        "priority": task.priority,
        "form": form.to_json(_options_context(engine, task, form))
        if form is not None else {"fields": []},
    }
    if form_error:
        result["form"]["error"] = form_error
    return result


def _options_context(engine: Engine, task: HumanTask, form) -> dict[str, Any] | None:
    """What a form's `valuesKey` options are read from, as the server validates them: the
    organisation's lists and the task's data (read only when a field needs them)."""
    if not any(f.values_key for c in form.fields for f in _all(c)):
        return None
    return engine.task_context(task)


def _all(field) -> list:
    return [field, *(x for c in field.components for x in _all(c))]


def print_tasks(tasks: list[HumanTask]) -> None:
    if not tasks:
        print("  (no open tasks)")
        return
    for t in tasks:
        who = t.assignee or ", ".join(t.candidate_groups + t.candidate_users) or "-"
        due = f"  due {t.due_at:%Y-%m-%d}" if t.due_at else ""
        print(f"  {t.id}  {t.name}  [{t.process_key}]  -> {who}{due}")


def print_instance(shown: dict[str, Any]) -> None:
    print(f"{shown['name']} ({shown['process_key']} v{shown['version']})")
    print(f"  id:           {shown['id']}")
    print(f"  business key: {shown['business_key'] or '-'}")
    print(f"  status:       {shown['status']}")
    print(f"  started:      {shown['started_at']} by {shown['started_by']}")
    if shown["ended_at"]:
        print(f"  ended:        {shown['ended_at']}")
    print("  open tasks:")
    for t in shown["open_tasks"]:
        print(f"    {t['id']}  {t['name']}  -> {t['assignee'] or ', '.join(t['candidate_groups'])}")
    if not shown["open_tasks"]:
        print("    (none)")


def print_history(events: list[HistoryEvent]) -> None:
    for e in events:
        element = f" {e.element_id}" if e.element_id else ""
        print(f"  {e.seq:4}  {e.at:%Y-%m-%d %H:%M:%S}  {e.type:9} {e.actor:10}{element}")

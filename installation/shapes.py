"""The JSON shape of a task, with its form and the options its fields offer: one
definition for the command line's `--json` and the web UI's API."""

from __future__ import annotations

from typing import Any

from engine.models import HumanTask
from engine.runtime import Engine
from forms.resolve import FormResolutionError, form_for


def task_json(engine: Engine, task: HumanTask) -> dict[str, Any]:
    try:
        form = form_for(task.form, lambda ref: engine.repository.form_document(ref,
                                                                               task.definition_id))
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
    return engine.tasks.task_context(task)


def _all(field) -> list:
    return [field, *(x for c in field.components for x in _all(c))]

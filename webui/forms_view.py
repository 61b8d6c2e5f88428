"""What a page needs to show a form: the field model, values by input name, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.models import HumanTask, ProcessDefinition
from engine.runtime import Engine
from forms.model import Form
from forms.resolve import FormResolutionError, form_for

from .form_input import to_names


@dataclass
class FormView:
    form: Form | None
    fields: list[dict[str, Any]]
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # the form itself cannot be shown


def task_form(engine: Engine, task: HumanTask) -> Form | None:
    return form_for(task.form or {}, lambda ref: engine.form_document(ref, task.definition_id))


def start_form(engine: Engine, definition: ProcessDefinition) -> Form | None:
    return form_for(definition.start_form or {},
                    lambda ref: engine.form_document(ref, definition.id))


def form_view(make, context: dict[str, Any], data: dict[str, Any],
              errors: dict[str, str] | None = None) -> FormView:
    try:
        form = make()
    except FormResolutionError as err:
        return FormView(None, [], {}, problem=str(err))
    if form is None:
        return FormView(None, [], {}, errors or {})
    return FormView(form, form.to_json(context)["fields"], to_names(form.fields, data),
                    errors or {})

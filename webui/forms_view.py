"""What a page needs to show a form: the field model, values by input name, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from engine.models import HumanTask, ProcessDefinition
from engine.runtime import Engine
from forms.model import Field, Form, flatten
from forms.resolve import FormResolutionError, form_for

from .form_input import to_names


@dataclass
class FormView:
    form: Form | None
    fields: list[dict[str, Any]]
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # the form itself cannot be shown

    @property
    def summary(self) -> list[tuple[str, str]]:
        """(input id, sentence) per error, each naming its field by label and row."""
        fields = self.form.fields if self.form else []
        return [(field_id(path), f"{where(path, fields)}: {message}" if path else message)
                for path, message in sorted(self.errors.items())]


def field_id(path: str) -> str:
    """The id `_fields.html` gives the input at an error path."""
    return "f-" + path.replace("[", "-").replace("]", "").replace(".", "-")


_STEP = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


def where(path: str, fields: list[Field]) -> str:
    """An error path (`tiltak_vurdering[0].ansvarlig`) in words: "Foreslåtte tiltak,
    row 1, Ansvarlig"; a part no field describes is kept as it is."""
    words: list[str] = []
    level = fields
    for name, row in _STEP.findall(path):
        found = next((f for c in level for f in flatten(c) if f.name == name), None)
        words.append(found.label or name if found is not None else name)
        if row:
            words.append(_("row %(number)s", number=int(row) + 1))
        level = found.components if found is not None else []
    return ", ".join(words)


def task_form(engine: Engine, task: HumanTask) -> Form | None:
    return form_for(task.form or {},
                    lambda ref: engine.repository.form_document(ref, task.definition_id))


def start_form(engine: Engine, definition: ProcessDefinition) -> Form | None:
    return form_for(definition.start_form or {},
                    lambda ref: engine.repository.form_document(ref, definition.id))


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

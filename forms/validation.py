"""Server-side validation of submitted form values, whoever the caller: every error of every
field at once, keyed by its path (docs/DESIGN.md, "Forms").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError

from .conditions import evaluate_condition
from .errors import FormValidationError
from .messages import Message, join
from .model import Field, Form, flatten
from .schema import check_number, schema_for

EMPTY = (None, "", [])
# a person's groups when there is an active user by that name, else None
People = Callable[[str], "set[str] | None"]


def validate_submission(form: Form, submitted: Mapping[str, Any],
                        context: Mapping[str, Any] | None = None, *,
                        people: People | None = None, today: date | None = None
                        ) -> dict[str, Any]:
    """Typed values for `submitted`; raises FormValidationError listing every bad field.

    With `people`, a people picker's value must be an active user (in the field's
    groups); with `today`, a deadline may not lie before it (forms/markers.py)."""
    if not isinstance(submitted, Mapping):
        raise FormValidationError({"": Message("not_an_object")})
    level = _Level(dict(context or {}), people, today)
    values = level.check(form.fields, dict(submitted), dict(context or {}), prefix="",
                         scopes=[submitted, context or {}])
    if level.errors:
        raise FormValidationError(level.errors)
    return values


class _Level:
    def __init__(self, context: dict[str, Any], people: People | None = None,
                 today: date | None = None):
        self.context, self.people, self.today = context, people, today
        self.errors: dict[str, str] = {}  # path -> Message or Messages

    def check(self, components: list[Field], submitted: dict[str, Any],
              given: Mapping[str, Any], prefix: str, scopes: list[Mapping[str, Any]]
              ) -> dict[str, Any]:
        """Validate one level; `given` holds the values the process already has there."""
        fields = [x for c in components for x in flatten(c)]
        known = {f.name for f in fields}
        for key in submitted:
            if key not in known:
                self.errors[prefix + key] = Message("unknown_field")
        result: dict[str, Any] = {}
        to_schema: list[Field] = []
        # what decides whether a field is hidden: the values sent, but a read-only field
        # always as the process has it (a value sent for it would otherwise lift a rule)
        seen = dict(submitted)
        for f in fields:
            if f.readonly and f.key is not None:
                if f.key in given:
                    seen[f.key] = given[f.key]
                else:
                    seen.pop(f.key, None)
        for f in fields:
            if f.hide and evaluate_condition(f.hide, [seen, *scopes]) is True:
                continue
            if f.type == "group":
                inner = submitted.get(f.path)
                result[f.path] = self.check(
                    f.components, inner if isinstance(inner, dict) else {},
                    _mapping(given.get(f.path)), f"{prefix}{f.path}.", [submitted, *scopes])
            elif f.type == "dynamiclist":
                rows = self.rows(f, submitted, given, prefix, scopes)
                if rows is not None:
                    result[f.path] = rows
            elif f.readonly:
                if f.key in given:
                    result[f.key] = given[f.key]
            elif submitted.get(f.key) in EMPTY or (f.must_be_checked
                                                   and submitted.get(f.key) is False):
                if f.required:
                    self.errors[prefix + f.key] = Message("must_be_checked") \
                        if f.must_be_checked and f.key in submitted else Message("required")
                elif f.type == "checkbox":  # an unticked box is false, sent or not
                    result[f.key] = False
                elif f.key in submitted:
                    result[f.key] = submitted[f.key] if f.type in ("textfield", "textarea") \
                        else ([] if f.type in ("checklist", "taglist") else None)
            elif self.precheck(f, submitted[f.key], prefix):
                to_schema.append(f)
        if to_schema:
            result.update(self.load(to_schema, submitted, prefix))
        return result

    def precheck(self, f: Field, value: Any, prefix: str) -> bool:
        if f.type != "number":
            return True
        try:
            check_number(value, f.integer)
        except ValidationError as err:
            self.errors[prefix + f.key] = _text(err.messages)
            return False
        return True

    def load(self, fields: list[Field], submitted: dict[str, Any], prefix: str
             ) -> dict[str, Any]:
        schema = schema_for(fields, self.context)
        data = {f.key: submitted[f.key] for f in fields}
        try:
            values = schema.load(data)
        except ValidationError as err:
            for key, messages in err.messages.items():
                self.errors[prefix + key] = _text(messages)
            values = err.valid_data or {}
        for f in fields:
            if f.must_be_checked and values.get(f.key) is False:
                self.errors[prefix + f.key] = Message("must_be_checked")
            elif f.key in values and prefix + f.key not in self.errors:
                problem = self.organisation(f, values[f.key])
                if problem is not None:
                    self.errors[prefix + f.key] = problem
        return values

    def organisation(self, f: Field, value: Any) -> Message | None:
        """What the organisation says against a value: no such person, not one who may
        take the task, a deadline already past."""
        if f.person is not None and self.people is not None and isinstance(value, str):
            groups = self.people(value)
            if groups is None:
                return Message("unknown_person", label=f.label, value=value)
            if f.person and not groups & set(f.person):
                return Message("person_not_in_group", label=f.label, value=value,
                               groups=", ".join(f.person))
        if f.no_past and self.today is not None and isinstance(value, date):
            day = value.date() if isinstance(value, datetime) else value
            if day < self.today:
                return Message("date_in_past", label=f.label, value=day)
        return None

    def rows(self, f: Field, submitted: dict[str, Any], given: Mapping[str, Any],
             prefix: str, scopes: list[Mapping[str, Any]]) -> list[dict[str, Any]] | None:
        path = prefix + f.path
        raw = submitted.get(f.path)
        existing = given.get(f.path) if isinstance(given.get(f.path), list) else None
        if raw is None:
            if f.required or (existing and not f.allow_add_remove):
                self.errors[path] = Message("required")
            return existing
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            self.errors[path] = Message("not_rows")
            return None
        if not f.allow_add_remove and existing is not None and len(raw) != len(existing):
            self.errors[path] = Message("exact_rows", count=len(existing))
            return None
        if f.required and not raw:
            self.errors[path] = Message("no_rows")
        limit = f.validate.get("maxLength")
        if limit is not None and len(raw) > int(limit):
            self.errors[path] = Message("max_rows", limit=limit)
        before = existing or []
        return [self.check(f.components, row, _mapping(before[i] if i < len(before) else None),
                           f"{path}[{i}].", [row, *scopes])
                for i, row in enumerate(raw)]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(messages: Any) -> str:
    """One text for marshmallow's messages of a field (a list, or per list item a dict)."""
    return join(_flat(messages))


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, list):
        return [m for item in messages for m in _flat(item)]
    if isinstance(messages, dict):
        return [m for item in messages.values() for m in _flat(item)]
    return [str(messages)]

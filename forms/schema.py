"""A marshmallow schema for the fields of one form level, doing type coercion and limits.

Only fields that are visible, writable and filled in reach the schema; required-ness,
hiding and read-only values are handled by `validation.py` around it.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from .model import MULTI_TYPES, Field, Option

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def schema_for(form_fields: list[Field], context: dict[str, Any]) -> Schema:
    return Schema.from_dict({f.key: _marshmallow_field(f, context) for f in form_fields})()


def _marshmallow_field(f: Field, context: dict[str, Any]) -> fields.Field:
    checks = _limits(f)
    if f.type in ("textfield", "textarea"):
        return fields.String(validate=checks,
                             error_messages={"invalid": "must be text"})
    if f.type == "number":
        kind = fields.Integer if f.integer else fields.Float
        extra = {"strict": False} if f.integer else {"allow_nan": False}
        return kind(validate=checks,
                    error_messages={"invalid": "must be a whole number" if f.integer
                                    else "must be a number"}, **extra)
    if f.type == "checkbox":
        return fields.Boolean(error_messages={"invalid": "must be true or false (boolean)"})
    if f.type == "datetime":
        if f.subtype == "date":
            return fields.Date(error_messages={"invalid": "not a valid date (YYYY-MM-DD)"})
        if f.subtype == "time":
            return fields.String(validate=validate.Regexp(
                TIME, error="not a valid time (HH:MM)"))
        return fields.DateTime(error_messages={
            "invalid": "not a valid date and time (YYYY-MM-DDTHH:MM)"})
    choice = _one_of(f.options_in(context))
    if f.type in MULTI_TYPES:
        return fields.List(fields.Raw(validate=choice), validate=_count(f),
                           error_messages={"invalid": "must be a list of options"})
    return fields.Raw(validate=choice)


def _limits(f: Field) -> list:
    v, checks = f.validate, []
    if f.type == "number" and ("min" in v or "max" in v):
        checks.append(validate.Range(min=v.get("min"), max=v.get("max"), error=_range_text(v)))
    if f.type in ("textfield", "textarea"):
        if "minLength" in v or "maxLength" in v:
            checks.append(validate.Length(min=v.get("minLength"), max=v.get("maxLength"),
                                          error=_length_text(v)))
        if v.get("pattern"):
            checks.append(_pattern(v["pattern"]))
    return checks


def _count(f: Field) -> list:
    v = f.validate
    if "minLength" in v or "maxLength" in v:
        return [validate.Length(min=v.get("minLength"), max=v.get("maxLength"),
                                error="choose between {min} and {max}")]
    return []


def _range_text(v: dict[str, Any]) -> str:
    if "min" in v and "max" in v:
        return f"must be between {v['min']} and {v['max']}"
    return f"must be at least {v['min']}" if "min" in v else f"must be at most {v['max']}"


def _length_text(v: dict[str, Any]) -> str:
    if "minLength" in v and "maxLength" in v:
        return f"must be {v['minLength']} to {v['maxLength']} characters"
    if "minLength" in v:
        return f"must be at least {v['minLength']} characters"
    return f"must be at most {v['maxLength']} characters"


def _pattern(pattern: str):
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.fullmatch(value):
            raise ValidationError(f"is not in the expected format ({pattern})")
    return check


def _one_of(options: list[Option]):
    allowed = [o.value for o in options]

    def check(value: Any) -> None:
        if value not in allowed:
            raise ValidationError(
                f"'{value}' is not one of the options: {', '.join(map(str, allowed))}")
    return check


def check_number(value: Any, integer: bool) -> None:
    """Before coercion: refuse booleans, and 3.5 or "3.5" where whole numbers are asked
    for (marshmallow would silently cut them to 3)."""
    if isinstance(value, bool):
        raise ValidationError("must be a number")
    if not integer:
        return
    if isinstance(value, float) and not value.is_integer():
        raise ValidationError("must be a whole number")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return
        if not number.is_integer():
            raise ValidationError("must be a whole number")

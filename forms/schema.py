"""A marshmallow schema for the fields of one form level: type coercion and limits. Only
visible, writable, filled-in fields reach it; `validation.py` handles the rest.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from .messages import Message
from .model import MULTI_TYPES, Field, Option

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


_SCHEMAS: dict[str, Schema] = {}  # by what the fields say; a schema loads many times
_MAX_SCHEMAS = 512


def schema_for(form_fields: list[Field], context: dict[str, Any]) -> Schema:
    """The schema of these fields (options taken from the context where they come from
    it), made once for fields that say the same."""
    key = "\n".join(repr(f) + (repr(f.options_in(context)) if f.values_key else "")
                    for f in form_fields)
    made = _SCHEMAS.get(key)
    if made is None:
        if len(_SCHEMAS) >= _MAX_SCHEMAS:
            _SCHEMAS.clear()
        made = _SCHEMAS[key] = Schema.from_dict(
            {f.key: _marshmallow_field(f, context) for f in form_fields})()
    return made


def _marshmallow_field(f: Field, context: dict[str, Any]) -> fields.Field:
    checks = _limits(f)
    if f.type in ("textfield", "textarea"):
        return fields.String(validate=checks,
                             error_messages={"invalid": Message("not_text")})
    if f.type == "number":
        too_large = {"too_large": Message("number_too_large")}
        if f.integer:
            return fields.Integer(strict=False, validate=checks, error_messages={
                "invalid": Message("not_whole_number"), **too_large})
        return fields.Float(allow_nan=False, validate=checks, error_messages={
            "invalid": Message("not_number"), "special": Message("not_finite"), **too_large})
    if f.type == "checkbox":
        return fields.Boolean(error_messages={"invalid": Message("not_boolean")})
    if f.type == "datetime":
        if f.subtype == "date":
            return fields.Date(error_messages={"invalid": Message("not_date")})
        if f.subtype == "time":
            return fields.String(validate=validate.Regexp(
                TIME, error=Message("not_time")))
        return fields.DateTime(error_messages={"invalid": Message("not_datetime")})
    choice = _one_of(f.options_in(context))
    if f.type in MULTI_TYPES:
        return fields.List(fields.Raw(validate=choice), validate=_count(f),
                           error_messages={"invalid": Message("not_option_list")})
    return fields.Raw(validate=choice)


def _limits(f: Field) -> list:
    v, checks = f.validate, []
    if f.type == "number" and ("min" in v or "max" in v):
        checks.append(validate.Range(min=v.get("min"), max=v.get("max"), error=_range_message(v)))
    if f.type in ("textfield", "textarea"):
        if "minLength" in v or "maxLength" in v:
            checks.append(validate.Length(min=v.get("minLength"), max=v.get("maxLength"),
                                          error=_length_message(v)))
        if v.get("pattern"):
            checks.append(_pattern(v["pattern"]))
    return checks


def _count(f: Field) -> list:
    v = f.validate
    if "minLength" in v or "maxLength" in v:
        return [validate.Length(min=v.get("minLength"), max=v.get("maxLength"),
                                error=_choice_count_message(v))]
    return []


def _limit_message(v: dict[str, Any], low: str, high: str, codes: tuple[str, str, str]
                   ) -> Message:
    """The message for the limits set in `v` under `low` and `high`: both, the lower
    only or the upper only, with the codes for those three cases."""
    both, at_least, at_most = codes
    if low in v and high in v:
        return Message(both, min=v[low], max=v[high])
    return Message(at_least, min=v[low]) if low in v else Message(at_most, max=v[high])


def _choice_count_message(v: dict[str, Any]) -> Message:
    return _limit_message(v, "minLength", "maxLength",
                          ("choose_between", "choose_at_least", "choose_at_most"))


def _range_message(v: dict[str, Any]) -> Message:
    return _limit_message(v, "min", "max", ("between", "at_least", "at_most"))


def _length_message(v: dict[str, Any]) -> Message:
    return _limit_message(v, "minLength", "maxLength",
                          ("length_between", "min_length", "max_length"))


def _pattern(pattern: str):
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.fullmatch(value):
            raise ValidationError(Message("pattern", pattern=pattern))
    return check


def _one_of(options: list[Option]):
    allowed = [o.value for o in options]

    def check(value: Any) -> None:
        if value not in allowed:
            raise ValidationError(Message("not_an_option", value=value,
                                          options=", ".join(map(str, allowed))))
    return check


def check_number(value: Any, integer: bool) -> None:
    """Before coercion: refuse booleans, and 3.5 or "3.5" where whole numbers are asked
    for (marshmallow would silently cut them to 3)."""
    if isinstance(value, bool):
        raise ValidationError(Message("not_number"))
    if not integer:
        return
    if isinstance(value, float) and not value.is_integer():
        raise ValidationError(Message("not_whole_number"))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return
        if not number.is_integer():
            raise ValidationError(Message("not_whole_number"))

"""Camunda 7 generated forms (`camunda:formData`) read into the field model; a type or
constraint it does not know is refused with the field named (docs/DESIGN.md, "Forms").
"""

from __future__ import annotations

from typing import Any

from . import markers
from .errors import FormResolutionError
from .model import Field, Form, Option

TYPES = {"string": ("textfield", None), "long": ("number", None), "boolean": ("checkbox", None),
         "date": ("datetime", "date"), "enum": ("select", None)}
LIMITS = {"min": "min", "max": "max", "minlength": "minLength", "maxlength": "maxLength"}


def form_from_form_data(fields: list[dict[str, Any]]) -> Form:
    return Form([_field(f) for f in fields], source="formData")


def _field(raw: dict[str, Any]) -> Field:
    key = raw.get("id")
    if not key:
        raise FormResolutionError("a camunda:formField has no id")
    kind = raw.get("type") or "string"
    if kind not in TYPES:
        raise FormResolutionError(
            f"form field '{key}': type '{kind}' is not supported "
            f"(use one of {', '.join(TYPES)})")
    ftype, subtype = TYPES[kind]
    result = Field(key=key, type=ftype, label=raw.get("label") or key, subtype=subtype,
                   integer=kind == "long",
                   options=[Option(v.get("id"), v.get("name") or v.get("id"))
                            for v in raw.get("values") or []],
                   properties={str(k): str(v) for k, v in
                               (raw.get("properties") or {}).items() if k})
    for constraint in raw.get("validation") or []:
        _constrain(result, constraint.get("name"), constraint.get("config"))
    markers.apply(result)
    default = raw.get("defaultValue")
    if default not in (None, ""):
        result.default = _default(result, default)
    return result


def _constrain(field: Field, name: str | None, config: str | None) -> None:
    if name == "required":
        field.required = True
    elif name == "readonly":
        field.readonly = True
    elif name in LIMITS:
        try:
            number = float(config) if field.type == "number" and "." in str(config) \
                else int(str(config))
        except (TypeError, ValueError):
            raise FormResolutionError(
                f"form field '{field.key}': constraint {name} needs a number, "
                f"not '{config}'") from None
        field.validate[LIMITS[name]] = number
    else:
        raise FormResolutionError(
            f"form field '{field.key}': constraint '{name}' is not supported "
            "(required, readonly, min, max, minlength, maxlength)")
    if field.required:
        field.validate["required"] = True


def _default(field: Field, text: str) -> Any:
    if field.type == "checkbox":
        return text.strip().lower() == "true"
    if field.integer:
        try:
            return int(text)
        except ValueError:
            return None
    return text

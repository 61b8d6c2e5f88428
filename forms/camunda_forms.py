"""Camunda Forms (`.form` JSON as Camunda Modeler saves it) read into the field model; a
component type the server cannot validate is refused by name (docs/DESIGN.md, "Forms").
"""

from __future__ import annotations

from typing import Any

from . import markers
from .conditions import check_condition
from .errors import FormResolutionError
from .model import CONTAINER_TYPES, VALUE_TYPES, Field, Form, Option

LAYOUT_ONLY = {"spacer", "separator", "image", "html", "button", "iframe"}
VALIDATION_TYPES = {"email": r"[^@\s]+@[^@\s]+\.[^@\s]+", "phone": r"\+?[0-9 ()-]{5,20}"}
LIMIT_KEYS = ("min", "max", "minLength", "maxLength", "pattern")


def form_from_camunda_form(doc: dict[str, Any], source: str = "") -> Form:
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), list):
        raise FormResolutionError(f"form '{source}' is not a Camunda Form (no components)")
    fields = _components(doc["components"], doc.get("id") or source)
    return Form(fields, id=doc.get("id"), source=doc.get("id") or source)


def _components(raw: list[dict[str, Any]], form_id: str) -> list[Field]:
    return [f for f in (_component(c, form_id) for c in raw) if f is not None]


def _component(raw: dict[str, Any], form_id: str) -> Field | None:
    ctype = raw.get("type")
    where = f"form '{form_id}', component '{raw.get('key') or raw.get('path') or raw.get('id')}'"
    if ctype in LAYOUT_ONLY:
        return None
    if ctype == "text":
        return Field(key=None, type="text", text=raw.get("text") or "")
    if ctype not in VALUE_TYPES and ctype not in CONTAINER_TYPES:
        raise FormResolutionError(f"{where}: component type '{ctype}' is not supported")
    hide = (raw.get("conditional") or {}).get("hide")
    if hide is not None:
        try:
            check_condition(hide)
        except ValueError as err:
            raise FormResolutionError(f"{where}: conditional.hide: {err}") from None
    field = Field(key=raw.get("key"), type=ctype,
                  label=raw.get("label") or raw.get("dateLabel") or raw.get("key") or "",
                  hide=hide, description=raw.get("description"),
                  default=raw.get("defaultValue"),
                  properties={str(k): str(v) for k, v in (raw.get("properties") or {}).items()})
    if ctype in CONTAINER_TYPES:
        field.path = raw.get("path") or None
        if ctype == "dynamiclist" and not field.path:
            raise FormResolutionError(f"{where}: a repeating list needs a path")
        field.components = _components(raw.get("components") or [], form_id)
        field.allow_add_remove = bool(raw.get("allowAddRemove", True))
    elif not field.key:
        raise FormResolutionError(f"{where}: a {ctype} field needs a key")
    _read_flags(field, raw, where)
    _read_validation(field, raw.get("validate") or {}, where)
    if ctype == "datetime":
        field.subtype = raw.get("subtype") or "datetime"
    if ctype == "number":
        digits = raw.get("decimalDigits")
        field.decimal_digits = int(digits) if digits not in (None, "") else None
        field.integer = field.decimal_digits == 0
    markers.apply(field, raw)
    if "valuesKey" in raw:
        field.values_key = raw["valuesKey"]
    elif "valuesExpression" in raw:
        raise FormResolutionError(f"{where}: valuesExpression is not supported; use valuesKey")
    else:
        field.options = [Option(v.get("value"), str(v.get("label", v.get("value"))))
                         for v in raw.get("values") or []]
    return field


def _read_flags(field: Field, raw: dict[str, Any], where: str) -> None:
    for flag in ("readonly", "disabled"):
        value = raw.get(flag)
        if isinstance(value, str):
            raise FormResolutionError(f"{where}: {flag} as an expression is not supported")
        if value:
            field.readonly = True


def _read_validation(field: Field, validate: dict[str, Any], where: str) -> None:
    field.required = bool(validate.get("required"))
    field.must_be_checked = field.required and field.type == "checkbox"  # as form-js checks
    if field.required:
        field.validate["required"] = True
    for key in LIMIT_KEYS:
        if validate.get(key) not in (None, ""):
            field.validate[key] = validate[key]
    vtype = validate.get("validationType")
    if vtype:
        if vtype not in VALIDATION_TYPES:
            raise FormResolutionError(f"{where}: validationType '{vtype}' is not supported")
        field.validate.setdefault("pattern", VALIDATION_TYPES[vtype])

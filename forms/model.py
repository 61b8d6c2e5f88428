"""The one field model that both `camunda:formData` and Camunda Forms are turned into:
a `Form` is a list of `Field`s, and `to_json()` is what the command line and the API show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VALUE_TYPES = {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select",
               "datetime", "taglist"}
CONTAINER_TYPES = {"group", "dynamiclist"}
CHOICE_TYPES = {"checklist", "radio", "select", "taglist"}
MULTI_TYPES = {"checklist", "taglist"}


@dataclass
class Option:
    value: Any
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label}


@dataclass
class Field:
    key: str | None
    type: str
    label: str = ""
    required: bool = False
    must_be_checked: bool = False  # a required checkbox of a Camunda Form: false is not enough
    validate: dict[str, Any] = field(default_factory=dict)  # min max minLength maxLength pattern
    options: list[Option] = field(default_factory=list)
    values_key: str | None = None  # options taken from the context (Camunda Forms valuesKey)
    components: list[Field] = field(default_factory=list)
    readonly: bool = False
    hide: str | None = None  # FEEL expression of conditional.hide
    subtype: str | None = None  # datetime: date, time, datetime
    integer: bool = False  # number: whole numbers only
    decimal_digits: int | None = None
    default: Any = None
    text: str | None = None  # text components
    description: str | None = None
    allow_add_remove: bool = True  # dynamiclist
    path: str | None = None  # group and dynamiclist: where their values live
    properties: dict[str, str] = field(default_factory=dict)  # Camunda Forms custom properties
    person: tuple[str, ...] | None = None  # a people picker: the groups (none: any user)
    no_past: bool = False  # a deadline: no day before today (forms/markers.py)

    @property
    def has_value(self) -> bool:
        return self.type in VALUE_TYPES and bool(self.key)

    @property
    def name(self) -> str | None:
        """Where the value lives at its level: the key, or the path of a container."""
        return self.path if self.type in CONTAINER_TYPES else self.key

    def options_in(self, context: dict[str, Any] | None) -> list[Option]:
        if self.values_key is None:
            return self.options
        raw = (context or {}).get(self.values_key) or []
        return [_option(o) for o in raw]

    def to_json(self, context: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {
            "key": self.name, "label": self.label, "type": self.type,
            "required": self.required,
            "options": [o.to_json() for o in self.options_in(context)],
            "validate": dict(self.validate),
            "components": [c.to_json(context) for c in self.components],
        }
        extras = {"readonly": self.readonly or None, "hide": self.hide,
                  "subtype": self.subtype, "default": self.default, "text": self.text,
                  "description": self.description, "values_key": self.values_key,
                  "person": list(self.person) if self.person is not None else None,
                  "no_past": self.no_past or None}
        result.update({k: v for k, v in extras.items() if v is not None})
        if self.type == "number":
            result["integer"] = self.integer
        if self.type == "dynamiclist":
            result["allow_add_remove"] = self.allow_add_remove
        return result


@dataclass
class Form:
    fields: list[Field]
    id: str | None = None
    source: str = ""  # "formData" or the Camunda Form id / file

    def to_json(self, context: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {"fields": [f.to_json(context) for f in self.fields]}
        if self.id:
            result["id"] = self.id
        return result


def flatten(f: Field) -> list[Field]:
    if f.type == "group" and not f.path:
        return [x for c in f.components for x in flatten(c)]
    return [f] if f.has_value or f.type in CONTAINER_TYPES else []


def _option(raw: Any) -> Option:
    if isinstance(raw, dict):
        return Option(raw.get("value"), str(raw.get("label", raw.get("value"))))
    return Option(raw, str(raw))

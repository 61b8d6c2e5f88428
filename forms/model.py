"""The field model both form sources are turned into, and its JSON shape for renderers.

Types use the Camunda Forms names. `to_json(context)` resolves option lists that come
from the process data (`valuesKey`, `valuesExpression`) when a context is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .feel import Expression

VALUE_TYPES = frozenset({"textfield", "textarea", "number", "checkbox", "checklist", "radio",
                         "select", "datetime", "taglist"})
TEXT_TYPES = frozenset({"textfield", "textarea"})
OPTION_TYPES = frozenset({"checklist", "radio", "select", "taglist"})
MULTI_OPTION_TYPES = frozenset({"checklist", "taglist"})
CONTAINER_TYPES = frozenset({"group", "dynamiclist"})
DATETIME_SUBTYPES = ("date", "time", "datetime")


@dataclass(frozen=True)
class Option:
    value: Any
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label}


def options_from(items: Any) -> tuple[Option, ...] | None:
    """Options from a list of `{"value", "label"}` objects or plain values; None if not a list."""
    if not isinstance(items, list | tuple):
        return None
    options = []
    for item in items:
        if isinstance(item, Mapping):
            value = item.get("value")
            options.append(Option(value, str(item.get("label", value))))
        else:
            options.append(Option(item, str(item)))
    return tuple(options)


@dataclass(frozen=True)
class Field:
    """One form component. Containers (group, dynamiclist) hold their fields in `components`.

    `key` is the variable name; for a group it is its `path` (or the component id when the
    group has no path and its fields stay at the level it sits on). `readonly_when` and
    `hide` are FEEL conditions; `readonly` is the static flag.
    """

    key: str
    type: str
    label: str = ""
    required: bool = False
    options: tuple[Option, ...] = ()
    values_key: str | None = None
    values_expression: Expression | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    decimal_digits: int | None = None
    subtype: str | None = None
    date_pattern: str | None = None
    text: str | None = None
    default: Any = None
    readonly: bool = False
    readonly_when: Expression | None = None
    hide: Expression | None = None
    path: str | None = None
    allow_add_remove: bool = True
    components: tuple[Field, ...] = ()

    @property
    def has_value(self) -> bool:
        return self.type in VALUE_TYPES

    @property
    def nests_values(self) -> bool:
        """True for a dynamiclist and a group with a path: their values sit under `key`."""
        return self.type == "dynamiclist" or (self.type == "group" and bool(self.path))

    @property
    def integer_only(self) -> bool:
        return self.type == "number" and self.decimal_digits == 0

    def options_in(self, context: Mapping[str, Any] | None) -> tuple[Option, ...] | None:
        """The options a value must be one of; None when they come from missing context."""
        if self.values_key is not None:
            return options_from((context or {}).get(self.values_key))
        if self.values_expression is not None:
            return options_from(self.values_expression.evaluate([context or {}]))
        return self.options

    def limits(self) -> dict[str, Any]:
        named = {"min": self.minimum, "max": self.maximum, "minLength": self.min_length,
                 "maxLength": self.max_length, "pattern": self.pattern}
        return {name: value for name, value in named.items() if value is not None}

    def to_json(self, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        options = self.options_in(context) if context is not None else self.options
        result: dict[str, Any] = {
            "key": self.key, "label": self.label, "type": self.type, "required": self.required,
            "options": [option.to_json() for option in options or ()],
            "validate": self.limits(),
            "components": [field.to_json(context) for field in self.components],
            "readonly": self.readonly_when.source if self.readonly_when else self.readonly,
            "hide": self.hide.source if self.hide else None,
            "default": self.default,
        }
        if self.type == "number":
            result["decimal_digits"] = self.decimal_digits
        if self.type == "datetime":
            result["subtype"] = self.subtype
        if self.type == "text":
            result["text"] = self.text
        if self.values_key is not None:
            result["values_key"] = self.values_key
        if self.values_expression is not None:
            result["values_expression"] = self.values_expression.source
        if self.type in CONTAINER_TYPES:
            result["path"] = self.path
        if self.type == "dynamiclist":
            result["allow_add_remove"] = self.allow_add_remove
        return result


@dataclass(frozen=True)
class Form:
    fields: tuple[Field, ...]
    id: str | None = None

    def to_json(self, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """`{"fields": [...]}`; with a context, options from `valuesKey` are filled in."""
        return {"fields": [field.to_json(context) for field in self.fields]}


def keys_at_level(fields: tuple[Field, ...]) -> set[str]:
    """The value keys that belong at one level (fields of groups without a path included)."""
    keys: set[str] = set()
    for field in fields:
        if field.type == "group" and not field.path:
            keys |= keys_at_level(field.components)
        elif field.has_value or field.nests_values:
            keys.add(field.key)
    return keys

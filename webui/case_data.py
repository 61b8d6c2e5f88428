"""A case's data as people read it: each variable under its field's label, options by
their names, dates and numbers the locale's way, repeating rows as tables; variables no
form declares are left out (installation/case_fields.py says which are shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from numbers import Number
from typing import Any

from flask_babel import format_date, format_datetime, format_decimal
from flask_babel import gettext as _

from forms.model import CHOICE_TYPES, CONTAINER_TYPES, Field, flatten
from installation.case_fields import PRIVATE_PREFIX, CaseFields, shown_names

from .filters import place_name, user_name


@dataclass
class Item:
    """One thing shown: a label with text, a table (columns and rows of texts) or
    items of its own (a group, or a record a process declares)."""

    label: str
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "table" if self.columns else "items" if self.items else "text"


def readable(data: dict[str, Any], fields: CaseFields, context: dict[str, Any],
             skip: set[str] | frozenset[str] = frozenset()) -> list[Item]:
    """The items of `data` people see, in the order the forms ask for them."""
    names = [n for n in shown_names(data, fields) if n not in skip
             and data[n] not in (None, "", [], {})]
    order = {name: i for i, name in enumerate([*fields.fields, *fields.declared])}
    items = []
    for name in sorted(names, key=lambda n: order.get(n, len(order))):
        f = fields.fields.get(name)
        if f is not None:
            items.append(_item(f, data[name], context))
        else:
            items.append(_record(fields.declared[name] or name, data[name], fields, context))
    return items


def _item(f: Field, value: Any, context: dict[str, Any]) -> Item:
    label = f.label or f.name or ""
    if f.type == "dynamiclist":
        columns = [c for c in _value_fields(f.components)]
        rows = value if isinstance(value, list) else []
        shown_columns = [c for c in columns
                         if any(isinstance(r, dict) and r.get(c.key) not in (None, "")
                                for r in rows)]
        return Item(label, columns=[c.label or c.key for c in shown_columns],
                    rows=[[text(c, r.get(c.key), context) if isinstance(r, dict) else ""
                           for c in shown_columns] for r in rows])
    if f.type == "group":
        inner = value if isinstance(value, dict) else {}
        return Item(label, items=[_item(c, inner[c.name], context)
                                  for c in _value_fields(f.components, containers=True)
                                  if inner.get(c.name) not in (None, "", [])])
    return Item(label, text=text(f, value, context))


def _record(label: str, value: Any, fields: CaseFields, context: dict[str, Any]) -> Item:
    """A variable a process declares for display: a record's keys by the labels of the
    form fields of the same key; keys no form has are the routine's own."""
    if isinstance(value, dict):
        order = list(fields.by_key)  # in the order the forms ask for them
        keys = sorted((k for k in value if k in fields.by_key
                       and not k.startswith(PRIVATE_PREFIX) and value[k] not in (None, "", [])),
                      key=order.index)
        return Item(label, items=[Item(fields.by_key[k].label or k,
                                       text=text(fields.by_key[k], value[k], context))
                                  for k in keys])
    if isinstance(value, list):
        return Item(label, text=", ".join(plain_text(v) for v in value))
    return Item(label, text=plain_text(value))


def _value_fields(components: list[Field], containers: bool = False) -> list[Field]:
    found = [x for c in components for x in flatten(c)]
    return [f for f in found if f.has_value or (containers and f.type in CONTAINER_TYPES)]


def text(f: Field, value: Any, context: dict[str, Any]) -> str:
    """One value as its field shows it, in the language and locale of the request."""
    if value is None or value == "":
        return ""
    if f.type in CHOICE_TYPES:
        labels = {_key(o.value): o.label for o in f.options_in(context)}
        values = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(_key(v)) or _place(v) for v in values)
    if f.person is not None and isinstance(value, str):
        return user_name(value)
    if f.type == "checkbox" or isinstance(value, bool):
        return _("Yes") if value is True else _("No") if value is False else plain_text(value)
    if f.type == "datetime":
        return _when(value, f.subtype or "datetime")
    if f.type == "number" and isinstance(value, Number):
        return format_decimal(value)
    if f.key in ("klinikk", "enhet", "klinik") and isinstance(value, str):
        return place_name(value)
    return plain_text(value)


def plain_text(value: Any) -> str:
    """A value no field describes: never JSON, never a Python repr."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    if isinstance(value, date):
        return format_date(value, "medium")
    if isinstance(value, Number):
        return format_decimal(value)
    if isinstance(value, list):
        return ", ".join(plain_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(plain_text(v) for v in value.values() if v not in (None, ""))
    return str(value)


def _when(value: Any, subtype: str) -> str:
    try:
        if subtype == "date":
            day = value if isinstance(value, date) and not isinstance(value, datetime) \
                else date.fromisoformat(str(value)[:10])
            return format_date(day, "medium")
        if subtype == "time":
            return str(value)[:5]
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return format_datetime(moment, "short")
    except ValueError:
        return str(value)


def _place(value: Any) -> str:
    return place_name(value) if isinstance(value, str) else plain_text(value)


def _key(value: Any) -> str:
    return str(value)


# --- for the templates: the pages of one case say which case, `_data.html` shows it ----

def use_case(instance_id: str | None = None, definition_ids: list[int] | None = None) -> None:
    """The fields this request's data is read through: a case's, or some definitions'."""
    from flask import g

    from installation.case_fields import fields_of, fields_of_case

    from .auth import engine
    found = fields_of_case(engine(), instance_id) if instance_id else CaseFields()
    if definition_ids:
        found.add(fields_of(engine(), definition_ids))
    g.case_fields = found


def _fields() -> CaseFields:
    from flask import g
    return getattr(g, "case_fields", None) or CaseFields()


def _context() -> dict[str, Any]:
    from .auth import engine
    return engine().context_variables()


def items(data: Any, skip: Any = ()) -> list[Item]:
    """`data` as people read it, through the fields `use_case` chose."""
    if not isinstance(data, dict):
        return []
    return readable(data, _fields(), _context(), set(skip))


def is_shown(name: str) -> bool:
    return bool(shown_names({name: None}, _fields()))


def label_of(name: str) -> str:
    fields = _fields()
    f = fields.fields.get(name)
    return (f.label or name) if f is not None else fields.declared.get(name) or name


def text_of(name: str, value: Any) -> Item:
    fields = _fields()
    f = fields.fields.get(name)
    if f is not None:
        return _item(f, value, _context())
    return _record(label_of(name), value, fields, _context())


def step_name(element_id: str | None) -> str:
    """A BPMN element by its name in the case's diagrams (its id when it has none)."""
    if not element_id:
        return ""
    return _fields().steps.get(element_id, element_id)


def init_app(app) -> None:
    app.jinja_env.globals.update(case_items=items, shown_variable=is_shown,
                                 variable_label=label_of, variable_item=text_of,
                                 step_name=step_name)
    app.jinja_env.tests["shown_variable"] = is_shown

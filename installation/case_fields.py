"""The fields a case's data is read through: every form of its process definitions (and
of the processes they call), and the variables a process declares for display. What no
form and no declaration names is the routine's own and is not shown (docs/DESIGN.md,
"Case data as people read it").
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from engine.model.model_checks import BPMN_NS, CAMUNDA_NS
from engine.model.parsing import capture_extensions
from engine.model.xml import parse_xml
from engine.runtime import Engine
from forms.errors import FormResolutionError
from forms.model import CONTAINER_TYPES, Field, flatten
from forms.resolve import form_for

SHOWN_PREFIX = "vis:"  # <camunda:property name="vis:tiltak" value="Tiltaket" /> on a process
PRIVATE_PREFIX = "_"  # a variable whose name starts so is never shown, whatever declares it
_FORM_NODES = ("startEvent", "userTask")


@dataclass
class CaseFields:
    """Field by variable name (the first form that declares it wins), and the labels of
    the variables processes declare for display."""

    fields: dict[str, Field] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)
    # every field of every form by key, also those inside lists: labels for the keys of
    # a declared variable that is a record (the measure a called process works on)
    by_key: dict[str, Field] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)  # element id -> its name

    def add(self, other: CaseFields) -> None:
        for mine, theirs in ((self.fields, other.fields), (self.declared, other.declared),
                             (self.by_key, other.by_key), (self.steps, other.steps)):
            for key, value in theirs.items():
                mine.setdefault(key, value)


_cache: weakref.WeakKeyDictionary[Engine, dict[int, CaseFields]] = weakref.WeakKeyDictionary()


def fields_of(engine: Engine, definition_ids: list[int]) -> CaseFields:
    """The fields of these definitions together (a case: its own and the ones it calls)."""
    result = CaseFields()
    for definition_id in definition_ids:
        result.add(_definition_fields(engine, definition_id))
    return result


def fields_of_case(engine: Engine, instance_id: str) -> CaseFields:
    row = engine.history.instance(instance_id)
    return fields_of(engine, [row.definition_id, *sorted(set(row.bindings.values()))])


def _definition_fields(engine: Engine, definition_id: int) -> CaseFields:
    known = _cache.setdefault(engine, {})
    if definition_id not in known:  # deployed definitions never change
        known[definition_id] = _read(engine, definition_id)
    return known[definition_id]


def _read(engine: Engine, definition_id: int) -> CaseFields:
    xml = engine.repository.definition_xml(definition_id)
    tree = parse_xml(xml.encode("utf-8"), f"definition {definition_id}")
    result = CaseFields()
    for process in tree.iter(f"{{{BPMN_NS}}}process"):
        for prop in process.iterfind(f"{{{BPMN_NS}}}extensionElements/"
                                     f"{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property"):
            name = prop.get("name") or ""
            if name.startswith(SHOWN_PREFIX) and len(name) > len(SHOWN_PREFIX):
                result.declared.setdefault(name[len(SHOWN_PREFIX):], prop.get("value") or "")
        for node in process.iter():
            if isinstance(node.tag, str) and node.get("id") and node.get("name"):
                # a name with an expression (Camunda's `${...}`) up to the expression
                name = " ".join(node.get("name").split("${")[0].split()).rstrip(" :")
                result.steps.setdefault(node.get("id"), name or node.get("id"))
    for kind in _FORM_NODES:
        for node in tree.iter(f"{{{BPMN_NS}}}{kind}"):
            attrs = capture_extensions(node)
            try:
                form = form_for(attrs, lambda ref: engine.repository.form_document(ref,
                                                                                   definition_id))
            except FormResolutionError:
                continue  # the task page says what is wrong with the form
            for f in (form.fields if form else []):
                for found in flatten(f):
                    if found.name:
                        result.fields.setdefault(found.name, found)
                    _index(found, result.by_key)
    return result


def _index(f: Field, by_key: dict[str, Field]) -> None:
    if f.type in CONTAINER_TYPES:
        for inner in f.components:
            for found in flatten(inner):
                _index(found, by_key)
    elif f.key:
        by_key.setdefault(f.key, f)


def shown_names(data: dict[str, Any], fields: CaseFields) -> list[str]:
    """The variables of `data` people see: declared by a form or by the process, never
    private ones. Enforced here for every page that shows a case's data."""
    return [name for name in data
            if not name.startswith(PRIVATE_PREFIX)
            and (name in fields.fields or name in fields.declared)]

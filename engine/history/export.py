"""Export of instances' history as an XES event log (process mining) or as CSV (audit),
streamed in batches from the history table alone; docs/EXPORT.md describes both formats.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..execution.projection import element_label
from ..models import HistoryEvent, ProcessDefinition, ProcessInstance
from ..queries.search import utc

BATCH = 200  # instances read in one transaction
CHECK_BATCH = 500  # ids checked in one query (old SQLite allows 999 parameters)
CHUNK_SIZE = 64 * 1024  # bytes (or characters) handed on at a time
XES_VERSION = "1849-2016"
EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)
LIFECYCLE = {
    "start": "start", "claim": "assign", "unclaim": "reassign", "complete": "complete",
    "message": "complete", "timer": "complete", "cancel": "pi_abort", "incident": "suspend",
    "retry": "resume", "attach": "unknown", "migrated": "unknown", "suspended": "suspend",
    "activated": "resume",
}
LABELS = {
    "timer": "Timer fired", "cancel": "Case cancelled", "incident": "Incident",
    "retry": "Retried after incident", "attach": "Document attached", "message": "Message",
    "migrated": "Moved to another version", "suspended": "Case suspended",
    "activated": "Case activated",
}
CSV_COLUMNS = ("case_id", "business_key", "process_key", "version", "seq", "event_type",
               "activity", "element_id", "lifecycle", "timestamp", "resource", "state_hash")
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class Event:
    seq: int
    type: str
    activity: str
    lifecycle: str
    at: datetime
    actor: str
    element_id: str | None
    task_id: str | None
    state_hash: str


@dataclass
class Case:
    id: str
    process_key: str
    process_name: str
    version: int
    tenant: str | None
    business_key: str | None
    status: str
    events: list[Event] = field(default_factory=list)


@dataclass
class Summary:
    instances: int = 0
    events: int = 0


def xes_chunks(engine, instance_ids: Iterable[str], summary: Summary | None = None
               ) -> Iterator[bytes]:
    """The XES log in pieces of bytes, for a streamed download; NotFound comes at once."""
    return _xes_chunks(engine, _known(engine, instance_ids), summary)


def csv_chunks(engine, instance_ids: Iterable[str], summary: Summary | None = None
               ) -> Iterator[str]:
    """The CSV in pieces of text, for a streamed download; NotFound comes at once."""
    return _csv_chunks(engine, _known(engine, instance_ids), summary)


def write_xes(engine, instance_ids: Iterable[str], out: IO[bytes]) -> Summary:
    """Write an XES log of the instances to a binary stream; returns what was written."""
    summary = Summary()
    for chunk in xes_chunks(engine, instance_ids, summary):
        out.write(chunk)
    return summary


def write_csv(engine, instance_ids: Iterable[str], out: IO[str]) -> Summary:
    """Write one CSV row per history event to a text stream; returns what was written."""
    summary = Summary()
    for chunk in csv_chunks(engine, instance_ids, summary):
        out.write(chunk)
    return summary


class _Sink:
    """Where lxml writes; emptied each time a piece is handed on."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


def _xes_chunks(engine, ids: list[str], summary: Summary | None) -> Iterator[bytes]:
    summary = summary if summary is not None else Summary()
    sink = _Sink()
    with etree.xmlfile(sink, encoding="UTF-8", buffered=False) as xf:
        xf.write_declaration()
        with xf.element("log", {"xes.version": XES_VERSION, "xes.features": ""}):
            xf.write("\n")
            for element in _xes_header():
                xf.write(element, pretty_print=True)
            for case in _cases(engine, ids):
                xf.write(_xes_trace(case), pretty_print=True)
                summary.instances += 1
                summary.events += len(case.events)
                if sink.size >= CHUNK_SIZE:
                    yield sink.take()
    yield sink.take()


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a leading = + - @ is quoted)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_chunks(engine, ids: list[str], summary: Summary | None) -> Iterator[str]:
    summary = summary if summary is not None else Summary()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for case in _cases(engine, ids):
        for event in case.events:
            writer.writerow((case.id, spreadsheet_safe(case.business_key or ""),
                             case.process_key, case.version,
                             event.seq, event.type, spreadsheet_safe(event.activity),
                             event.element_id or "", event.lifecycle, event.at.isoformat(),
                             spreadsheet_safe(event.actor),
                             event.state_hash))
        summary.instances += 1
        summary.events += len(case.events)
        if buffer.tell() >= CHUNK_SIZE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# ----------------------------------------------------------------------- reading
def _known(engine, instance_ids: Iterable[str]) -> list[str]:
    """The ids without repeats, in order; NotFound naming the unknown ones."""
    ids = list(dict.fromkeys(instance_ids))
    missing: list[str] = []
    for start in range(0, len(ids), CHECK_BATCH):
        batch = ids[start:start + CHECK_BATCH]
        with engine.db.transaction() as session:
            known = set(session.scalars(select(ProcessInstance.id)
                                        .where(ProcessInstance.id.in_(batch))))
        missing.extend(i for i in batch if i not in known)
    if len(missing) == 1:
        raise NotFound(f"no process instance '{missing[0]}'").coded("no_case",
                                                                    case=missing[0])
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise NotFound(f"no process instances {', '.join(missing[:5])}{more}")
    return ids


def _cases(engine, ids: list[str]) -> Iterator[Case]:
    names = _ActivityNames(engine)
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        with engine.db.transaction() as session:
            cases = _read_batch(session, names, batch)
        yield from (cases[i] for i in batch if i in cases)


def _read_batch(session: Session, names: _ActivityNames, batch: list[str]) -> dict[str, Case]:
    cases: dict[str, Case] = {}
    labels: dict[str, dict[str, str]] = {}
    for row in session.execute(select(
            ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.definition_id,
            ProcessInstance.bindings, ProcessInstance.business_key, ProcessInstance.status,
            ProcessDefinition.name, ProcessDefinition.version, ProcessDefinition.tenant,
    ).join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id.in_(batch))):
        cases[row.id] = Case(id=row.id, process_key=row.process_key, process_name=row.name,
                             version=row.version, tenant=row.tenant or None,
                             business_key=row.business_key, status=row.status)
        labels[row.id] = names.of(session, row.definition_id, row.bindings or {})
    for e in session.execute(select(
            HistoryEvent.stream, HistoryEvent.seq, HistoryEvent.type, HistoryEvent.actor,
            HistoryEvent.at, HistoryEvent.element_id, HistoryEvent.task_id,
            HistoryEvent.state_hash,
    ).where(HistoryEvent.stream.in_(batch)).order_by(HistoryEvent.stream, HistoryEvent.seq)):
        case = cases[e.stream]
        case.events.append(Event(
            seq=e.seq, type=e.type, activity=_activity(case, e.type, e.element_id,
                                                       labels[e.stream]),
            lifecycle=LIFECYCLE.get(e.type, "unknown"), at=utc(e.at), actor=e.actor,
            element_id=e.element_id, task_id=e.task_id, state_hash=e.state_hash))
    return cases


def _activity(case: Case, event_type: str, element_id: str | None,
              names: dict[str, str]) -> str:
    if event_type == "start":
        return case.process_name or case.process_key
    if event_type in ("claim", "unclaim", "complete", "message") and element_id:
        return names.get(element_id) or element_id
    label = LABELS.get(event_type, event_type)
    if element_id:
        return f"{label}: {names.get(element_id) or element_id}"
    return label


class _ActivityNames:
    """Element id -> name for an instance's definition and the ones it calls.

    Deployed definitions never change, so the names are read once per export.
    """

    def __init__(self, engine):
        self.engine = engine
        self._by_definition: dict[int, dict[str, str]] = {}
        self._merged: dict[tuple, dict[str, str]] = {}

    def of(self, session: Session, definition_id: int, bindings: dict[str, int]
           ) -> dict[str, str]:
        key = (definition_id, tuple(sorted(bindings.items())))
        found = self._merged.get(key)
        if found is None:
            # default variants (no "@tenant" in the name) win over clinic variants
            called = [i for _, i in sorted(bindings.items(), key=lambda kv: ("@" in kv[0],
                                                                            kv[0]))]
            found = {}
            for one in [definition_id, *called]:
                for element, name in self._names(session, one).items():
                    found.setdefault(element, name)
            self._merged[key] = found
        return found

    def _names(self, session: Session, definition_id: int) -> dict[str, str]:
        names = self._by_definition.get(definition_id)
        if names is None:
            definition = session.get(ProcessDefinition, definition_id)
            names = {}
            if definition is not None:
                spec, embedded = self.engine.core.specs.get(definition)
                for process in (spec, *embedded.values()):
                    for task_spec in process.task_specs.values():
                        element = getattr(task_spec, "bpmn_id", None)
                        name = getattr(task_spec, "bpmn_name", None)
                        if element and name:
                            names.setdefault(element, element_label(name))
            self._by_definition[definition_id] = names
        return names


# ----------------------------------------------------------------------- XES
def _text(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _attribute_element(kind: str, key: str, value: Any) -> etree._Element:
    if kind == "date":
        value = utc(value).isoformat(timespec="milliseconds")
    return etree.Element(kind, {"key": key, "value": _text(value)})


def _attribute(parent: etree._Element, kind: str, key: str, value: Any) -> None:
    if value is not None:
        parent.append(_attribute_element(kind, key, value))


def _xes_header() -> Iterator[etree._Element]:
    for name, prefix, uri in EXTENSIONS:
        yield etree.Element("extension", {"name": name, "prefix": prefix, "uri": uri})
    trace_globals = etree.Element("global", {"scope": "trace"})
    _attribute(trace_globals, "string", "concept:name", "__INVALID__")
    yield trace_globals
    event_globals = etree.Element("global", {"scope": "event"})
    _attribute(event_globals, "string", "concept:name", "__INVALID__")
    _attribute(event_globals, "date", "time:timestamp", datetime(1970, 1, 1))
    _attribute(event_globals, "string", "lifecycle:transition", "complete")
    _attribute(event_globals, "string", "org:resource", "__INVALID__")
    _attribute(event_globals, "string", "event_type", "__INVALID__")
    _attribute(event_globals, "int", "seq", 0)
    yield event_globals
    yield etree.Element("classifier", {"name": "Activity", "keys": "concept:name"})
    yield etree.Element("classifier", {"name": "Activity and transition",
                                       "keys": "concept:name lifecycle:transition"})
    yield etree.Element("classifier", {"name": "Resource", "keys": "org:resource"})
    yield _attribute_element("string", "concept:name", "Tiltak")
    yield _attribute_element("string", "lifecycle:model", "standard")


def _xes_trace(case: Case) -> etree._Element:
    trace = etree.Element("trace")
    _attribute(trace, "string", "concept:name", case.id)
    _attribute(trace, "string", "business_key", case.business_key)
    _attribute(trace, "string", "process_key", case.process_key)
    _attribute(trace, "int", "process_version", case.version)
    _attribute(trace, "string", "process_name", case.process_name)
    _attribute(trace, "string", "tenant", case.tenant)
    _attribute(trace, "string", "status", case.status)
    for e in case.events:
        event = etree.SubElement(trace, "event")
        _attribute(event, "string", "concept:name", e.activity)
        _attribute(event, "string", "concept:instance", e.task_id)
        _attribute(event, "date", "time:timestamp", e.at)
        _attribute(event, "string", "lifecycle:transition", e.lifecycle)
        _attribute(event, "string", "org:resource", e.actor)
        _attribute(event, "string", "event_type", e.type)
        _attribute(event, "string", "element_id", e.element_id)
        _attribute(event, "int", "seq", e.seq)
    return trace

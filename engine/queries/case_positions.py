"""Where the cases of one process version stand, as Cockpit draws it: per activity the
cases waiting there, read from the instance rows and the projections (open user tasks,
message subscriptions, the last incident) without loading any workflow. An activity of
a called process counts for the called definition; the caller's call activity counts
every case inside it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..definitions import definition_xml
from ..model.xml import parse_xml
from ..models import (
    HistoryEvent,
    HumanTask,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
)

OPEN = ("running", "error")
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class CaseAt:
    instance_id: str
    business_key: str | None
    status: str  # running or error
    started_at: datetime
    error: str | None = None


@dataclass
class Positions:
    """Per element id the cases there (each case once); incidents by element id; the
    open cases of this version whose place no projection shows (a timer, say)."""

    cases: dict[str, list[CaseAt]] = field(default_factory=dict)
    incidents: dict[str, list[CaseAt]] = field(default_factory=dict)
    elsewhere: list[CaseAt] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        return {element: {"running": sum(c.status == "running" for c in cases),
                          "incidents": len(self.incidents.get(element, ()))}
                for element, cases in self.cases.items()}


@dataclass(frozen=True)
class Shape:
    """What of a definition's file this module needs: its element ids (per process in
    the file) and its call activities by the process key they call."""

    elements: frozenset[str]
    calls: dict[str, tuple[str, ...]]


def positions(session: Session, definition: ProcessDefinition) -> Positions:
    rows = _open_cases_touching(session, definition.id)
    found = Positions()
    if not rows:
        return found
    keys = {d.id: d.key for d in session.execute(select(
        ProcessDefinition.id, ProcessDefinition.key).where(ProcessDefinition.id.in_(
            {i for r in rows for i in (r.definition_id, *_bound(r))})))}
    placed: dict[str, set[tuple[int, str]]] = {r.id: set() for r in rows}
    for instance_id, definition_id, element in _task_places(session, placed):
        placed[instance_id].add((definition_id, element))
    by_id = {r.id: r for r in rows}
    for instance_id, element in _subscription_places(session, placed):
        owner = _owner(session, by_id[instance_id], element)
        if owner is not None:
            placed[instance_id].add((owner, element))
    failed_at = _incident_places(session, [r.id for r in rows if r.status == "error"])
    for row in rows:
        case = CaseAt(row.id, row.business_key, row.status, row.started_at, row.error)
        marks = _marks(session, definition, row, placed[row.id], keys)
        element = failed_at.get(row.id)
        owner = _owner(session, row, element) if element else None
        if owner is not None:
            failed = _marks(session, definition, row, {(owner, element)}, keys)
            for mark in sorted(failed):
                found.incidents.setdefault(mark, []).append(case)
            marks |= failed
        for mark in sorted(marks):
            found.cases.setdefault(mark, []).append(case)
        if not marks and row.definition_id == definition.id:
            found.elsewhere.append(case)
    return found


def _open_cases_touching(session: Session, definition_id: int) -> list:
    """The open cases of the version, or of a process that called it."""
    rows = session.execute(select(
        ProcessInstance.id, ProcessInstance.definition_id, ProcessInstance.bindings,
        ProcessInstance.business_key, ProcessInstance.status, ProcessInstance.started_at,
        ProcessInstance.error).where(ProcessInstance.status.in_(OPEN))
        .order_by(ProcessInstance.started_at, ProcessInstance.id)).all()
    return [r for r in rows if r.definition_id == definition_id
            or definition_id in _bound(r)]


def _bound(row) -> tuple[int, ...]:
    return tuple(v for v in (row.bindings or {}).values() if isinstance(v, int))


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _task_places(session: Session, instances: dict[str, set]) -> Iterable[tuple]:
    for chunk in _chunks(instances):
        yield from session.execute(select(
            HumanTask.instance_id, HumanTask.definition_id, HumanTask.element_id)
            .where(HumanTask.instance_id.in_(chunk))).all()


def _subscription_places(session: Session, instances: dict[str, set]) -> Iterable[tuple]:
    for chunk in _chunks(instances):
        yield from session.execute(select(
            MessageSubscription.instance_id, MessageSubscription.element_id)
            .where(MessageSubscription.instance_id.in_(chunk))).all()


def _incident_places(session: Session, failed: list[str]) -> dict[str, str]:
    """The element each failed case stopped at: its last incident's."""
    found: dict[str, str] = {}
    for chunk in _chunks(failed):
        # an instance's events are its stream, read by the (stream, seq) index
        last = select(HistoryEvent.stream, func.max(HistoryEvent.id).label("last")) \
            .where(HistoryEvent.stream.in_(chunk), HistoryEvent.type == "incident") \
            .group_by(HistoryEvent.stream).subquery()
        for instance_id, element in session.execute(select(
                HistoryEvent.stream, HistoryEvent.element_id).join(
                last, HistoryEvent.id == last.c.last)):
            if element:
                found[instance_id] = element
    return found


def _owner(session: Session, row, element: str) -> int | None:
    """The definition of the case (its own or a called one) that draws `element`."""
    for definition_id in (row.definition_id, *_bound(row)):
        if element in shape(session, definition_id).elements:
            return definition_id
    return None


def _marks(session: Session, definition: ProcessDefinition, row,
           places: set[tuple[int, str]], keys: dict[int, str]) -> set[str]:
    """The elements of `definition` a case's places show on its diagram: a place in the
    definition itself, and the call activity leading to a place in a called process."""
    marks = {element for owner, element in places if owner == definition.id}
    own = shape(session, definition.id)
    if not own.calls:
        return marks
    callers = _callers(session, row, keys)
    for owner, _ in places:
        seen, key = set(), keys.get(owner)
        while key is not None and key not in seen:
            seen.add(key)
            marks.update(own.calls.get(key, ()))
            key = callers.get(key)
    return marks


def _callers(session: Session, row, keys: dict[int, str]) -> dict[str, str]:
    """Per process key the case binds, the key of the process that calls it."""
    found: dict[str, str] = {}
    for definition_id in (row.definition_id, *_bound(row)):
        for called in shape(session, definition_id).calls:
            if definition_id in keys:
                found.setdefault(called, keys[definition_id])
    return found


def shape(session: Session, definition_id: int) -> Shape:
    return _shape(definition_xml(session, definition_id))


@lru_cache(maxsize=256)
def _shape(xml: str) -> Shape:
    root = parse_xml(xml.encode("utf-8"), "diagram").getroot()
    elements, calls = set(), {}
    for node in root.iter(etree.Element):
        if node.get("id"):
            elements.add(node.get("id"))
        if etree.QName(node).localname == "callActivity" and node.get("calledElement"):
            calls.setdefault(node.get("calledElement"), []).append(node.get("id"))
    return Shape(frozenset(elements), {k: tuple(v) for k, v in calls.items()})

"""The auditors' search over process instances: every filter is SQL, no state is read
(docs/DESIGN.md, "Audit: stepping through a case").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ..database import Transaction
from ..errors import InvalidInput
from ..limits import MAX_PAGE
from ..models import CaseFacts, InstanceClinic, ProcessDefinition, ProcessInstance

STATUSES = ("running", "completed", "cancelled", "error")
MAX_CLINIC_LENGTH = 100


@dataclass(frozen=True)
class InstanceFilter:
    """What an auditor searches for; a field left as None does not narrow the search."""

    business_key: str | None = None
    process_key: str | None = None
    version: int | None = None
    clinic: str | None = None
    status: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    # set by the engine for a reader who is no auditor: sensitive cases are not found
    # (neither listed nor counted, so a count cannot tell that one matched)
    without_sensitive: bool = False

    def __post_init__(self) -> None:
        problems: dict[str, str] = {}
        if self.status is not None and self.status not in STATUSES:
            problems["status"] = f"'{self.status}' is not one of {', '.join(STATUSES)}"
        if self.version is not None and (isinstance(self.version, bool)
                                         or not isinstance(self.version, int)
                                         or self.version < 1):
            problems["version"] = "must be a whole number from 1"
        if self.started_from is not None and self.started_to is not None and \
                utc(self.started_from) >= utc(self.started_to):
            problems["period"] = "the start of the period must come before its end"
        if problems:
            raise InvalidInput(problems)


@dataclass
class InstanceRow:
    """One instance as the search lists it."""

    id: str
    process_key: str
    process_name: str
    version: int
    tenant: str | None
    business_key: str | None
    status: str
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    event_count: int
    clinics: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "process_key": self.process_key,
                "process_name": self.process_name, "version": self.version,
                "tenant": self.tenant, "business_key": self.business_key,
                "status": self.status, "started_at": self.started_at.isoformat(),
                "started_by": self.started_by,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "clinics": list(self.clinics), "event_count": self.event_count}


def utc(moment: datetime) -> datetime:
    """The same moment in UTC; a naive time is taken as UTC (SQLite returns them so)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def clinics_of(values: dict[str, Any]) -> list[str]:
    """The clinic codes named in an instance's start data, in order, without repeats."""
    found: list[str] = []
    named = values.get("klinikker")
    candidates = list(named) if isinstance(named, (list, tuple)) else []
    candidates.append(values.get("klinikk"))
    for code in candidates:
        if isinstance(code, str):
            code = code.strip()
            if code and len(code) <= MAX_CLINIC_LENGTH and code not in found:
                found.append(code)
    return found


def record_clinics(session: Session, instance_id: str, values: dict[str, Any]) -> None:
    """Store the clinics of a new instance (called in the transaction that creates it,
    once its row is written); a case that names none costs nothing."""
    codes = clinics_of(values)
    if codes:
        session.connection().execute(insert(InstanceClinic.__table__), [
            {"instance_id": instance_id, "clinic": code} for code in codes])


def find_instances(source, filter: InstanceFilter | None = None, *, limit: int = 50,
                   offset: int = 0) -> tuple[list[InstanceRow], int]:
    """One page of matching instances, newest first, and how many match in all.

    `source` is a Session or an Engine (then a read transaction of its own is used).
    """
    if not 1 <= limit <= 1000 or not 0 <= offset <= limit * MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to 1000 and offset 0 to {MAX_PAGE} pages")
    conditions = _conditions(filter or InstanceFilter())
    with _session(source) as session:
        total = session.scalar(select(func.count(ProcessInstance.id)).join(
            ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id
        ).where(*conditions)) or 0
        found = session.execute(select(
            ProcessInstance.id, ProcessInstance.process_key, ProcessDefinition.name,
            ProcessDefinition.version, ProcessDefinition.tenant, ProcessInstance.business_key,
            ProcessInstance.status, ProcessInstance.started_at, ProcessInstance.started_by,
            ProcessInstance.ended_at, ProcessInstance.event_count,
        ).join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(*conditions)
            .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
            .limit(limit).offset(offset)).all()
        clinics = clinics_by_instance(session, [r.id for r in found])
    rows = [InstanceRow(id=r.id, process_key=r.process_key, process_name=r.name,
                        version=r.version, tenant=r.tenant or None,
                        business_key=r.business_key, status=r.status,
                        started_at=utc(r.started_at), started_by=r.started_by,
                        ended_at=utc(r.ended_at) if r.ended_at else None,
                        event_count=r.event_count, clinics=clinics.get(r.id, []))
            for r in found]
    return rows, total


def matching_ids(source, filter: InstanceFilter | None = None) -> list[str]:
    """The ids of every matching instance, oldest first (for an export of them all)."""
    conditions = _conditions(filter or InstanceFilter())
    with _session(source) as session:
        return list(session.scalars(select(ProcessInstance.id).join(
            ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id
        ).where(*conditions).order_by(ProcessInstance.started_at, ProcessInstance.id)))


def clinics_by_instance(session: Session, instance_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if not instance_ids:
        return found
    for instance_id, clinic in session.execute(
            select(InstanceClinic.instance_id, InstanceClinic.clinic)
            .where(InstanceClinic.instance_id.in_(instance_ids))
            .order_by(InstanceClinic.instance_id, InstanceClinic.clinic)):
        found.setdefault(instance_id, []).append(clinic)
    return found


def _conditions(wanted: InstanceFilter) -> list:
    conditions = []
    if wanted.business_key:
        conditions.append(func.lower(ProcessInstance.business_key).contains(
            wanted.business_key.lower(), autoescape=True))
    if wanted.process_key:
        conditions.append(ProcessInstance.process_key == wanted.process_key)
    if wanted.version is not None:
        conditions.append(ProcessDefinition.version == wanted.version)
    if wanted.clinic:
        conditions.append(select(InstanceClinic.instance_id).where(
            InstanceClinic.instance_id == ProcessInstance.id,
            InstanceClinic.clinic == wanted.clinic).exists())
    if wanted.status:
        conditions.append(ProcessInstance.status == wanted.status)
    if wanted.started_from is not None:
        conditions.append(ProcessInstance.started_at >= utc(wanted.started_from))
    if wanted.started_to is not None:
        conditions.append(ProcessInstance.started_at < utc(wanted.started_to))
    if wanted.without_sensitive:
        conditions.append(~select(CaseFacts.instance_id).where(
            CaseFacts.instance_id == ProcessInstance.id, CaseFacts.sensitive.is_(True)).exists())
    return conditions


@contextmanager
def _session(source) -> Iterator[Session]:
    """`source`'s transaction: it is one, or an engine to begin one on."""
    if isinstance(source, Session | Transaction):
        yield source
        return
    with source.db.transaction() as session:
        yield session

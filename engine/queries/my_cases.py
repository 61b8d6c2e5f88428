"""A user's own cases ("Mine saker"): those they started, those where they completed a
task, and those they follow; each with its title and open tasks, read from the tables
without loading a workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, union
from sqlalchemy.orm import Session

from ..models import (
    CaseFacts,
    CaseFollow,
    HistoryEvent,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
)
from .search import utc

LIMIT = 200


@dataclass
class MyCase:
    id: str
    process_key: str
    process_name: str
    business_key: str | None
    title: str | None
    status: str
    started_at: datetime
    started_by: str
    clinic: str | None
    why: set[str] = field(default_factory=set)  # started, took_part, follows
    open_tasks: list[HumanTask] = field(default_factory=list)


def follow(session: Session, actor: str, instance_id: str, at: datetime) -> None:
    if session.get(CaseFollow, (actor, instance_id)) is None:
        session.add(CaseFollow(user_name=actor, instance_id=instance_id, since=at))


def unfollow(session: Session, actor: str, instance_id: str) -> None:
    session.execute(delete(CaseFollow).where(CaseFollow.user_name == actor,
                                             CaseFollow.instance_id == instance_id))


def follows(session: Session, actor: str, instance_id: str) -> bool:
    return session.get(CaseFollow, (actor, instance_id)) is not None


def cases_of(session: Session, actor: str, limit: int = LIMIT) -> list[MyCase]:
    """The newest `limit` cases the actor started, completed a task in or follows."""
    started = select(ProcessInstance.id.label("id")).where(ProcessInstance.started_by == actor)
    took_part = select(HistoryEvent.instance_id.label("id")).where(
        HistoryEvent.actor == actor, HistoryEvent.type == "complete",
        HistoryEvent.instance_id.is_not(None))
    followed = select(CaseFollow.instance_id.label("id")).where(CaseFollow.user_name == actor)
    ids = union(started, took_part, followed).subquery()
    found = session.execute(
        select(ProcessInstance.id, ProcessInstance.process_key, ProcessDefinition.name,
               ProcessInstance.business_key, CaseFacts.title, ProcessInstance.status,
               ProcessInstance.started_at, ProcessInstance.started_by, CaseFacts.clinic)
        .join(ids, ids.c.id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .outerjoin(CaseFacts, CaseFacts.instance_id == ProcessInstance.id)
        .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
        .limit(limit)).all()
    cases = {r.id: MyCase(r.id, r.process_key, r.name, r.business_key, r.title, r.status,
                          utc(r.started_at), r.started_by, r.clinic) for r in found}
    if not cases:
        return []
    wanted = list(cases)
    for case in cases.values():
        if case.started_by == actor:
            case.why.add("started")
    for (instance_id,) in session.execute(select(HistoryEvent.stream).where(
            HistoryEvent.actor == actor, HistoryEvent.type == "complete",
            HistoryEvent.stream.in_(wanted)).distinct()):
        cases[instance_id].why.add("took_part")
    for (instance_id,) in session.execute(select(CaseFollow.instance_id).where(
            CaseFollow.user_name == actor, CaseFollow.instance_id.in_(wanted))):
        cases[instance_id].why.add("follows")
    for task in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(wanted))
                                .order_by(HumanTask.created_at)):
        cases[task.instance_id].open_tasks.append(task)
    return list(cases.values())

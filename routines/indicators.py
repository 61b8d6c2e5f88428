"""The indicators of the regional plans, counted with SQL over the task and case facts; no
workflow is loaded. What each figure counts: docs/DESIGN.md, "Facts for the indicators
and for visibility".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import Session

from engine.models import CaseFacts, ProcessInstance, TaskRecord

MEASURE = "tiltak"
FEEDBACK = "tilbakemelding"
NOTIFICATION = "lovpalagt-varsel"
INVESTIGATION = "undersokelse"
ALL = ""  # the group holding everything
TARGETS = {"expertise": 1.0}


@dataclass
class Share:
    part: int = 0
    whole: int = 0

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None

    def add(self, part: int, whole: int) -> None:
        self.part += part
        self.whole += whole


@dataclass
class Figures:
    group: str
    expertise: Share = field(default_factory=Share)
    overdue_measures: int = 0
    measures_on_time: Share = field(default_factory=Share)
    feedback: Share = field(default_factory=Share)
    notifications_on_time: Share = field(default_factory=Share)
    closing_days: list[float] = field(default_factory=list)

    @property
    def closing_median(self) -> float | None:
        return percentile(self.closing_days, 50)

    @property
    def closing_p90(self) -> float | None:
        return percentile(self.closing_days, 90)

    def as_dict(self) -> dict[str, Any]:
        def share(s: Share) -> dict[str, Any]:
            return {"part": s.part, "whole": s.whole, "value": s.value}
        return {"group": self.group, "expertise": share(self.expertise),
                "overdue_measures": self.overdue_measures,
                "measures_on_time": share(self.measures_on_time),
                "feedback": share(self.feedback),
                "notifications_on_time": share(self.notifications_on_time),
                "closed": len(self.closing_days), "closing_median_days": self.closing_median,
                "closing_p90_days": self.closing_p90}


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p % at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceiling
    return ordered[int(rank) - 1]


def compute(session: Session, *, now: datetime, start: datetime | None = None,
            end: datetime | None = None, by: str = "clinic") -> list[Figures]:
    """One row per clinic (or unit) that has anything to count, then the total row."""
    if by not in ("clinic", "unit"):
        raise ValueError(f"cannot group by '{by}': use clinic or unit")
    rows: dict[str, Figures] = {}

    def row(group: str | None) -> Figures:
        key = group or "?"
        if key not in rows:
            rows[key] = Figures(key)
        return rows[key]

    task_group = TaskRecord.clinic if by == "clinic" else TaskRecord.unit
    case_group = CaseFacts.clinic if by == "clinic" else CaseFacts.unit
    rules = _Rules(now, start, end)

    # expertise in investigations of serious cases
    for group, whole, part in session.execute(
            select(case_group, func.count(func.distinct(CaseFacts.instance_id)),
                   func.count(func.distinct(case((CaseFacts.expertise.is_(True),
                                                  CaseFacts.instance_id)))))
            .join(TaskRecord, TaskRecord.instance_id == CaseFacts.instance_id)
            .where(*rules.expertise()).group_by(case_group)):
        row(group).expertise.add(part, whole)

    # measures open past their deadline now
    for group, count in session.execute(
            select(task_group, func.count()).where(*rules.overdue()).group_by(task_group)):
        row(group).overdue_measures += count

    # measures and statutory notifications due in the period: done by the deadline?
    for indicator, attribute in ((MEASURE, "measures_on_time"),
                                 (NOTIFICATION, "notifications_on_time")):
        on_time = case((rules.on_time_part(), 1), else_=0)
        for group, whole, part in session.execute(
                select(task_group, func.count(), func.sum(on_time))
                .where(*rules.due_in_period(indicator)).group_by(task_group)):
            getattr(row(group), attribute).add(int(part or 0), whole)

    # cases closed in the period, of routines that give feedback
    for group, started, ended, got in session.execute(
            select(case_group, ProcessInstance.started_at, ProcessInstance.ended_at,
                   rules.fed_back())
            .join(CaseFacts, CaseFacts.instance_id == ProcessInstance.id)
            .where(*rules.closed())):
        figures = row(group)
        figures.feedback.add(1 if got else 0, 1)
        figures.closing_days.append((ended - started).total_seconds() / 86400)

    total = Figures(ALL)
    for figures in rows.values():
        total.expertise.add(figures.expertise.part, figures.expertise.whole)
        total.overdue_measures += figures.overdue_measures
        total.measures_on_time.add(figures.measures_on_time.part,
                                   figures.measures_on_time.whole)
        total.feedback.add(figures.feedback.part, figures.feedback.whole)
        total.notifications_on_time.add(figures.notifications_on_time.part,
                                        figures.notifications_on_time.whole)
        total.closing_days.extend(figures.closing_days)
    return [rows[k] for k in sorted(rows)] + [total]


class _Rules:
    """What each figure counts, as SQL conditions: the figures and the lists of the cases
    behind them use the same ones."""

    def __init__(self, now: datetime, start: datetime | None, end: datetime | None):
        self.now, self.start, self.end = now, start, end

    def within(self, column):
        conditions = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column < self.end)
        return and_(true(), *conditions)

    def expertise(self) -> list:
        """Investigations of serious cases ended in the period (on TaskRecord and
        CaseFacts); the part: with subject-matter expertise."""
        return [TaskRecord.indicator == INVESTIGATION, TaskRecord.outcome == "completed",
                CaseFacts.serious.is_(True), self.within(TaskRecord.ended_at)]

    def overdue(self) -> list:
        return [TaskRecord.indicator == MEASURE, TaskRecord.ended_at.is_(None),
                TaskRecord.due_at < self.now]

    def due_in_period(self, indicator: str) -> list:
        return [TaskRecord.indicator == indicator, TaskRecord.due_at.is_not(None),
                TaskRecord.due_at <= self.now, self.within(TaskRecord.due_at),
                (TaskRecord.outcome.is_(None)) | (TaskRecord.outcome != "cancelled")]

    @staticmethod
    def on_time_part():
        return and_(TaskRecord.outcome == "completed", TaskRecord.ended_at <= TaskRecord.due_at)

    def closed(self) -> list:
        """Cases closed in the period, of routines that give feedback (on ProcessInstance
        joined with CaseFacts)."""
        with_feedback = select(TaskRecord.process_key).where(
            TaskRecord.indicator == FEEDBACK).distinct()
        return [ProcessInstance.status == "completed",
                ProcessInstance.process_key.in_(with_feedback),
                self.within(ProcessInstance.ended_at)]

    @staticmethod
    def fed_back():
        return ProcessInstance.id.in_(select(TaskRecord.instance_id).where(
            TaskRecord.indicator == FEEDBACK, TaskRecord.outcome == "completed"))


# the figures whose cases can be listed; a share's part or whole
FIGURES = ("expertise", "overdue_measures", "measures_on_time", "notifications_on_time",
           "feedback", "closed")


@dataclass
class Counted:
    """One thing a figure counts: a case, or a task (a measure, a notification) of one."""

    instance_id: str
    task_name: str | None = None
    due_at: datetime | None = None
    ended_at: datetime | None = None


def counted(session: Session, *, now: datetime, figure: str, group: str = ALL,
            part: bool = False, start: datetime | None = None, end: datetime | None = None,
            by: str = "clinic") -> list[Counted]:
    """What one figure of one group counts, one entry per unit counted: the number of
    entries is the number the dashboard shows (the part of a share when `part`)."""
    if by not in ("clinic", "unit"):
        raise ValueError(f"cannot group by '{by}': use clinic or unit")
    if figure not in FIGURES:
        raise ValueError(f"no figure '{figure}': one of {', '.join(FIGURES)}")
    rules = _Rules(now, start, end)
    task_group = TaskRecord.clinic if by == "clinic" else TaskRecord.unit
    case_group = CaseFacts.clinic if by == "clinic" else CaseFacts.unit

    def in_group(column) -> list:
        if group == ALL:
            return []
        return [column.is_(None)] if group == "?" else [column == group]

    if figure == "expertise":
        wanted = [*rules.expertise(), *in_group(case_group)]
        if part:
            wanted.append(CaseFacts.expertise.is_(True))
        ids = session.scalars(select(CaseFacts.instance_id).distinct()
                              .join(TaskRecord, TaskRecord.instance_id == CaseFacts.instance_id)
                              .where(*wanted))
        return _cases(session, list(ids))
    if figure in ("feedback", "closed"):
        wanted = [*rules.closed(), *in_group(case_group)]
        if part and figure == "feedback":
            wanted.append(rules.fed_back())
        return [Counted(r.id, None, None, r.ended_at) for r in session.execute(
            select(ProcessInstance.id, ProcessInstance.ended_at)
            .join(CaseFacts, CaseFacts.instance_id == ProcessInstance.id).where(*wanted)
            .order_by(ProcessInstance.ended_at.desc(), ProcessInstance.id))]
    if figure == "overdue_measures":
        wanted = rules.overdue()
    else:
        wanted = rules.due_in_period(MEASURE if figure == "measures_on_time" else NOTIFICATION)
        if part:
            wanted.append(rules.on_time_part())
    return [Counted(r.instance_id, r.name, r.due_at, r.ended_at) for r in session.execute(
        select(TaskRecord.instance_id, TaskRecord.name, TaskRecord.due_at, TaskRecord.ended_at)
        .where(*wanted, *in_group(task_group))
        .order_by(TaskRecord.due_at, TaskRecord.instance_id))]


def _cases(session: Session, ids: list[str]) -> list[Counted]:
    ended = dict(session.execute(select(ProcessInstance.id, ProcessInstance.ended_at)
                                 .where(ProcessInstance.id.in_(ids))).all()) if ids else {}
    return [Counted(i, None, None, ended.get(i)) for i in sorted(ids)]


def by_group(figures: list[Figures]) -> dict[str, Figures]:
    return {f.group: f for f in figures}



def cases_behind(engine, **choice) -> list[Counted]:
    """What one figure counts (see `counted`), read at the engine's clock's moment."""
    with engine.db.reading() as session:
        return counted(session, now=engine.clock.now(), **choice)


def figures(engine, *, start: datetime | None = None, end: datetime | None = None,
            by: str = "clinic") -> list:
    """The dashboard's figures per clinic or unit, and for all, read from the engine's
    database at its clock's moment."""
    with engine.db.reading() as session:
        return compute(session, now=engine.clock.now(), start=start, end=end, by=by)

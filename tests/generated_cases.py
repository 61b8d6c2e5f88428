"""A generated history of deviation cases, written straight into the tables the indicators
read, with the same records kept in plain Python for a recount. Shared by the dashboard
test and bench/dashboard.py."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from engine.models import CaseFacts, ProcessInstance, TaskRecord

CLINICS = {"kir": ["kir-gastro", "kir-ort"], "med": ["med-hjerte", "med-lunge"],
           "psyk": ["psyk-dps"]}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Task:
    indicator: str
    clinic: str
    unit: str
    due: datetime | None
    ended: datetime | None
    outcome: str | None


@dataclass
class Case:
    id: str
    clinic: str
    unit: str
    serious: bool
    expertise: bool | None
    started: datetime
    ended: datetime | None
    tasks: list[Task] = field(default_factory=list)


def generate(n: int, *, seed: int = 7, now: datetime) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        clinic = rng.choice(sorted(CLINICS))
        unit = rng.choice(CLINICS[clinic])
        started = EPOCH + timedelta(minutes=rng.randrange(0, 300 * 24 * 60))
        serious = rng.random() < 0.15
        closed = rng.random() < 0.7
        ended = started + timedelta(hours=rng.randrange(2, 24 * 120)) if closed else None
        if ended is not None and ended > now:
            ended = None
        case = Case(str(uuid.UUID(int=rng.getrandbits(128))), clinic, unit, serious,
                    None, started, ended)

        def task(indicator: str, due: datetime | None, done_within: timedelta | None,
                 cancelled: bool = False, case=case) -> None:
            finished = None
            if done_within is not None:
                finished = case.started + done_within
                if finished > now:
                    finished = None
            outcome = ("cancelled" if cancelled else "completed") if finished else None
            case.tasks.append(Task(indicator, case.clinic, case.unit, due, finished, outcome))

        investigated = rng.random() < 0.8
        if investigated:
            case.expertise = rng.random() < 0.85 if serious else rng.random() < 0.3
            task("undersokelse", None, timedelta(days=rng.randrange(1, 30)))
        if serious:
            due = started + timedelta(days=1)
            task("lovpalagt-varsel", due,
                 timedelta(hours=rng.randrange(1, 60)) if rng.random() < 0.95 else None)
        for _ in range(rng.randrange(0, 4)):
            due = started + timedelta(days=rng.randrange(7, 90))
            late = rng.random() < 0.25
            done = timedelta(days=rng.randrange(1, 120)) if rng.random() < 0.8 else None
            if done is not None and not late:
                done = min(done, due - started)
            task("tiltak", due, done, cancelled=rng.random() < 0.03)
        if ended is not None and rng.random() < 0.9:
            task("tilbakemelding", None, ended - started - timedelta(minutes=1))
        cases.append(case)
        del i
    return cases


def write(session, cases: list[Case], definition_id: int, process_key: str = "avvikshandtering"
          ) -> None:
    """Insert the cases in bulk: instances, their facts and their task records."""
    instances, facts, records = [], [], []
    for case in cases:
        instances.append({
            "id": case.id, "definition_id": definition_id, "process_key": process_key,
            "business_key": None, "status": "completed" if case.ended else "running",
            "bindings": {}, "id_counter": 0, "started_at": case.started,
            "started_by": "anonym", "ended_at": case.ended, "last_hash": "",
            "event_count": 0, "version": 1})
        facts.append({
            "instance_id": case.id, "process_key": process_key, "clinic": case.clinic,
            "unit": case.unit, "serious": case.serious, "risk_class": None,
            "expertise": case.expertise, "anonymous": False, "sensitive": False})
        for number, task in enumerate(case.tasks):
            records.append({
                "id": str(uuid.uuid5(uuid.UUID(case.id), str(number))),
                "instance_id": case.id, "process_key": process_key,
                "element_id": f"Task_{task.indicator}", "name": task.indicator,
                "indicator": task.indicator, "clinic": task.clinic, "unit": task.unit,
                "created_at": case.started, "due_at": task.due, "ended_at": task.ended,
                "outcome": task.outcome, "completed_by": "x" if task.ended else None})
    for model, rows in ((ProcessInstance, instances), (CaseFacts, facts),
                        (TaskRecord, records)):
        for start in range(0, len(rows), 2000):
            session.execute(insert(model), rows[start:start + 2000])

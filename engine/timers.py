"""The scheduler: fires due timers and sends the mail outbox, on any number of machines
(docs/DESIGN.md, "Timers in batches").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from .models import TimerStart
from .notifications import SmtpSettings, deliver
from .runtime import Engine

log = logging.getLogger("tiltak.timers")


@dataclass
class SweepResult:
    due: int
    fired: int


def sweep(engine: Engine, batch: int = 100) -> SweepResult:
    """Fire every due timer once; returns how many were due and how many this call fired."""
    started = start_due_instances(engine)
    result = _fire_due(engine, batch)
    return SweepResult(result.due + started.due, result.fired + started.fired)


def start_due_instances(engine: Engine) -> SweepResult:
    """Timer start events: one new instance per due cycle (missed cycles one by one)."""
    due = fired = 0
    while True:
        now = engine.clock.now()
        with engine.db.transaction() as session:
            ids = list(session.scalars(select(TimerStart.id).where(TimerStart.next_at <= now)))
        if not ids:
            return SweepResult(due, fired)
        started = sum(1 for schedule_id in ids if engine.runtime.fire_timer_start(schedule_id))
        due, fired = due + len(ids), fired + started
        if started == 0:
            return SweepResult(due, fired)


def _fire_due(engine: Engine, batch: int) -> SweepResult:
    total_due = total_fired = 0
    while True:
        taken, fired = engine.runtime.fire_due_timers(batch)
        total_due += taken
        total_fired += fired
        if taken == 0 or fired == 0:
            return SweepResult(total_due, total_fired)


class Scheduler:
    """Runs the timer sweep every `interval` seconds, the outbox every `mail_interval`,
    and the installation's own `jobs` (name, function, seconds), each logged if it fails."""

    def __init__(self, engine: Engine, *, interval: float = 1.0, mail_interval: float = 5.0,
                 smtp: SmtpSettings | None = None, blocking: bool = False,
                 jobs: Iterable[tuple[str, Callable[[], None], float]] = ()):
        self.engine = engine
        self.smtp = smtp
        # a sweep still running when the next is due is skipped on purpose; don't log it
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        logging.getLogger("apscheduler.executors.default").setLevel(logging.ERROR)
        # APScheduler (and the asyncio it imports) only in a process that runs timers,
        # not in every command-line command
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.schedulers.blocking import BlockingScheduler

        kind = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler = kind(job_defaults={"coalesce": True, "max_instances": 1,
                                            "misfire_grace_time": None})
        self.scheduler.add_job(self.run_sweep, "interval", seconds=interval, id="timers",
                               next_run_time=datetime.now(UTC))
        if smtp is not None:
            self.scheduler.add_job(self.run_outbox, "interval", seconds=mail_interval,
                                   id="outbox", next_run_time=datetime.now(UTC))
        for name, job, seconds in jobs:
            self.scheduler.add_job(self._guarded(name, job), "interval", seconds=seconds,
                                   id=name, next_run_time=datetime.now(UTC))

    def run_sweep(self) -> None:
        try:
            result = sweep(self.engine)
            if result.fired:
                log.info("fired timers of %d instances", result.fired)
        except Exception:  # a broken sweep must not stop the scheduler; it is logged
            log.exception("timer sweep failed")

    def run_outbox(self) -> None:
        try:
            deliver(self.engine.db, self.smtp, self.engine.clock.now())
        except Exception:
            log.exception("sending mail failed")

    @staticmethod
    def _guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except Exception:
                log.exception("%s failed", name)
        return run

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop sweeping; `wait` for a running job to finish (not from inside a job)."""
        self.scheduler.shutdown(wait=wait)

"""How the installation is doing, read from the database: whether it is reachable with its
schema at the newest migration (readiness), and the running figures an operator watches
(open and overdue tasks, timers due and late, incidents, mail and webhook events
waiting). Counts only: no workflow is ever read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..database import Database, alembic_config
from ..models import HumanTask, OutboxMail, ProcessInstance, TimerStart, WebhookDelivery

# a timer due longer than this and not yet fired is late: the scheduler sweeps every
# second, so a minute behind means no scheduler runs or it cannot keep up
LATE_AFTER = timedelta(minutes=1)


def newest_revision() -> str:
    from alembic.script import ScriptDirectory  # Alembic only when readiness is asked

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def not_ready(db: Database) -> str | None:
    """Why the installation cannot serve (the database unreachable, its schema not at the
    newest migration), or None when it can."""
    try:
        current = db.schema_revision()
    except SQLAlchemyError as err:
        cause = getattr(err, "orig", None) or err
        return f"the database cannot be reached: {type(cause).__name__}"
    newest = newest_revision()
    if current is None:
        return "the database has no schema yet: run `tiltak init`"
    if current != newest:
        return (f"the database schema is at migration {current}, the newest is {newest}: "
                "run `tiltak init`")
    return None


@dataclass
class Figures:
    open_tasks: int = 0
    overdue_tasks: int = 0
    timers_due: int = 0
    timers_late: int = 0
    incidents: int = 0
    mail_waiting: int = 0
    webhooks_waiting: int = 0
    instances: dict[str, int] = field(default_factory=dict)  # by status


def figures(db: Database, now: datetime) -> Figures:
    """The figures as they are now, one short count query each."""
    late = now - LATE_AFTER
    due_instance = (ProcessInstance.status == "running", ProcessInstance.next_timer_at < now)
    with db.reading() as session:
        def count(model, *where) -> int:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

        shown = Figures(
            open_tasks=count(HumanTask),
            overdue_tasks=count(HumanTask, HumanTask.due_at < now),
            timers_due=count(ProcessInstance, *due_instance)
            + count(TimerStart, TimerStart.next_at <= now),
            timers_late=count(ProcessInstance, *due_instance, ProcessInstance.next_timer_at < late)
            + count(TimerStart, TimerStart.next_at < late),
            mail_waiting=count(OutboxMail, OutboxMail.status == "pending"),
            webhooks_waiting=count(WebhookDelivery, WebhookDelivery.status == "pending"),
            instances=dict(session.execute(
                select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
            ).all()))
        shown.incidents = shown.instances.get("error", 0)
        return shown

"""Timer start events: each due time starts one new instance (Camunda's semantics).

SpiffWorkflow would keep one instance waiting at a timer start event. Instead, deploying
a version with a timer start event writes a schedule row (replacing the previous
version's, as Camunda does), and the sweep starts one instance per due time, moving the
schedule on in the same transaction: one instance per cycle, no more, on any number of
workers. Cycles missed while everything was down are started on the next sweeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import delete
from sqlalchemy.orm import Session

from . import expressions
from .clock import Clock
from .determinism import IdSource, deterministic
from .errors import DefinitionError
from .models import ProcessDefinition, TimerStart
from .scripting import timer_text


def first_due(timer: dict[str, Any], clock: Clock) -> tuple[datetime, int, float | None]:
    """(first due time, how many instances, seconds between them) from the start timer."""
    now = clock.now()
    text = timer_text(expressions.evaluate(timer["expression"], {}, now=clock.now))
    try:
        with deterministic(IdSource("timer-start", 0), clock):
            if timer["kind"] == "CycleTimerEventDefinition":
                cycles, start, duration = \
                    TimerEventDefinition.parse_iso_recurring_interval(text)
                return _utc(start), cycles, duration.total_seconds()
            if timer["kind"] == "DurationTimerEventDefinition":
                delta = TimerEventDefinition.get_timedelta_from_start(
                    TimerEventDefinition.parse_iso_duration(text), now)
                return now + delta, 1, None
            return _utc(TimerEventDefinition.get_datetime(text)), 1, None
    except (ValueError, TypeError) as err:
        raise DefinitionError(f"timer start event: cannot read '{text}': {err}") from None


def schedule(session: Session, definition: ProcessDefinition, clock: Clock) -> None:
    session.execute(delete(TimerStart).where(TimerStart.process_key == definition.key,
                                             TimerStart.tenant == definition.tenant))
    if not definition.timer_start:
        return
    due, count, interval = first_due(definition.timer_start, clock)
    if count == 0:
        return
    session.add(TimerStart(process_key=definition.key, tenant=definition.tenant,
                           definition_id=definition.id, next_at=due, remaining=count,
                           interval_seconds=interval))


def move_on(session: Session, row: TimerStart) -> None:
    """After one instance started: the next cycle, or the end of the schedule."""
    if row.remaining == 1 or not row.interval_seconds:
        session.delete(row)
        return
    if row.remaining > 0:
        row.remaining -= 1
    row.next_at = _utc(row.next_at) + timedelta(seconds=row.interval_seconds)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Timer start events: each due time starts one new instance, as in Camunda, from a
schedule row the sweep moves on (docs/DESIGN.md, "Timers in batches").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..clock import Clock
from ..errors import DefinitionError
from ..model import expressions
from ..model.scripting import timer_text
from ..models import ProcessDefinition, TimerStart
from .determinism import IdSource, deterministic


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
        raise DefinitionError(f"timer start event: cannot read '{text}': {err}").coded(
            "timer_start_unreadable", expression=text, detail=str(err)) from None


def schedule(session: Session, definition: ProcessDefinition, clock: Clock) -> None:
    session.execute(delete(TimerStart).where(TimerStart.process_key == definition.key,
                                             TimerStart.tenant == definition.tenant))
    if not definition.timer_start:
        return
    due, count, interval = first_due(definition.timer_start, clock)
    now = _utc(clock.now())
    while count != 0 and interval and due < now:  # cycles before this deployment
        due = following(definition.timer_start, due, interval)
        count -= 1 if count > 0 else 0
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
    definition = session.get(ProcessDefinition, row.definition_id)
    row.next_at = following(definition.timer_start if definition else None,
                            _utc(row.next_at), row.interval_seconds)


def following(timer: dict[str, Any] | None, current: datetime, interval: float) -> datetime:
    """The cycle after `current`: a period of years or months is counted in calendar
    steps from the cycle's anchor date; any other period is a fixed number of seconds."""
    calendar = _calendar(timer, current)
    if calendar is None:
        return current + timedelta(seconds=interval)
    anchor, period = calendar
    step = 1
    while anchor + period * step <= current:
        step += 1
    return anchor + period * step


def _calendar(timer: dict[str, Any] | None, current: datetime
              ) -> tuple[datetime, relativedelta] | None:
    """(anchor, period) of a cycle whose period has years or months, else None."""
    if not timer or timer.get("kind") != "CycleTimerEventDefinition":
        return None
    try:
        text = str(timer_text(expressions.evaluate(timer["expression"], {},
                                                   now=lambda: current)))
        parts = text.upper().replace("--", "/").split("/")[1:]
        periods = [p for p in parts if p.startswith("P")]
        parsed = TimerEventDefinition.parse_iso_duration(periods[0])
        if not any(parsed.get(unit) for unit in ("years", "months")) or \
                any(isinstance(parsed.get(unit), float) for unit in ("years", "months")):
            return None
        anchor = current
        if len(periods) < len(parts):  # R/2026-01-15T08:00:00+01:00/P4M, or ending at
            anchor = _utc(TimerEventDefinition.parse_iso_recurring_interval(text)[1])
        return anchor, relativedelta(**parsed)
    except (ValueError, TypeError, IndexError, expressions.ExpressionError):
        return None


def fired_once(workflow: Any, now: datetime) -> None:
    """A new instance the scheduler starts for one due cycle: its timer start event is
    made due exactly once. Left to itself, SpiffWorkflow would evaluate the cycle again
    inside the instance and, for a cycle anchored at a past date, start one path for
    every cycle since that date."""
    moment = now - timedelta(microseconds=1)
    for task in workflow.get_tasks(state=TaskState.FUTURE):
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(task.task_spec, StartEvent) or \
                not isinstance(definition, TimerEventDefinition):
            continue
        if isinstance(definition, CycleTimerEventDefinition):
            value: Any = {"cycles": 1, "next": moment.isoformat(), "duration": 0}
        else:
            value = moment.isoformat()
        task._set_internal_data(event_value=value)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

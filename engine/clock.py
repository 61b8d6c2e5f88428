"""The injected clock (`SystemClock`; `FixedClock` for tests and replay): the engine never
reads the wall clock directly. Also the local zone in which a routine's dates are days
(docs/DESIGN.md, "Dates are local days").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_ZONE: tzinfo = ZoneInfo(os.environ.get("TILTAK_TIMEZONE") or "Europe/Oslo")
_zone: ContextVar[tzinfo | None] = ContextVar("tiltak_local_zone", default=None)


def zone() -> tzinfo:
    """The zone in which dates are days for the command or replayed step at hand."""
    return _zone.get() or LOCAL_ZONE


@contextmanager
def local_zone(chosen: tzinfo) -> Iterator[None]:
    token = _zone.set(chosen)
    try:
        yield
    finally:
        _zone.reset(token)


def start_of(day: date) -> datetime:
    """Midnight at the start of a local day."""
    return datetime.combine(day, time(0, 0), tzinfo=zone())


def end_of(day: date) -> datetime:
    """The last second of a local day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone())


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


_frozen: ContextVar[datetime | None] = ContextVar("tiltak_command_time", default=None)


def in_command() -> bool:
    """Whether a command (or a replay of one) is running in this context."""
    return _frozen.get() is not None


class CommandClock:
    """The engine's clock: inside a command, time stands still at the command's moment.

    Every timestamp one command writes (task state changes, timer due times, the history
    event) is then the same instant, so replaying the command at that instant rebuilds
    the same state byte for byte.
    """

    def __init__(self, base: Clock):
        self.base = base

    def now(self) -> datetime:
        return _frozen.get() or self.base.now()

    @contextmanager
    def frozen(self) -> Iterator[datetime]:
        moment = _frozen.get() or self.base.now()
        token = _frozen.set(moment)
        try:
            yield moment
        finally:
            _frozen.reset(token)

    @contextmanager
    def at(self, moment: datetime) -> Iterator[datetime]:
        """Stand still at a given moment (replaying a recorded command)."""
        token = _frozen.set(moment)
        try:
            yield moment
        finally:
            _frozen.reset(token)

    def __getattr__(self, name: str):  # set/advance of a FixedClock underneath
        return getattr(self.base, name)

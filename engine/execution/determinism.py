"""Task ids and timestamps for SpiffWorkflow from the instance and the injected clock.

Inside `deterministic(...)` a replay produces the same state (docs/DESIGN.md,
"Determinism and history"); engine/execution/spiff_overrides.py hands these to SpiffWorkflow.
"""

from __future__ import annotations

import hashlib
import time as _real_time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from ..clock import Clock

_NAMESPACE = uuid.UUID("6f1c3c9e-6a8e-4d7e-9a51-1f0b9a2d7c11")


class IdSource:
    """Task ids for one instance: `uuid5(_NAMESPACE, "<instance id>/<counter>")`, the
    counter counting on from where the instance's last command left it."""

    def __init__(self, instance_id: str, counter: int):
        self.instance_id = instance_id
        self.counter = counter
        # uuid5 hashes the namespace and the name with SHA-1; the part before the
        # counter is the same for every id of the instance, so it is hashed once
        self._prefix = hashlib.sha1(_NAMESPACE.bytes + f"{instance_id}/".encode(),
                                    usedforsecurity=False)

    def __call__(self) -> uuid.UUID:
        self.counter += 1
        digest = self._prefix.copy()
        digest.update(b"%d" % self.counter)
        # what `uuid.UUID(bytes=..., version=5)` does with the first 16 bytes
        number = (int.from_bytes(digest.digest()[:16]) & _KEEP) | _VERSION_5
        made = _new_uuid(uuid.UUID)
        _set(made, "int", number)
        _set(made, "is_safe", _UNKNOWN)
        return made


_new_uuid = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown
_KEEP = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_VERSION_5 = (0x8000 << 48) | (5 << 76)


_ids: ContextVar[IdSource | None] = ContextVar("tiltak_ids", default=None)
_clock: ContextVar[Clock | None] = ContextVar("tiltak_clock", default=None)


def task_uuid() -> uuid.UUID:
    """SpiffWorkflow's `uuid4` for a task id: the instance's next id inside a command."""
    source = _ids.get()
    return source() if source is not None else uuid.uuid4()


class TaskTime:
    """Stands in for the `time` module inside SpiffWorkflow.task."""

    _last: tuple[datetime | None, float] = (None, 0.0)  # a moment and its timestamp

    @staticmethod
    def time() -> float:
        clock = _clock.get()
        if clock is None:
            return _real_time.time()
        moment = clock.now()
        last = TaskTime._last
        if last[0] is moment:  # a command's moment stands still: stamped many times
            return last[1]
        stamp = moment.timestamp()
        TaskTime._last = (moment, stamp)
        return stamp


class TimerDatetime(datetime):
    """Stands in for `datetime` inside SpiffWorkflow's timers: `now()` is the injected clock."""

    @classmethod
    def now(cls, tz=None):
        clock = _clock.get()
        if clock is None:
            return datetime.now(tz)
        moment = clock.now()
        return moment.astimezone(tz) if tz is not None else moment


@contextmanager
def deterministic(ids: IdSource, clock: Clock) -> Iterator[IdSource]:
    id_token, clock_token = _ids.set(ids), _clock.set(clock)
    try:
        yield ids
    finally:
        _ids.reset(id_token)
        _clock.reset(clock_token)

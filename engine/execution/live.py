"""Workflows kept alive between commands in one process.

A command that finds its instance's workflow here, at the version it has just read
(locked) from the database, runs on it instead of restoring the stored state; any
other version, or none, and the state is restored as always. A workflow is taken out
while a command runs on it and put back only after that command has committed, so no
two commands share one and a failed command leaves nothing behind. The replay runs
the same way (engine/history/replay.py), so histories written either way verify.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

SIZE = 256  # instances kept per process, the least recently used let go first


class LiveWorkflows:
    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._kept: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, instance_id: str) -> bool:
        return instance_id in self._kept

    def take(self, instance_id: str, version: int) -> Any | None:
        """What was kept of the instance at this version, taken out; else None."""
        with self._lock:
            found = self._kept.pop(instance_id, None)
        return found[1] if found is not None and found[0] == version else None

    def keep(self, instance_id: str, version: int, kept: Any) -> None:
        with self._lock:
            self._kept[instance_id] = (version, kept)
            self._kept.move_to_end(instance_id)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)

    def moved(self, instance_id: str, before: int, after: int) -> None:
        """The instance's row moved to a new version, its workflow unchanged (a claim)."""
        with self._lock:
            found = self._kept.get(instance_id)
            if found is not None and found[0] == before:
                self._kept[instance_id] = (after, found[1])

    def forget(self, instance_id: str) -> None:
        with self._lock:
            self._kept.pop(instance_id, None)

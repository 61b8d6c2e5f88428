"""Workflows kept alive between commands in one process, by instance and version, so that
a command on an unchanged instance need not restore its state (docs/DESIGN.md,
"Persistence").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

SIZE = 256  # instances kept per process, the least recently used let go first


class LiveWorkflows:
    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._kept: OrderedDict[str, tuple[int, Any, frozenset[str]]] = OrderedDict()
        self._by_task: dict[str, str] = {}  # an open task of a kept workflow: its instance
        self._lock = threading.Lock()

    def __contains__(self, instance_id: str) -> bool:
        return instance_id in self._kept

    def holds_task(self, task_id: str) -> bool:
        """Whether the task is open in a workflow kept here (at some version)."""
        return task_id in self._by_task

    def take(self, instance_id: str, version: int) -> Any | None:
        """What was kept of the instance at this version, taken out; else None."""
        with self._lock:
            found = self._drop(instance_id)
        return found[1] if found is not None and found[0] == version else None

    def keep(self, instance_id: str, version: int, kept: Any,
             tasks: frozenset[str] = frozenset()) -> None:
        """`tasks`: the open tasks of the kept workflow, by which `holds_task` finds it."""
        with self._lock:
            self._drop(instance_id)
            self._kept[instance_id] = (version, kept, tasks)
            self._by_task.update(dict.fromkeys(tasks, instance_id))
            while len(self._kept) > self._size:
                self._drop(next(iter(self._kept)))

    def moved(self, instance_id: str, before: int, after: int) -> None:
        """The instance's row moved to a new version, its workflow unchanged (a claim)."""
        with self._lock:
            found = self._kept.get(instance_id)
            if found is not None and found[0] == before:
                self._kept[instance_id] = (after, *found[1:])

    def forget(self, instance_id: str) -> None:
        with self._lock:
            self._drop(instance_id)

    def _drop(self, instance_id: str) -> tuple | None:
        found = self._kept.pop(instance_id, None)
        if found is not None:
            for task_id in found[2]:
                if self._by_task.get(task_id) == instance_id:
                    del self._by_task[task_id]
        return found

"""An engine whose every command runs as the command line, a web process or a restarted
worker runs it: a new Engine on the same database, holding no spec, definition or
script engine from the commands before, so nothing a command leaves in memory can reach
the next one. Optionally each command's instance is verified as soon as it committed.
"""

from __future__ import annotations

from typing import Any

from engine.history.replay import verify_instance
from engine.runtime import Engine

COMMANDS = {"start", "claim", "unclaim", "complete", "message", "cancel", "fire_timers",
            "fire_timer_start", "retry", "attach", "migrate", "suspend", "activate",
            "suspend_definition", "activate_definition"}
SERVICES = {"repository", "runtime", "tasks", "history", "identity", "migration",
            "suspension"}


class ProcessPerCommand:
    def __init__(self, engine: Engine, *, verify_each: bool = False):
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_verify_each", verify_each)
        object.__setattr__(self, "verified", 0)

    def fresh(self) -> Engine:
        """An engine as a new process builds it, on the same database and clock."""
        base = self._engine.core
        return Engine(base.db, clock=base.clock.base, validator=base.validator,
                      context_variables=base.context_variables, new_id=base.new_id,
                      roles=base.roles, hooks=base.hooks)

    def __getattr__(self, name: str) -> Any:
        if name in SERVICES:
            return _Service(self, name)
        return getattr(self._engine, name)

    def command(self, service: str, name: str):
        """A command of a service, run on a fresh engine (and its case verified)."""
        command = getattr(getattr(self.fresh(), service), name)

        def run(*args, **kwargs):
            result = command(*args, **kwargs)
            if self._verify_each:
                self.check(_instance_of(name, args, result))
            return result
        return run

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._engine, name, value)  # e.g. the walker's seeded instance ids

    def check(self, instance_id: str | None) -> None:
        if instance_id is None:
            return
        verdict = verify_instance(self.fresh(), instance_id)
        assert verdict.ok, f"instance {instance_id} no longer verifies: {verdict.as_dict()}"
        object.__setattr__(self, "verified", self.verified + 1)


class _Service:
    """One of the engine's services as seen through the wrapper: its commands each run on
    a fresh engine, its reads on the engine given."""

    def __init__(self, owner: ProcessPerCommand, service: str):
        self._owner, self._service = owner, service

    def __getattr__(self, name: str) -> Any:
        if name in COMMANDS:
            return self._owner.command(self._service, name)
        return getattr(getattr(self._owner._engine, self._service), name)


def _instance_of(command: str, args: tuple, result: Any) -> str | None:
    if command == "fire_timers":
        return args[0] if result else None
    return getattr(result, "instance_id", None) or getattr(result, "id", None) \
        if command != "fire_timer_start" else None

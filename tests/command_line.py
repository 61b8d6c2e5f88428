"""The `tiltak` command line driven as an operator's script drives it: one process per
command. `CommandLine` answers the engine calls the walks make (tests/walks.py,
tests/random_walk.py), so a walk can run through it unchanged. With a clock, each
command runs at the clock's moment (Debian's faketime), so that a walk can let days
pass for its timers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from process_per_command import ProcessPerCommand

from engine.runtime import Engine

FAKETIME = shutil.which("faketime")


def tiltak_runner(database_url: str, cwd):
    """`run(*args)`: one `tiltak` command in a process of its own on that database, its
    result (text); it must end with exit code `code` (0 unless told), else the test fails
    with what it printed."""
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url}

    def run(*args: str, ok: bool = True, code: int = 0, stdin: str | None = None
            ) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                                capture_output=True, text=True, input=stdin, cwd=cwd,
                                timeout=120)
        if ok:
            assert result.returncode == code, (result.stdout, result.stderr)
        return result
    return run


@dataclass
class Listed:
    """What a walk reads of a task or an instance from the command line's JSON."""

    id: str
    instance_id: str = ""
    element_id: str = ""
    assignee: str | None = None


class CommandLine:
    def __init__(self, database_url: str, cwd, clock=None):
        self.env = {**os.environ, "TILTAK_DATABASE_URL": database_url, "TZ": "UTC"}
        self.cwd, self.clock = cwd, clock
        self.commands = 0
        self.runtime, self.tasks, self.history = _Runtime(self), _Tasks(self), _History(self)

    def run(self, *args: str, stdin: str | None = None, ok: bool = True):
        command = [sys.executable, "-m", "tiltak.cli", *args]
        if self.clock is not None:
            command = [FAKETIME, self.clock.now().strftime("%Y-%m-%d %H:%M:%S"), *command]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True,
                                input=stdin, cwd=self.cwd, timeout=120)
        self.commands += 1
        if ok:
            assert result.returncode == 0, f"tiltak {' '.join(args)}: {result.stderr}"
        return result

    def verify(self, instance_id: str) -> None:
        result = self.run("verify", instance_id, ok=False)
        assert result.returncode == 0, f"{instance_id}: {result.stdout}{result.stderr}"


class _Runtime:
    """`tiltak start`, `message` and `cancel`, as the engine's runtime service."""

    def __init__(self, cli: CommandLine):
        self.run = cli.run

    def start(self, process_key: str, *, actor: str, data: dict[str, Any] | None = None,
              business_key: str | None = None) -> Listed:
        args = ["start", process_key, "--as", actor, "--data", "@-"]
        if business_key:
            args += ["--business-key", business_key]
        started = json.loads(self.run(*args, stdin=_json(data)).stdout)
        return Listed(started["instance_id"], started["instance_id"])

    def message(self, name: str, *, business_key: str | None = None,
                data: dict[str, Any] | None = None, actor: str | None = None) -> None:
        args = ["message", name, "--data", "@-"]
        if business_key:
            args += ["--business-key", business_key]
        self.run(*args, stdin=_json(data))

    def cancel(self, instance_id: str, *, actor: str, reason: str = "") -> None:
        self.run("cancel", instance_id, "--as", actor, "--reason", reason)


class _Tasks:
    """`tiltak tasks`, `claim`, `unclaim` and `complete`, as the engine's task service."""

    def __init__(self, cli: CommandLine):
        self.run = cli.run

    def find(self, *, actor: str, instance_id: str | None = None) -> list[Listed]:
        args = ["tasks", "--as", actor, "--json"]
        if instance_id:
            args += ["--instance", instance_id]
        return [Listed(t["id"], t["instance_id"], t["element_id"], t["assignee"])
                for t in json.loads(self.run(*args).stdout)]

    def claim(self, task_id: str, *, actor: str) -> None:
        self.run("claim", task_id, "--as", actor)

    def unclaim(self, task_id: str, *, actor: str) -> None:
        self.run("unclaim", task_id, "--as", actor)

    def complete(self, task_id: str, *, actor: str, data: dict[str, Any] | None = None) -> None:
        self.run("complete", task_id, "--as", actor, "--data", "@-", stdin=_json(data))


class _History:
    """`tiltak show`, as the engine's history service."""

    def __init__(self, cli: CommandLine):
        self.run = cli.run

    def show(self, instance_id: str) -> dict[str, Any]:
        return json.loads(self.run("show", instance_id, "--json").stdout)


class WalkedThroughCommandLine(ProcessPerCommand):
    """For the random walker: every command a person gives goes through the command line;
    timers fire in a worker, here a new engine per sweep; reads go to the database."""

    COMMANDS = {("runtime", "start"), ("runtime", "message"), ("runtime", "cancel"),
                ("tasks", "claim"), ("tasks", "unclaim"), ("tasks", "complete")}

    def __init__(self, engine: Engine, cli: CommandLine):
        super().__init__(engine)
        object.__setattr__(self, "cli", cli)

    def command(self, service: str, name: str):
        if (service, name) in self.COMMANDS:
            return getattr(getattr(self.cli, service), name)
        return super().command(service, name)


def _json(data: dict[str, Any] | None) -> str:
    return json.dumps(data or {}, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sent on the command line")

"""The engine a caller holds: Camunda's services, each over the one core they share
(engine/core.py). Every command runs in one transaction (docs/DESIGN.md, "The map")."""

from __future__ import annotations

from .core import (  # noqa: F401 - what callers import from here
    OPERATOR,
    EngineCore,
    FormValidator,
    Loaded,
    refuse_unvalidated,
)
from .database import Database
from .services.history import HistoryService
from .services.identity import IdentityService
from .services.instances import InstanceService
from .services.migration import MigrationService
from .services.open_tasks import ready_task, task_summary  # noqa: F401 - likewise
from .services.repository import RepositoryService
from .services.suspension import SuspensionService
from .services.tasks import TaskService


class _OfCore:
    """An attribute of the engine that is its core's (read, and set by a test or a replay
    that brings its own ids or organisation values)."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, engine, owner=None):
        return self if engine is None else getattr(engine.core, self.name)

    def __set__(self, engine, value) -> None:
        setattr(engine.core, self.name, value)


class Engine:
    """The process engine, as Camunda's hands out its services:

    - `repository`: deploy, definitions and their versions, lint, what a user may start;
    - `runtime`: start, correlate a message, cancel, timers, incidents, attachments;
    - `tasks`: the worklist, claim, unclaim, complete, a task's form context;
    - `history`: a case shown, its events, searches, who read it, who follows it;
    - `identity`: sign-in, users and groups, notifications;
    - `migration`: plans and moving running cases to another version;
    - `suspension`: suspend and activate definitions and cases.
    """

    db = _OfCore()
    clock = _OfCore()
    roles = _OfCore()
    context_variables = _OfCore()  # the organisation's values forms and expressions read
    new_id = _OfCore()  # where new instance ids come from

    def __init__(self, database: Database, **settings):
        self.core = EngineCore(database, **settings)
        self.repository = RepositoryService(self.core, self)
        self.runtime = InstanceService(self.core, self)
        self.tasks = TaskService(self.core, self)
        self.history = HistoryService(self.core, self)
        self.identity = IdentityService(self.core, self)
        self.migration = MigrationService(self.core, self)
        self.suspension = SuspensionService(self.core, self)

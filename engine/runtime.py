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

    def __init__(self, database: Database, **settings):
        self.core = EngineCore(database, **settings)
        self.repository = RepositoryService(self.core, self)
        self.runtime = InstanceService(self.core, self)
        self.tasks = TaskService(self.core, self)
        self.history = HistoryService(self.core, self)
        self.identity = IdentityService(self.core, self)
        self.migration = MigrationService(self.core, self)
        self.suspension = SuspensionService(self.core, self)

    @property
    def db(self) -> Database:
        return self.core.db

    @property
    def clock(self):
        return self.core.clock

    @property
    def roles(self):
        return self.core.roles

    @property
    def context_variables(self):
        """The organisation's values every form and expression may read."""
        return self.core.context_variables

    @context_variables.setter
    def context_variables(self, read) -> None:
        self.core.context_variables = read

    @property
    def new_id(self):
        """Where new instance ids come from (a test or a replay sets its own)."""
        return self.core.new_id

    @new_id.setter
    def new_id(self, make) -> None:
        self.core.new_id = make

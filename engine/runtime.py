"""The engine: one object a caller holds, made of the services in engine/services/
(repository, instances, tasks, history, identity) over one core (engine/core.py).
Every command runs in one transaction (docs/DESIGN.md, "The map")."""

from __future__ import annotations

from .core import (  # noqa: F401 - what callers import from here
    OPERATOR,
    FormValidator,
    Loaded,
    refuse_unvalidated,
)
from .services.history import HistoryService
from .services.identity import IdentityService
from .services.instances import InstanceService
from .services.migration import MigrationService
from .services.open_tasks import ready_task, task_summary  # noqa: F401 - likewise
from .services.repository import RepositoryService
from .services.suspension import SuspensionService
from .services.tasks import TaskService


class Engine(RepositoryService, InstanceService, TaskService, HistoryService,
             IdentityService, MigrationService, SuspensionService):
    """Deploy, start, work and read cases; see the services for each part."""

"""Errors the engine raises: each says what was wrong and where (file, element id, field).

Callers (command line, web UI, API) map these to exit codes or HTTP statuses; none of
them leaves the database changed, because every command runs in one transaction.
"""

from __future__ import annotations

from typing import Any, Self


class TiltakError(Exception):
    """Base class of every error a user of the product may see. Its text is the
    engine's own (English, for logs, the command line and the API); `code` and `params`,
    where given, let a front end say it in the user's language (webui/messages.py)."""

    exit_code = 1
    code: str | None = None
    params: dict[str, Any] = {}

    def coded(self, code: str, **params: Any) -> Self:
        """This error, with what a front end needs to say it in its own words."""
        self.code, self.params = code, params
        return self


class DefinitionError(TiltakError):
    """A BPMN/DMN/form file cannot be deployed."""

    exit_code = 3

    def __init__(self, message: str, *, file: str | None = None, element: str | None = None,
                 line: int | None = None):
        self.file, self.element, self.line, self.detail = file, element, line, message
        where = []
        if file:
            where.append(file if line is None else f"{file}:{line}")
        if element:
            where.append(f"element '{element}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class NotFound(TiltakError):
    exit_code = 4


class PermissionDenied(TiltakError):
    exit_code = 5


class Conflict(TiltakError):
    """A stale write: someone else changed the instance or the task first."""

    exit_code = 6


class TaskNotOpen(Conflict):
    """The task was already completed (or cancelled): nothing to do twice."""


class InvalidInput(TiltakError):
    """Submitted values that do not fit the form or the command."""

    exit_code = 2

    def __init__(self, errors: dict[str, str] | str):
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        text = "; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items())
        super().__init__(f"invalid input: {text}")


class ExecutionError(TiltakError):
    """The process itself failed (a script error, a missing called process)."""

    exit_code = 7

    def __init__(self, message: str, *, element: str | None = None):
        self.element = element
        super().__init__(f"element '{element}': {message}" if element else message)


class Suspended(Conflict):
    """The process definition or the case is suspended: activate it first."""

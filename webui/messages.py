"""The engine's errors in the user's language: a coded error (engine/errors.py `coded`)
by its code and values, any other by what kind of error it is. The engine's own
English words stay for logs, the command line and the API."""

from __future__ import annotations

from flask_babel import gettext as _

from engine.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Suspended,
    TaskNotOpen,
    TiltakError,
)

from .filters import local_datetime, user_name


def said(err: TiltakError) -> str:
    """One sentence for a person: what happened, in their language."""
    params = err.params or {}
    if err.code == "task_done_by":
        return _("%(who)s completed this task on %(at)s.", who=user_name(params["who"]),
                 at=local_datetime(params["at"]))
    if err.code == "task_claimed_by":
        return _("%(who)s has already taken the task “%(task)s”.",
                 who=user_name(params["who"]), task=params["task"])
    if err.code == "task_not_yours":
        return _("You have not taken the task “%(task)s”.", task=params["task"])
    if err.code == "task_assigned":
        return _("The process gave you the task “%(task)s”: there is no group to give it "
                 "back to. A process owner can give it to someone else.", task=params["task"])
    if err.code == "case_finished":
        return _("The case has ended: the task is no longer open.")
    if err.code == "case_suspended":
        return _("The case is on hold: nothing can be done with it until a process owner "
                 "lets it go on.")
    if err.code == "definition_suspended":
        return _("The routine “%(name)s” (version %(version)s) is on hold: no new cases "
                 "start until a process owner lets it go on.", name=params["name"],
                 version=params["version"])
    if err.code == "already_suspended":
        return _("The case is already on hold.")
    if err.code == "not_suspended":
        return _("The case is not on hold.")
    if err.code == "case_not_running":
        return _("Only a running case can be put on hold or let go on.")
    if err.code == "busy":
        return _("Tiltak is busy with another change. Try again in a moment; nothing was "
                 "saved.")
    return _by_kind(err)


def _by_kind(err: TiltakError) -> str:
    if isinstance(err, TaskNotOpen):
        return _("The task is no longer open.")
    if isinstance(err, Suspended):
        return _("This is on hold: a process owner must let it go on first.")
    if isinstance(err, Conflict):
        return _("Someone changed this case while you worked on it. Reload the page and "
                 "try again.")
    if isinstance(err, PermissionDenied):
        return _("You may not do this with this case or task.")
    if isinstance(err, NotFound):
        return _("The case, task or file is not here, or no longer.")
    if isinstance(err, InvalidInput):
        return _("Some of what was sent does not fit.")
    return _("This could not be done.")

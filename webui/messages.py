"""The engine's errors in the user's language: a coded error (engine/errors.py `coded`)
by its code and values, any other by what kind of error it is. The engine's own
English words stay for logs, the command line and the API. What the linter and the
migration check find is said here too, by the texts of webui/findings.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Number
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _

from engine.errors import (
    Conflict,
    DefinitionError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Suspended,
    TaskNotOpen,
    TiltakError,
)
from forms.messages import Message, Messages

from .filters import group_name, local_datetime, user_name
from .findings import FINDINGS
from .form_messages import localized

Text = Callable[[dict[str, Any]], str]


def _n(value: Any) -> Any:
    """A number as the locale writes it (100 000 in Bokmål); anything else as given."""
    if isinstance(value, Number) and not isinstance(value, bool):
        return format_decimal(value)
    return value


def _numbers(p: dict[str, Any]) -> dict[str, Any]:
    return {name: _n(value) for name, value in p.items()}


def _status(status: str) -> str:
    return {"running": _("Running"), "completed": _("Closed"), "cancelled": _("Cancelled"),
            "error": _("Failed")}.get(status, status)


def _groups(groups: list[str]) -> str:
    return ", ".join(group_name(g) for g in groups)


def _may_not_start(p: dict[str, Any]) -> str:
    if not p["groups"]:
        return _("You may not start “%(name)s”: no group may start it by hand.",
                 name=p["name"])
    return _("You may not start “%(name)s”: it is started by %(groups)s.", name=p["name"],
             groups=_groups(p["groups"]))


def _process_failed(p: dict[str, Any]) -> str:
    if p.get("element"):
        return _("The process stopped at %(element)s: %(detail)s. Nothing was saved; a "
                 "process owner must look at it.", **p)
    return _("The process stopped: %(detail)s. Nothing was saved; a process owner must look "
             "at it.", **p)


def _case_ended(p: dict[str, Any]) -> str:
    if p["status"] == "completed":
        return _("The case is already closed.")
    if p["status"] == "cancelled":
        return _("The case is already cancelled.")
    return _("The case has already ended.")


def _no_case_waits(p: dict[str, Any]) -> str:
    if p.get("business_key"):
        return _("No case with the case number “%(business_key)s” waits for the message "
                 "“%(message)s”.", **p)
    return _("No case waits for the message “%(message)s”.", **p)


def _plan_faults(p: dict[str, Any]) -> str:
    return _("The plan does not fit the versions: %(faults)s",
             faults=" ".join(say(f.code, f.params, f"{f.element}: {f.problem}")
                             for f in p["faults"]))


TASKS: dict[str, Text] = {
    "task_done_by": lambda p: _("%(who)s completed this task on %(at)s.",
                                who=user_name(p["who"]), at=local_datetime(p["at"])),
    "task_claimed_by": lambda p: _("%(who)s has already taken the task “%(task)s”.",
                                   who=user_name(p["who"]), task=p["task"]),
    "task_not_yours": lambda p: _("You have not taken the task “%(task)s”.", **p),
    "task_assigned": lambda p: _("The process gave you the task “%(task)s”: there is no "
                                 "group to give it back to. A process owner can give it to "
                                 "someone else.", **p),
    "task_assigned_to": lambda p: _("The task “%(task)s” is assigned to %(who)s, not to "
                                    "you.", task=p["task"], who=user_name(p["who"])),
    "may_not_work_on": lambda p: _("You are not among those who may work on the task "
                                   "“%(task)s” (%(element)s).", **p),
    "task_gone": lambda p: _("The task is no longer open."),
    "no_open_task": lambda p: _("There is no open task here: it may have been completed, or "
                                "its case has ended."),
    "task_not_in_case": lambda p: _("The task “%(task)s” does not belong to this case.", **p),
    "case_finished": lambda p: _("The case has ended: the task is no longer open."),
    "auditor": lambda p: _("You are an auditor: auditors read cases and never change them."),
    "changed": lambda p: _("Someone changed this case while you worked on it. Reload the "
                           "page and try again."),
    "busy": lambda p: _("Tiltak is busy with another change. Try again in a moment; nothing "
                        "was saved."),
}

CASES: dict[str, Text] = {
    "no_case": lambda p: _("There is no case %(case)s here.", **p),
    "may_not_see_case": lambda p: _("You may not see this case."),
    "case_sensitive": lambda p: _("This case is sensitive: only its handlers and auditors "
                                  "may read it."),
    "unknown_process": lambda p: _("No process “%(key)s” is deployed here.", **p),
    "may_not_start": _may_not_start,
    "called_not_deployed": lambda p: _(
        "“%(caller)s” calls the process “%(called)s”, which is not deployed: a process "
        "owner must deploy it first.", **p),
    "context_missing": lambda p: _(
        "The process “%(process)s” needs %(names)s from this installation, which does not "
        "provide it (%(property)s). A process owner or the operator must see to it.",
        process=p["process"], names=", ".join(p["names"]), property=p["property"]),
    "no_validator": lambda p: _("Values cannot be accepted here: no form validator is set "
                                "up."),
    "process_failed": _process_failed,
    "process_loops": lambda p: _("The process did not come to rest after %(rounds)s rounds. "
                                 "Nothing was saved; a process owner must look at it.", **p),
    "bad_due_date": lambda p: _("A deadline in the process could not be read: %(detail)s. "
                                "Nothing was saved; a process owner must look at it.", **p),
    "no_case_waits": _no_case_waits,
    "message_not_caught": lambda p: _("The case could not take the message “%(message)s”: "
                                      "%(detail)s", **p),
    "may_not_cancel": lambda p: _("Only the person who started the case and process owners "
                                  "may cancel it."),
    "case_ended": _case_ended,
    "may_not_retry": lambda p: _("Only process owners may retry a failed case."),
    "no_incident": lambda p: _("The case has not failed: there is nothing to try again."),
    "may_not_attach": lambda p: _("Only the person who started the case, and whoever works "
                                  "on one of its tasks, may add documents to it."),
    "file_type_refused": lambda p: _("“%(file)s”: files of this type are not accepted. "
                                     "Accepted: %(accepted)s.", file=p["file"],
                                     accepted=", ".join(p["accepted"])),
    "file_empty": lambda p: _("“%(file)s” is empty.", **p),
    "file_too_large": lambda p: _("“%(file)s” is larger than %(limit)s MB.", **_numbers(p)),
    "no_attachment": lambda p: _("There is no document %(attachment)s here.", **p),
    "no_receipt": lambda p: _("No report has this receipt code."),
    "no_event": lambda p: _("The case has no step %(seq)s: it has %(count)s.", **p),
    "unknown_user": lambda p: _("There is no user “%(name)s” here.", **p),
}

OWNERS: dict[str, Text] = {
    "case_suspended": lambda p: _("The case is on hold: nothing can be done with it until a "
                                  "process owner lets it go on."),
    "definition_suspended": lambda p: _(
        "The routine “%(name)s” (version %(version)s) is on hold: no new cases start until a "
        "process owner lets it go on.", **p),
    "already_suspended": lambda p: _("The case is already on hold."),
    "not_suspended": lambda p: _("The case is not on hold."),
    "case_not_running": lambda p: _("Only a running case can be put on hold or let go on."),
    "may_not_hold": lambda p: _("Only process owners may put versions on hold or let them go "
                                "on.") if p["held"] == "versions" else
    _("Only process owners may put cases on hold or let them go on."),
    "may_not_deploy": lambda p: _("Only members of %(group)s may deploy processes.",
                                  group=group_name(p["group"])),
    "versions_not_comparable": lambda p: _("Versions of different processes cannot be "
                                           "compared."),
    "versions_not_movable": lambda p: _("Cases move only between two versions of the same "
                                        "process."),
    "no_definition": lambda p: _("There is no process version %(definition)s here.", **p),
    "no_deployment": lambda p: _("There is no deployment %(deployment)s here.", **p),
    "no_version": lambda p: _("The process “%(key)s” has no version %(version)s.",
                              key=p["key"], version=p["version"]),
    "file_missing": lambda p: _("The file of %(key)s version %(version)s is missing.", **p),
    "no_such_file": lambda p: _("There is no file or folder %(path)s.", **p),
    "may_not_migrate": lambda p: _("Only process owners may move cases to another version."),
    "no_cases_selected": lambda p: _("No cases are chosen."),
    "plan_faults": _plan_faults,
    "same_version": lambda p: _("The source and target version are both %(version)s.", **p),
    "only_running_cases_move": lambda p: _(
        "Only running cases move, and this case is no longer running (%(status)s).",
        status=_status(p["status"])),
    "case_not_on_version": lambda p: _("The case does not run %(key)s version %(version)s.",
                                       key=p["key"], version=p["version"]),
    "case_cannot_move": lambda p: _("The case cannot move: %(detail)s", detail=p["detail"]),
    "bad_due_date_on_version": lambda p: _(
        "A deadline on version %(version)s could not be read for this case: %(detail)s",
        version=p["version"], detail=p["detail"]),
}

LIMITS: dict[str, Text] = {  # said beside the field or path they name
    "too_many_values": lambda p: _("More than %(limit)s values in all.", limit=_n(p["limit"])),
    "too_much_text": lambda p: _("More than %(limit)s characters of text in all.",
                                 limit=_n(p["limit"])),
    "number_too_large": lambda p: _("A whole number beyond ±%(limit)s.", limit=_n(p["limit"])),
    "number_not_finite": lambda p: _("A number that is not finite."),
    "keys_not_text": lambda p: _("An object whose keys are not all text."),
    "nested_too_deep": lambda p: _("Nested more than %(limit)s deep.", limit=_n(p["limit"])),
    "too_many_entries": lambda p: _("More than %(limit)s entries.", limit=_n(p["limit"])),
    "text_too_long": lambda p: _("A text longer than %(limit)s characters.",
                                 limit=_n(p["limit"])),
    "not_unicode": lambda p: _("A text that is not valid Unicode."),
    "business_key_too_long": lambda p: _("The case number is longer than %(limit)s "
                                         "characters.", limit=_n(p["limit"])),
    "business_key_control": lambda p: _("The case number contains a control character."),
    "json_too_large": lambda p: _("More than %(limit)s MB of JSON.", limit=_n(p["limit"])),
    "not_utf8": lambda p: _("Not UTF-8 text (byte %(byte)s).", byte=p["byte"]),
    "not_json": lambda p: _("Not valid JSON (line %(line)s, column %(column)s).",
                            line=p["line"], column=p["column"]),
    "too_many_digits": lambda p: _("A number with more digits than a number may have."),
    "page_out_of_range": lambda p: _("The page must be a whole number from 1 to %(limit)s.",
                                     limit=_n(p["limit"])),
}

TEXTS: dict[str, Text] = {**TASKS, **CASES, **OWNERS, **LIMITS, **FINDINGS}


def say(code: str | None, params: Mapping[str, Any], english: str) -> str:
    """One coded sentence in the user's language; the engine's English when the code has
    no text here."""
    text = TEXTS.get(code or "")
    if text is None:
        return english
    try:
        return text(dict(params))
    except (KeyError, TypeError, ValueError):  # values this text does not expect
        return english


def said(err: TiltakError) -> str:
    """One sentence for a person: what happened, in their language."""
    if err.code in TEXTS:
        what = say(err.code, err.params or {}, str(err))
        if isinstance(err, DefinitionError) and (err.file or err.element):
            return _("%(where)s: %(what)s", where=_place(err), what=what)
        return what
    return _by_kind(err)


def problems(err: InvalidInput) -> dict[str, str]:
    """What was refused, by field (or path), in the user's language."""
    if err.code in TEXTS:
        return {field: said(err) for field in err.errors}
    return localized(err.errors)


def _place(err: DefinitionError) -> str:
    if err.file and err.element:
        return _("%(file)s, element “%(element)s”", file=err.file, element=err.element)
    return err.file or err.element


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
        if err.errors and all(isinstance(m, Message | Messages) for m in err.errors.values()):
            return "; ".join(f"{k}: {v}" if k else v for k, v in localized(err.errors).items())
        return _("Some of what was sent does not fit.")
    return _("This could not be done.")

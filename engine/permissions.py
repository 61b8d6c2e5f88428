"""Who may do what: one rule per action, the same for the web pages, the JSON API and
the command line. The engine applies them; the web UI asks them only to show or hide.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import PermissionDenied

OPERATOR = "system"  # the server's operator: the command line, timers, the scheduler
AUDITORS = "revisor"  # read everything, change nothing
PROCESS_OWNERS = "prosesseier"
READ_ALL_GROUPS = frozenset({AUDITORS, PROCESS_OWNERS})


def may_start(actor: str, groups: set[str], starter_groups: Iterable[str] | None) -> bool:
    """A process is started by the members of its candidate starter groups (not by
    auditors, who change nothing), and by the operator; one without any starter groups
    is started by its timers, messages and callers only."""
    return actor == OPERATOR or (AUDITORS not in groups
                                 and bool(groups & set(starter_groups or ())))


def check_writer(actor: str, groups: set[str]) -> None:
    """Auditors read every case and change none, whatever other group they are in."""
    if AUDITORS in groups and actor != OPERATOR:
        raise PermissionDenied(f"user '{actor}' is an auditor: auditors read cases, they "
                               "never change them")


def may_cancel(actor: str, groups: set[str], started_by: str | None) -> bool:
    """The person who started the case, process owners and the operator."""
    return actor in (OPERATOR, started_by) or PROCESS_OWNERS in groups


def may_retry(actor: str, groups: set[str]) -> bool:
    """An incident is put back by a process owner or the operator."""
    return actor == OPERATOR or PROCESS_OWNERS in groups

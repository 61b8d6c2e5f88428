"""Who may do what: one rule per action, the same for the web pages, the JSON API and
the command line. The engine applies them; the web UI asks them only to show or hide.
"""

from __future__ import annotations

from collections.abc import Iterable

OPERATOR = "system"  # the server's operator: the command line, timers, the scheduler
AUDITORS = "revisor"  # read everything, change nothing
PROCESS_OWNERS = "prosesseier"
READ_ALL_GROUPS = frozenset({AUDITORS, PROCESS_OWNERS})


def may_start(actor: str, groups: set[str], starter_groups: Iterable[str] | None) -> bool:
    """A process is started by the members of its candidate starter groups, and by the
    operator; one without any is started by its timers, messages and callers only."""
    return actor == OPERATOR or bool(groups & set(starter_groups or ()))

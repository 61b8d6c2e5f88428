"""Who may do what: one rule per action, the same for the web pages, the JSON API and
the command line. The groups with powers are the installation's to name (`Roles`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import PermissionDenied

OPERATOR = "system"  # the server's operator: the command line, timers, the scheduler


@dataclass(frozen=True)
class Roles:
    """The two groups the engine itself gives powers to: auditors read every case and
    change none; process owners read every case, cancel and retry. The names are set by
    the installation (installation/services.py reads them from its settings)."""

    auditors: str = "revisor"
    process_owners: str = "prosesseier"

    @property
    def read_all(self) -> frozenset[str]:
        return frozenset({self.auditors, self.process_owners})

    def is_auditor(self, groups: set[str]) -> bool:
        return self.auditors in groups

    def may_start(self, actor: str, groups: set[str],
                  starter_groups: Iterable[str] | None) -> bool:
        """A process is started by the members of its candidate starter groups (not by
        auditors), and by the operator; one without any starter groups is started by
        its timers, messages and callers only."""
        return actor == OPERATOR or (self.auditors not in groups
                                     and bool(groups & set(starter_groups or ())))

    def check_writer(self, actor: str, groups: set[str]) -> None:
        """Auditors read every case and change none, whatever other group they are in."""
        if self.auditors in groups and actor != OPERATOR:
            raise PermissionDenied(f"user '{actor}' is an auditor: auditors read cases, "
                                   "they never change them").coded("auditor")

    def may_cancel(self, actor: str, groups: set[str], started_by: str | None) -> bool:
        """The person who started the case, process owners and the operator."""
        return actor in (OPERATOR, started_by) or self.process_owners in groups

    def may_deploy(self, actor: str, groups: set[str]) -> bool:
        """New versions of processes come from process owners (never an auditor, whatever
        else they are) and from the operator."""
        return actor == OPERATOR or (self.process_owners in groups
                                     and self.auditors not in groups)

    def may_retry(self, actor: str, groups: set[str]) -> bool:
        """An incident is put back by a process owner or the operator."""
        return actor == OPERATOR or self.process_owners in groups

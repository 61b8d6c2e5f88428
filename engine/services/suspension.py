"""Suspend and activate, as in Camunda 7: a suspended process definition starts no new
cases; a suspended case's tasks cannot be claimed or completed, it hears no messages and
its timers wait, until it is activated (recorded as `suspended` and `activated`)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..core import OPERATOR, Service, command
from ..errors import Conflict, NotFound, PermissionDenied, Suspended
from ..execution import projection
from ..models import ProcessDefinition, ProcessInstance
from ..store.instances import InstanceRow

DEFINITIONS = ProcessDefinition.__table__


class SuspensionService(Service):
    @command
    def suspend_definition(self, process_key: str, version: int | None = None, *,
                           actor: str = OPERATOR, tenant: str = "") -> list[int]:
        """Suspend every version of the key, or one; the versions changed."""
        return self._set_definition(process_key, version, tenant, actor, True)

    @command
    def activate_definition(self, process_key: str, version: int | None = None, *,
                            actor: str = OPERATOR, tenant: str = "") -> list[int]:
        return self._set_definition(process_key, version, tenant, actor, False)

    def _set_definition(self, key: str, version: int | None, tenant: str, actor: str,
                        suspended: bool) -> list[int]:
        self._check_owner(actor, "suspend or activate process definitions", "versions")
        with self.core.db.transaction() as session:
            where = [DEFINITIONS.c.key == key, DEFINITIONS.c.tenant == tenant]
            if version is not None:
                where.append(DEFINITIONS.c.version == version)
            found = sorted(session.execute(select(DEFINITIONS.c.version).where(*where))
                           .scalars())
            if not found and version:
                raise NotFound(f"process '{key}' has no version {version}").coded(
                    "no_version", key=key, version=version)
            if not found:
                raise NotFound(f"unknown process key '{key}'").coded("unknown_process", key=key)
            session.execute(update(DEFINITIONS).where(*where).values(suspended=suspended))
            return found

    @command
    def suspend(self, instance_id: str, *, actor: str = OPERATOR) -> InstanceRow:
        """Hold a running case: its timers wait and its tasks cannot be worked on."""
        self._check_owner(actor, "suspend cases", "cases")
        with self.core.db.transaction() as session:
            row = self._running(session, instance_id)
            if row.suspended:
                raise Conflict(f"case {instance_id} is already suspended").coded(
                    "already_suspended")
            row.suspended, row.next_timer_at = True, None
            self.core._record(session, row, "suspended", actor, {})
            return row

    @command
    def activate(self, instance_id: str, *, actor: str = OPERATOR) -> InstanceRow:
        """Let a suspended case go on; a timer that came due meanwhile fires next."""
        self._check_owner(actor, "activate cases", "cases")
        with self.core.db.transaction() as session:
            row = self._running(session, instance_id)
            if not row.suspended:
                raise Conflict(f"case {instance_id} is not suspended").coded("not_suspended")
            loaded = self.core._load_row(session, row)
            row.suspended = False
            row.next_timer_at = projection.next_timer(loaded.workflow)
            self.core._record(session, row, "activated", actor, {})
            return row

    def suspended_among(self, instance_ids: list[str]) -> set[str]:
        """Which of these cases are suspended (for a worklist page, say)."""
        if not instance_ids:
            return set()
        with self.core.db.reading() as session:
            return set(session.scalars(select(ProcessInstance.id).where(
                ProcessInstance.id.in_(set(instance_ids)),
                ProcessInstance.suspended.is_(True))))

    def _running(self, session: Session, instance_id: str) -> InstanceRow:
        row = self.core._lock_instance(session, instance_id)
        if row.status != "running":
            raise Conflict(f"case {instance_id} is {row.status}: only a running case can be "
                           "suspended or activated").coded("case_not_running")
        return row

    def _check_owner(self, actor: str, what: str, held: str) -> None:
        """`held`: what is suspended or activated, versions or cases."""
        if not self.core.roles.may_deploy(actor, self.core._groups(actor)):
            raise PermissionDenied(f"user '{actor}' may not {what} (process owners may)"
                                   ).coded("may_not_hold", held=held)

    @staticmethod
    def refuse_if_suspended(row: InstanceRow, what: str) -> None:
        if row.suspended:
            raise Suspended(f"case {row.id} is suspended: {what} waits until it is "
                            "activated").coded("case_suspended")

"""What happened and who may see it: a case shown, its history, searches, reads
logged, progress on the diagram, receipts, attachments read."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import attachments, history
from ..core import Service
from ..errors import (
    NotFound,
    PermissionDenied,
)
from ..execution import projection
from ..identity.users import groups_of
from ..models import (
    AccessLog,
    Attachment,
    CaseFacts,
    HistoryEvent,
    HumanTask,
    ProcessInstance,
)
from ..queries import case_search, facts, my_cases, search
from ..queries.worklist import visible_to
from ..serialization import data_from_json, plain
from ..store.instances import InstanceRow
from .open_tasks import task_summary


class HistoryService(Service):
    def instance(self, instance_id: str) -> ProcessInstance:
        return self._found(ProcessInstance, instance_id, NotFound(
            f"no process instance '{instance_id}'").coded("no_case", case=instance_id))

    def _found(self, model, key, missing: NotFound):
        with self.core.db.reading() as session:
            found = session.get(model, key)
            if found is None:
                raise missing
            return found

    def show(self, instance_id: str) -> dict[str, Any]:
        with self.core.db.reading() as session:
            loaded = self.core._load(session, instance_id, lock=False)
            final = loaded.row.final
            variables = data_from_json(final.variables) if final is not None else \
                projection.variables(loaded.workflow)
            return self._shown(session, loaded.row, variables)

    def shown(self, row: InstanceRow) -> dict[str, Any]:
        """What `show` gives, for an instance a command has just written: from that
        command's own result (its variables and open tasks), without a transaction once
        the definition is known."""
        if row.open_tasks is not None and row.definition_id in self.core._definitions:
            return self._shown(None, row, row.variables, row.open_tasks)
        with self.core.db.reading() as session:
            return self._shown(session, row, row.variables, row.open_tasks)

    def _shown(self, session: Session | None, row: InstanceRow, variables: dict[str, Any],
               open_tasks: list | None = None) -> dict[str, Any]:
        definition = self.core._definition(session, row.definition_id)
        if open_tasks is None:
            open_tasks = session.scalars(select(HumanTask).where(
                HumanTask.instance_id == row.id).order_by(HumanTask.created_at)).all()
        return {
            "id": row.id, "process_key": row.process_key, "version": definition.version,
            "tenant": definition.tenant or None, "name": definition.name,
            "business_key": row.business_key, "status": row.status,
            "started_at": row.started_at.isoformat(), "started_by": row.started_by,
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "error": row.error,
            "next_timer_at": row.next_timer_at.isoformat() if row.next_timer_at else None,
            "data": plain(variables),
            "open_tasks": [task_summary(t) for t in open_tasks],
            "called": {k: v for k, v in sorted(row.bindings.items())},
        }

    def events(self, instance_id: str) -> list[HistoryEvent]:
        with self.core.db.reading() as session:
            if session.get(ProcessInstance, instance_id) is None:
                raise NotFound(f"no process instance '{instance_id}'").coded(
                    "no_case", case=instance_id)
            return history.events_of(session, instance_id)

    def find_instances(self, filter: search.InstanceFilter | None = None, limit: int = 50,
                       offset: int = 0, *, reader: str | None = None
                       ) -> tuple[list[search.InstanceRow], int]:
        """The auditors' search: one page of matching instances and the total (SQL only);
        for a `reader` who is no auditor, without sensitive cases."""
        with self.core.db.reading() as session:
            return search.find_instances(session, self._for_reader(session, filter, reader),
                                         limit=limit, offset=offset)

    def find_instance_ids(self, filter: search.InstanceFilter | None = None, *,
                          reader: str | None = None) -> list[str]:
        """Every matching instance's id, oldest first (to export all that a search finds)."""
        with self.core.db.reading() as session:
            return search.matching_ids(session, self._for_reader(session, filter, reader))

    def _for_reader(self, session: Session, filter: search.InstanceFilter | None,
                    reader: str | None) -> search.InstanceFilter | None:
        if reader is None or self.core.roles.is_auditor(groups_of(session, reader)):
            return filter
        return dataclasses.replace(filter or search.InstanceFilter(), without_sensitive=True)

    def record_read(self, instance_id: str, *, actor: str, what: str) -> None:
        """Log that `actor` read a sensitive case (other cases are not logged)."""
        with self.core.db.transaction() as session:
            if facts.is_sensitive(session, instance_id):
                session.add(AccessLog(instance_id=instance_id, user_name=actor,
                                      at=self.core.clock.now(), what=what))

    def reads(self, instance_id: str) -> list[AccessLog]:
        with self.core.db.reading() as session:
            return list(session.scalars(select(AccessLog).where(
                AccessLog.instance_id == instance_id).order_by(AccessLog.id)))

    def receipt(self, code: str) -> dict[str, Any]:
        """What a reporter may know about their report, given its receipt code."""
        with self.core.db.reading() as session:
            found = self.core.hooks.receipt(session, code) if code and code.strip() else None
            if found is None:
                raise NotFound("no report has this receipt code").coded("no_receipt")
            row = session.get(ProcessInstance, found.instance_id)
            definition = self.core._definition(session, row.definition_id)
            return {"process": definition.name, "business_key": row.business_key,
                    "reported_at": row.started_at, "status": row.status,
                    "closed_at": row.ended_at, "feedback": found.feedback,
                    "feedback_at": found.feedback_at}

    def may_view(self, actor: str, instance_id: str) -> bool:
        """Readers: auditors and process owners see all; others the cases they work on.

        A sensitive case is seen only by those who handle it, and by auditors."""
        with self.core.db.reading() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"no process instance '{instance_id}'").coded(
                    "no_case", case=instance_id)
            groups = groups_of(session, actor)
            if facts.is_sensitive(session, instance_id):
                # a sensitive case: its handlers and auditors, not every process owner
                if self.core.roles.is_auditor(groups):
                    return True
            elif groups & self.core.roles.read_all or row.started_by == actor:
                return True
            took_part = session.scalar(select(HistoryEvent.id).where(
                HistoryEvent.stream == instance_id, HistoryEvent.actor == actor).limit(1))
            offered = session.scalar(select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, visible_to(actor, groups)).limit(1))
            return took_part is not None or offered is not None

    def search_cases(self, actor: str, *, text: str = "", process_key: str = "",
                     status: str = "", limit: int = case_search.LIMIT
                     ) -> tuple[list[case_search.FoundCase], int]:
        """A caseworker's search: cases by title or business key, process and status,
        among those the actor may open (the rule of `may_view`)."""
        with self.core.db.reading() as session:
            seen = case_search.visible(actor, groups_of(session, actor), self.core.roles)
            return case_search.find_cases(session, seen, text=text, process_key=process_key,
                                          status=status, limit=limit)

    def viewable(self, actor: str, instance_ids: list[str]
                 ) -> dict[str, case_search.FoundCase]:
        """Those of these cases the actor may open (the rule of `may_view`, in SQL)."""
        with self.core.db.reading() as session:
            seen = case_search.visible(actor, groups_of(session, actor), self.core.roles)
            return case_search.visible_cases(session, seen, instance_ids)

    def case_titles(self, instance_ids: list[str]) -> dict[str, str]:
        """Each case's title (routines/case_facts.py gives it), for those that have one."""
        if not instance_ids:
            return {}
        with self.core.db.reading(one_statement=True) as session:
            return dict(session.execute(select(CaseFacts.instance_id, CaseFacts.title).where(
                CaseFacts.instance_id.in_(sorted(set(instance_ids))),
                CaseFacts.title.is_not(None))).all())

    def my_cases(self, actor: str) -> list[my_cases.MyCase]:
        """The cases the actor started, completed a task in or follows, newest first,
        without those they may no longer see (a followed case that became sensitive)."""
        with self.core.db.reading() as session:
            found = my_cases.cases_of(session, actor)
        return [c for c in found if c.why - {"follows"} or self.may_view(actor, c.id)]

    def follow(self, instance_id: str, *, actor: str, following: bool = True) -> None:
        """Follow a case the actor may see (or stop following it); auditors change
        nothing, not even a list of their own."""
        with self.core.db.reading() as session:
            if self.core.roles.is_auditor(groups_of(session, actor)):
                raise PermissionDenied("auditors read cases and change nothing").coded(
                    "auditor")
        if following and not self.may_view(actor, instance_id):
            raise PermissionDenied("you may not see this case").coded("may_not_see_case",
                                                                      case=instance_id)
        with self.core.db.transaction() as session:
            if following:
                my_cases.follow(session, actor, instance_id, self.core.clock.now())
            else:
                my_cases.unfollow(session, actor, instance_id)

    def follows(self, instance_id: str, *, actor: str) -> bool:
        with self.core.db.reading() as session:
            return my_cases.follows(session, actor, instance_id)

    def attachments(self, instance_id: str) -> list[Attachment]:
        with self.core.db.reading() as session:
            return attachments.of_instance(session, instance_id)

    def attachment(self, attachment_id: int) -> Attachment:
        return self._found(Attachment, attachment_id, NotFound(
            f"no attachment {attachment_id}").coded("no_attachment", attachment=attachment_id))

    def progress(self, instance_id: str) -> list[dict[str, Any]]:
        """Per diagram (the process and each called process): done and active elements."""
        with self.core.db.reading() as session:
            loaded = self.core._load(session, instance_id, lock=False)
            if loaded.row.final is not None:
                return loaded.row.final.progress
            return projection.progress(loaded.workflow, loaded.owner)

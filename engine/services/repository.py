"""Deployments and the definitions they hold: deploy, what a user may start,
process names, the latest version, a definition's XML and forms."""

from __future__ import annotations

from sqlalchemy import select

from .. import (
    definitions,
)
from ..core import (
    OPERATOR,
    EngineCore,
    command,
)
from ..execution import timer_starts
from ..identity.users import groups_of
from ..models import (
    ProcessDefinition,
)


class RepositoryService(EngineCore):
    @command
    def deploy(self, files: dict[str, bytes], *, actor: str = OPERATOR, tenant: str = "",
               name: str = "") -> list[definitions.Deployed]:
        with self.db.transaction() as session:
            results = definitions.deploy(session, files, actor=actor, at=self.clock.now(),
                                         tenant=tenant, name=name)
            for result in results:
                if result.created and result.kind == "process":
                    timer_starts.schedule(session, session.get(ProcessDefinition,
                                                               result.definition_id), self.clock)
        self._latest.clear()
        return results

    def startable(self, actor: str) -> list[ProcessDefinition]:
        """The latest version of each process the actor's groups may start."""
        with self.db.reading() as session:
            groups = groups_of(session, actor)
            latest: dict[str, ProcessDefinition] = {}
            for d in session.scalars(select(ProcessDefinition).where(
                    ProcessDefinition.tenant == "").order_by(ProcessDefinition.version)):
                latest[d.key] = d
            return [d for d in latest.values()
                    if self.roles.may_start(actor, groups, d.starter_groups)]

    def process_names(self) -> dict[str, str]:
        """Each deployed process key with the name of its latest version."""
        with self.db.reading() as session:
            return {d.key: d.name for d in session.scalars(
                select(ProcessDefinition).order_by(ProcessDefinition.version))}

    def latest(self, process_key: str) -> ProcessDefinition:
        with self.db.reading() as session:
            return definitions.definition_to_start(session, process_key, "")

    def definition_xml(self, definition_id: int) -> str:
        with self.db.reading() as session:
            return definitions.definition_xml(session, definition_id)

    def form_document(self, form_ref: str, definition_id: int | None = None) -> dict | None:
        with self.db.reading() as session:
            definition = self._definition(session, definition_id) if definition_id else None
            return definitions.form_document(session, form_ref, definition.tenant
                                             if definition else "")

"""Deployments and the definitions they hold: deploy, what a user may start,
process names, the latest version, a definition's XML and forms."""

from __future__ import annotations

from sqlalchemy import select

from .. import (
    definitions,
)
from ..core import OPERATOR, Service, command
from ..errors import DefinitionError, NotFound, PermissionDenied
from ..execution import timer_starts
from ..identity.users import groups_of
from ..model import lint as linting
from ..model.parsing import bpmn_root
from ..models import (
    Deployment,
    ProcessDefinition,
    Resource,
)
from ..queries import case_positions, deployment_query, version_overview


class RepositoryService(Service):
    @command
    def deploy(self, files: dict[str, bytes], *, actor: str = OPERATOR, tenant: str = "",
               name: str = "", source: str | None = None) -> list[definitions.Deployed]:
        with self.core.db.transaction() as session:
            results = definitions.deploy(session, files, actor=actor, at=self.core.clock.now(),
                                         tenant=tenant, name=name, source=source)
            for result in results:
                if result.created and result.kind == "process":
                    timer_starts.schedule(
                        session, session.get(ProcessDefinition, result.definition_id),
                        self.core.clock)
        self.core._latest.clear()
        return results

    def startable(self, actor: str) -> list[ProcessDefinition]:
        """The latest version of each process the actor's groups may start."""
        with self.core.db.reading() as session:
            groups = groups_of(session, actor)
            latest: dict[str, ProcessDefinition] = {}
            for d in session.scalars(select(ProcessDefinition).where(
                    ProcessDefinition.tenant == "").order_by(ProcessDefinition.version)):
                latest[d.key] = d
            return [d for d in latest.values()
                    if self.core.roles.may_start(actor, groups, d.starter_groups)]

    def process_names(self) -> dict[str, str]:
        """Each deployed process key with the name of its latest version."""
        with self.core.db.reading() as session:
            return {d.key: d.name for d in session.scalars(
                select(ProcessDefinition).order_by(ProcessDefinition.version))}

    def latest(self, process_key: str) -> ProcessDefinition:
        with self.core.db.reading() as session:
            return definitions.definition_to_start(session, process_key, "")

    def latest_version(self, process_key: str, tenant: str = "") -> ProcessDefinition:
        """The latest version of a process for a tenant (its variant, else the default)."""
        with self.core.db.reading() as session:
            return definitions.definition_to_start(session, process_key, tenant)

    def definition_xml(self, definition_id: int) -> str:
        with self.core.db.reading() as session:
            return definitions.definition_xml(session, definition_id)

    def form_document(self, form_ref: str, definition_id: int | None = None) -> dict | None:
        with self.core.db.reading() as session:
            definition = self.core._definition(session, definition_id) if definition_id else None
            return definitions.form_document(session, form_ref, definition.tenant
                                             if definition else "")

    def deploy_as_user(self, files: dict[str, bytes], *, actor: str, tenant: str = "",
                       name: str = "", source: str | None = None
                       ) -> list[definitions.Deployed]:
        """A deployment a user asks for over the network: process owners only."""
        if not self.core.roles.may_deploy(actor, self.core._groups(actor)):
            raise PermissionDenied(f"user '{actor}' may not deploy: only members of "
                                   f"'{self.core.roles.process_owners}' deploy processes").coded(
                "may_not_deploy", group=self.core.roles.process_owners)
        return self.deploy(files, actor=actor, tenant=tenant, name=name, source=source)

    def lint(self, files: dict[str, bytes], *, groups: set[str] | None = None,
             tenant: str = "", deployed: bool = True) -> dict[str, linting.Report]:
        """Every problem of the files, by file and element, without deploying them; the
        deployed forms and decision tables count as there (unless not `deployed`: a
        database without a schema). `groups`: the installation's groups, to check
        candidate groups against; None checks none."""
        known = linting.Known(groups=groups, variables=set(self.core.context_variables()))
        if not deployed:
            return linting.lint(files, known)
        with self.core.db.reading() as session:
            resources = session.execute(
                select(Resource.name, Resource.kind, Resource.form_id, Resource.content)
                .where(Resource.tenant.in_({tenant, ""})).order_by(Resource.id)).all()
        processes: dict[str, str] = {}  # each file's latest deployed text
        for name, kind, form_id, content in resources:
            if kind == "form":
                known.form_files.add(name.rsplit("/", 1)[-1])
                known.variables |= linting.declared.form_fields(content)
                if form_id:
                    known.form_ids.add(form_id)
            elif kind == "dmn":
                known.dmn_files[name] = content.encode("utf-8")
            elif kind == "bpmn":
                processes[name] = content
        for name, content in processes.items():  # what they set reaches what they call
            known.variables |= linting.declared.set_by(
                linting.bpmn_root(content.encode("utf-8"), name))
        return linting.lint(files, known)

    def deployments(self, query: deployment_query.DeploymentQuery) -> list[Deployment]:
        with self.core.db.reading() as session:
            return deployment_query.find(session, query)

    def deployment(self, deployment_id: int) -> Deployment:
        with self.core.db.reading() as session:
            found = session.get(Deployment, deployment_id)
            if found is None:
                raise NotFound(f"no deployment {deployment_id}").coded(
                    "no_deployment", deployment=deployment_id)
            return found

    def deployment_contents(self, deployment_id: int
                            ) -> tuple[list[ProcessDefinition], list[Resource]]:
        """The process definition versions a deployment made, and the files it holds."""
        with self.core.db.reading() as session:
            return (deployment_query.definitions_of(session, deployment_id),
                    deployment_query.resources_of(session, deployment_id))

    def definition(self, definition_id: int) -> ProcessDefinition:
        with self.core.db.reading() as session:
            found = session.get(ProcessDefinition, definition_id)
            if found is None:
                raise NotFound(f"no process definition {definition_id}").coded(
                    "no_definition", definition=definition_id)
            return found

    def versions(self, process_key: str | None = None) -> list[version_overview.Version]:
        """Every definition version with who deployed it and its cases counted."""
        with self.core.db.reading() as session:
            return version_overview.versions(session, process_key)

    def deployment_summaries(self, limit: int = 50
                             ) -> list[version_overview.DeploymentSummary]:
        with self.core.db.reading() as session:
            return version_overview.deployments(session, limit)

    def case_positions(self, definition_id: int) -> case_positions.Positions:
        """Where the open cases of a version stand, per activity (Cockpit's counts)."""
        with self.core.db.reading() as session:
            return case_positions.positions(session, self.core._definition(session,
                                                                           definition_id))

    def deployed_counterpart(self, name: str, data: bytes, tenant: str = ""
                             ) -> tuple[str, str] | None:
        """What an uploaded file would replace: for a BPMN file the latest version of
        the first process it holds (label, file text); for a DMN or form file the
        latest deployed file of the same name. None for a file new to the engine."""
        kind = definitions.kind_of(name)
        with self.core.db.reading() as session:
            if kind == "bpmn":
                for key in _process_keys(name, data):
                    found = session.scalar(select(ProcessDefinition.id).where(
                        ProcessDefinition.key == key, ProcessDefinition.tenant == tenant)
                        .order_by(ProcessDefinition.version.desc()).limit(1))
                    if found is not None:
                        definition = session.get(ProcessDefinition, found)
                        return (f"{definition.key} {definition.version}",
                                definitions.definition_xml(session, found))
                return None
            resource = session.scalars(select(Resource).where(
                Resource.name == name, Resource.tenant == tenant)
                .order_by(Resource.id.desc()).limit(1)).first()
            return (resource.name, resource.content) if resource is not None else None


def _process_keys(name: str, data: bytes) -> list[str]:
    """The executable processes' ids in a BPMN file; none for a file that does not parse
    (the lint report says why)."""
    try:
        root = bpmn_root(data, name)
    except DefinitionError:
        return []
    return [p.get("id") for p in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}"
                                           "process")
            if p.get("id") and p.get("isExecutable", "true") != "false"]

"""Instance migration with Camunda 7's semantics: a plan from one version of a process
to another, validated for every selected case before anything moves, then run one
transaction per case, each moved case recording a `migrated` event (docs/MIGRATION.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import definitions
from ..core import OPERATOR, Loaded, Service, command
from ..errors import InvalidInput, NotFound, PermissionDenied, TiltakError
from ..execution import projection
from ..execution.determinism import deterministic
from ..migration import plan as plans
from ..migration import repoint
from ..model.specs import variant_name
from ..models import ProcessDefinition, ProcessInstance
from ..store import projections as store_projections
from ..store.prepared import Writes

BATCH = 20  # cases validated per reading transaction


@dataclass
class Outcome:
    """One case in a migration report: moved, or refused with the problems found."""

    instance_id: str
    moved: bool
    problems: list[repoint.Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"instance": self.instance_id, "moved": self.moved,
                "problems": [p.as_dict() for p in self.problems]}


@dataclass
class Report:
    plan: plans.Plan
    outcomes: list[Outcome]
    executed: bool  # False: validation failed (or asked for alone) and nothing moved

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problems]

    def as_dict(self) -> dict[str, Any]:
        return {"processKey": self.plan.process_key,
                "sourceVersion": self.plan.source_version,
                "targetVersion": self.plan.target_version, "executed": self.executed,
                "moved": [o.instance_id for o in self.outcomes if o.moved],
                "refused": [o.as_dict() for o in self.refused]}


class MigrationRefused(InvalidInput):
    """Validation found cases that cannot move; nothing moved. Carries the report."""

    def __init__(self, report: Report):
        self.report = report
        count = len(report.refused)
        super().__init__(f"the plan does not fit {count} case{'s' * (count != 1)}; "
                         "nothing was moved")


def _problem(err: TiltakError, element: str = "") -> repoint.Problem:
    """A refusal met while moving a case, as one of the case's problems."""
    return repoint.Problem(element, str(err), err.code, dict(err.params))


@dataclass
class _Versions:
    source: ProcessDefinition
    target: ProcessDefinition


class MigrationService(Service):
    def migration_plan(self, process_key: str, source_version: int, target_version: int,
                       tenant: str = "") -> plans.Plan:
        """The generated plan: every activity present in both versions mapped to itself."""
        with self.core.db.reading() as session:
            versions = self._versions(session, process_key, source_version, target_version,
                                      tenant)
            return plans.same_ids(process_key, source_version, target_version,
                                  self._activities(versions.source),
                                  self._activities(versions.target), tenant)

    def activities_of(self, definition_id: int) -> dict[str, str]:
        """The elements of a version a plan may name, by id, with their kind."""
        with self.core.db.reading() as session:
            return self._activities(self.core._definition(session, definition_id))

    def cases_at_version(self, process_key: str, version: int, tenant: str = ""
                         ) -> list[str]:
        """Running cases that run this version: started on it, or calling it."""
        with self.core.db.reading() as session:
            source = self._version(session, process_key, version, tenant)
            return self._running_on(session, source, process_key, tenant)

    @command
    def migrate(self, plan: plans.Plan, instance_ids: list[str], *, actor: str = OPERATOR,
                validate_only: bool = False) -> Report:
        """Validate the plan for every case, then (unless asked to validate only) move
        each in its own transaction. MigrationRefused when validation finds a case that
        cannot move: then none moves."""
        if not self.core.roles.may_deploy(actor, self.core._groups(actor)):
            raise PermissionDenied(f"user '{actor}' may not migrate cases (process owners "
                                   "may)").coded("may_not_migrate")
        if not instance_ids:
            raise InvalidInput("no cases are selected").coded("no_cases_selected")
        with self.core.db.reading() as session:
            versions = self._versions(session, plan.process_key, plan.source_version,
                                      plan.target_version, plan.tenant)
            faults = plans.check_against(plan, self._activities(versions.source),
                                         self._activities(versions.target))
        if faults:
            raise InvalidInput({"plan": "; ".join(f"{f.element}: {f.problem}" for f in faults)
                                }).coded("plan_faults", faults=faults)
        outcomes = []
        for start in range(0, len(instance_ids), BATCH):
            with self.core.db.reading() as session:
                for instance_id in instance_ids[start:start + BATCH]:
                    outcomes.append(Outcome(instance_id, False,
                                            self._try(session, plan, versions, instance_id)))
        report = Report(plan, outcomes, executed=False)
        if report.refused:
            raise MigrationRefused(report)
        if validate_only:
            return report
        report.executed = True
        for outcome in outcomes:
            try:
                with self.core.db.transaction() as session:
                    self._move(session, plan, versions, outcome.instance_id, actor)
                outcome.moved = True
            except TiltakError as err:  # this case stays; the others go on
                outcome.problems = [_problem(err)]
        return report

    def _try(self, session: Session, plan: plans.Plan, versions: _Versions,
             instance_id: str) -> list[repoint.Problem]:
        """The problems of moving one case, found by doing it in memory."""
        try:
            loaded = self.core._load(session, instance_id, lock=False)
            target, bindings, top = self._target(session, loaded, plan, versions)
            found = repoint.problems(loaded.workflow, loaded.owner, versions.source.id,
                                     plan.instructions, target)
            if found:
                return found
            with deterministic(loaded.ids, self.core.clock):
                self._repointed(session, loaded, plan, versions, target, bindings, top)
        except TiltakError as err:
            return [_problem(err, getattr(err, "element", None) or "")]
        finally:
            self.core._live.forget(instance_id)  # changed in memory: restored by the next
        return []

    def _move(self, session: Session, plan: plans.Plan, versions: _Versions,
              instance_id: str, actor: str) -> None:
        loaded = self.core._load(session, instance_id)
        target, bindings, top = self._target(session, loaded, plan, versions)
        before = store_projections.stored(session.connection(), instance_id)
        with deterministic(loaded.ids, self.core.clock):
            views = self._repointed(session, loaded, plan, versions, target, bindings, top)
        row = loaded.row
        data = {"process_key": plan.process_key, "tenant": plan.tenant or None,
                "from": {"definition_id": versions.source.id,
                         "version": versions.source.version},
                "to": {"definition_id": versions.target.id,
                       "version": versions.target.version},
                "instructions": dict(plan.instructions),
                "definition_id": top.id, "bindings": bindings}
        writes = Writes()
        store_projections.refresh_tasks(writes, session.connection(), row, views,
                                        before.tasks)
        writes.send(session.connection())
        loaded.projected = store_projections.Projected(before.tasks, before.subscriptions)
        self.core._save(session, loaded, "migrated", actor, data)

    def _target(self, session: Session, loaded: Loaded, plan: plans.Plan,
                versions: _Versions) -> tuple[repoint.Target, dict[str, int], Any]:
        """Where the case goes: the target specs, its new bindings and top definition."""
        row = loaded.row
        if row.status != "running" or loaded.workflow is None:
            raise InvalidInput(f"case {row.id} is {row.status}: only running cases move"
                               ).coded("only_running_cases_move", case=row.id,
                                       status=row.status)
        called = variant_name(plan.process_key, plan.tenant or None)
        if row.definition_id == versions.source.id:
            top = versions.target
        elif row.bindings.get(called) == versions.source.id:
            top = self.core._definition(session, row.definition_id)
        else:
            raise InvalidInput(f"case {row.id} does not run {plan.process_key} version "
                               f"{plan.source_version}").coded(
                "case_not_on_version", case=row.id, key=plan.process_key,
                version=plan.source_version)
        # the cases it calls keep their versions, as Camunda's called instances do; what
        # only the target calls is bound as a start would bind it
        bindings = {**definitions.bind_called(session, versions.target), **row.bindings}
        if called in row.bindings:
            bindings[called] = versions.target.id
        spec, subprocess_specs, _ = self.core._specs_for(session, top, bindings)
        return repoint.Target(spec, subprocess_specs, versions.target.version), bindings, top

    def _repointed(self, session: Session, loaded: Loaded, plan: plans.Plan,
                   versions: _Versions, target: repoint.Target, bindings: dict[str, int],
                   top) -> list[projection.TaskView]:
        """The loaded case moved in memory (its row, workflow and owner changed), with
        its open tasks as the target version shows them."""
        try:
            workflow, _ = repoint.moved(loaded.workflow, loaded.owner, versions.source.id,
                                        plan.instructions, target, self.core.script_engine)
        except (ValueError, KeyError) as err:
            raise InvalidInput(f"case {loaded.row.id}: {err}").coded(
                "case_cannot_move", case=loaded.row.id, detail=str(err)) from None
        _, _, owner = self.core._specs_for(session, top, bindings)
        try:
            views = projection.open_human_tasks(workflow, owner, self.core.script_engine.evaluate)
        except WorkflowTaskException as err:
            raise self.core._execution_error(err) from None
        except ValueError as err:
            raise InvalidInput(f"case {loaded.row.id}: bad due date on version "
                               f"{versions.target.version}: {err}").coded(
                "bad_due_date_on_version", case=loaded.row.id,
                version=versions.target.version, detail=str(err)) from None
        loaded.workflow, loaded.owner = workflow, owner
        loaded.row.definition_id, loaded.row.bindings = top.id, bindings
        return views

    def _versions(self, session: Session, key: str, source: int, target: int,
                  tenant: str) -> _Versions:
        if source == target:
            raise InvalidInput(f"the source and target version are both {source}").coded(
                "same_version", version=source)
        return _Versions(self._version(session, key, source, tenant),
                         self._version(session, key, target, tenant))

    def _version(self, session: Session, key: str, version: int,
                 tenant: str) -> ProcessDefinition:
        found = session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version,
            ProcessDefinition.tenant == tenant)).first()
        if found is None:
            raise NotFound(f"process '{key}' has no version {version}"
                           + (f" for tenant {tenant}" if tenant else "")).coded(
                "no_version", key=key, version=version, tenant=tenant)
        return self.core._definition(session, found.id)

    def _activities(self, definition: ProcessDefinition) -> dict[str, str]:
        spec, embedded = self.core.specs.get(definition)
        return plans.activities(spec, embedded)

    @staticmethod
    def _running_on(session: Session, source: ProcessDefinition, key: str,
                    tenant: str) -> list[str]:
        called = variant_name(key, tenant or None)
        rows = session.execute(select(ProcessInstance.id, ProcessInstance.definition_id,
                                      ProcessInstance.bindings)
                               .where(ProcessInstance.status == "running")
                               .order_by(ProcessInstance.started_at, ProcessInstance.id))
        return [r.id for r in rows
                if r.definition_id == source.id or (r.bindings or {}).get(called) == source.id]

"""Moving running cases to another version from the process owners' pages: the plan
(same-id mapping, editable per element), the engine's check of it per case and element,
the choice of cases, and the run with its report. Auditors read the plan page; only
process owners check or run it (docs/MIGRATION.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import InvalidInput, NotFound
from engine.migration.plan import Plan
from engine.migration.repoint import Problem
from engine.services.migration import MigrationRefused, Report

from . import owner_checks
from .auth import engine
from .messages import said, say
from .owners import owner_only, readers_only

bp = Blueprint("migration", __name__, url_prefix="/owner")
bp.before_request(readers_only)


@bp.app_template_filter("reason")
def reason(problem: Problem) -> str:
    """Why a case cannot move, in the user's language."""
    return say(problem.code, problem.params, problem.problem)


@dataclass
class Mapping:
    """One source element on the plan page: where it goes and the cases there now."""

    element: str
    label: str
    kind: str
    chosen: str  # the target element, or "" for none
    choices: list[tuple[str, str]]  # the target's elements of the same kind
    cases: int


@dataclass
class Page:
    """What the plan page shows besides the plan: the choice of cases and the outcome."""

    which: str = "all"  # all, or at the chosen activities
    at: set[str] = field(default_factory=set)
    problem: str | None = None  # the plan or the choice itself is wrong
    report: Report | None = None  # a check: refused cases, or all fit
    selected: int = 0


@bp.get("/versions/<int:source_id>/migrate/<int:target_id>")
def plan_page(source_id: int, target_id: int):
    source, target = _pair(source_id, target_id)
    plan = engine().migration.migration_plan(source.key, source.version, target.version,
                                             source.tenant)
    return _render(source, target, plan, Page())


@bp.post("/versions/<int:source_id>/migrate/<int:target_id>")
def check_or_run(source_id: int, target_id: int):
    """Check the plan as edited for the chosen cases; with `action=run`, move them."""
    owner_only()
    source, target = _pair(source_id, target_id)
    plan = _plan_from_form(source, target)
    shown = Page(which="at" if request.form.get("which") == "at" else "all",
                 at=set(request.form.getlist("at")))
    selected = _selected(source, shown)
    shown.selected = len(selected)
    if not selected:
        shown.problem = (_("No running case stands at the chosen activities.")
                         if shown.which == "at" else
                         _("No case runs this version."))
        return _render(source, target, plan, shown), 422
    run = request.form.get("action") == "run"
    try:
        report = engine().migration.migrate(plan, selected, actor=current_user.name,
                                            validate_only=not run)
    except MigrationRefused as refused:
        shown.report = refused.report
        return _render(source, target, plan, shown), 422
    except InvalidInput as err:
        shown.problem = said(err)
        return _render(source, target, plan, shown), 422
    if not run:
        shown.report = report
        return _render(source, target, plan, shown)
    return render_template("owner_migration_report.html", source=source, target=target,
                           report=report, cases=_case_names(source.id, target.id),
                           labels=_labels(source.id) | _labels(target.id))


def _pair(source_id: int, target_id: int):
    repository = engine().repository
    source, target = repository.definition(source_id), repository.definition(target_id)
    if (source.key, source.tenant) != (target.key, target.tenant) or source_id == target_id:
        raise NotFound(_("Cases move only between two versions of the same process.")).coded(
            "versions_not_movable")
    return source, target


def _plan_from_form(source, target) -> Plan:
    """The plan as posted: one select per source element, empty for not mapped."""
    instructions = {}
    for element in engine().migration.activities_of(source.id):
        chosen = (request.form.get(f"map-{element}") or "").strip()
        if chosen:
            instructions[element] = chosen
    return Plan(source.key, source.version, target.version, instructions, source.tenant)


def _selected(source, shown: Page) -> list[str]:
    """The running cases of the source version, all or those at the chosen activities."""
    running = engine().migration.cases_at_version(source.key, source.version, source.tenant)
    if shown.which == "all":
        return running
    positions = engine().repository.case_positions(source.id).cases
    there = {case.instance_id for element in shown.at for case in positions.get(element, ())}
    return [instance_id for instance_id in running if instance_id in there]


def _render(source, target, plan: Plan, shown: Page):
    migration = engine().migration
    kinds, offered = migration.activities_of(source.id), migration.activities_of(target.id)
    labels, target_labels = _labels(source.id), _labels(target.id)
    positions = engine().repository.case_positions(source.id).cases
    order = list(labels)
    rows = []
    for element in sorted(kinds, key=lambda e: (order.index(e) if e in order else len(order),
                                                e)):
        choices = sorted(((t, target_labels.get(t, t)) for t, kind in offered.items()
                          if kind == kinds[element]), key=lambda c: c[1].casefold())
        running = sum(c.status == "running" for c in positions.get(element, ()))
        rows.append(Mapping(element, labels.get(element, element), kinds[element],
                            plan.instructions.get(element, ""), choices, running))
    may_run = engine().roles.may_deploy(current_user.name, current_user.groups)
    running = engine().migration.cases_at_version(source.key, source.version, source.tenant)
    return render_template("owner_migration.html", source=source, target=target,
                           rows=rows, shown=shown, may_run=may_run, running=len(running),
                           cases=_case_names(source.id), labels=labels | target_labels)


def _labels(definition_id: int) -> dict[str, str]:
    return owner_checks.element_names(engine().repository.definition_xml(definition_id))


def _case_names(*definition_ids: int) -> dict[str, str]:
    """Each open case of the versions by id: its business key, or the start of its id."""
    names = {}
    for definition_id in definition_ids:
        positions = engine().repository.case_positions(definition_id)
        for case in [c for found in positions.cases.values() for c in found] \
                + positions.elsewhere:
            names[case.instance_id] = case.business_key or case.instance_id[:8]
    return names

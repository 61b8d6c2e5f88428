"""The auditors' pages: find cases, step through their history, verify and export it. GET
only; a step is rebuilt by replay, never read from the case's current state.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import limits
from engine.errors import InvalidInput, PermissionDenied
from engine.history.replay import verify_instance
from engine.history.stepping import case_at
from engine.serialization import data_from_json

from .auth import engine
from .case_data import use_case

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 25
STATUSES = ("running", "completed", "cancelled", "error")
FORMATS = {"xes": "application/xml", "csv": "text/csv; charset=utf-8"}


@bp.before_request
@login_required
def readers_only():
    if not current_user.reads_all:
        abort(403)


@bp.get("/")
def search():
    wanted = _filter_from(request.args)
    page = limits.page_in_range(request.args.get("page", 1, type=int) or 1)
    rows, total = engine().history.find_instances(wanted, limit=PAGE_SIZE,
                                                  offset=(page - 1) * PAGE_SIZE,
                                                  reader=current_user.name)
    return render_template("audit_search.html", rows=rows, total=total, page=page,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
                           wanted=wanted, statuses=STATUSES,
                           processes=engine().repository.process_names(),
                           clinics=engine().context_variables().get("alle_klinikker", []))


def _may_read(instance_id: str, what: str) -> None:
    """Sensitive cases: auditors yes, process owners no; every read of one is logged."""
    if not engine().history.may_view(current_user.name, instance_id):
        raise PermissionDenied(_("This case is sensitive: only its handlers and auditors "
                                 "may read it.")).coded("case_sensitive", case=instance_id)
    engine().history.record_read(instance_id, actor=current_user.name, what=what)


@bp.get("/<instance_id>")
def case(instance_id: str):
    _may_read(instance_id, "audit")
    events = engine().history.events(instance_id)
    seq = request.args.get("step", len(events), type=int) or len(events)
    at = case_at(engine(), instance_id, seq)
    use_case(instance_id)
    return render_template("audit_case.html", instance=engine().history.show(instance_id),
                           events=events, at=at, verdict=verify_instance(engine(), instance_id),
                           reads=engine().history.reads(instance_id))


@bp.get("/<instance_id>/report")
def report(instance_id: str):
    _may_read(instance_id, "report")
    events = engine().history.events(instance_id)
    last = case_at(engine(), instance_id, len(events))
    use_case(instance_id)
    return render_template("audit_report.html", instance=engine().history.show(instance_id),
                           events=events, names=last.names,
                           details=[_details(e) for e in events],
                           verdict=verify_instance(engine(), instance_id),
                           printed_at=engine().clock.now())


@bp.get("/<instance_id>/export.<fmt>")
def export_case(instance_id: str, fmt: str):
    _may_read(instance_id, f"export {fmt}")
    return _export([instance_id], fmt, instance_id)


@bp.get("/export.<fmt>")
def export_found(fmt: str):
    wanted = _filter_from(request.args)
    return _export(engine().history.find_instance_ids(wanted, reader=current_user.name), fmt,
                   "tiltak-cases")


def _details(event) -> dict:
    """What an event carried, without the bookkeeping: submitted values or start data."""
    data = data_from_json(event.data)
    if not isinstance(data, dict):
        return {"data": data}
    if event.type == "complete":
        return data.get("values") or {}
    if event.type == "start":
        return data.get("data") or {}
    return data


def _export(ids: list[str], fmt: str, stem: str) -> Response:
    from engine.history import export

    if fmt not in FORMATS:
        abort(404)
    writer = export.xes_chunks if fmt == "xes" else export.csv_chunks
    response = Response(stream_with_context(writer(engine(), ids)), mimetype=FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return response


def _filter_from(args):
    """The search form's fields; a malformed date or number is refused by name."""
    from engine.queries.search import InstanceFilter

    def day(name: str, end: bool) -> datetime | None:
        text = args.get(name, "").strip()
        if not text:
            return None
        try:
            moment = datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(),
                                      time.max if end else time.min)
        except ValueError:
            raise InvalidInput(_("%(field)s: not a date (YYYY-MM-DD): %(value)s",
                                 field=name, value=text)) from None
        return moment.replace(tzinfo=UTC)

    version = args.get("version", "").strip()
    if version and (not version.isdigit() or int(version) < 1):
        raise InvalidInput(_("%(field)s: not a whole number from 1: %(value)s",
                             field="version", value=version))
    status = args.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        raise InvalidInput(_("%(field)s: unknown value: %(value)s", field="status",
                             value=status))
    started_from, started_to = day("from", end=False), day("to", end=True)
    if started_from and started_to and started_from >= started_to:
        raise InvalidInput(_("The period ends before it begins."))
    return InstanceFilter(
        business_key=args.get("business_key", "").strip() or None,
        process_key=args.get("process", "").strip() or None,
        version=int(version) if version else None,
        clinic=args.get("clinic", "").strip() or None,
        status=status,
        started_from=started_from,
        started_to=started_to)

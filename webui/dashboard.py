"""The indicators dashboard: the regional plans' figures per clinic or unit and period,
charted on the server as SVG (docs/DESIGN.md, "Facts for the indicators and for
visibility").
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import InvalidInput
from engine.history.export import spreadsheet_safe
from routines import indicators

from .auth import engine

bp = Blueprint("dashboard", __name__)

SHARES = ("expertise", "measures_on_time", "feedback", "notifications_on_time")


@bp.before_request
@login_required
def viewers_only():
    if not current_user.sees_indicators:
        abort(403)


@bp.get("/dashboard")
def dashboard():
    start, end, by = _choice()
    figures = indicators.figures(engine(), start=start, end=end, by=by)
    return render_template("dashboard.html", figures=figures, by=by, labels=_labels(by),
                           start=start, end=end, shares=SHARES, period=_period())


def _period() -> dict[str, str]:
    """The period and grouping chosen, to carry into the links of the figures."""
    return {k: request.args[k] for k in ("from", "to", "by") if request.args.get(k)}


@bp.get("/dashboard/cases")
def cases_behind():
    """The cases (or their measures and notifications) one figure counts, with the same
    period and grouping; those the user may not open are counted, not named."""
    start, end, by = _choice()
    figure = request.args.get("figure", "")
    if figure not in indicators.FIGURES:
        raise InvalidInput(_("%(field)s: unknown value: %(value)s", field="figure",
                             value=figure))
    group = request.args.get("group", "")
    part = request.args.get("part") == "1"
    found = indicators.cases_behind(engine(), figure=figure, group=group, part=part,
                                    start=start, end=end, by=by)
    ids = [c.instance_id for c in found]
    cases = engine().history.viewable(current_user.name, ids)
    shown = [c for c in found if c.instance_id in cases]
    return render_template("dashboard_cases.html", figure=figure, part=part, group=group,
                           label=_labels(by).get(group, group), by=by, counted=len(found),
                           shown=shown, hidden=len(found) - len(shown), cases=cases,
                           period=_period())


@bp.get("/dashboard.csv")
def dashboard_csv():
    start, end, by = _choice()
    figures = indicators.figures(engine(), start=start, end=end, by=by)
    labels = _labels(by)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([by, "name", "expertise_part", "expertise_whole", "overdue_measures",
                     "measures_on_time_part", "measures_on_time_whole", "feedback_part",
                     "feedback_whole", "notifications_on_time_part",
                     "notifications_on_time_whole", "closed", "closing_median_days",
                     "closing_p90_days"])
    for f in figures:
        writer.writerow([spreadsheet_safe(f.group or "ALL"),
                         spreadsheet_safe(labels.get(f.group, f.group or "ALL")),
                         f.expertise.part, f.expertise.whole, f.overdue_measures,
                         f.measures_on_time.part, f.measures_on_time.whole, f.feedback.part,
                         f.feedback.whole, f.notifications_on_time.part,
                         f.notifications_on_time.whole, len(f.closing_days),
                         _days(f.closing_median), _days(f.closing_p90)])
    response = Response(out.getvalue(), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="indikatorer.csv"'
    return response


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _labels(by: str) -> dict[str, str]:
    known = engine().context_variables()
    options = (known.get("alle_klinikker", []) if by == "clinic"
               else [*known.get("enhetsvalg", []), *known.get("enhetsval", [])])
    labels = {o["value"]: o["label"] for o in options}
    labels[""] = _("All")
    labels["?"] = _("Not stated")
    return labels


def _choice() -> tuple[datetime | None, datetime | None, str]:
    """Period [from, to] as whole days, and the grouping; bad values are named."""
    def day(name: str) -> date | None:
        text = request.args.get(name, "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(_("%(field)s: not a date (YYYY-MM-DD): %(value)s",
                                 field=name, value=text)) from None

    first, last = day("from"), day("to")
    if first and last and first > last:
        raise InvalidInput(_("The period ends before it begins."))
    by = request.args.get("by", "clinic")
    if by not in ("clinic", "unit"):
        raise InvalidInput(_("%(field)s: unknown value: %(value)s", field="by", value=by))
    start = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None
    return start, end, by

"""Form fields of the management review filled in from the indicators, by the field's
`indikator` property (docs/DESIGN.md, "Facts for the indicators and for visibility").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta

from engine.models import TaskRecord
from forms.model import Field
from routines import indicators

PERCENT = ("expertise", "measures_on_time", "feedback", "notifications_on_time")
DAYS = ("closing_median_days", "closing_p90_days")
PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass
class Filled:
    start: datetime
    end: datetime
    keys: list[str]


def period_of(text: str) -> relativedelta:
    match = PERIOD.match(text.strip()) if text else None
    if not match or not any(match.groups()):
        raise ValueError(f"'{text}' is not a period such as P1Y, P4M or P30D")
    years, months, weeks, days = (int(g or 0) for g in match.groups())
    return relativedelta(years=years, months=months, weeks=weeks, days=days)


def figure(figures: indicators.Figures, name: str) -> float | int | None:
    if name in PERCENT:
        share = getattr(figures, name).value
        return None if share is None else round(share * 100, 1)
    if name == "overdue_measures":
        return figures.overdue_measures
    if name in DAYS:
        days = figures.closing_median if name == DAYS[0] else figures.closing_p90
        return None if days is None else round(days, 1)
    raise ValueError(f"'{name}' is not an indicator ({', '.join((*PERCENT, *DAYS))}, "
                     "overdue_measures)")


def _wanting(fields: list[Field], context: dict[str, Any]) -> list[Field]:
    found = []
    for f in fields:
        if f.components and not f.path:  # a group without a path keeps its keys flat
            found.extend(_wanting(f.components, context))
        elif f.key and f.properties.get("indikator") and context.get(f.key) in (None, ""):
            found.append(f)
    return found


def prefill(engine, task_id: str, fields: list[Field], context: dict[str, Any]
            ) -> tuple[dict[str, Any], Filled | None]:
    """The data to show: the context with the wanted figures added."""
    wanted = _wanting(fields, context)
    if not wanted:
        return context, None
    data, filled = dict(context), None
    with engine.db.reading() as session:
        record = session.get(TaskRecord, task_id)
        end = record.created_at if record is not None else engine.clock.now()
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        clinic = record.clinic if record is not None else None
        computed: dict[str, indicators.Figures] = {}
        for f in wanted:
            period = f.properties.get("periode", "P1Y")
            start = end - period_of(period)
            if period not in computed:
                rows = indicators.compute(session, now=end, start=start, end=end)
                computed[period] = rows[-1] if clinic is None else \
                    indicators.by_group(rows).get(clinic) or indicators.Figures(clinic)
            value = figure(computed[period], f.properties["indikator"])
            if value is None:
                continue
            data[f.key] = value
            if filled is None:
                filled = Filled(start, end, [])
            filled.keys.append(f.key)
    return data, filled

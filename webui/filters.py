"""Template helpers: a tiny, escaped markdown for form text, readable JSON, the locale,
and the names of groups, clinics and units."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask, g, has_request_context
from flask_babel import format_date, format_datetime, get_locale, get_timezone
from flask_babel import gettext as _
from markupsafe import Markup, escape

from installation import organisation

KPU_SECRETARIAT, KPU, LEADERS = "kpu-sekretariat-", "kpu-", "leder-"


def place_name(code: str | None) -> str:
    """A clinic's or unit's name for its code; the code itself when the file has none."""
    return (organisation.load().place_name(code) or code) if code else "–"


_UNKNOWN = object()


def _per_request(kind: str, key: Any, compute: Callable[[], str]) -> str:
    """What `compute` gives, kept for the rest of the request: a list of tasks shows the
    same few groups and days in every row, and the locale does not change within one."""
    if not has_request_context():
        return compute()
    kept = g.setdefault(kind, {})
    found = kept.get(key, _UNKNOWN)
    if found is _UNKNOWN:
        found = kept[key] = compute()
    return found


def group_name(group: str) -> str:
    """What a group is called on screen: the organisation file's name for the site's own
    groups; leaders, committees and secretariats by the clinic or unit they belong to."""
    return _per_request("group_names", group, lambda: _group_name(group))


def _group_name(group: str) -> str:
    org = organisation.load()
    named = org.group_name(group)
    if named:
        return named
    for prefix, label in ((KPU_SECRETARIAT, _("KPU secretariat, %(place)s")),
                          (KPU, _("KPU, %(place)s")), (LEADERS, _("Leaders, %(place)s"))):
        if group.startswith(prefix):
            place = org.place_name(group.removeprefix(prefix))
            if place:
                return label % {"place": place}
    return group


def simple_markdown(text: str | None) -> Markup:
    """Headings (#, ##, ###), **bold**, *emphasis* and paragraphs; everything else is
    escaped text."""
    blocks = []
    for block in re.split(r"\n\s*\n", text or ""):
        block = block.strip()
        if not block:
            continue
        heading = re.match(r"^(#{1,3})\s+(.*)$", block)
        if heading:
            level = len(heading.group(1)) + 1
            blocks.append(f"<h{level}>{escape(heading.group(2))}</h{level}>")
            continue
        html = str(escape(block))
        html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
        html = re.sub(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])", r"<em>\1</em>", html)
        html = html.replace("\n", "<br>")
        blocks.append(f"<p>{html}</p>")
    return Markup("".join(blocks))


def readable_json(value: Any) -> str:
    """Nested case data as people read it: letters as typed (æøå), dates as YYYY-MM-DD.

    Returned as plain text, so the template escapes it like any other value.
    """
    def text(item: Any) -> str:
        return item.isoformat() if isinstance(item, date) else str(item)
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=text)


def local_date(value: date | datetime | str | None, style: str = "medium") -> str:
    """A day in the user's locale (6. des. 2026); a moment is taken in the hospital's zone
    first, so a deadline at the end of a local day shows that day."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):  # its day where Flask-Babel's zone says
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        value = moment.astimezone(get_timezone()).date()
    return _per_request("local_dates", (value, style), lambda: format_date(value, style))


def local_datetime(value: datetime | str | None, style: str = "short") -> str:
    """A moment in the user's locale and the hospital's zone; ISO text is read first."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return format_datetime(moment, style)


def user_name(name: str | None) -> str:
    """A user's display name (the user name when there is none), once per request."""

    from .auth import engine
    if not name:
        return "–"

    def display_name() -> str:
        user = engine().identity.user(name)
        return user.display_name if user is not None and user.display_name else name
    return _per_request("display_names", name, display_name)


def people(groups: list[str] | None) -> list[tuple[str, str]]:
    """(user name, display name) of the active users a people picker offers."""
    from .auth import engine
    return [(u.name,
             u.display_name or u.name) for u in engine().identity.people(tuple(groups or ()))]


def today_iso() -> str:
    """Today in the hospital's zone, as a date input's `min` wants it."""
    from engine.clock import zone

    from .auth import engine
    return engine().clock.now().astimezone(zone()).date().isoformat()


def init_app(app: Flask) -> None:
    app.jinja_env.filters["user_name"] = user_name
    app.jinja_env.globals["people"] = people
    app.jinja_env.globals["today_iso"] = today_iso
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["simple_markdown"] = simple_markdown
    app.jinja_env.filters["group_name"] = group_name
    app.jinja_env.filters["place_name"] = place_name
    app.jinja_env.filters["readable_json"] = readable_json
    app.jinja_env.globals["get_locale"] = get_locale

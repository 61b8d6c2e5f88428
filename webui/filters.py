"""Template helpers: a tiny, escaped markdown for form text and the current locale."""

from __future__ import annotations

import re

from flask import Flask
from flask_babel import get_locale
from markupsafe import Markup, escape


def simple_markdown(text: str | None) -> Markup:
    """Headings (#, ##, ###), **bold** and paragraphs; everything else is escaped text."""
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
        html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html).replace("\n", "<br>")
        blocks.append(f"<p>{html}</p>")
    return Markup("".join(blocks))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["simple_markdown"] = simple_markdown
    app.jinja_env.globals["get_locale"] = get_locale

"""Interface languages with Flask-Babel: Norwegian Bokmål by default, Swedish, English; the
`.po` catalogues are compiled at start-up (docs/DESIGN.md, "Languages and the page's
own files").
"""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, request, session
from flask_babel import Babel
from flask_login import current_user

from engine.clock import LOCAL_ZONE

SOURCE = Path(__file__).parent / "translations"


def compile_catalogues(target: Path) -> None:
    for po in SOURCE.glob("*/LC_MESSAGES/messages.po"):
        mo = target / po.relative_to(SOURCE).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as src:
            catalog = read_po(src)
        # one temporary file per process: the server's workers start side by side
        tmp = mo.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as out:
            write_mo(out, catalog)
        tmp.replace(mo)


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    wanted = request.args.get("lang")
    if wanted in languages:
        session["lang"] = wanted
    if session.get("lang") in languages:
        return session["lang"]
    if current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    return request.accept_languages.best_match(languages) or languages[0]


def init_app(app: Flask) -> None:
    target = Path(app.config["INSTANCE_PATH"]).resolve() / "translations"
    compile_catalogues(target)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    # dates and times on the pages in the hospital's zone, the one deadlines are counted in
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", str(LOCAL_ZONE))
    Babel(app, locale_selector=select_locale)

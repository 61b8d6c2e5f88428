"""Serves the diagram viewer (bpmn-js, installed from npm by the setup) from this host.

Only the viewer's built files are reachable; nothing is ever loaded from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("vendor", __name__)
BPMN_JS = Path(__file__).resolve().parent.parent / "node_modules" / "bpmn-js" / "dist"
FILES = {
    "bpmn-navigated-viewer.production.min.js": BPMN_JS,
    "assets/bpmn-js.css": BPMN_JS,
    "assets/diagram-js.css": BPMN_JS,
    "assets/bpmn-font/css/bpmn.css": BPMN_JS,
}


@bp.get("/vendor/bpmn-js/<path:name>")
def bpmn_js(name: str):
    folder = FILES.get(name)
    if folder is None and name.startswith("assets/bpmn-font/font/"):
        folder = BPMN_JS
    if folder is None or not (folder / name).is_file():
        abort(404)
    response = send_from_directory(folder, name, max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response

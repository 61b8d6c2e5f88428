"""Serves the front-end packages installed from npm (bpmn-js, and feelin through an import
map) from this host, never from a CDN (docs/DESIGN.md, "Languages and the page's own
files").
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, request, send_from_directory, url_for
from markupsafe import Markup

bp = Blueprint("vendor", __name__)
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
BPMN_JS = NODE_MODULES / "bpmn-js" / "dist"
FILES = {
    "bpmn-navigated-viewer.production.min.js": BPMN_JS,
    "assets/bpmn-js.css": BPMN_JS,
    "assets/diagram-js.css": BPMN_JS,
    "assets/bpmn-font/css/bpmn.css": BPMN_JS,
}
ES_MODULES = ("feelin",)  # what the pages import; what these import is found from them
MAX_AGE = 86400


@bp.get("/vendor/bpmn-js/<path:name>")
def bpmn_js(name: str):
    folder = FILES.get(name)
    if folder is None and name.startswith("assets/bpmn-font/font/"):
        folder = BPMN_JS
    if folder is None or not (folder / name).is_file():
        abort(404)
    return _send(folder, name)


@bp.get("/vendor/esm/<path:name>")
def es_module(name: str):
    """`/vendor/esm/<package>@<version>/<file>.js`: a module of a package in the map."""
    parts = name.split("/", 2 if name.startswith("@") else 1)
    if len(parts) < 2 or not parts[-1].endswith(".js"):
        abort(404)
    package = es_packages().get("/".join(parts[:-1]))
    if package is None or not (package.folder / parts[-1]).is_file():
        abort(404)
    return _send(package.folder, parts[-1])


def _send(folder: Path, name: str):
    response = send_from_directory(folder, name, max_age=MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response


# ---------------------------------------------------------------------------- import map
@dataclass(frozen=True)
class EsPackage:
    name: str
    version: str
    folder: Path
    exports: dict[str, str]  # specifier suffix ("" or "/sub") -> file in the folder
    imports: dict[str, str]  # dependency name -> its key (name@version)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


@lru_cache(maxsize=1)
def es_packages() -> dict[str, EsPackage]:
    """The packages of ES_MODULES and everything they import, by name@version."""
    found: dict[str, EsPackage] = {}
    pending, seen = [NODE_MODULES / name for name in ES_MODULES], set()
    while pending:
        folder = pending.pop()
        meta_file = folder / "package.json"
        if folder in seen or not meta_file.is_file():
            continue
        seen.add(folder)
        meta = json.loads(meta_file.read_text("utf-8"))
        imports = {}
        for dependency in meta.get("dependencies") or {}:
            located = _node_resolve(dependency, folder)
            if located is not None:
                version = json.loads((located / "package.json").read_text("utf-8"))["version"]
                imports[dependency] = f"{dependency}@{version}"
                pending.append(located)
        package = EsPackage(meta["name"], meta["version"], folder, _exports(meta), imports)
        found.setdefault(package.key, package)
    return found


def _node_resolve(name: str, folder: Path) -> Path | None:
    """Where Node finds package `name` imported from `folder`: the nearest node_modules."""
    for parent in (folder, *folder.parents):
        candidate = parent / "node_modules" / name
        if (candidate / "package.json").is_file():
            return candidate
        if parent == NODE_MODULES.parent:
            return None
    return None


def _exports(meta: dict[str, Any]) -> dict[str, str]:
    exports = meta.get("exports")
    if exports is None:
        exports = {".": meta.get("module") or meta.get("main") or "index.js"}
    elif isinstance(exports, str) or not any(str(k).startswith(".") for k in exports):
        exports = {".": exports}
    found = {}
    for subpath, target in exports.items():
        file = _browser_file(target)
        if file and file.endswith(".js") and "*" not in subpath:
            found[subpath[1:]] = file[2:] if file.startswith("./") else file
    return found


def _browser_file(target: Any) -> str | None:
    """The file an export gives a browser importing an ES module (its conditions)."""
    if isinstance(target, str):
        return target
    if isinstance(target, list):
        return next((f for f in map(_browser_file, target) if f), None)
    if isinstance(target, dict):
        for condition in ("browser", "import", "module", "default"):
            if condition in target and (file := _browser_file(target[condition])):
                return file
    return None


@lru_cache(maxsize=8)
def _import_map(script_root: str) -> str:
    packages = es_packages()

    def specifiers(key: str) -> dict[str, str]:
        package = packages[key]
        return {package.name + suffix: url_for("vendor.es_module", name=f"{key}/{file}")
                for suffix, file in package.exports.items()}

    roots = [p.key for p in packages.values() if p.folder == NODE_MODULES / p.name
             and p.name in ES_MODULES]
    scopes = {}
    for key, package in packages.items():
        scope = {}
        for dependency in package.imports.values():
            scope.update(specifiers(dependency))
        if scope:
            scopes[url_for("vendor.es_module", name=f"{key}/")] = scope
    imports = {name: url for key in roots for name, url in specifiers(key).items()}
    return json.dumps({"imports": imports, "scopes": scopes}, sort_keys=True,
                      separators=(",", ":"))


def import_map() -> Markup:
    """The page's import map (the text of its `<script type="importmap">`)."""
    return Markup(_import_map(request.script_root))


def import_map_hash() -> str:
    """The map's hash, which the Content-Security-Policy allows as an inline script."""
    digest = hashlib.sha256(_import_map(request.script_root).encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


bp.add_app_template_global(import_map, "import_map")

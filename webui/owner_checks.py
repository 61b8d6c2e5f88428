"""What the upload page checks before a process owner deploys: the files themselves
(kind, size, XML), the linter's report with each problem named by its element, and the
difference to the version that runs now. The same linter as `tiltak lint`."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from flask import Request
from flask_babel import gettext as _

from engine.definitions import kind_of
from engine.errors import DefinitionError
from engine.model.difference import Difference, difference, elements
from engine.model.lint import Problem
from engine.runtime import Engine
from installation.services import known_groups

from .messages import say

MAX_UPLOAD = 5 * 1024 * 1024  # all files of one upload together
MAX_FILES = 20


class Refused(Exception):
    """An upload that is not checked at all: the message says which file and why."""


@dataclass(frozen=True)
class Finding:
    severity: str  # error or warning
    message: str
    element: str | None  # "name (id)" where the problem has an element
    line: int | None


@dataclass
class FileCheck:
    name: str
    kind: str
    content: str  # base64, for the deploy form
    findings: list[Finding] = field(default_factory=list)
    replaces: str | None = None  # the deployed version or file it would replace
    difference: Difference | None = None
    form_changed: bool | None = None  # a form: changed from the deployed one or not

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


@dataclass
class Checked:
    files: list[FileCheck]
    refusal: str | None = None  # the engine's own reason, when deploying failed anyway

    @property
    def deployable(self) -> bool:
        return not self.refusal and not any(f.errors for f in self.files)


def uploaded(request: Request) -> dict[str, bytes]:
    """The files of the upload form, refused as a whole when one is not a process file."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD + 65536:
        raise Refused(_("The upload is too large: at most %(mib)s MiB at a time.",
                        mib=MAX_UPLOAD // 1024 // 1024))
    files: dict[str, bytes] = {}
    for upload in request.files.getlist("files"):
        if not upload.filename:
            continue
        name = PurePosixPath(upload.filename.replace("\\", "/")).name
        files[name] = upload.read(MAX_UPLOAD + 1)
    if not files:
        raise Refused(_("Choose one or more BPMN, DMN or form files to upload."))
    within_limits(files)
    return files


def within_limits(files: dict[str, bytes]) -> None:
    if len(files) > MAX_FILES:
        raise Refused(_("At most %(count)s files at a time.", count=MAX_FILES))
    if sum(len(data) for data in files.values()) > MAX_UPLOAD:
        raise Refused(_("The upload is too large: at most %(mib)s MiB at a time.",
                        mib=MAX_UPLOAD // 1024 // 1024))
    for name, data in files.items():
        kind = kind_of(name)
        if kind is None:
            raise Refused(_("%(file)s: only BPMN (.bpmn), DMN (.dmn) and form (.form) "
                            "files can be deployed.", file=name))
        if kind in ("bpmn", "dmn") and not _looks_like_xml(data):
            raise Refused(_("%(file)s is not an XML file: BPMN and DMN files from Camunda "
                            "Modeler are XML. Was another file chosen?", file=name))
        if kind == "form" and not _looks_like_json(data):
            raise Refused(_("%(file)s is not a form file: a form from Camunda Modeler is "
                            "JSON text.", file=name))


def _looks_like_xml(data: bytes) -> bool:
    return data.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _looks_like_json(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data.decode("utf-8-sig")), dict)
    except (UnicodeDecodeError, ValueError):
        return False


def check(engine: Engine, files: dict[str, bytes]) -> Checked:
    """The lint report of every file and the difference of each to what is deployed."""
    reports = engine.repository.lint(files, groups=known_groups())
    checked = []
    for name, data in files.items():
        kind = kind_of(name) or ""
        names = _names(name, data) if kind in ("bpmn", "dmn") else {}
        report = reports[name]
        found = FileCheck(name, kind, base64.b64encode(data).decode("ascii"),
                          [_finding("error", p, names) for p in report.errors]
                          + [_finding("warning", p, names) for p in report.warnings])
        counterpart = engine.repository.deployed_counterpart(name, data)
        if counterpart is not None:
            found.replaces, deployed = counterpart
            if kind == "form":
                found.form_changed = _json(deployed.encode("utf-8")) != _json(data)
            elif names:
                found.difference = xml_difference(deployed, data, name)
        checked.append(found)
    return Checked(checked)


def xml_difference(before: str | bytes, after: str | bytes, name: str) -> Difference | None:
    try:
        return difference(before, after, name)
    except DefinitionError:
        return None


def element_names(xml: str | bytes, name: str = "") -> dict[str, str]:
    """Every element id of a file with its label, "name (id)" or the id alone."""
    return _names(name, xml.encode("utf-8") if isinstance(xml, str) else xml)


def _names(name: str, data: bytes) -> dict[str, str]:
    try:
        return {i: e.label for i, e in elements(data, name).items()}
    except DefinitionError:
        return {}


def _finding(severity: str, problem: Problem, names: dict[str, str]) -> Finding:
    """A problem of the report in the user's language, its element by name and id."""
    element = problem.element
    return Finding(severity, say(problem.code, problem.params, problem.message),
                   names.get(element, element) if element else None, problem.line)


def _json(data: bytes):
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None

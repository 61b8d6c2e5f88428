"""The linter: every problem of a set of BPMN, DMN and form files, by file and element,
without deploying them. Errors are what deploying would refuse; warnings are what would
deploy but go wrong later (a form or a candidate group that is nowhere to be found).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from lxml import etree

from ..definitions import kind_of
from ..errors import DefinitionError
from . import declared, model_checks
from .parsing import bpmn_root, decision_ids, decision_refs, parse_bpmn

BPMN_NS = model_checks.BPMN_NS
FORM_FILE_KEY = "camunda-forms:deployment:"


@dataclass
class Problem:
    """One problem, in the words and places Camunda's parse report uses; `code` and
    `params` let a front end say it in its own words (as a coded TiltakError does)."""

    message: str
    element: str | None = None
    line: int | None = None
    column: int | None = None
    code: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, err: DefinitionError, line: int | None = None) -> Problem:
        """A refusal of the parser or the model checks as a problem of the report."""
        return cls(err.detail, err.element, line, code=err.code, params=dict(err.params))

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "line": self.line, "column": self.column,
                "mainElementId": self.element,
                "elementIds": [self.element] if self.element else []}


@dataclass
class Report:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"errors": [p.as_dict() for p in self.errors],
                "warnings": [p.as_dict() for p in self.warnings]}


@dataclass
class Known:
    """What the files may refer to outside themselves: deployed forms (ids and file
    names), deployed DMN files, and the installation's groups (None: not checked)."""

    form_ids: set[str] = field(default_factory=set)
    form_files: set[str] = field(default_factory=set)
    dmn_files: dict[str, bytes] = field(default_factory=dict)
    groups: set[str] | None = None
    # variables set outside the files: the deployed forms' fields and processes' own,
    # and the installation's context (clinic lists); None: not checked
    variables: set[str] | None = None


def lint(files: dict[str, bytes], known: Known | None = None) -> dict[str, Report]:
    """A report per file; a file without problems has an empty report."""
    known = known or Known()
    reports = {name: Report() for name in files}
    kinds = {name: kind_of(name) for name in files}
    form_ids = set(known.form_ids)
    form_files = set(known.form_files)
    for name, data in files.items():
        if kinds[name] == "form":
            form_files.add(PurePosixPath(name).name)
            form_id = _form_id(name, data, reports[name])
            if form_id:
                form_ids.add(form_id)
        elif kinds[name] is None:
            reports[name].errors.append(Problem("not a .bpmn, .dmn or .form file",
                                                code="not_process_file"))
    dmn = {n: d for n, d in files.items() if kinds[n] == "dmn"}
    for name, data in dmn.items():
        _caught(reports[name], parse_bpmn, {}, {name: data})
    usable_dmn = {n: d for n, d in dmn.items() if not reports[n].errors}
    roots = {}
    for name, data in files.items():
        if kinds[name] == "bpmn":
            roots[name] = _lint_bpmn(name, data, reports[name], known, usable_dmn, form_ids,
                                     form_files)
    if known.variables is not None:
        _variable_warnings(files, kinds, roots, reports, known.variables)
    return reports


def _variable_warnings(files: dict[str, bytes], kinds: dict[str, str | None],
                       roots: dict[str, Any], reports: dict[str, Report],
                       known: set[str]) -> None:
    """An expression that reads a variable no form, script, mapping or result of these
    files (or of what is deployed) sets: likely a typing error, or data that only an
    API call or a message would bring."""
    names = set(known) | declared.GIVEN
    for name, data in files.items():
        if kinds[name] == "form":
            names |= declared.form_fields(data)
    for root in roots.values():
        if root is not None:
            names |= declared.set_by(root)
    for name, root in roots.items():
        if root is None or reports[name].errors:
            continue
        for use in declared.uses(root):
            if use.name not in names:
                reports[name].warnings.append(Problem(
                    f"{use.where} reads '{use.name}', which no form, script, mapping or "
                    "result of these files or of what is deployed sets", use.element,
                    use.line, code="variable_unset",
                    params={"where": use.where, "variable": use.name}))


def _lint_bpmn(name: str, data: bytes, report: Report, known: Known,
               dmn: dict[str, bytes], form_ids: set[str], form_files: set[str]) -> Any:
    """Reports the file's problems; returns its root when its variables can be checked."""
    try:
        root = bpmn_root(data, name)
    except DefinitionError as err:
        report.errors.append(Problem.of(err, err.line))
        return None
    lines = _lines(root)
    for err in model_checks.bpmn_problems(root, name):
        report.errors.append(Problem.of(err, lines.get(err.element)))
    if not report.errors:
        used = {**{n: d for n, d in known.dmn_files.items()
                   if _decisions_used(data, name) & decision_ids(d, n)}, **dmn}
        _caught(report, parse_bpmn, {name: data}, used, lines=lines)
    forms_known = True
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        attrs = {etree.QName(k).localname: v for k, v in node.attrib.items()
                 if etree.QName(k).namespace == model_checks.CAMUNDA_NS}
        element = node.get("id")
        missing = _form_warnings(attrs, form_ids, form_files)
        forms_known = forms_known and not missing
        for message, code, params in missing + _group_warnings(attrs, known.groups):
            report.warnings.append(Problem(message, element, node.sourceline, code=code,
                                           params=params))
    # with a form nowhere to be found, what its fields set cannot be known
    return root if forms_known else None


Note = tuple[str, str, dict[str, Any]]  # the English message, its code and values


def _form_warnings(attrs: dict[str, str], form_ids: set[str], form_files: set[str]
                   ) -> list[Note]:
    ref, key = attrs.get("formRef"), attrs.get("formKey") or ""
    if ref and ref not in form_ids:
        return [(f"the form '{ref}' (camunda:formRef) is neither among these files nor "
                 "deployed: the task cannot show its form", "form_ref_missing",
                 {"form": ref})]
    if key.startswith(FORM_FILE_KEY):
        file = PurePosixPath(key.removeprefix(FORM_FILE_KEY)).name
        if file not in form_files:
            return [(f"the form file '{file}' (camunda:formKey) is neither among these "
                     "files nor deployed: the task cannot show its form", "form_file_missing",
                     {"file": file})]
    return []


def _group_warnings(attrs: dict[str, str], groups: set[str] | None) -> list[Note]:
    """A candidate (starter) group that matches no group of the organisation; a group
    made by an expression (`kpu-${klinikk}`) must match at least one group."""
    if groups is None:
        return []
    found = []
    for attr in ("candidateGroups", "candidateStarterGroups"):
        for group in _listed(attrs.get(attr) or ""):
            pattern = _pattern(group)
            if pattern is None:
                continue  # the whole name is computed: nothing to compare before it runs
            if not any(pattern.fullmatch(g) for g in groups):
                found.append((f"the candidate group '{group}' (camunda:{attr}) matches no "
                              "group of the organisation: nobody would get the task",
                              "candidate_group_unknown", {"group": group})
                             if attr == "candidateGroups" else
                             (f"the starter group '{group}' (camunda:{attr}) matches no "
                              "group of the organisation: nobody could start the process",
                              "starter_group_unknown", {"group": group}))
    return found


EXPRESSION = re.compile(r"[$#]\{[^}]*\}")


def _listed(text: str) -> list[str]:
    """The comma-separated names of an attribute; commas inside `${...}` do not split."""
    names, depth, current = [], 0, ""
    for char in text:
        depth += char == "{"
        depth -= char == "}"
        if char == "," and depth == 0:
            names.append(current.strip())
            current = ""
        else:
            current += char
    names.append(current.strip())
    return [n for n in names if n]


def _pattern(group: str) -> re.Pattern | None:
    """A literal name, or one with expressions in it, as a pattern over group names;
    None when the name is nothing but an expression."""
    pieces = EXPRESSION.split(group)
    if not "".join(pieces).strip():
        return None
    return re.compile(".+".join(re.escape(p) for p in pieces))


def _form_id(name: str, data: bytes, report: Report) -> str | None:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        line = getattr(err, "lineno", None)
        report.errors.append(Problem(f"not a Camunda Form: {err}", None, line,
                                     code="form_not_json", params={"detail": str(err)}))
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), list):
        report.errors.append(Problem("not a Camunda Form (no 'components' list)",
                                     code="form_without_components"))
        return None
    return doc.get("id") if isinstance(doc.get("id"), str) else None


def _caught(report: Report, parse, *args, lines: dict[str, int] | None = None) -> None:
    try:
        parse(*args)
    except DefinitionError as err:
        report.errors.append(Problem.of(err, err.line or (lines or {}).get(err.element)))


def _lines(root: etree._Element) -> dict[str, int]:
    """Each element id's line in the file (the first element with it)."""
    found: dict[str, int] = {}
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id") and node.sourceline:
            found.setdefault(node.get("id"), node.sourceline)
    return found


def _decisions_used(data: bytes, name: str) -> set[str]:
    try:
        return decision_refs(data, name)
    except DefinitionError:
        return set()

"""Deployments and process definitions: versioned per key and tenant, stored once; running
instances stay on their version (docs/DESIGN.md, "Parsing Camunda Modeler files").
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from .errors import DefinitionError, NotFound
from .history import record_deployment, sha256
from .model import contracts
from .model.parsing import decision_ids, decision_refs, parse_bpmn
from .model.specs import variant_name
from .model.xml import parse_xml
from .models import Deployment, ProcessDefinition, Resource
from .serialization import REGISTRY, SPEC_FORMAT

KINDS = {".bpmn": "bpmn", ".dmn": "dmn", ".form": "form"}


def kind_of(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(".bpmn20.xml"):
        return "bpmn"
    return KINDS.get(Path(lower).suffix)


def collect_files(paths: list[str]) -> dict[str, bytes]:
    """Read files and folders (recursively) given on the command line."""
    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and kind_of(child.name):
                    files[str(child.relative_to(path.parent))] = child.read_bytes()
        elif path.is_file():
            if not kind_of(path.name):
                raise DefinitionError("not a .bpmn, .dmn or .form file", file=raw).coded(
                    "not_process_file")
            files[path.name] = path.read_bytes()
        else:
            raise NotFound(f"no such file or folder: {raw}").coded("no_such_file", path=raw)
    if not files:
        raise DefinitionError("nothing to deploy: no .bpmn, .dmn or .form files found"
                              ).coded("nothing_to_deploy")
    return files


@dataclass
class Deployed:
    key: str
    tenant: str
    version: int
    definition_id: int
    created: bool
    kind: str = "process"
    deployment_id: int = 0  # the deployment this call made (each result names it)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "tenant": self.tenant or None, "version": self.version,
                "id": self.definition_id, "new": self.created, "kind": self.kind}


NAME_LENGTH = 200  # deployments.name


def deployment_name(name: str, files: dict[str, bytes]) -> str:
    """The given name, or the file names; shortened to fit when a folder has many files."""
    text = name or ", ".join(sorted(files))
    if len(text) <= NAME_LENGTH:
        return text
    suffix = f" ... ({len(files)} files)"
    return text[:NAME_LENGTH - len(suffix)].rstrip(", ") + suffix


def deploy(session: Session, files: dict[str, bytes], *, actor: str, at: datetime,
           tenant: str = "", name: str = "", source: str | None = None) -> list[Deployed]:
    by_kind: dict[str, dict[str, bytes]] = {"bpmn": {}, "dmn": {}, "form": {}}
    for filename, data in files.items():
        kind = kind_of(filename)
        if kind is None:
            raise DefinitionError("not a .bpmn, .dmn or .form file", file=filename).coded(
                "not_process_file")
        _text(data, filename)  # stored as text: UTF-8, as Camunda Modeler writes it
        by_kind[kind][filename] = data
    forms = {fn: _parse_form(fn, data) for fn, data in by_kind["form"].items()}
    bpmn, dmn = dict(by_kind["bpmn"]), dict(by_kind["dmn"])
    given = {d for fn, data in dmn.items() for d in decision_ids(data, fn)}
    redeployed = _using_new_decisions(session, bpmn, given, tenant)
    bpmn.update(redeployed)
    _add_deployed_decisions(session, bpmn, dmn, given, tenant)
    processes = parse_bpmn(bpmn, dmn)  # checks every DMN file, also one deployed alone
    if tenant:
        for key, parsed in processes.items():
            _check_variant(session, key, tenant, parsed.spec.file, bpmn)

    deployment = Deployment(name=deployment_name(name, files), tenant=tenant,
                            deployed_at=at, deployed_by=actor,
                            source=(source or "")[:NAME_LENGTH] or None)
    session.add(deployment)
    session.flush()
    results: list[Deployed] = []
    for filename, data in {**files, **redeployed}.items():
        kind = kind_of(filename)
        form_id = forms[filename].get("id") if kind == "form" else None
        if kind == "form" and _same_form_deployed(session, form_id, tenant, data):
            results.append(Deployed(form_id or filename, tenant, 0, 0, False, "form"))
            continue
        session.add(Resource(deployment_id=deployment.id, name=filename, kind=kind,
                             form_id=form_id, tenant=tenant, sha256=sha256(_text(data)),
                             content=_text(data)))
        if kind == "form":
            results.append(Deployed(form_id or filename, tenant, 0, 0, True, "form"))
    for key, parsed in processes.items():
        spec_json = json.dumps({
            "format": SPEC_FORMAT, "spec": REGISTRY.convert(parsed.spec),
            "embedded": {n: REGISTRY.convert(s) for n, s in parsed.embedded_specs.items()},
        }, sort_keys=True, separators=(",", ":"))
        content_hash = sha256(spec_json)
        latest = latest_definition(session, key, tenant)
        if latest is not None and latest.content_hash == content_hash:
            results.append(Deployed(key, tenant, latest.version, latest.id, False))
            continue
        definition = ProcessDefinition(
            key=key, tenant=tenant, version=(latest.version + 1) if latest else 1,
            name=parsed.name, deployment_id=deployment.id,
            resource_name=parsed.spec.file or "", content_hash=content_hash, spec=spec_json,
            called=sorted(parsed.called), starter_groups=parsed.starter_groups,
            start_form=parsed.start_form, timer_start=parsed.timer_start, deployed_at=at)
        session.add(definition)
        session.flush()
        results.append(Deployed(key, tenant, definition.version, definition.id, True))
    for result in results:
        result.deployment_id = deployment.id
    record_deployment(session, actor, at, {
        "deployment_id": deployment.id, "tenant": tenant or None,
        "files": {fn: sha256(_text(data)) for fn, data in sorted(files.items())},
        "redeployed_for_new_decisions": sorted(redeployed) or None,
        "definitions": [r.as_dict() for r in results],
    })
    return results


def _latest_resources(session: Session, kind: str, tenant: str) -> list[Resource]:
    """Deployed files of a kind, oldest first, the tenant's own after the shared ones (so
    that, read in order, the latest and the tenant's own win)."""
    rows = session.scalars(select(Resource).where(Resource.kind == kind,
                                                  Resource.tenant.in_({tenant, ""}))
                           .order_by(Resource.id)).all()
    return sorted(rows, key=lambda r: (r.tenant == tenant and tenant != "", r.id))


def _add_deployed_decisions(session: Session, bpmn: dict[str, bytes], dmn: dict[str, bytes],
                            given: set[str], tenant: str) -> None:
    """A business rule task whose decision is not in this deployment (`given`) uses the
    latest deployed version of it (Camunda's default binding), as of this deployment."""
    wanted = {r for fn, data in bpmn.items() for r in decision_refs(data, fn)} - given
    if not wanted:
        return
    latest: dict[str, Resource] = {}
    for resource in _latest_resources(session, "dmn", tenant):
        for decision in decision_ids(resource.content.encode("utf-8"), resource.name):
            latest[decision] = resource
    for decision in sorted(wanted & set(latest)):
        resource = latest[decision]
        dmn.setdefault(resource.name, resource.content.encode("utf-8"))


def _using_new_decisions(session: Session, bpmn: dict[str, bytes], changed: set[str],
                         tenant: str) -> dict[str, bytes]:
    """The deployed BPMN files, not in this deployment, whose latest processes use a
    decision this deployment changes: they get a new version with the new table, so new
    cases decide by it while running cases keep the version they started with."""
    if not changed:
        return {}
    newest: dict[str, Any] = {}  # key -> its latest version's row (not its spec)
    for definition in session.execute(
            select(ProcessDefinition.key, ProcessDefinition.version,
                   ProcessDefinition.deployment_id, ProcessDefinition.resource_name)
            .where(ProcessDefinition.tenant == tenant)):
        if definition.key not in newest or definition.version > newest[definition.key].version:
            newest[definition.key] = definition
    found: dict[str, bytes] = {}
    for definition in newest.values():
        if definition.resource_name in bpmn or definition.resource_name in found:
            continue
        resource = session.scalars(select(Resource).where(
            Resource.deployment_id == definition.deployment_id,
            Resource.name == definition.resource_name, Resource.kind == "bpmn")).first()
        if resource is None:
            continue
        content = resource.content.encode("utf-8")
        if decision_refs(content, resource.name) & changed:
            found[resource.name] = content
    return found


def _text(data: bytes, filename: str | None = None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DefinitionError(f"the file is not UTF-8 text (byte {err.start + 1}); save it "
                              "as UTF-8, as Camunda Modeler does", file=filename).coded(
            "file_not_utf8", byte=err.start + 1) from None


def _parse_form(filename: str, data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(_text(data))
    except json.JSONDecodeError as err:
        raise DefinitionError(f"not valid JSON: {err.msg}", file=filename, line=err.lineno) \
            .coded("form_not_json", detail=err.msg, line=err.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("components"), list):
        raise DefinitionError("not a Camunda Form (no 'components' list)", file=filename
                              ).coded("form_without_components")
    _check_components(doc["components"], filename)
    return doc


def _check_components(components: list, filename: str, depth: int = 0) -> None:
    """Every component an object with a type, containers holding lists of the same."""
    if depth > 20:
        raise DefinitionError("components nested more than 20 deep", file=filename).coded(
            "form_too_deep", limit=20)
    for i, component in enumerate(components):
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            raise DefinitionError(f"component {i + 1} is not an object with a \"type\" text",
                                  file=filename,
                                  element=component.get("id") if isinstance(component, dict)
                                  and isinstance(component.get("id"), str) else None
                                  ).coded("component_without_type", number=i + 1)
        inner = component.get("components")
        if inner is not None:
            if not isinstance(inner, list):
                raise DefinitionError("\"components\" of a group must be a list",
                                      file=filename, element=component.get("id")).coded(
                    "group_components_not_list")
            _check_components(inner, filename, depth + 1)


def _same_form_deployed(session: Session, form_id: str | None, tenant: str, data: bytes) -> bool:
    if not form_id:
        return False
    latest = session.scalars(select(Resource).where(Resource.form_id == form_id,
                                                    Resource.tenant == tenant)
                             .order_by(Resource.id.desc()).limit(1)).first()
    return latest is not None and latest.sha256 == sha256(_text(data))


def _check_variant(session: Session, key: str, tenant: str, filename: str,
                   bpmn: dict[str, bytes]) -> None:
    """A tenant's variant keeps the interaction its default declares (engine/model/contracts.py)."""
    default = latest_definition(session, key, "")
    if default is None or filename not in bpmn:
        return
    source = session.scalars(select(Resource.content).where(
        Resource.deployment_id == default.deployment_id,
        Resource.name == default.resource_name)).first()
    if source is None:
        return
    wanted = contracts.process_node(parse_xml(source.encode("utf-8"), default.resource_name),
                                    key)
    found = contracts.process_node(parse_xml(bpmn[filename], filename), key)
    if wanted is not None and found is not None:
        contracts.check_variant(wanted, found, key=key, tenant=tenant, filename=filename)


def latest_definition(session: Session, key: str, tenant: str = "") -> ProcessDefinition | None:
    found = _latest_id(session, key, tenant)
    return session.get(ProcessDefinition, found) if found is not None else None


_LATEST = select(ProcessDefinition.id).where(
    ProcessDefinition.key == bindparam("key"), ProcessDefinition.tenant == bindparam("tenant")
).order_by(ProcessDefinition.version.desc()).limit(1)


def _latest_id(session: Session, key: str, tenant: str) -> int | None:
    return session.connection().scalar(_LATEST, {"key": key, "tenant": tenant})


def definition_id_to_start(session: Session, key: str, tenant: str = "") -> int:
    """The latest version of a process (the tenant's own variant first): its id only, so
    that a caller holding the definition already need not read its spec again."""
    found = _latest_id(session, key, tenant)
    if found is None and tenant:
        found = _latest_id(session, key, "")
    if found is None:
        known = sorted(set(session.scalars(select(ProcessDefinition.key))))
        hint = f"; deployed: {', '.join(known)}" if known else "; nothing is deployed yet"
        raise NotFound(f"unknown process key '{key}'{hint}").coded("unknown_process", key=key)
    return found


def definition_to_start(session: Session, key: str, tenant: str = "") -> ProcessDefinition:
    return session.get(ProcessDefinition, definition_id_to_start(session, key, tenant))


def bind_called(session: Session, definition: ProcessDefinition) -> dict[str, int]:
    """Latest default and tenant variants of every process this definition calls."""
    bindings: dict[str, int] = {}
    pending = [(definition.key, list(definition.called))]
    while pending:
        caller, called = pending.pop()
        for key in called:
            if key in bindings:
                continue
            latest_per_tenant = select(ProcessDefinition.tenant,
                                       func.max(ProcessDefinition.version).label("v")) \
                .where(ProcessDefinition.key == key).group_by(ProcessDefinition.tenant).subquery()
            rows = session.scalars(select(ProcessDefinition).join(
                latest_per_tenant, (ProcessDefinition.tenant == latest_per_tenant.c.tenant)
                & (ProcessDefinition.version == latest_per_tenant.c.v)
            ).where(ProcessDefinition.key == key)).all()
            if not any(row.tenant == "" for row in rows):
                raise NotFound(f"process '{caller}' calls '{key}', which is not deployed "
                               "(deploy it first)").coded("called_not_deployed",
                                                          caller=caller, called=key)
            for row in rows:
                bindings[variant_name(key, row.tenant or None)] = row.id
                pending.append((key, list(row.called)))
    return bindings


class SpecCache:
    """Deserialized specs by content hash: parsed once per process, shared by instances."""

    def __init__(self):
        self._specs: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
        cached = self._specs.get(definition.content_hash)
        if cached is None:
            dct = json.loads(definition.spec)
            if dct.get("format") != SPEC_FORMAT:
                raise DefinitionError(f"definition {definition.id} has an unknown spec format")
            cached = (REGISTRY.restore(dct["spec"]),
                      {n: REGISTRY.restore(s) for n, s in dct["embedded"].items()})
            with self._lock:
                self._specs[definition.content_hash] = cached
        return cached


def form_document(session: Session, form_ref: str, tenant: str = "",
                  deployment_id: int | None = None) -> dict[str, Any] | None:
    """A deployed Camunda Form by its id (binding latest, tenant first) or file name."""
    query = select(Resource).where(Resource.kind == "form")
    if deployment_id is not None:
        query = query.where(Resource.deployment_id == deployment_id)
    candidates = session.scalars(query.where((Resource.form_id == form_ref)
                                             | (Resource.name == form_ref)
                                             | Resource.name.endswith("/" + form_ref))
                                 .order_by(Resource.id.desc())).all()
    for wanted in (tenant, ""):
        for resource in candidates:
            if resource.tenant == wanted:
                return json.loads(resource.content)
    return None


def definition_xml(session: Session, definition_id: int) -> str:
    """The BPMN file a definition version was deployed from (for drawing its diagram)."""
    definition = session.get(ProcessDefinition, definition_id)
    if definition is None:
        raise NotFound(f"no process definition {definition_id}").coded(
            "no_definition", definition=definition_id)
    resource = session.scalars(select(Resource).where(
        Resource.deployment_id == definition.deployment_id,
        Resource.name == definition.resource_name)).first()
    if resource is None:
        raise NotFound(f"the file of {definition.key} version {definition.version} is missing"
                       ).coded("file_missing", key=definition.key, version=definition.version)
    return resource.content

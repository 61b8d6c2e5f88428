"""What a clinic's variant of a called process must keep: the interaction the default
process names in its `samhandling` property (docs/DESIGN.md, "Call activities and
clinic variants").
"""

from __future__ import annotations

from lxml import etree

from ..errors import DefinitionError
from .model_checks import BPMN_NS, CAMUNDA_NS

INTERFACE = "samhandling"
BPMN = f"{{{BPMN_NS}}}"
CAMUNDA = f"{{{CAMUNDA_NS}}}"
_KEPT = ("candidateGroups", "candidateUsers", "assignee")
_LOOP_KEPT = ("collection", "elementVariable")


def process_node(tree, key: str) -> etree._Element | None:
    """The process element with this id in a parsed BPMN file."""
    return next((node for node in tree.iter(f"{BPMN}process") if node.get("id") == key),
                None)


def declared(process: etree._Element) -> list[str]:
    """The element ids a process declares as its interaction with other clinics."""
    for prop in process.iterfind(f"{BPMN}extensionElements/{CAMUNDA}properties/"
                                 f"{CAMUNDA}property"):
        if prop.get("name") == INTERFACE:
            return (prop.get("value") or "").split()
    return []


def check_variant(default: etree._Element, variant: etree._Element, *, key: str,
                  tenant: str, filename: str) -> None:
    """Refuse `variant` (the process element deployed for `tenant`) when it does not keep
    what `default` (the process element of the default version) declares."""
    for element_id in declared(default):
        wanted = _element(default, element_id)
        if wanted is None:
            continue  # the default names an element it does not have: its own affair
        found = _element(variant, element_id)
        where = (f"the variant of '{key}' for '{tenant}' must keep the interaction "
                 f"between clinics that the default declares ({INTERFACE})")
        if found is None:
            raise DefinitionError(f"{where}: element '{element_id}' "
                                  f"({etree.QName(wanted).localname}) is missing",
                                  file=filename, element=element_id).coded(
                "variant_element_missing", key=key, tenant=tenant, element=element_id,
                kind=etree.QName(wanted).localname)
        for what, before, after in _differences(wanted, found):
            raise DefinitionError(f"{where}: element '{element_id}' has {what} "
                                  f"{after!r}, the default has {before!r}",
                                  file=filename, element=element_id).coded(
                "variant_element_changed", key=key, tenant=tenant, element=element_id,
                what=what, before=before, after=after)


def _element(process: etree._Element, element_id: str) -> etree._Element | None:
    for node in process.iter():
        if isinstance(node.tag, str) and node.get("id") == element_id:
            return node
    return None


def _differences(wanted: etree._Element, found: etree._Element):
    """(what, default's, variant's) for each way `found` departs from `wanted`."""
    if etree.QName(found).localname != etree.QName(wanted).localname:
        yield "the kind", etree.QName(wanted).localname, etree.QName(found).localname
    for name in _KEPT:
        if found.get(CAMUNDA + name) != wanted.get(CAMUNDA + name):
            yield name, wanted.get(CAMUNDA + name), found.get(CAMUNDA + name)
    for name in _LOOP_KEPT:
        before, after = _loop(wanted, name), _loop(found, name)
        if before != after:
            yield f"multi-instance {name}", before, after
    if _script(found) != _script(wanted):
        yield "a script", _script(wanted), _script(found)
    missing = sorted(_form_fields(wanted) - _form_fields(found))
    if missing:
        yield "form fields", sorted(_form_fields(wanted)), sorted(_form_fields(found))


def _loop(node: etree._Element, name: str) -> str | None:
    loop = node.find(f"{BPMN}multiInstanceLoopCharacteristics")
    return loop.get(CAMUNDA + name) if loop is not None else None


def _script(node: etree._Element) -> str | None:
    script = node.find(f"{BPMN}script")
    return script.text.strip() if script is not None and script.text else None


def _form_fields(node: etree._Element) -> set[str]:
    return {field.get("id") for field in node.iterfind(
        f"{BPMN}extensionElements/{CAMUNDA}formData/{CAMUNDA}formField")}

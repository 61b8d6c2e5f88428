"""What Camunda 7 writes on a flow node (its `camunda:*` attributes, documentation,
`formData`, properties, input/output and in/out mappings), captured as plain JSON into
the task spec's `extensions` (docs/DESIGN.md, "Parsing Camunda Modeler files").
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from .model_checks import BPMN_NS, CAMUNDA_NS

CAMUNDA_NAMESPACES = (CAMUNDA_NS, "http://activiti.org/bpmn")


def camunda_name(tag_or_attr: str) -> str | None:
    """'{camunda-uri}assignee' -> 'assignee'; None for other namespaces."""
    if tag_or_attr.startswith("{"):
        uri, _, local = tag_or_attr[1:].partition("}")
        if uri in CAMUNDA_NAMESPACES:
            return local
    return None


def capture_extensions(node: etree._Element) -> dict[str, Any]:
    """Everything Camunda-specific on one flow node, as plain JSON-able data."""
    ext: dict[str, Any] = {}
    for key, value in node.attrib.items():
        name = camunda_name(key)
        if name:
            ext[name] = value
    docs = node.find(f"{{{BPMN_NS}}}documentation")
    if docs is not None and docs.text:
        ext["documentation"] = docs.text.strip()
    ee = node.find(f"{{{BPMN_NS}}}extensionElements")
    if ee is None:
        return ext
    for child in ee:
        name = camunda_name(child.tag) if isinstance(child.tag, str) else None
        if name == "formData":
            ext["formData"] = [_form_field(f) for f in child if camunda_name(f.tag) == "formField"]
        elif name == "properties":
            ext["properties"] = {p.get("name"): p.get("value") for p in child}
        elif name == "inputOutput":
            ext["inputOutput"] = {
                "inputs": [{"name": p.get("name"), "value": (p.text or "").strip()}
                           for p in child if camunda_name(p.tag) == "inputParameter"],
                "outputs": [{"name": p.get("name"), "value": (p.text or "").strip()}
                            for p in child if camunda_name(p.tag) == "outputParameter"],
            }
        elif name in ("in", "out"):
            ext.setdefault(f"{name}Mappings", []).append(
                {camunda_name(k) or k: v for k, v in child.attrib.items()})
    return ext


def _form_field(node: etree._Element) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": node.get("id"), "label": node.get("label"), "type": node.get("type"),
        "defaultValue": node.get("defaultValue"), "datePattern": node.get("datePattern"),
        "values": [], "validation": [], "properties": {},
    }
    for child in node:
        name = camunda_name(child.tag) if isinstance(child.tag, str) else None
        if name == "value":
            result["values"].append({"id": child.get("id"), "name": child.get("name")})
        elif name == "validation":
            result["validation"] = [{"name": c.get("name"), "config": c.get("config")}
                                    for c in child]
        elif name == "properties":
            result["properties"] = {p.get("id"): p.get("value") for p in child}
    return result

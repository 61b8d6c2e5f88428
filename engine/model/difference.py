"""The difference between two versions of a BPMN or DMN file, element by element: what
was added, what was removed, and which attributes of an element changed. Elements are
matched by id; the diagram's layout (BPMNDI, DMNDI) is left out, since moving a shape
changes nothing that runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .xml import parse_xml

LAYOUT_NAMESPACES = {
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DC/",
    "http://www.omg.org/spec/DMN/20180521/DI/",
}
PREFIXES = {
    "http://www.omg.org/spec/BPMN/20100524/MODEL": "bpmn",
    "http://camunda.org/schema/1.0/bpmn": "camunda",
    "http://activiti.org/bpmn": "camunda",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
    "http://camunda.org/schema/modeler/1.0": "modeler",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "dmn",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "dmn",
    "http://camunda.org/schema/1.0/dmn": "camunda",
}


@dataclass(frozen=True)
class Element:
    id: str
    kind: str  # the tag without its namespace: userTask, sequenceFlow, decision...
    name: str
    content: dict[str, str]  # attribute or nested part -> its value

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass(frozen=True)
class Change:
    what: str  # an attribute (`camunda:candidateGroups`) or a nested part
    before: str | None
    after: str | None


@dataclass
class Difference:
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[tuple[Element, list[Change]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def difference(before: bytes | str, after: bytes | str, filename: str = "") -> Difference:
    """What changed from `before` to `after` (both files as deployed or uploaded)."""
    old, new = elements(before, filename), elements(after, filename)
    found = Difference(added=[new[i] for i in new if i not in old],
                       removed=[old[i] for i in old if i not in new])
    for element_id, element in new.items():
        if element_id in old:
            changes = _changes(old[element_id], element)
            if changes:
                found.changed.append((element, changes))
    return found


def elements(data: bytes | str, filename: str = "") -> dict[str, Element]:
    """Every element with an id in the file, in document order, the layout left out."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    root = parse_xml(raw, filename).getroot()
    found: dict[str, Element] = {}
    for node in root.iter(etree.Element):
        if _in_layout(node) or not node.get("id"):
            continue
        content: dict[str, str] = {}
        _collect(node, "", content)
        found.setdefault(node.get("id"), Element(
            node.get("id"), etree.QName(node).localname,
            " ".join((node.get("name") or "").split()), content))
    return found


def _changes(old: Element, new: Element) -> list[Change]:
    changes = [Change(what, old.content.get(what), new.content.get(what))
               for what in dict.fromkeys([*old.content, *new.content])
               if old.content.get(what) != new.content.get(what)]
    if old.kind != new.kind:
        changes.insert(0, Change("type", old.kind, new.kind))
    return changes


def _collect(node, path: str, content: dict[str, str]) -> None:
    """The element's attributes, its text and every nested part without an id of its
    own (a condition, a form field, an input parameter), each under a readable path."""
    for attribute, value in node.attrib.items():
        if attribute != "id" or path:
            content[f"{path}@{_prefixed(attribute)}" if path else _prefixed(attribute)] = value
    text = " ".join((node.text or "").split())
    if text:
        content[path or "text"] = text
    counts: dict[str, int] = {}
    for child in node.iterchildren(etree.Element):
        if child.get("id") or _in_layout(child):
            continue
        tag = _prefixed(child.tag)
        counts[tag] = counts.get(tag, 0) + 1
        step = f"{tag}[{counts[tag]}]" if _repeated(node, child.tag) else tag
        _collect(child, f"{path}/{step}" if path else step, content)


def _repeated(parent, tag: str) -> bool:
    return sum(1 for c in parent.iterchildren(tag) if not c.get("id")) > 1


def _prefixed(name: str) -> str:
    qname = etree.QName(name)
    if qname.namespace is None:
        return qname.localname
    return f"{PREFIXES.get(qname.namespace, qname.namespace)}:{qname.localname}"


def _in_layout(node) -> bool:
    return etree.QName(node).namespace in LAYOUT_NAMESPACES

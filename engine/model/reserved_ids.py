"""SpiffWorkflow names its own internal tasks Start, End and Root: an element a process
owner gave one of those ids is renamed while SpiffWorkflow reads the file, and gets its
own id back on its task spec afterwards.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from .model_checks import BPMN_NS

RESERVED_IDS = {"Start", "End", "Root"}
HIDDEN_SUFFIX = "#element"  # no BPMN id can hold '#', so a renamed id meets no other


def hide_reserved_ids(root: etree._Element) -> dict[str, str]:
    """SpiffWorkflow names its own internal tasks Start, End and Root. An element the
    process owner called so is renamed for SpiffWorkflow (with every reference to it)
    and gets its own id back on its task spec afterwards (`restore_reserved_ids`)."""
    hidden: dict[str, str] = {}
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id") in RESERVED_IDS and \
                node.tag.startswith(f"{{{BPMN_NS}}}"):
            hidden[node.get("id") + HIDDEN_SUFFIX] = node.get("id")
    if not hidden:
        return hidden
    renamed = {original: name for name, original in hidden.items()}
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        for key, value in node.attrib.items():
            if value in renamed and key not in ("name",):
                node.set(key, renamed[value])
        if etree.QName(node).localname in ("incoming", "outgoing") and \
                (node.text or "").strip() in renamed:
            node.text = renamed[node.text.strip()]
    return hidden


def restore_reserved_ids(spec: Any, hidden: dict[str, str]) -> None:
    for task_spec in spec.task_specs.values():
        original = hidden.get(getattr(task_spec, "bpmn_id", None))
        if original is not None:
            task_spec.bpmn_id = original


def shown(text: str | None, hidden: dict[str, str]) -> str | None:
    """A text or id from SpiffWorkflow with the process owner's own ids in it."""
    if not text:
        return text
    for name, original in hidden.items():
        text = text.replace(name, original)
    return text

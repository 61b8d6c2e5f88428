"""The `fra_forrige` property of a user task: which fields of the last finished round of
the same routine it is shown, as ELEMENT.FIELD pairs (docs/DESIGN.md, "What one round
of a routine leaves for the next")."""

from __future__ import annotations

import re

PROPERTY = "fra_forrige"
PREFIX = "forrige_"
_SOURCE = re.compile(r"^(?P<element>[A-Za-z_][\w.-]*)\.(?P<key>[A-Za-z_]\w*)$")


def sources(text: str) -> list[tuple[str, str]]:
    """The (element id, field key) pairs a `fra_forrige` property names, comma-separated;
    raises ValueError naming the part that is not ELEMENT.FIELD or a key named twice."""
    pairs: list[tuple[str, str]] = []
    for part in (text or "").split(","):
        match = _SOURCE.match(part.strip())
        if match is None:
            raise ValueError(f"'{part.strip()}' is not ELEMENT.FIELD "
                             "(for example Task_Oppsummer.innspill_neste)")
        if any(key == match["key"] for _, key in pairs):
            raise ValueError(f"the field '{match['key']}' is named twice")
        pairs.append((match["element"], match["key"]))
    return pairs

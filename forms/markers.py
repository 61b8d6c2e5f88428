"""What a form says about a field beyond its type, in Camunda Forms' custom properties
(docs/DESIGN.md, "People and deadlines"): `person` makes it a people picker, and a
deadline refuses a past date unless `fortid` is `tillatt`.
"""

from __future__ import annotations

from typing import Any

from .model import Field

PERSON = "person"  # value: the groups the person must be in, separated by spaces; "" any
DEADLINE = "frist"  # "ja": a deadline, whatever its key
PAST = "fortid"  # "tillatt": a deadline that may lie in the past (registering old cases)
PAST_ALLOWED = "tillatt"


def is_deadline_key(key: str | None) -> bool:
    """The routines' convention: a date named `frist` or `..._frist` is a deadline."""
    return bool(key) and (key == DEADLINE or key.endswith("_" + DEADLINE))


def apply(field: Field, raw: dict[str, Any] | None = None) -> Field:
    """Set `person` and `no_past` from the field's properties (and form-js's own
    `disallowPassedDates`, given in `raw`)."""
    props = field.properties
    if PERSON in props:
        field.person = tuple(props[PERSON].split())
    if field.type == "datetime" and field.subtype in ("date", "datetime"):
        deadline = is_deadline_key(field.key) or props.get(DEADLINE) == "ja" \
            or bool((raw or {}).get("disallowPassedDates"))
        field.no_past = deadline and props.get(PAST) != PAST_ALLOWED
    return field

"""Process data as JSON text: values JSON has no type for (dates, decimals, sets...) are
objects with one key naming the type, `{"$date": "2026-03-01"}`. Object keys are sorted,
so the same data always give the same text. Used for stored states
(engine/store/state_format.py), history events and the script worker's messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID


def tagged(value: Any) -> Any:
    """A value JSON has no type for, as an object with one key naming the type."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted(value, key=encode)}
    if isinstance(value, timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    raise TypeError(f"value of type {type(value).__name__} cannot be stored in process data")


encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=tagged).encode
# letters outside ASCII as they are (history events' data)
encode_readable = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                   default=tagged).encode

UNTAG: dict[str, Callable[[Any], Any]] = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$decimal": Decimal,
    "$set": set,
    "$timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "$uuid": UUID,
}


def untagger(table: dict[str, Callable[[Any], Any]]) -> Callable[[dict], Any]:
    def untag(obj: dict) -> Any:
        if len(obj) == 1:
            (key, value), = obj.items()
            restore = table.get(key)
            if restore is not None:
                return restore(value)
        return obj
    return untag


_UNTAG = untagger(UNTAG)


def decode(text: str, untag: Callable[[dict], Any] = _UNTAG) -> Any:
    """The data a text holds, typed values restored."""
    # only a text holding `{"$` can hold a typed value (the encoders write no escapes there)
    return json.loads(text, object_hook=untag if '{"$' in text else None)

"""Between HTML forms and the field model: posted names to nested data, data to names.

Names follow the validation error paths, so an error lands at its field: `key`,
`group.key` for a group with a path, `list[2].key` for a row of a repeating list.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from forms.model import Field, flatten

COUNT_SUFFIX = "#rows"


def from_post(fields: list[Field], posted: MultiDict, prefix: str = "") -> dict[str, Any]:
    """The submitted values, shaped as the form expects (read-only fields left out)."""
    result: dict[str, Any] = {}
    for f in [x for c in fields for x in flatten(c)]:
        name = prefix + (f.name or "")
        if f.type == "group":
            result[f.path] = from_post(f.components, posted, name + ".")
        elif f.type == "dynamiclist":
            count = _int(posted.get(name + COUNT_SUFFIX))
            if count is not None:
                result[f.path] = [from_post(f.components, posted, f"{name}[{i}].")
                                  for i in range(count)]
        elif f.readonly:
            continue
        elif f.type == "checkbox":
            result[f.key] = posted.get(name) in ("true", "on", "1")
        elif f.type in ("checklist", "taglist"):
            result[f.key] = [v for v in posted.getlist(name) if v != ""]
        elif name in posted:
            result[f.key] = posted.get(name)
    return result


def to_names(fields: list[Field], data: dict[str, Any] | None, prefix: str = ""
             ) -> dict[str, Any]:
    """Flat name -> value, for filling the inputs; rows counted under `name#rows`."""
    data = data if isinstance(data, dict) else {}
    names: dict[str, Any] = {}
    for f in [x for c in fields for x in flatten(c)]:
        name = prefix + (f.name or "")
        if f.type == "group":
            names.update(to_names(f.components, data.get(f.path), name + "."))
        elif f.type == "dynamiclist":
            rows = data.get(f.path)
            if not isinstance(rows, list):
                continue  # the page shows the form's default number of rows
            names[name + COUNT_SUFFIX] = len(rows)
            for i, row in enumerate(rows):
                names.update(to_names(f.components, row, f"{name}[{i}]."))
        elif f.key in data:
            names[name] = data[f.key]
    return names


def _int(text: str | None) -> int | None:
    try:
        return max(0, min(int(text), 500)) if text is not None else None
    except ValueError:
        return None

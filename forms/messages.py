"""What is wrong with a submitted value: a `Message` is the English text and carries a
`code` and `params`, so an interface can say it in the user's language (docs/DESIGN.md,
"Forms").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ENGLISH: dict[str, str] = {
    "not_an_object": "the submitted data must be an object",
    "unknown_field": "unknown field",
    "required": "is required",
    "must_be_checked": "must be checked",
    "not_rows": "must be a list of rows",
    "exact_rows": "must have exactly {count} rows, as given",
    "no_rows": "needs at least one row",
    "max_rows": "at most {limit} rows",
    "not_text": "must be text",
    "not_whole_number": "must be a whole number",
    "not_number": "must be a number",
    "number_too_large": "Number too large.",
    "not_finite": "Special numeric values (nan or infinity) are not permitted.",
    "not_boolean": "must be true or false (boolean)",
    "not_date": "not a valid date (YYYY-MM-DD)",
    "not_time": "not a valid time (HH:MM)",
    "not_datetime": "not a valid date and time (YYYY-MM-DDTHH:MM)",
    "not_option_list": "must be a list of options",
    "not_an_option": "'{value}' is not one of the options: {options}",
    "choose_between": "choose between {min} and {max}",
    "choose_at_least": "choose at least {min}",
    "choose_at_most": "choose at most {max}",
    "between": "must be between {min} and {max}",
    "at_least": "must be at least {min}",
    "at_most": "must be at most {max}",
    "length_between": "must be {min} to {max} characters",
    "min_length": "must be at least {min} characters",
    "max_length": "must be at most {max} characters",
    "pattern": "is not in the expected format ({pattern})",
    "unknown_person": "{label}: there is no active user '{value}'",
    "person_not_in_group": "{label}: '{value}' is not in {groups}, who may take this task",
    "date_in_past": "{label}: {value} is in the past; choose today or a later day",
}


class Message(str):
    """One problem: the English text, with `code` (a key of ENGLISH) and `params`.

    marshmallow formats the texts it is given as error messages with `str.format`; a
    Message is already complete, so `format` returns it unchanged and it keeps its code.
    """

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, **params: Any) -> Message:
        message = super().__new__(cls, ENGLISH[code].format(**params))
        message.code, message.params = code, params
        return message

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, Any]]:
        return (self.code,), dict(self.params)

    def format(self, *args: Any, **kwargs: Any) -> Message:
        return self

    @property
    def parts(self) -> tuple[Message, ...]:
        return (self,)


class Messages(str):
    """Several problems of one field, shown one after the other, separated by "; "."""

    parts: tuple[str, ...]

    def __new__(cls, parts: tuple[str, ...]) -> Messages:
        joined = super().__new__(cls, "; ".join(parts))
        joined.parts = parts
        return joined

    def __getnewargs__(self) -> tuple[tuple[str, ...]]:
        return (self.parts,)


def join(parts: Iterable[str]) -> str:
    """One text for a field's problems, each said once; a single one stays as it is."""
    unique = tuple(dict.fromkeys(parts))
    return unique[0] if len(unique) == 1 else Messages(unique)

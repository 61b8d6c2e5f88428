"""Form validation errors in the user's language: each `forms.messages.Message` code has
its text marked for translation, and numbers are written the locale's way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from numbers import Number
from typing import Any

from babel.numbers import format_decimal
from flask_babel import format_date, get_locale, gettext, ngettext

from forms.messages import Message, Messages

from .filters import group_name

Text = Callable[[dict[str, Any], dict[str, Any]], str]

# Each text gets the parameters as shown (numbers formatted) and as given (for plurals).
TEXTS: dict[str, Text] = {
    "not_an_object": lambda p, raw: gettext("the submitted data must be an object"),
    "unknown_field": lambda p, raw: gettext("unknown field"),
    "required": lambda p, raw: gettext("is required"),
    "must_be_checked": lambda p, raw: gettext("must be checked"),
    "not_rows": lambda p, raw: gettext("must be a list of rows"),
    "exact_rows": lambda p, raw: ngettext(
        "must have exactly %(count)s row, as given", "must have exactly %(count)s rows, as given",
        _count(raw["count"]), **p),
    "no_rows": lambda p, raw: gettext("needs at least one row"),
    "max_rows": lambda p, raw: ngettext(
        "at most %(limit)s row", "at most %(limit)s rows", _count(raw["limit"]), **p),
    "not_text": lambda p, raw: gettext("must be text"),
    "not_whole_number": lambda p, raw: gettext("must be a whole number"),
    "not_number": lambda p, raw: gettext("must be a number"),
    "number_too_large": lambda p, raw: gettext("is too large a number"),
    "not_finite": lambda p, raw: gettext("must be a finite number"),
    "not_boolean": lambda p, raw: gettext("must be true or false"),
    "not_date": lambda p, raw: gettext("not a valid date (YYYY-MM-DD)"),
    "not_time": lambda p, raw: gettext("not a valid time (HH:MM)"),
    "not_datetime": lambda p, raw: gettext("not a valid date and time (YYYY-MM-DD HH:MM)"),
    "not_option_list": lambda p, raw: gettext("must be a list of options"),
    "not_an_option": lambda p, raw: gettext(
        "“%(value)s” is not one of the options: %(options)s", **p),
    "choose_between": lambda p, raw: gettext(
        "choose between %(min)s and %(max)s options", **p),
    "choose_at_least": lambda p, raw: ngettext(
        "choose at least %(min)s option", "choose at least %(min)s options",
        _count(raw["min"]), **p),
    "choose_at_most": lambda p, raw: ngettext(
        "choose at most %(max)s option", "choose at most %(max)s options",
        _count(raw["max"]), **p),
    "between": lambda p, raw: gettext("must be between %(min)s and %(max)s", **p),
    "at_least": lambda p, raw: gettext("must be at least %(min)s", **p),
    "at_most": lambda p, raw: gettext("must be at most %(max)s", **p),
    "length_between": lambda p, raw: gettext(
        "must be %(min)s to %(max)s characters long", **p),
    "min_length": lambda p, raw: ngettext(
        "must be at least %(min)s character long", "must be at least %(min)s characters long",
        _count(raw["min"]), **p),
    "max_length": lambda p, raw: ngettext(
        "must be at most %(max)s character long", "must be at most %(max)s characters long",
        _count(raw["max"]), **p),
    "pattern": lambda p, raw: gettext("is not in the expected format (%(pattern)s)", **p),
    "unknown_person": lambda p, raw: gettext(
        "%(label)s: nobody here has the user name “%(value)s”; choose a person from the list",
        **p),
    "person_not_in_group": lambda p, raw: gettext(
        "%(label)s: %(value)s is not among those who may take this task (%(groups)s)",
        **dict(p, groups=", ".join(group_name(g) for g in str(raw["groups"]).split(", ")))),
    "date_in_past": lambda p, raw: gettext(
        "%(label)s: %(value)s has already passed; choose today or a later day",
        **dict(p, value=format_date(raw["value"], "long")
               if isinstance(raw["value"], date) else raw["value"])),
}


def localized(errors: Mapping[str, str]) -> dict[str, str]:
    """The errors of a form, path by path, in the language of the request."""
    return {path: localize(message) for path, message in errors.items()}


def localize(message: str) -> str:
    if isinstance(message, Messages):
        return "; ".join(localize(part) for part in message.parts)
    if not isinstance(message, Message) or message.code not in TEXTS:
        return str(message)
    shown = {key: _number(value) for key, value in message.params.items()}
    return TEXTS[message.code](shown, message.params)


def _number(value: Any) -> Any:
    """Numbers as the locale writes them (4 000 and 2,5 in Bokmål); anything else as given."""
    if isinstance(value, Number) and not isinstance(value, bool):
        return format_decimal(value, locale=get_locale(), decimal_quantization=False)
    return value


def _count(value: Any) -> int:
    """For choosing the plural form: the limit as a whole number (forms may give it as text)."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 2

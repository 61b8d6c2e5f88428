"""Limits on what any caller may hand the engine, enforced below the web layer so that the
pages, the API and the command line refuse the same input in the same words
(docs/DESIGN.md, "Who may do what, and what anyone may send").
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import InvalidInput

MAX_DEPTH = 20  # objects and lists inside each other
MAX_ITEMS = 1_000  # rows in a list, keys in an object
MAX_TEXT = 100_000  # characters in one text
MAX_VALUES = 50_000  # values in all
MAX_CHARACTERS = 2_000_000  # characters of text in all
MAX_INTEGER = 2 ** 63 - 1  # what every database column and JSON reader holds
MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_BUSINESS_KEY = 200
MAX_PAGE = 10_000


def check_data(value: Any, where: str = "data") -> None:
    """InvalidInput naming the first value out of bounds."""
    count = [0, 0]  # values, characters
    _check(value, where, 0, count)


def _check(value: Any, where: str, depth: int, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise InvalidInput({where: f"more than {MAX_VALUES} values in all"}).coded(
            "too_many_values", where=where, limit=MAX_VALUES)
    if isinstance(value, str):
        _check_text(value, where)
        count[1] += len(value)
        if count[1] > MAX_CHARACTERS:
            raise InvalidInput({where: f"more than {MAX_CHARACTERS} characters of text in all"}
                               ).coded("too_much_text", where=where, limit=MAX_CHARACTERS)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise InvalidInput({where: f"a whole number beyond ±{MAX_INTEGER}"}).coded(
                "number_too_large", where=where, limit=MAX_INTEGER)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput({where: "a number that is not finite"}).coded(
                "number_not_finite", where=where)
    elif isinstance(value, dict):
        _check_size(value, where, depth)
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput({where: "an object whose keys are not all text"}).coded(
                    "keys_not_text", where=where)
            _check_text(key, f"{where}.{key[:40]}", what="name")
            _check(item, f"{where}.{key}", depth + 1, count)
    elif isinstance(value, (list, tuple)):
        _check_size(value, where, depth)
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]", depth + 1, count)


def _check_size(value, where: str, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise InvalidInput({where: f"nested more than {MAX_DEPTH} deep"}).coded(
            "nested_too_deep", where=where, limit=MAX_DEPTH)
    if len(value) > MAX_ITEMS:
        raise InvalidInput({where: f"more than {MAX_ITEMS} entries"}).coded(
            "too_many_entries", where=where, limit=MAX_ITEMS)


def _check_text(text: str, where: str, what: str = "text") -> None:
    if len(text) > MAX_TEXT:
        raise InvalidInput({where: f"a {what} longer than {MAX_TEXT} characters"}).coded(
            "text_too_long", where=where, limit=MAX_TEXT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput({where: f"a {what} that is not valid Unicode (a lone surrogate "
                                   "half)"}).coded("not_unicode", where=where) from None


def check_business_key(key: str | None) -> None:
    if key is None:
        return
    if len(key) > MAX_BUSINESS_KEY:
        raise InvalidInput({"business_key": f"longer than {MAX_BUSINESS_KEY} characters"}
                           ).coded("business_key_too_long", limit=MAX_BUSINESS_KEY)
    _check_text(key, "business_key")
    if any(ord(c) < 32 for c in key):
        raise InvalidInput({"business_key": "contains a control character"}).coded(
            "business_key_control")


def parse_json(text: str | bytes, where: str = "data") -> Any:
    """A JSON text from outside, read within the limits above."""
    if len(text) > MAX_JSON_BYTES:
        raise InvalidInput({where: f"more than {MAX_JSON_BYTES // (1024 * 1024)} MB of JSON"}
                           ).coded("json_too_large", where=where,
                                   limit=MAX_JSON_BYTES // (1024 * 1024))
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidInput({where: f"not UTF-8 text (byte {err.start + 1})"}).coded(
                "not_utf8", where=where, byte=err.start + 1) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput({where: f"not valid JSON: {err.msg} at line {err.lineno}, "
                                   f"column {err.colno}"}).coded(
            "not_json", where=where, detail=err.msg, line=err.lineno,
            column=err.colno) from None
    except RecursionError:
        raise InvalidInput({where: f"nested more than {MAX_DEPTH} deep"}).coded(
            "nested_too_deep", where=where, limit=MAX_DEPTH) from None
    except ValueError:  # an integer with more digits than Python reads
        raise InvalidInput({where: "a number with more digits than a number may have"}) \
            .coded("too_many_digits", where=where) from None
    check_data(value, where)
    return value


def check_page(page: int) -> int:
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput({"page": f"must be a whole number from 1 to {MAX_PAGE}"}).coded(
            "page_out_of_range", limit=MAX_PAGE)
    return page


def page_in_range(page: int) -> int:
    """A page asked for in an address, kept within 1 to MAX_PAGE (the web pages show the
    nearest page rather than refuse)."""
    return min(max(page, 1), MAX_PAGE)

"""Conditions in Camunda Forms (`conditional.hide`): FEEL after a leading `=`, evaluated
by `feel` as the page evaluates it with feelin (docs/DESIGN.md, "FEEL").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import feel


def check_condition(text: str) -> None:
    """Raises ValueError saying what is wrong, and where, in a condition that does not parse."""
    feel.parse_expression(text, _body_start(text))


def evaluate_condition(text: str, scopes: Sequence[Mapping[str, Any]]) -> Any:
    """The value of a condition; each name from the first scope that has it (the row,
    the form's values, the case)."""
    return feel.evaluate(text, scopes, start=_body_start(text))


def _body_start(text: str) -> int:
    """Where the expression starts: after the `=` that marks it, if there is one."""
    body = text.lstrip()
    return len(text) - len(body) + (1 if body.startswith("=") else 0)

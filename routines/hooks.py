"""The routines' hooks into the engine's commands, in one object an installation passes
to the Engine: the reporter's receipt and feedback, and what a case is about."""

from __future__ import annotations

from typing import Any

from .case_facts import case_facts
from .receipts import ReceiptHooks


class RoutineHooks(ReceiptHooks):
    def case_facts(self, variables: dict[str, Any]) -> dict[str, Any]:
        return case_facts(variables)

"""The script engine SpiffWorkflow calls: Camunda `${...}` expressions and sandboxed scripts.

Conditions, assignees, due dates, timers and cardinalities go through our own JUEL
evaluator; python script tasks run in the RestrictedPython sandbox. Never `eval`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .. import clock
from ..clock import Clock
from . import expressions
from .sandbox import ScriptError, run_script

# Timer text Camunda Modeler writes literally: durations, cycles and dates.
ISO_8601 = re.compile(
    r"^(R\d*/)?(P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}[T0-9:.+\-Z]*)(/P[0-9YMWDTHS.,]+)?$")


class CamundaScriptEngine(PythonScriptEngine):
    def __init__(self, clock: Clock):
        super().__init__()
        self.clock = clock

    def validate(self, expression: str) -> None:  # called by SpiffWorkflow's parser hooks
        return None

    def evaluate(self, task, expression, external_context=None) -> Any:
        text = expression.strip() if isinstance(expression, str) else expression
        if not isinstance(text, str):
            return text
        if not expressions.is_expression(text) and ISO_8601.match(text):
            return text
        variables = task.data if external_context is None else {**task.data, **external_context}
        try:
            value = expressions.evaluate(text, variables, now=self.clock.now)
        except expressions.ExpressionError as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from None
        if _is_timer_text(task, expression):
            return timer_text(value)
        return value

    def execute(self, task, script, external_context=None) -> bool:
        variables = task.data if external_context is None else {**task.data, **external_context}
        try:
            changed = run_script(script, variables)
        except ScriptError as err:
            raise WorkflowTaskException(f"script failed: {err}", task=task, exception=err) from None
        task.data.update(changed)
        return True


def _is_timer_text(task, expression: str) -> bool:
    definition = getattr(task.task_spec, "event_definition", None)
    return isinstance(definition, TimerEventDefinition) and definition.expression == expression


def timer_text(value: Any) -> Any:
    """SpiffWorkflow reads timer values as ISO-8601 text; a `${...}` may give a date."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return clock.start_of(value).isoformat()
    return value

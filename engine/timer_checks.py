"""Whether a date timer has fired, asked quickly: it is asked for every waiting timer
whenever another task of its workflow completes.

SpiffWorkflow 3.2's `TimeDateEventDefinition.has_fired` parses the timer's date text
(`event_value`, fixed once the timer starts waiting) each time it is asked; here each
text is parsed once and the parsed moment remembered. Everything else is as
SpiffWorkflow does it (pyproject.toml keeps SpiffWorkflow at 3.2): the same internal
data set, the same clock (engine/determinism.py's), the same errors for a text that is
not a date.
"""

from __future__ import annotations

import functools
from datetime import UTC

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    TimeDateEventDefinition,
    TimerEventDefinition,
)

_parsed = functools.lru_cache(maxsize=4096)(TimerEventDefinition.parse_time_or_duration)


def _has_fired(self, my_task) -> bool:
    internal = my_task.internal_data
    event_value = internal.get("event_value")
    if event_value is None:
        event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        my_task._set_internal_data(event_value=event_value)
    moment = _parsed(event_value) if type(event_value) is str else \
        TimerEventDefinition.parse_time_or_duration(event_value)
    if moment < _spiff_timer.datetime.now(UTC):
        my_task._set_internal_data(event_fired=True)
    return internal.get("event_fired", False)


TimeDateEventDefinition.has_fired = _has_fired

"""When a measure is done: the processes `tiltak` (nb) and `atgard` (sv) end a measure
as carried out when the secretariat's control approves it (`tiltak_godkjent`) without
closing it unexecuted (`tiltak_avsluttes`); both set the same variables."""

from __future__ import annotations

from typing import Any

MEASURE_PROCESSES = ("tiltak", "atgard")
APPROVED = "tiltak_godkjent"
CLOSED_UNEXECUTED = "tiltak_avsluttes"


def is_measure_done(process_key: str | None, values: dict[str, Any]) -> bool:
    """Whether completing a task of `process_key` with `values` approved the measure."""
    return process_key in MEASURE_PROCESSES and values.get(APPROVED) is True \
        and not values.get(CLOSED_UNEXECUTED)

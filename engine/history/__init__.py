"""History: the hash-chained events every command appends (`events`), their replay and
verification (`replay`, `state_writer`, `checkpoint`), stepping through a case
(`stepping`) and the export for process mining (`export`)."""

from .events import (  # noqa: F401 - the events' names, as `history.record` etc.
    DAYS_IN_UTC,
    DEPLOYMENT_STREAM,
    ENGINE_VERSION,
    GENESIS,
    REPLAYABLE,
    STATE_FORMAT,
    event_hash,
    events_of,
    record,
    record_deployment,
    sha256,
)

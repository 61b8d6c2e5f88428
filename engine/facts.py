"""Facts kept for the indicators: each human task's life, and what each case is about.

Written by the command that causes them (engine/store/projections.py), from what it
already has in hand (the open tasks it computed, the process variables), so the
dashboard and the visibility rules never deserialize a workflow.

The process variables read are part of the routines' vocabulary: `klinikk`, `enhet`,
`alvorlig` (serious event), `risikoklasse`, `sakkompetens` (subject-matter expertise
took part in the investigation), `anonym` (reporter anonymous to the handlers) and
`sensitiv` (visible to the handlers only).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import CaseFacts


def is_sensitive(session: Session, instance_id: str) -> bool:
    return bool(session.scalar(select(CaseFacts.sensitive).where(
        CaseFacts.instance_id == instance_id)))

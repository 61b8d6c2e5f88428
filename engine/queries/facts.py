"""Facts kept for the indicators and for visibility: each human task's life, and what each
case is about, written by the command that causes them (docs/DESIGN.md, "Facts for the
indicators and for visibility").
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import CaseFacts


def is_sensitive(session: Session, instance_id: str) -> bool:
    return bool(session.scalar(select(CaseFacts.sensitive).where(
        CaseFacts.instance_id == instance_id)))

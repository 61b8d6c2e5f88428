"""Documents attached to an instance: stored with a content hash and a size limit.

File names are cleaned (no paths, no control characters); the content type is guessed
from the name and only ever served as a download, never rendered inline.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import InvalidInput
from .models import Attachment

MAX_BYTES = 20 * 1024 * 1024
ALLOWED_SUFFIXES = {".pdf", ".docx", ".doc", ".odt", ".txt", ".rtf", ".xlsx", ".xls", ".ods",
                    ".csv", ".png", ".jpg", ".jpeg", ".msg", ".eml", ".pptx"}


def clean_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f\"<>:|?*]", "", name).strip(" .")
    return name[:200] or "vedlegg"


def store(session: Session, *, instance_id: str, filename: str, content: bytes, actor: str,
          at: datetime, task_id: str | None = None, element_id: str | None = None,
          field: str | None = None) -> Attachment:
    name = clean_filename(filename)
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in ALLOWED_SUFFIXES:
        raise InvalidInput({field or "file": f"file type '{suffix or name}' is not accepted "
                            f"(accepted: {', '.join(sorted(ALLOWED_SUFFIXES))})"}).coded(
            "file_type_refused", file=name, suffix=suffix, accepted=sorted(ALLOWED_SUFFIXES))
    if not content:
        raise InvalidInput({field or "file": "the file is empty"}).coded("file_empty",
                                                                          file=name)
    if len(content) > MAX_BYTES:
        raise InvalidInput({field or "file": f"the file is larger than "
                            f"{MAX_BYTES // (1024 * 1024)} MB"}).coded(
            "file_too_large", file=name, limit=MAX_BYTES // (1024 * 1024))
    attachment = Attachment(
        instance_id=instance_id, task_id=task_id, element_id=element_id, field=field,
        filename=name, content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content,
        uploaded_by=actor, uploaded_at=at)
    session.add(attachment)
    session.flush()
    return attachment


def of_instance(session: Session, instance_id: str) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.instance_id == instance_id)
                                .order_by(Attachment.id)))

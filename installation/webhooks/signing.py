"""The signature a receiver checks: HMAC-SHA256 with the webhook's secret over the
timestamp, a dot and the body exactly as sent, given as `sha256=<hex>`."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Tiltak-Signature"
TIMESTAMP_HEADER = "X-Tiltak-Timestamp"
EVENT_ID_HEADER = "X-Tiltak-Event-Id"
EVENT_TYPE_HEADER = "X-Tiltak-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests): compare in constant time."""
    try:
        expected = sign(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature)

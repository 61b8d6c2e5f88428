"""Who sends a request: HTTP Basic with a Tiltak user's name and password, checked
(argon2, with the same pause after failed attempts) as the login page checks them, or
`Bearer` with an API token (`tiltak token create`), which acts for its user within its
scopes and processes. The session cookie of the web UI is never read here.
"""

from __future__ import annotations

import base64
import binascii

from flask import request

from engine.identity import tokens

from ..auth import engine

MAX_HEADER = 1024  # characters of an Authorization header: a name and a password


class NotSignedIn(Exception):
    """No credentials, or wrong ones: 401 with Camunda's Basic challenge."""


def signed_in() -> tuple[str, set[str], tokens.TokenHolder | None]:
    """The user the request's credentials name, their groups, and the token it came with
    (None for Basic)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and len(header) <= MAX_HEADER:
        holder = tokens.holder(engine().db, credentials.strip())
        if holder is None:
            raise NotSignedIn("the API token is unknown, revoked or its user disabled")
        return holder.user, engine().identity.groups(holder.user), holder
    if scheme.lower() != "basic" or not credentials or len(header) > MAX_HEADER:
        raise NotSignedIn("sign in with HTTP Basic: a Tiltak user's name and password")
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NotSignedIn("the Basic credentials are not base64 of name:password") from None
    name, colon, password = decoded.partition(":")
    if not colon:
        raise NotSignedIn("the Basic credentials are not base64 of name:password")
    user = engine().identity.authenticate(name.strip(), password)
    if user is None:
        raise NotSignedIn("wrong user name or password (after repeated failures, signing "
                          "in is paused for a while)")
    return user.name, engine().identity.groups(user.name), None


def token_allows(holder: tokens.TokenHolder | None, scope: str,
                 process_key: str | None = None) -> bool:
    """Whether the request's token (if it came with one) has the scope, and covers the
    process."""
    if holder is None:
        return True
    return holder.may(scope) and (process_key is None or holder.covers(process_key))

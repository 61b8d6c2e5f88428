"""API tokens for integrations: each acts for one user, within some actions (scopes) and
processes, is shown once, kept as its SHA-256 only, and can be revoked.

Why SHA-256 and not argon2 as for passwords: a token is 32 random bytes (256 bits), so no
guessing or dictionary can find it from its hash, however fast the hash; a slow hash only
protects secrets people choose. A fast one lets every API request find its token by an
indexed lookup of the hash, at no cost that an unauthenticated caller could multiply.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..database import Database
from ..errors import Conflict, InvalidInput, NotFound
from ..models import ApiToken, User

SCOPES = {
    "start": "start cases of its processes",
    "message": "send a message to a case of its processes",
    "read": "read a case of its processes, its status and its history",
    "tasks": "list the open tasks of its processes",
    "work": "claim, give back and complete those tasks",
    "cancel": "cancel a case of its processes, with a reason",
    # Camunda Modeler's deploy (/engine-rest), for a process owner's token
    "deploy": "deploy process files (its user must be a process owner)",
}
PREFIX = "tiltak_"  # marks a leaked token for secret scanners
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
PROCESS_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,199}")
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class TokenHolder:
    """Who a request with a valid token acts as, and what it may do."""

    token: str  # the token's name
    user: str
    scopes: frozenset[str]
    processes: frozenset[str] | None  # None: every process

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def covers(self, process_key: str) -> bool:
        return self.processes is None or process_key in self.processes


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(db: Database, name: str, *, user: str, scopes: Iterable[str],
           processes: Iterable[str] | None, now: datetime) -> tuple[ApiToken, str]:
    """A new token; returns its row and the token itself, which is never kept."""
    scopes = sorted({s.strip() for s in scopes if s.strip()})
    if not TOKEN_NAME.fullmatch(name):
        raise InvalidInput({"name": "a token name is 1 to 100 letters, digits and . _ -, "
                                    "beginning with a letter or digit"})
    if not scopes:
        raise InvalidInput({"--scope": f"give at least one of {', '.join(SCOPES)}"})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidInput({"--scope": f"'{unknown[0]}' is no scope; the scopes are "
                                       f"{', '.join(SCOPES)}"})
    if processes is not None:
        processes = sorted(set(processes))
        bad = [p for p in processes if not PROCESS_KEY.fullmatch(p)]
        if not processes or bad:
            raise InvalidInput({"--process": f"'{bad[0] if bad else ''}' is not a process "
                                             "key"})
    secret = PREFIX + secrets.token_urlsafe(32)
    try:
        with db.transaction() as session:
            if session.get(User, user) is None:
                raise NotFound(f"no user '{user}': the token acts for a user (tiltak users "
                               "add)")
            if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
                raise Conflict(f"a token named '{name}' exists already (a revoked one keeps "
                               "its name); choose another name")
            row = ApiToken(name=name, token_hash=digest(secret), user_name=user,
                           scopes=scopes, processes=processes, created_at=now)
            session.add(row)
    except IntegrityError:  # another made the same name meanwhile
        raise Conflict(f"a token named '{name}' exists already") from None
    return row, secret


def listed(db: Database) -> list[ApiToken]:
    with db.reading() as session:
        return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def revoke(db: Database, name: str, *, now: datetime) -> ApiToken:
    with db.transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == name))
        if row is None:
            raise NotFound(f"no token named '{name}'")
        if row.revoked_at is None:
            row.revoked_at = now
        return row


def holder(db: Database, token: str) -> TokenHolder | None:
    """The holder of a token that is valid now (not revoked, its user active), else None."""
    if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    with db.reading() as session:
        found = session.execute(
            select(ApiToken, User.active).join(User, User.name == ApiToken.user_name)
            .where(ApiToken.token_hash == digest(token))).first()
    if found is None:
        return None
    row, active = found
    if row.revoked_at is not None or not active:
        return None
    return TokenHolder(row.name, row.user_name, frozenset(row.scopes),
                       None if row.processes is None else frozenset(row.processes))

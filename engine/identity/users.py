"""Users and their groups; passwords hashed with argon2.

The engine authorises by group: only the assignee, a candidate user or a member of a
candidate group may claim or complete a task.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import User, UserGroup

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
# the name the engine writes for a reporter who stays anonymous: no person may have it
RESERVED_NAMES = {"anonym"}


def add_user(session: Session, name: str, groups: list[str], *, password: str | None = None,
             password_hash: str | None = None, display_name: str = "", email: str | None = None,
             language: str | None = None) -> User:
    """Create the user or update their groups (and password, when one is given, or its
    argon2 hash: many users given one password need it hashed only once)."""
    if not USER_NAME.fullmatch(name):
        raise InvalidInput({"name": "a user name is 1 to 100 letters (a-z), digits and . _ @ -, "
                                    "beginning with a letter or digit"})
    bad = [g for g in groups if not GROUP_NAME.fullmatch(g)]
    if bad:
        raise InvalidInput({"groups": f"not a group name: {bad[0]!r} (letters, digits and "
                                      ". _ - :, at most 200)"})
    if name.strip().lower() in RESERVED_NAMES:
        raise InvalidInput({"name": f"'{name}' is reserved (it stands for no person)"})
    user = session.get(User, name)
    if user is None:
        user = User(name=name, display_name=display_name or name, email=email,
                    language=language or "nb")
        session.add(user)
    elif display_name:
        user.display_name = display_name
    if password is not None:
        password_hash = hash_password(password)
    if password_hash is not None:
        if user.password_hash is not None:
            user.session_epoch = (user.session_epoch or 0) + 1  # a new password: sign in again
        user.password_hash = password_hash
    if email:
        user.email = email
    if language:
        user.language = language
    session.flush()
    session.execute(delete(UserGroup).where(UserGroup.user_name == name))
    for group in sorted(set(groups)):
        session.add(UserGroup(user_name=name, group_name=group))
    return user


_GROUPS_OF = select(UserGroup.group_name).where(UserGroup.user_name == bindparam("name"))


def groups_of(session: Session, name: str) -> set[str]:
    """The user's groups; NotFound for an unknown user."""
    groups = known_groups(session, name)
    if not groups and session.get(User, name) is None:
        raise NotFound(f"unknown user '{name}'").coded("unknown_user", name=name)
    return groups


_DUMMY_HASH = None


# consecutive failed sign-ins after which sign-in is paused, and for how long
MAX_FAILED_LOGINS = 10
PAUSE = timedelta(minutes=5)


def authenticate(session: Session, name: str, password: str, now: datetime) -> User | None:
    """The active user with this name and password, or None (same work either way).

    After MAX_FAILED_LOGINS failures in a row sign-in is paused for PAUSE, the right
    password included; the answer is the same None, so that it tells no one whether the
    name exists. The count is kept in the database, so every server process sees it."""
    global _DUMMY_HASH
    user = session.get(User, name)
    if user is None or not user.active or not user.password_hash:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not-a-password")
        check_password(User(name="", password_hash=_DUMMY_HASH), password)
        return None
    paused = user.locked_until is not None and _aware(user.locked_until) > now
    if check_password(user, password) and not paused:
        user.failed_logins = 0
        user.locked_until = None
        return user
    if not paused:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins = 0
            user.locked_until = now + PAUSE
    return None


def end_sessions(session: Session, name: str) -> None:
    """Every signed-in session of the user ends (logout, a new password, disabled)."""
    _user(session, name).session_epoch += 1


def set_active(session: Session, name: str, active: bool) -> None:
    """Let a user sign in, or not; disabling ends every session of theirs."""
    _user(session, name).active = active
    if not active:
        end_sessions(session, name)


def known_groups(session: Session, name: str) -> set[str]:
    """The groups of a name that may be no user (an anonymous reporter): none, then."""
    return set(session.connection().scalars(_GROUPS_OF, {"name": name}))


def _user(session: Session, name: str) -> User:
    user = session.get(User, name)
    if user is None:
        raise NotFound(f"unknown user '{name}'").coded("unknown_user", name=name)
    return user


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

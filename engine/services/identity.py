"""Users and groups: sign-in, sessions, the groups kept per request,
notifications."""

from __future__ import annotations

import time

from sqlalchemy import select

from ..core import (
    OPERATOR,
    USER_SECONDS,
    EngineCore,
)
from ..errors import (
    NotFound,
)
from ..identity import (
    users,
)
from ..identity.users import authenticate, groups_of
from ..models import (
    Notification,
    User,
    UserGroup,
)


class IdentityService(EngineCore):
    def groups(self, user: str) -> set[str]:
        with self.db.reading() as session:
            return groups_of(session, user)

    def authenticate(self, name: str, password: str) -> User | None:
        with self.db.transaction() as session:
            return authenticate(session, name, password, self.clock.now())

    def sign_in_from_provider(self, name: str, groups: list[str], *, display_name: str = "",
                              email: str | None = None) -> User | None:
        """A user the identity provider vouches for: created on first sign-in (with no
        password), their groups replaced by the provider's on every sign-in, so that a
        group taken away there counts at the next sign-in; None for a disabled user."""
        with self.db.transaction() as session:
            user = session.get(User, name)
            if user is not None and not user.active:
                return None
            user = users.add_user(session, name, groups, display_name=display_name,
                                  email=email or None)
        self._users.pop(name, None)
        return user

    def set_active(self, name: str, active: bool) -> None:
        """Let a user sign in, or not; disabling ends every session of theirs."""
        with self.db.transaction() as session:
            users.set_active(session, name, active)
        self._users.pop(name, None)

    def end_sessions(self, name: str) -> None:
        """Every signed-in session of the user ends, in every server process (logout)."""
        with self.db.transaction() as session:
            users.end_sessions(session, name)
        self._users.pop(name, None)

    def people(self, groups: list[str] | tuple[str, ...] = ()) -> list[User]:
        """Active users (in any of these groups, when some are given), by display name:
        whom a people picker offers."""
        with self.db.reading() as session:
            query = select(User).where(User.active.is_(True))
            if groups:
                query = query.where(User.name.in_(select(UserGroup.user_name).where(
                    UserGroup.group_name.in_(list(groups)))))
            return list(session.scalars(query.order_by(User.display_name, User.name)))

    def user(self, name: str) -> User | None:
        with self.db.reading() as session:
            return session.get(User, name)

    def user_and_groups(self, name: str) -> tuple[User | None, set[str]]:
        """A signed-in user and their groups, read together; kept for USER_SECONDS, so
        that a user's requests do not each read them again (a change made anywhere,
        a user disabled say, counts everywhere within that time)."""
        now = time.monotonic()
        kept = self._users.get(name)
        if kept is not None and kept[0] > now:
            return kept[1], set(kept[2])
        with self.db.reading() as session:
            user = session.get(User, name)
            groups = groups_of(session, name) if user is not None else set()
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[name] = (now + USER_SECONDS, user, frozenset(groups))
        return user, groups

    def notifications(self, user: str, *, unread_only: bool = False,
                      limit: int = 100) -> list[Notification]:
        with self.db.reading() as session:
            query = select(Notification).where(Notification.user_name == user)
            if unread_only:
                query = query.where(Notification.read_at.is_(None))
            return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))

    def mark_read(self, user: str) -> None:
        with self.db.transaction() as session:
            for note in session.scalars(select(Notification).where(
                    Notification.user_name == user, Notification.read_at.is_(None))):
                note.read_at = self.clock.now()

    def _groups(self, actor: str, *, operator: bool = True) -> set[str]:
        """The actor's groups as kept for USER_SECONDS (`user_and_groups`): a request has
        read them already; the operator, who is no user, has none; NotFound for anyone
        else who is no user."""
        if operator and actor == OPERATOR:
            return set()
        user, groups = self.user_and_groups(actor)
        if user is None:
            raise NotFound(f"unknown user '{actor}'").coded("unknown_user", name=actor)
        return groups

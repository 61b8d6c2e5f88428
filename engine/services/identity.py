"""Users and groups: sign-in, sessions, the groups kept per request,
notifications."""

from __future__ import annotations

from sqlalchemy import select

from ..core import Service
from ..identity import (
    users,
)
from ..identity.users import authenticate, groups_of
from ..models import (
    Notification,
    User,
    UserGroup,
)


class IdentityService(Service):
    def groups(self, user: str) -> set[str]:
        with self.core.db.reading() as session:
            return groups_of(session, user)

    def authenticate(self, name: str, password: str) -> User | None:
        with self.core.db.transaction() as session:
            return authenticate(session, name, password, self.core.clock.now())

    def sign_in_from_provider(self, name: str, groups: list[str], *, display_name: str = "",
                              email: str | None = None) -> User | None:
        """A user the identity provider vouches for: created on first sign-in (with no
        password), their groups replaced by the provider's on every sign-in, so that a
        group taken away there counts at the next sign-in; None for a disabled user."""
        with self.core.db.transaction() as session:
            user = session.get(User, name)
            if user is not None and not user.active:
                return None
            user = users.add_user(session, name, groups, display_name=display_name,
                                  email=email or None)
        self.core._users.pop(name, None)
        return user

    def set_active(self, name: str, active: bool) -> None:
        """Let a user sign in, or not; disabling ends every session of theirs."""
        with self.core.db.transaction() as session:
            users.set_active(session, name, active)
        self.core._users.pop(name, None)

    def end_sessions(self, name: str) -> None:
        """Every signed-in session of the user ends, in every server process (logout)."""
        with self.core.db.transaction() as session:
            users.end_sessions(session, name)
        self.core._users.pop(name, None)

    def people(self, groups: list[str] | tuple[str, ...] = ()) -> list[User]:
        """Active users (in any of these groups, when some are given), by display name:
        whom a people picker offers."""
        with self.core.db.reading() as session:
            query = select(User).where(User.active.is_(True))
            if groups:
                query = query.where(User.name.in_(select(UserGroup.user_name).where(
                    UserGroup.group_name.in_(list(groups)))))
            return list(session.scalars(query.order_by(User.display_name, User.name)))

    def user(self, name: str) -> User | None:
        with self.core.db.reading() as session:
            return session.get(User, name)

    def user_and_groups(self, name: str) -> tuple[User | None, set[str]]:
        """A signed-in user and their groups, read together and kept a while (the core's
        `user_and_groups`)."""
        return self.core.user_and_groups(name)

    def notifications(self, user: str, *, unread_only: bool = False,
                      limit: int = 100) -> list[Notification]:
        with self.core.db.reading() as session:
            query = select(Notification).where(Notification.user_name == user)
            if unread_only:
                query = query.where(Notification.read_at.is_(None))
            return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))

    def mark_read(self, user: str) -> None:
        with self.core.db.transaction() as session:
            for note in session.scalars(select(Notification).where(
                    Notification.user_name == user, Notification.read_at.is_(None))):
                note.read_at = self.core.clock.now()

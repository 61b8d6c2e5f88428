"""The session cookie, signed as Flask signs it, with two costs of every request taken off:

- a signed-in session still slides (its lifetime counts from the last request), but the
  cookie is signed and sent again only once it is older than SESSION_REFRESH_AFTER, or
  when the session changed, not on every response (signing took about a tenth of an
  API completion's time in the web process);
- the signing serializer and its derived keys are made once per secret key, not twice
  per request.

A session thus ends at most SESSION_REFRESH_AFTER earlier than its lifetime after the
last request; ending sessions on the server (webui/auth.py) is not touched by this.
"""

from __future__ import annotations

import functools
import time
from datetime import timedelta

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

REFRESH_AFTER = timedelta(seconds=60)


class SignedSession(SecureCookieSession):
    """A session, with when its cookie was last signed (None: new, or not read from one)."""

    signed_at: float | None = None


class _KeyKeepingSigner(TimestampSigner):
    """itsdangerous's signer, deriving each key once: the derivation (an HMAC over the
    salt) gives the same key every time."""

    def derive_key(self, secret_key=None) -> bytes:
        secret_key = self.secret_keys[-1] if secret_key is None else secret_key
        return _derived(secret_key, self.salt, self.key_derivation, self.digest_method)


@functools.lru_cache(maxsize=64)
def _derived(secret_key, salt, derivation, digest) -> bytes:
    """The key itsdangerous derives from these inputs (it depends on nothing else)."""
    return TimestampSigner(secret_key, salt=salt, key_derivation=derivation,
                           digest_method=digest).derive_key()


class SessionCookies(SecureCookieSessionInterface):
    session_class = SignedSession

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        return _serializer(self, keys)

    def open_session(self, app: Flask, request: Request) -> SignedSession | None:
        signing = self.get_signing_serializer(app)
        if signing is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data, signed_at = signing.loads(
                value, max_age=int(app.permanent_session_lifetime.total_seconds()),
                return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at.timestamp()
        return session

    def should_set_cookie(self, app: Flask, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        after = app.config.get("SESSION_REFRESH_AFTER", REFRESH_AFTER)
        return signed_at is None or time.time() - signed_at >= after.total_seconds()


@functools.lru_cache(maxsize=16)
def _serializer(interface: SessionCookies, keys: tuple) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        list(keys), salt=interface.salt, serializer=interface.serializer,
        signer=_KeyKeepingSigner,
        signer_kwargs={"key_derivation": interface.key_derivation,
                       "digest_method": interface.digest_method})


def init_app(app: Flask) -> None:
    app.session_interface = SessionCookies()

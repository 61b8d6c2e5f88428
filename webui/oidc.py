"""Sign-in with OpenID Connect (Authlib): the authorization code flow with PKCE, the ID
token verified, users made just in time with the groups their claims give them, and
logout at the provider. Configured by TILTAK_OIDC_* (README, "Signing in with the
hospital's identity provider").
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user
from joserfc.errors import JoseError

from engine.identity.users import GROUP_NAME, USER_NAME

bp = Blueprint("oidc", __name__)

# TILTAK_<name> -> app.config key, and its default
SETTINGS = {
    "OIDC_ISSUER": "",
    "OIDC_DISCOVERY_URL": "",  # default: the issuer's /.well-known/openid-configuration
    "OIDC_CLIENT_ID": "",
    "OIDC_CLIENT_SECRET": "",
    "OIDC_SCOPES": "openid profile email",
    "OIDC_PROVIDER_NAME": "",  # default: the issuer's host
    "OIDC_USERNAME_CLAIM": "preferred_username",
    "OIDC_NAME_CLAIM": "name",
    "OIDC_EMAIL_CLAIM": "email",
    "OIDC_GROUPS_CLAIM": "groups",
    "OIDC_CLINIC_CLAIM": "",
    "OIDC_GROUP_MAP": "",  # JSON: provider's group -> Tiltak group(s); default the same names
    "OIDC_TIMEOUT_SECONDS": "10",
    "LOCAL_LOGIN": "1",  # 0: no passwords, only the identity provider
}
SESSION_TOKEN = "oidc_id_token"
SESSION_NEXT = "oidc_next"
CLINIC = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}")
TOKEN_CHECKS_LEEWAY = 60  # seconds of clock difference tolerated on exp, iat and nbf


class OidcSettingsError(ValueError):
    """A TILTAK_OIDC_* setting that cannot be used; the message names it."""


def configured(app: Flask | None = None) -> bool:
    return "tiltak_oidc" in (app or current_app).extensions


def local_login(app: Flask | None = None) -> bool:
    return (app or current_app).config["LOCAL_LOGIN"] not in ("0", 0, False, "false", "no")


def provider_name() -> str:
    return current_app.extensions["tiltak_oidc"]["name"]


def group_map(text: str) -> dict[str, list[str]] | None:
    """TILTAK_OIDC_GROUP_MAP read: a JSON object from the provider's group names to a
    Tiltak group or a list of them (which may say `{clinic}`); None when not set."""
    if not text.strip():
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OidcSettingsError(f"TILTAK_OIDC_GROUP_MAP is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise OidcSettingsError("TILTAK_OIDC_GROUP_MAP must be a JSON object "
                                "(the provider's group name -> Tiltak group or groups)")
    mapping: dict[str, list[str]] = {}
    for source, target in doc.items():
        targets = [target] if isinstance(target, str) else target
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise OidcSettingsError(f"TILTAK_OIDC_GROUP_MAP[{source!r}] must be a group name "
                                    "or a list of group names")
        for name in targets:
            if not GROUP_NAME.fullmatch(name.replace("{clinic}", "x")):
                raise OidcSettingsError(f"TILTAK_OIDC_GROUP_MAP[{source!r}]: {name!r} is not a "
                                        "group name (letters, digits and . _ - :)")
        mapping[source] = targets
    return mapping


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (`realm_access.roles`)."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def tiltak_groups(claims: Mapping[str, Any], *, groups_claim: str, clinic_claim: str,
                  mapping: dict[str, list[str]] | None) -> list[str]:
    """The Tiltak groups the claims give: the provider's groups mapped (or the same names
    when no mapping is set), `{clinic}` filled from the clinic claim. Least privilege: no
    claim, no group; a group that needs a clinic the claims do not name is not given."""
    given = claim(claims, groups_claim)
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list):
        return []
    clinic = claim(claims, clinic_claim) if clinic_claim else None
    if not (isinstance(clinic, str) and CLINIC.fullmatch(clinic)):
        clinic = None
    found: set[str] = set()
    for name in given:
        if not isinstance(name, str):
            continue
        for target in (mapping.get(name, []) if mapping is not None else [name]):
            if "{clinic}" in target:
                if clinic is None:
                    continue
                target = target.replace("{clinic}", clinic)
            if GROUP_NAME.fullmatch(target):
                found.add(target)
    return sorted(found)


class SignInRefused(Exception):
    """The sign-in did not succeed; the message is for the login page."""


@bp.get("/login/oidc")
def start():
    """Off to the provider's login page: state, nonce and a PKCE verifier kept in the
    session for the way back."""
    if not configured():
        return redirect(url_for("auth.login"))
    from .auth import _safe_next
    session[SESSION_NEXT] = _safe_next(request.args.get("next"))
    try:
        _check_issuer()
        return _client().authorize_redirect(url_for("oidc.callback", _external=True))
    except (requests.RequestException, ValueError, KeyError) as exc:
        current_app.logger.warning("identity provider unreachable: %s", exc)
        flash(_("%(provider)s could not be reached. Try again in a while, or ask your IT "
                "department.", provider=provider_name()), "error")
        return redirect(url_for("auth.login"))


@bp.get("/login/oidc/callback")
def callback():
    if not configured():
        return redirect(url_for("auth.login"))
    target = session.get(SESSION_NEXT) or url_for("tasks.worklist")
    try:
        token, claims = _verified_answer()
        user = _user_from(claims)
    except SignInRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for("auth.login"))
    from .auth import _web_user, engine
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN] = token["id_token"]  # the hint for logout at the provider
    login_user(_web_user(user, engine().identity.groups(user.name)))
    return redirect(target)


def _verified_answer() -> tuple[dict[str, Any], dict[str, Any]]:
    """The token response and the ID token's claims, verified by Authlib: the state
    matches one started in this session, the code is exchanged with the PKCE verifier,
    the ID token's signature (the provider's published keys), issuer, audience, expiry
    and nonce are checked. Claims missing from the ID token are read at the userinfo
    endpoint."""
    name = provider_name()
    error = request.args.get("error")
    if error:
        current_app.logger.info("identity provider answered %s: %s", error[:60],
                                request.args.get("error_description", "")[:200])
        if error == "access_denied":
            raise SignInRefused(_("Signing in at %(provider)s was cancelled. You are not "
                                  "logged in.", provider=name))
        raise SignInRefused(_("%(provider)s refused the sign-in (%(error)s). You are not "
                              "logged in.", provider=name, error=error[:60]))
    settings = current_app.config
    checks = {"iss": {"essential": True, "value": settings["OIDC_ISSUER"]},
              "aud": {"essential": True, "value": settings["OIDC_CLIENT_ID"]},
              "exp": {"essential": True}}
    client = _client()
    try:
        token = client.authorize_access_token(claims_options=checks,
                                              leeway=TOKEN_CHECKS_LEEWAY)
        if "id_token" not in token or "userinfo" not in token:
            raise SignInRefused(_("The answer from %(provider)s could not be verified, so "
                                  "you are not logged in. Please try again.", provider=name))
        claims = dict(token["userinfo"])
        wanted = [settings[k] for k in ("OIDC_USERNAME_CLAIM", "OIDC_GROUPS_CLAIM",
                                        "OIDC_NAME_CLAIM") if settings[k]]
        if any(claim(claims, w) is None for w in wanted) \
                and client.load_server_metadata().get("userinfo_endpoint"):
            more = client.userinfo(token=token)
            if more.get("sub") == claims["sub"]:
                claims = {**more, **claims}
    except MismatchingStateError as exc:
        current_app.logger.warning("sign-in refused, state: %s", exc)
        raise SignInRefused(_("This sign-in was not started here, or it has expired. "
                              "Please log in again.")) from exc
    except requests.RequestException as exc:
        current_app.logger.warning("identity provider unreachable: %s", exc)
        raise SignInRefused(_("%(provider)s could not be reached. Try again in a while, or "
                              "ask your IT department.", provider=name)) from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as exc:
        current_app.logger.warning("sign-in refused, ID token: %r", exc)
        raise SignInRefused(_("The answer from %(provider)s could not be verified, so you "
                              "are not logged in. Please try again.", provider=name)) from exc
    return token, claims


def _user_from(claims: dict[str, Any]):
    """The Tiltak user the claims name, made on first sign-in, groups replaced."""
    from .auth import engine
    settings = current_app.config
    name = claim(claims, settings["OIDC_USERNAME_CLAIM"])
    if not (isinstance(name, str) and USER_NAME.fullmatch(name)):
        raise SignInRefused(_("Your account at %(provider)s has no user name Tiltak can use "
                              "(the claim %(claim)s). Ask your IT department.",
                              provider=provider_name(),
                              claim=settings["OIDC_USERNAME_CLAIM"]))
    groups = tiltak_groups(claims, groups_claim=settings["OIDC_GROUPS_CLAIM"],
                           clinic_claim=settings["OIDC_CLINIC_CLAIM"],
                           mapping=current_app.extensions["tiltak_oidc"]["map"])
    display = claim(claims, settings["OIDC_NAME_CLAIM"])
    email = claim(claims, settings["OIDC_EMAIL_CLAIM"])
    user = engine().identity.sign_in_from_provider(
        name, groups, display_name=display[:200] if isinstance(display, str) else "",
        email=email[:200] if isinstance(email, str) else None)
    if user is None:
        raise SignInRefused(_("Your user is disabled in Tiltak. Ask your IT department."))
    current_app.logger.info("signed in through the identity provider: %s, groups %s",
                            name, ",".join(groups) or "none")
    return user


def logout_address() -> str | None:
    """Where a user signed in through the provider goes to be signed out there too
    (RP-initiated logout with the ID token as hint, back to the login page); None for a
    local sign-in, or when the provider offers no end-session endpoint."""
    hint = session.get(SESSION_TOKEN)
    if not (hint and configured()):
        return None
    try:
        return _client().create_logout_url(
            post_logout_redirect_uri=url_for("auth.login", _external=True),
            id_token_hint=hint, client_id=current_app.config["OIDC_CLIENT_ID"])["url"]
    except (requests.RequestException, RuntimeError, ValueError) as exc:
        current_app.logger.warning("no logout at the identity provider: %s", exc)
        return None


def _client():
    return current_app.extensions["tiltak_oidc"]["oauth"].create_client("provider")


def _check_issuer() -> None:
    """The discovery document must name the configured issuer (a look-alike is refused)."""
    said = _client().load_server_metadata().get("issuer")
    if said != current_app.config["OIDC_ISSUER"]:
        raise ValueError(f"the discovery document names the issuer {said!r}, not "
                         f"{current_app.config['OIDC_ISSUER']!r} (TILTAK_OIDC_ISSUER)")


def _origin(address: str) -> str:
    parts = urlsplit(address)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise OidcSettingsError(f"not an http(s) address: {address!r} (TILTAK_OIDC_ISSUER, "
                                "TILTAK_OIDC_DISCOVERY_URL)")
    return f"{parts.scheme}://{parts.netloc}"


def init_app(app: Flask, environ: Mapping[str, str] = os.environ) -> None:
    """Read the settings (app.config first, then TILTAK_*) and register the provider."""
    for key, default in SETTINGS.items():
        app.config.setdefault(key, environ.get(f"TILTAK_{key}", default))
    app.register_blueprint(bp)
    issuer = app.config["OIDC_ISSUER"].strip()
    if not issuer:
        if not local_login(app):
            raise OidcSettingsError("TILTAK_LOCAL_LOGIN=0 needs an identity provider: "
                                    "set TILTAK_OIDC_ISSUER")
        return
    for key in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        if not app.config[key]:
            raise OidcSettingsError(f"TILTAK_OIDC_ISSUER is set, TILTAK_{key} is not")
    if "openid" not in app.config["OIDC_SCOPES"].split():
        raise OidcSettingsError("TILTAK_OIDC_SCOPES must include openid")
    try:
        timeout = float(app.config["OIDC_TIMEOUT_SECONDS"])
    except ValueError as exc:
        raise OidcSettingsError("TILTAK_OIDC_TIMEOUT_SECONDS must be a number") from exc
    discovery = app.config["OIDC_DISCOVERY_URL"] or \
        issuer.rstrip("/") + "/.well-known/openid-configuration"
    oauth = OAuth(app)
    oauth.register(
        "provider", client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"], server_metadata_url=discovery,
        client_kwargs={"scope": app.config["OIDC_SCOPES"], "code_challenge_method": "S256",
                       "default_timeout": timeout})
    name = app.config["OIDC_PROVIDER_NAME"] or urlsplit(issuer).hostname
    # logging out is a form whose answer leads on to the provider's end-session page
    app.config["FORM_TARGETS"] = "".join(sorted({" " + _origin(issuer), " " + _origin(discovery)}))
    app.extensions["tiltak_oidc"] = {"oauth": oauth, "name": name,
                                     "map": group_map(app.config["OIDC_GROUP_MAP"])}

"""Sign-in with OpenID Connect against a real provider on loopback (oidc-provider), on
SQLite and PostgreSQL: users made just in time with the claims' groups, groups replaced
at every sign-in, a wrong state, a tampered, expired or foreign ID token refused, logout
at the provider.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from engine.identity.users import add_user
from webui import create_app, oidc

from oidc_provider import running_provider, sign_in_at_provider

CALLBACK = "http://localhost/login/oidc/callback"
LOGIN = "http://localhost/login"
ODA = {"preferred_username": "oda.olsen", "name": "Oda Olsen", "email": "oda@sykehus.example",
       "groups": ["kpu-sekretariat-kir", "Alle ansatte", "ledelse"]}


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider(tmp_path_factory.mktemp("provider"), {"oda": ODA},
                          redirect_uris=[CALLBACK], post_logout_redirect_uris=[LOGIN]) as p:
        yield p


@pytest.fixture
def make_app(engine, tmp_path):
    def make(settings: dict):
        app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), **settings},
                         engine=engine)
        return app.test_client()
    return make


@pytest.fixture
def client(make_app, provider):
    provider.set_accounts({"oda": ODA})
    return make_app(provider.settings())


def sign_in(client, login: str = "oda", *, cancel: bool = False):
    """Through the provider's pages with a fresh browser of one's own; the web UI's answer
    to the provider's redirect back."""
    start = client.get("/login/oidc")
    assert start.status_code == 302, start.text
    callback = sign_in_at_provider(requests.Session(), start.headers["Location"], login,
                                   cancel=cancel)
    assert callback.startswith(CALLBACK), callback
    return client.get(callback)


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def flashed(client) -> str:
    page = client.get("/login").text
    return " ".join(re.findall(r'<p class="flash[^"]*" role="status">([^<]*)</p>', page))


def test_the_login_page_offers_the_provider_and_the_passwords(client, make_app, provider,
                                                             engine):
    page = client.get("/login").text
    assert "Logg inn med Testpartner ID" in page and 'name="password"' in page
    assert "Logga in med Testpartner ID" in client.get("/login?lang=sv").text
    only_provider = make_app(provider.settings(LOCAL_LOGIN="0"))
    page = only_provider.get("/login").text
    assert "Logg inn med Testpartner ID" in page and 'name="password"' not in page
    with engine.db.transaction() as session:
        add_user(session, "sigrid", ["kpu-sekretariat-kir"], password="riktig-passord")
    no_csrf = {"WTF_CSRF_ENABLED": False}
    answer = make_app({**provider.settings(), **no_csrf}).post(
        "/login", data={"username": "sigrid", "password": "riktig-passord"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    passwords_off = make_app({**provider.settings(LOCAL_LOGIN="0"), **no_csrf})
    answer = passwords_off.post("/login", data={"username": "sigrid",
                                                "password": "riktig-passord"})
    assert answer.headers["Location"] == "/login" and not signed_in(passwords_off)


def test_first_sign_in_makes_the_user_with_the_groups_of_the_claims(client, engine):
    start = client.get("/login/oidc?next=/mine")
    asked = parse_qs(urlsplit(start.headers["Location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) >= 43
    assert asked["state"][0] and asked["nonce"][0] and asked["client_id"] == ["tiltak"]
    assert "openid" in asked["scope"][0].split()
    assert engine.identity.user("oda.olsen") is None
    callback = sign_in_at_provider(requests.Session(), start.headers["Location"], "oda")
    answer = client.get(callback)
    assert answer.status_code == 302 and answer.headers["Location"] == "/mine"
    user = engine.identity.user("oda.olsen")
    assert user.display_name == "Oda Olsen" and user.email == "oda@sykehus.example"
    assert user.password_hash is None  # no password: only the provider signs them in
    # "Alle ansatte" is no group name Tiltak can hold; the rest are the same names
    assert engine.identity.groups("oda.olsen") == {"kpu-sekretariat-kir", "ledelse"}
    assert signed_in(client) and "Oda Olsen" in client.get("/").text


def test_every_sign_in_replaces_the_groups_with_the_claims(client, engine, provider):
    sign_in(client)
    assert engine.identity.groups("oda.olsen") == {"kpu-sekretariat-kir", "ledelse"}
    provider.set_accounts({"oda": {**ODA, "groups": ["kpu-sekretariat-med"]}})
    sign_in(client)
    assert engine.identity.groups("oda.olsen") == {"kpu-sekretariat-med"}
    provider.set_accounts({"oda": {k: v for k, v in ODA.items() if k != "groups"}})
    sign_in(client)
    assert engine.identity.groups("oda.olsen") == set()  # no claim, no group
    assert signed_in(client)


def test_claims_the_id_token_leaves_out_are_read_at_userinfo(make_app, engine, tmp_path):
    # a provider that keeps the ID token to the claims OpenID Connect requires
    with running_provider(tmp_path / "strict", {"oda": ODA}, redirect_uris=[CALLBACK],
                          post_logout_redirect_uris=[LOGIN],
                          claims_in_id_token=False) as strict:
        client = make_app(strict.settings())
        sign_in(client)
    with client.session_transaction() as kept:
        payload = kept[oidc.SESSION_TOKEN].split(".")[1]
    id_token = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert "groups" not in id_token and "name" not in id_token
    assert engine.identity.groups("oda.olsen") == {"kpu-sekretariat-kir", "ledelse"}
    assert engine.identity.user("oda.olsen").display_name == "Oda Olsen"


def test_groups_mapped_and_the_clinic_from_its_claim(make_app, engine, provider):
    provider.set_accounts({"oda": {**ODA, "clinic": "kir",
                                   "groups": ["KPU-Sekretariat", "Leder", "Alle ansatte"]}})
    client = make_app(provider.settings(
        OIDC_CLINIC_CLAIM="clinic", OIDC_GROUP_MAP=json.dumps({
            "KPU-Sekretariat": "kpu-sekretariat-{clinic}",
            "Leder": ["leder-{clinic}", "ledelse"]})))
    sign_in(client)
    assert engine.identity.groups("oda.olsen") == {"kpu-sekretariat-kir", "leder-kir", "ledelse"}
    provider.set_accounts({"oda": {**ODA, "groups": ["KPU-Sekretariat", "Leder"]}})
    sign_in(client)
    assert engine.identity.groups("oda.olsen") == {"ledelse"}  # no clinic: no clinic's group


def test_a_wrong_or_foreign_state_is_refused(client, make_app, provider, engine):
    start = client.get("/login/oidc")
    callback = sign_in_at_provider(requests.Session(), start.headers["Location"], "oda")
    state = parse_qs(urlsplit(callback).query)["state"][0]
    assert client.get(callback.replace(state, "not-the-state")).status_code == 302
    assert "ble ikke startet her" in flashed(client)
    assert not signed_in(client) and engine.identity.user("oda.olsen") is None
    # the right answer carried to another browser (a login planted on someone else)
    other = make_app(provider.settings())
    other.get(callback)
    assert not signed_in(other) and engine.identity.user("oda.olsen") is None
    client.get(callback)  # in the browser that started it, the answer is good
    assert signed_in(client)
    client.get(callback)  # once
    assert "ble ikke startet her" in flashed(client)


def test_cancelling_at_the_provider_logs_no_one_in(client, engine):
    sign_in(client, cancel=True)
    assert "Innloggingen hos Testpartner ID ble avbrutt" in flashed(client)
    assert not signed_in(client) and engine.identity.user("oda.olsen") is None


def test_an_expired_id_token_is_refused(make_app, engine, tmp_path):
    # the provider's clock two hours behind: the hour-long ID token ran out an hour ago
    with running_provider(tmp_path / "late", {"oda": ODA}, redirect_uris=[CALLBACK],
                          post_logout_redirect_uris=[LOGIN],
                          clock_skew_seconds=-7200) as late:
        client = make_app(late.settings())
        sign_in(client)
    assert "Svaret fra Testpartner ID kunne ikke bekreftes" in flashed(client)
    assert not signed_in(client) and engine.identity.user("oda.olsen") is None


class Relay(ThreadingHTTPServer):
    """Between the web UI and the provider: passes everything on, and changes the ID
    token (`tamper`) or claims to be the issuer itself (`impostor`)."""

    def __init__(self, provider, mode: str):
        self.provider, self.mode = provider, mode
        super().__init__(("127.0.0.1", 0), RelayHandler)
        self.origin = f"http://127.0.0.1:{self.server_port}"


class RelayHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.relay()

    def do_POST(self):
        self.relay()

    def relay(self):
        relay: Relay = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("authorization", "content-type", "accept")}
        answer = requests.request(self.command, relay.provider.issuer + self.path, data=body,
                                  headers=headers, timeout=10)
        content = answer.content
        if self.path.startswith("/.well-known/openid-configuration"):
            doc = answer.json()
            doc["token_endpoint"] = relay.origin + "/token"
            if relay.mode == "impostor":
                doc["issuer"] = relay.origin
            content = json.dumps(doc).encode()
        elif self.path == "/token" and answer.ok and relay.mode == "tamper":
            doc = answer.json()
            header, payload, signature = doc["id_token"].split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["groups"] = [*claims.get("groups", []), "prosesseier"]
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
            doc["id_token"] = ".".join([header, payload.decode(), signature])
            content = json.dumps(doc).encode()
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args):
        pass


@pytest.fixture
def relay(provider):
    servers = []

    def start(mode: str) -> Relay:
        server = Relay(provider, mode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_id_token_changed_on_the_way_is_refused(make_app, engine, provider, relay):
    between = relay("tamper")
    client = make_app(provider.settings(
        OIDC_DISCOVERY_URL=between.origin + "/.well-known/openid-configuration"))
    sign_in(client)
    assert "Svaret fra Testpartner ID kunne ikke bekreftes" in flashed(client)
    assert not signed_in(client) and engine.identity.user("oda.olsen") is None


def test_an_id_token_from_another_issuer_is_refused(make_app, engine, provider, relay):
    impostor = relay("impostor")
    client = make_app(provider.settings(OIDC_ISSUER=impostor.origin))
    sign_in(client)
    assert "Svaret fra Testpartner ID kunne ikke bekreftes" in flashed(client)
    assert not signed_in(client) and engine.identity.user("oda.olsen") is None


def test_a_discovery_document_naming_another_issuer_is_refused(make_app, provider, relay):
    impostor = relay("impostor")
    client = make_app(provider.settings(
        OIDC_DISCOVERY_URL=impostor.origin + "/.well-known/openid-configuration"))
    assert client.get("/login/oidc").headers["Location"] == "/login"
    assert "Testpartner ID svarer ikke" in flashed(client)


def test_a_provider_that_is_down_is_said_so(make_app, provider):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_port
    closed.server_close()
    client = make_app(provider.settings(OIDC_ISSUER=f"http://127.0.0.1:{port}",
                                        OIDC_TIMEOUT_SECONDS="2"))
    assert client.get("/login/oidc").headers["Location"] == "/login"
    assert "Testpartner ID svarer ikke" in flashed(client)
    client.get("/login?lang=sv")
    client.get("/login/oidc")
    assert "Testpartner ID svarar inte" in flashed(client)


def test_a_disabled_user_is_not_let_in(client, engine):
    sign_in(client)
    engine.identity.set_active("oda.olsen", False)
    assert not signed_in(client)
    sign_in(client)
    assert "deaktivert" in flashed(client) and not signed_in(client)


def test_logout_ends_the_session_here_and_at_the_provider(client, engine):
    sign_in(client)
    id_token = None
    with client.session_transaction() as kept:
        id_token = kept[oidc.SESSION_TOKEN]
    page = client.get("/").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/logout", data={"csrf_token": csrf})
    assert answer.status_code == 302
    address = urlsplit(answer.headers["Location"])
    asked = parse_qs(address.query)
    discovery = requests.get(engine_issuer(client) + "/.well-known/openid-configuration",
                             timeout=10).json()
    assert answer.headers["Location"].startswith(discovery["end_session_endpoint"] + "?")
    assert asked["id_token_hint"] == [id_token]
    assert asked["post_logout_redirect_uri"] == [LOGIN] and asked["client_id"] == ["tiltak"]
    assert not signed_in(client)
    assert "Du er logget ut" in flashed(client)
    # the logout form's answer may lead on to the provider (Content-Security-Policy)
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {engine_issuer(client)}" in csp


def engine_issuer(client) -> str:
    return client.application.config["OIDC_ISSUER"]


def test_settings_that_cannot_work_are_named(engine, tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path / "instance")}
    with pytest.raises(oidc.OidcSettingsError, match="TILTAK_OIDC_CLIENT_ID"):
        create_app({**base, "OIDC_ISSUER": "https://idp.example"}, engine=engine)
    with pytest.raises(oidc.OidcSettingsError, match="TILTAK_OIDC_GROUP_MAP is not JSON"):
        create_app({**base, "OIDC_ISSUER": "https://idp.example", "OIDC_CLIENT_ID": "a",
                    "OIDC_CLIENT_SECRET": "b", "OIDC_GROUP_MAP": "{nope"}, engine=engine)
    with pytest.raises(oidc.OidcSettingsError, match="needs an identity provider"):
        create_app({**base, "LOCAL_LOGIN": "0"}, engine=engine)


def test_every_sign_in_message_is_translated():
    marked = {msgid for _line, msgid, _comments, _context
              in extract_from_file("python", oidc.__file__) if isinstance(msgid, str)}
    marked.add("Log in with %(provider)s")
    assert len(marked) >= 8
    for language in ("nb", "sv"):
        path = Path(oidc.__file__).parent / "translations" / language / "LC_MESSAGES"
        with (path / "messages.po").open("rb") as f:
            catalog = read_po(f)
        for msgid in marked:
            entry = catalog.get(msgid)
            assert entry is not None and entry.string and not entry.fuzzy, (language, msgid)

"""Sessions end on the server (logout, a new password, an administrator) and sign-in pauses
after a run of wrong passwords, in every server process alike."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from command_line import CommandLine
from test_webui import PASSWORD, app, login  # noqa: F401 - the app fixture

from engine import core
from engine.identity.users import MAX_FAILED_LOGINS, add_user


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def replayed(app, cookie: str):  # noqa: F811
    """A request from someone else holding a copy of the cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/")


@pytest.fixture
def at_once(monkeypatch):
    """Other server processes read a changed user at once (they keep one for seconds)."""
    monkeypatch.setattr(core, "USER_SECONDS", 0.0)


def test_a_copied_cookie_is_refused_after_logout(app):  # noqa: F811
    client = app.test_client()
    login(client, "frida")
    cookie = session_cookie(client)
    assert replayed(app, cookie).status_code == 200
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    response = replayed(app, cookie)
    assert response.status_code == 302 and "/login" in response.location


def test_a_new_password_or_an_administrator_ends_every_session(app, deployed, at_once,  # noqa: F811
                                                               database_url, tmp_path):
    client = app.test_client()
    login(client, "frida")
    with deployed.db.transaction() as session:
        add_user(session, "frida", ["fagavdeling"], password="nytt-passord-1")
    assert client.get("/").status_code == 302
    login(client, "frida", "nytt-passord-1")
    assert client.get("/").status_code == 200
    CommandLine(database_url, tmp_path).run("users", "end-sessions", "frida")
    assert client.get("/").status_code == 302
    login(client, "frida", "nytt-passord-1")
    CommandLine(database_url, tmp_path).run("users", "disable", "frida")
    assert client.get("/").status_code == 302
    assert login(client, "frida", "nytt-passord-1").status_code == 401


def test_sign_in_pauses_after_a_run_of_wrong_passwords(app, clock):  # noqa: F811
    client = app.test_client()
    for _ in range(MAX_FAILED_LOGINS):
        assert login(client, "sigrid", "gjetting").status_code == 401
    refused = login(client, "sigrid")  # the right password, during the pause
    assert refused.status_code == 401
    assert "paused" in refused.get_data(as_text=True) or \
        "stanses" in refused.get_data(as_text=True)
    # an unknown name gets the very same answer: the pause tells no one a name exists
    unknown = login(client, "finnes-ikke", "gjetting")
    assert unknown.status_code == 401
    clock.advance(minutes=6)
    assert login(client, "sigrid").status_code == 302


def _set_session_cookie(response) -> str | None:
    found = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return found[0] if found else None


def test_the_session_slides_but_its_cookie_is_signed_again_only_once_it_is_old(app):  # noqa: F811
    client = app.test_client()
    login(client, "frida")
    client.get("/")  # the first page puts its form token in the session
    first = client.get_cookie("session")
    # a minute has not passed: the same cookie goes on, and it still signs in
    for _ in range(3):
        response = client.get("/")
        assert response.status_code == 200
        assert _set_session_cookie(response) is None
    assert client.get_cookie("session").value == first.value
    # once the cookie is older than the refresh interval, the next response signs it again
    # with a later expiry (the session's lifetime counts from the last request)
    app.config["SESSION_REFRESH_AFTER"] = timedelta(seconds=1)
    time.sleep(1.1)  # the signature's time is in whole seconds
    response = client.get("/")
    assert response.status_code == 200 and _set_session_cookie(response) is not None
    again = client.get_cookie("session")
    assert again.value != first.value and again.expires > first.expires
    assert client.get("/").status_code == 200
    # a changed session is sent at once, whatever its age
    app.config["SESSION_REFRESH_AFTER"] = timedelta(hours=1)
    response = client.get("/?lang=sv")
    assert _set_session_cookie(response) is not None


def test_a_session_cookie_past_its_lifetime_signs_no_one_in(app):  # noqa: F811
    client = app.test_client()
    login(client, "frida")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=1)
    time.sleep(2.1)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location

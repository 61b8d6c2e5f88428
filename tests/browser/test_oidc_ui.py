"""Signing in through the hospital's identity provider in chromium: the provider's own
login and consent pages (oidc-provider on loopback), Tiltak with the groups of the
claims, a task of the six-step routine worked, and logging out at the provider.
"""

from __future__ import annotations

import threading

import pytest
from test_six_step_ui import review
from werkzeug.serving import make_server

from engine.clock import SystemClock
from engine.definitions import collect_files
from installation import services

from oidc_provider import running_provider
from walks import PROCESSES, START_DATA, task_for

SIRI = {"preferred_username": "siri.sekretaer", "name": "Siri Sekretær",
        "email": "siri@sykehus.example", "groups": ["kpu-sekretariat-kir"]}


@pytest.fixture
def signed_in_through_provider(tmp_path, monkeypatch):
    """The web UI on a free port, configured for the provider that is started for it;
    yields (base_url, engine)."""
    monkeypatch.setenv("TILTAK_INSTANCE", str(tmp_path / "instance"))
    from webui import create_app, settings
    monkeypatch.setattr(settings, "INSTANCE", tmp_path / "instance")
    engine = services.build_engine(f"sqlite:///{tmp_path / 'ui.sqlite3'}", clock=SystemClock())
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=True)
    engine.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    served = {}
    server = make_server("127.0.0.1", 0, lambda env, start: served["app"](env, start),
                         threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    with running_provider(tmp_path / "provider", {"siri": SIRI},
                          redirect_uris=[base_url + "/login/oidc/callback"],
                          post_logout_redirect_uris=[base_url + "/login"]) as provider:
        served["app"] = create_app({"TESTING": False, **provider.settings()}, engine=engine)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield base_url, engine
        server.shutdown()
    engine.db.dispose()


def test_a_secretariat_member_signs_in_at_the_provider_and_works_a_task(
        browser, signed_in_through_provider, shoot):
    base_url, engine = signed_in_through_provider
    instance = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                    data=dict(START_DATA, klinikker=["kir"]),
                                    business_key="HA-2026-21")
    context = browser.new_context(base_url=base_url, locale="nb-NO")
    page = context.new_page()
    page.goto("/login")
    page.click("text=Logg inn med Testpartner ID")
    page.wait_for_selector("input[name=login]")  # the provider's own login page
    shoot(page, "provider-login")
    page.fill("input[name=login]", "siri")
    page.fill("input[name=password]", "what the provider asks")
    page.click("button[type=submit]")
    page.wait_for_selector("input[name=prompt][value=consent]", state="attached")
    shoot(page, "provider-consent")
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")
    assert "Siri Sekretær" in page.content()
    assert engine.identity.groups("siri.sekretaer") == {"kpu-sekretariat-kir"}
    assert engine.identity.user("siri.sekretaer").password_hash is None

    review(page, "kir", shoot)  # claims the review and completes it
    page.goto("/")
    assert page.get_by_role("link", name="Vurder og konkretiser foreslåtte tiltak").count() == 0
    assert task_for(engine, "kari", "Task_KpuBehandling", instance.id)
    shoot(page, "worked")

    page.click("form[action='/logout'] button")
    page.wait_for_selector("button[name=logout]")  # the provider asks to sign out there
    page.click("button[name=logout]")
    page.wait_for_url(f"{base_url}/login*")
    assert "Du er logget ut" in page.content()
    page.goto("/")
    assert page.url.startswith(base_url + "/login")
    context.close()

"""A live web UI on a fresh SQLite database, and Debian's chromium driven by Playwright.

Each person in a test gets their own browser context (own cookies), as on their own
device. Screenshots go to TILTAK_SCREENSHOTS (default: test-artifacts/screenshots).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.clock import SystemClock
from engine.definitions import collect_files
from installation import services

from walks import PROCESSES

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("TILTAK_SCREENSHOTS", "test-artifacts/screenshots"))
PASSWORD = "tiltak-demo"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def live(request, tmp_path, monkeypatch):
    """The web UI answering on a free localhost port; yields (base_url, engine). On
    SQLite, or on PostgreSQL for a test that parametrizes `live` indirectly with
    "postgresql" (skipped unless TILTAK_TEST_POSTGRES_URL is set)."""
    monkeypatch.setenv("TILTAK_INSTANCE", str(tmp_path / "instance"))
    from webui import create_app, settings
    monkeypatch.setattr(settings, "INSTANCE", tmp_path / "instance")
    url = request.getfixturevalue("postgres_url") \
        if getattr(request, "param", "sqlite") == "postgresql" \
        else f"sqlite:///{tmp_path / 'ui.sqlite3'}"
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=True)
    engine.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    app = create_app({"TESTING": False}, engine=engine)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", engine
    server.shutdown()
    engine.db.dispose()


class People:
    """One logged-in browser context per person."""

    def __init__(self, browser, base_url: str):
        self.browser, self.base_url, self.pages = browser, base_url, {}

    def __getitem__(self, user: str):
        if user not in self.pages:
            context = self.browser.new_context(base_url=self.base_url, locale="nb-NO")
            page = context.new_page()
            page.goto("/login")
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(self.base_url + "/")
            self.pages[user] = page
        return self.pages[user]

    def close(self):
        for page in self.pages.values():
            page.context.close()


@pytest.fixture
def people(browser, live):
    crowd = People(browser, live[0])
    yield crowd
    crowd.close()


@pytest.fixture
def shoot(request):
    folder = SCREENSHOTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1000))

    def take(page, label: str) -> None:
        page.screenshot(path=str(folder / f"{next(counter):02d}-{label}.png"), full_page=True)
    return take

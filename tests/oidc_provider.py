"""A real OpenID Connect provider on loopback for the sign-in tests (oidc-provider from
npm, started by tests/oidc_provider.mjs), and a person's way through its login and
consent pages with an HTTP client, as a browser would go.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

SCRIPT = Path(__file__).resolve().parent / "oidc_provider.mjs"
CLIENT_ID = "tiltak"
CLIENT_SECRET = "loopback-client-secret-for-tests-only"


class Provider:
    def __init__(self, issuer: str, accounts_file: Path):
        self.issuer, self.accounts_file = issuer, accounts_file

    def set_accounts(self, accounts: dict[str, dict]) -> None:
        self.accounts_file.write_text(json.dumps(accounts))

    def settings(self, **more) -> dict[str, str]:
        """The web UI's configuration for this provider."""
        return {"OIDC_ISSUER": self.issuer, "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_PROVIDER_NAME": "Testpartner ID",
                "OIDC_SCOPES": "openid profile email groups", **more}


@contextmanager
def running_provider(folder: Path, accounts: dict[str, dict], *, redirect_uris: list[str],
                     post_logout_redirect_uris: list[str], clock_skew_seconds: int = 0,
                     claims_in_id_token: bool = True):
    """The provider listening on 127.0.0.1 at a free port, stopped afterwards."""
    node = shutil.which("node")
    if node is None or not (SCRIPT.parent.parent / "node_modules" / "oidc-provider").exists():
        pytest.skip("node and the npm package oidc-provider are needed (npm ci)")
    folder.mkdir(parents=True, exist_ok=True)
    accounts_file = folder / "accounts.json"
    accounts_file.write_text(json.dumps(accounts))
    settings = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": post_logout_redirect_uris,
                "accounts_file": str(accounts_file), "clock_skew_seconds": clock_skew_seconds,
                "claims_in_id_token": claims_in_id_token}
    process = subprocess.Popen(
        [node, str(SCRIPT)], stdout=subprocess.PIPE, stderr=(folder / "provider.log").open("w"),
        env={"PATH": "/usr/bin:/bin", "OIDC_TEST_SETTINGS": json.dumps(settings),
             "NODE_ENV": "test"}, text=True)
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the OIDC provider did not start: "
                               + (folder / "provider.log").read_text()[-2000:])
        yield Provider(json.loads(line)["issuer"], accounts_file)
    finally:
        process.terminate()
        process.wait(timeout=10)


def sign_in_at_provider(http: requests.Session, address: str, login: str, *,
                        cancel: bool = False) -> str:
    """Follow the provider's pages from the authorization address: log in as `login`
    (the provider's development login takes any password), consent, and return the
    address the provider sends the browser back to (the web UI's callback)."""
    origin = re.match(r"https?://[^/]+", address).group(0)
    while address.startswith(origin):
        answer = http.get(address, allow_redirects=False, timeout=10)
        if answer.is_redirect:
            address = urljoin(address, answer.headers["Location"])
            continue
        answer.raise_for_status()
        page = answer.text
        if cancel:
            address = urljoin(address, unescape(re.search(r'href="([^"]*abort[^"]*)"',
                                                          page).group(1)))
            continue
        action = urljoin(address, unescape(re.search(r'<form[^>]*action="([^"]+)"',
                                                      page).group(1)))
        prompt = re.search(r'name="prompt" value="(\w+)"', page).group(1)
        fields = {"prompt": prompt}
        if prompt == "login":
            fields.update(login=login, password="any")
        answer = http.post(action, data=fields, allow_redirects=False, timeout=10)
        assert answer.is_redirect, answer.text[:500]
        address = urljoin(action, answer.headers["Location"])
    return address

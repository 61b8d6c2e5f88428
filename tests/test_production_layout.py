"""The layout docs/OPERATIONS.md describes, run as written: PostgreSQL, two `tiltak serve`
(two web workers each, no scheduler of their own) and two `tiltak worker`s, behind
nginx that ends TLS and reaches them from an address of its own (another machine, to
them). Cases started through the proxy each have their timer fired exactly once, by one
of the two workers; readiness answers through the proxy, metrics only at the web
processes; a person signs in through the identity provider at the proxy's https
address. PostgreSQL only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from local_servers import free_port, wait_until

from oidc_provider import running_provider, sign_in_at_provider
from walks import FIXTURES

# the proxy's own address, as the web processes see it: not theirs, so they believe its
# X-Forwarded-Proto only as FORWARDED_ALLOW_IPS tells them to
PROXY_ADDRESS = "127.0.0.2"
SIRI = {"preferred_username": "siri.sekretaer", "name": "Siri Sekretær",
        "groups": ["kpu-sekretariat-kir"]}

# the integration starts it; its timer is due three seconds later
TIMER_PROCESS = (FIXTURES / "kort-timer.bpmn").read_text(encoding="utf-8").replace(
    'isExecutable="true"', 'isExecutable="true" camunda:candidateStarterGroups="integrasjon"')

NGINX_CONF = """daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream tiltak {{
        server 127.0.0.1:{web1};
        server 127.0.0.1:{web2};
    }}
    server {{
        listen 127.0.0.1:{proxy} ssl;
        ssl_certificate     {prefix}/tiltak.crt;
        ssl_certificate_key {prefix}/tiltak.key;
        client_max_body_size 30m;
        location / {{
            proxy_pass http://tiltak;
            proxy_bind {proxy_address};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $request_id;
        }}
        location /metrics {{ deny all; }}
    }}
}}
"""


def certificate(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and its key, for nginx; the certificate's
    file, which the clients trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tiltak.sykehuset.test")])
    now = datetime.now(UTC)
    made = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(
                ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    (folder / "tiltak.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / "tiltak.crt").write_bytes(made.public_bytes(serialization.Encoding.PEM))
    return folder / "tiltak.crt"


def nginx() -> str:
    """Debian's nginx, installed as .ci/run does when it is missing."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       capture_output=True, timeout=600)
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found





def test_two_servers_and_two_workers_behind_nginx_fire_each_timer_once(postgres_url,
                                                                       tmp_path):
    web1, web2, proxy = free_port(), free_port(), free_port()
    base = f"https://127.0.0.1:{proxy}"
    with running_provider(tmp_path / "provider", {"siri": SIRI},
                          redirect_uris=[base + "/login/oidc/callback"],
                          post_logout_redirect_uris=[base + "/login"]) as provider:
        env = {**os.environ, "TILTAK_DATABASE_URL": postgres_url, "TILTAK_SCHEDULER": "0",
               "TILTAK_SECRET_KEY": "the-same-key-on-every-machine",
               "TILTAK_SECURE_COOKIES": "1", "FORWARDED_ALLOW_IPS": PROXY_ADDRESS,
               "TILTAK_METRICS_TOKEN": "scraper-token", "TILTAK_LOG_FORMAT": "json",
               **{f"TILTAK_{key}": value for key, value in provider.settings().items()}}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        run_layout(env, tmp_path, web1, web2, proxy)


def run_layout(env: dict[str, str], tmp_path: Path, web1: int, web2: int,
               proxy: int) -> None:
    def tiltak(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout
    tiltak("init")
    (tmp_path / "kort-timer.bpmn").write_text(TIMER_PROCESS, encoding="utf-8")
    tiltak("deploy", str(tmp_path / "kort-timer.bpmn"))
    tiltak("users", "add", "kvalitetsportalen", "--groups", "integrasjon")
    token = tiltak("token", "create", "kvalitetsportalen", "--scope", "start,read",
                   "--process", "kort-timer").strip()

    prefix = tmp_path / "nginx"
    prefix.mkdir()
    trusted = certificate(prefix)
    tls = ssl.create_default_context(cafile=str(trusted))
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(
        prefix=prefix, web1=web1, web2=web2, proxy=proxy, proxy_address=PROXY_ADDRESS))
    started: list[subprocess.Popen] = []

    def run(*args: str, name: str, env_=env) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")
        process = subprocess.Popen(list(args), env=env_, cwd=tmp_path, stdout=log,
                                   stderr=subprocess.STDOUT)
        log.close()
        started.append(process)
        return process

    base = f"https://127.0.0.1:{proxy}"

    def call(path: str, body: dict | None = None, auth: str = token, at: str = base) -> dict:
        sent = urllib.request.Request(
            at + path, method="POST" if body is not None else "GET",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {auth}", "Content-Type": "application/json"})
        with urllib.request.urlopen(sent, timeout=30, context=tls) as answer:
            text = answer.read().decode()
            return json.loads(text) if text.startswith(("{", "[")) else {"text": text}
    try:
        for name, port in (("web1", web1), ("web2", web2)):
            run(sys.executable, "-m", "tiltak.cli", "serve", "--port", str(port),
                "--workers", "2", name=name)
        for name in ("worker1", "worker2"):
            run(sys.executable, "-m", "tiltak.cli", "worker", "--interval", "0.5", name=name)
        run(nginx(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e",
            str(prefix / "error.log"), name="nginx", env_=os.environ)
        for port in (web1, web2):
            wait_until(lambda port=port: urllib.request.urlopen(
                f"http://127.0.0.1:{port}/ready", timeout=2).status == 200, what="ready")
        wait_until(lambda: urllib.request.urlopen(base + "/ready", timeout=2,
                                                  context=tls).status == 200,
                   what="the proxy")
        assert call("/ready") == {"status": "ready"}

        cases = [call("/api/processes/kort-timer/instances", {"business_key": f"T-{n}"})["id"]
                 for n in range(6)]

        def all_completed() -> bool:
            return all(call(f"/api/instances/{c}")["status"] == "completed" for c in cases)
        wait_until(all_completed, 90, "every timer fired")
        time.sleep(2)  # let both workers sweep again: nothing more may fire
        for case in cases:
            history = call(f"/api/instances/{case}/history")
            assert [e["type"] for e in history] == ["start", "timer"], history

        signs_in_through_the_proxy(base, trusted, web1, web2)

        # the proxy keeps /metrics to itself; each web machine is scraped directly
        try:
            call("/metrics", auth="scraper-token")
            raise AssertionError("the proxy served /metrics")
        except urllib.error.HTTPError as refused:
            assert refused.code == 403
        metrics = call("/metrics", auth="scraper-token", at=f"http://127.0.0.1:{web1}")["text"]
        assert 'tiltak_instances{status="completed"} 6.0' in metrics
        assert "tiltak_webhooks_waiting 0.0" in metrics
        for name in ("worker1", "worker2"):
            assert "Traceback" not in (tmp_path / f"{name}.log").read_text()
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM if process.args[0] != nginx() else signal.SIGQUIT)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    access = (prefix / "access.log").read_text()
    assert access.count("POST /api/processes/kort-timer/instances") == 6
    # both servers answered through the proxy
    served = [sum(1 for line in (tmp_path / f"{name}.log").read_text().splitlines()
                  if '"path": "/api/' in line) for name in ("web1", "web2")]
    assert all(served), served


def signs_in_through_the_proxy(base: str, trusted: Path, web1: int, web2: int) -> None:
    """The identity provider is given the proxy's https address to send the person back
    to (the one registered there), and the session it starts holds on both servers."""
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the certificate
    browser.verify = str(trusted)
    start = browser.get(base + "/login/oidc", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.text
    asked = parse_qs(urlsplit(start.headers["Location"]).query)
    assert asked["redirect_uri"] == [base + "/login/oidc/callback"]
    assert asked["code_challenge_method"] == ["S256"]
    back = sign_in_at_provider(requests.Session(), start.headers["Location"], "siri")
    landed = browser.get(back, timeout=30)
    assert landed.url == base + "/", landed.url
    assert "Siri Sekretær" in landed.text
    assert all(cookie.secure for cookie in browser.cookies)
    for _ in range(4):  # nginx takes turns: the session is the same on both servers
        assert "Siri Sekretær" in browser.get(base + "/", timeout=30).text

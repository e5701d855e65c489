"""The hub behind its TLS proxy, for real: a ``hub serve --tls-proxy`` process behind Debian's
nginx running the site file that ``setup.sh install --hub`` writes (systemd/menwei-hub.nginx),
clients on two loopback addresses.

Attack trial: waitress ran without ``trusted_proxy``, so it dropped X-Forwarded-For before the
app saw it: every client was 127.0.0.1, a stranger's wrong passwords kept the owner refused (429,
Retry-After growing to 15 minutes), and the audit named 127.0.0.1 for everyone. The tests passed
because they used Flask's test client.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from urllib.parse import urlencode

import pytest

from kiosk.demo_run import Child
from sync.hub.admins import FREE_TRIES
from tests.gate_helpers import wait_until
from tests.sync_fixtures import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "proxy trial password"
ATTACKER, OWNER = "127.0.0.2", "127.0.0.3"


def nginx_or_skip() -> str:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: ./setup.sh test installs it")
        pytest.skip("nginx is not installed (./setup.sh test installs it)")
    return nginx


@dataclass
class Client:
    """A browser on one loopback address, speaking HTTPS to nginx (or plain HTTP straight to
    the hub), keeping its cookie; ``forged`` is an X-Forwarded-For it sends itself."""

    port: int
    source: str
    tls: bool = True
    forged: str | None = None
    cookie: str = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None):
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connection: HTTPConnection = HTTPSConnection(
                "127.0.0.1", self.port, source_address=(self.source, 0), context=context, timeout=20
            )
        else:
            connection = HTTPConnection(
                "127.0.0.1", self.port, source_address=(self.source, 0), timeout=20
            )
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if self.forged:
            headers["X-Forwarded-For"] = self.forged
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]
        connection.close()
        return response, text

    def sign_in(self, password: str):
        _, page = self.request("GET", "/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        response, _ = self.request(
            "POST", "/admin/login", {"username": "admin", "password": password, "csrf": csrf}
        )
        return response


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[int, int, Path]]:
    """nginx on a free HTTPS port in front of a hub on a free loopback port."""
    nginx = nginx_or_skip()
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(tls / "hub.key"), "-out", str(tls / "hub.crt")),
        ],
        check=True,
        capture_output=True,
    )
    https_port, http_port, hub_port = free_port(), free_port(), free_port()
    site = (ROOT / "systemd/menwei-hub.nginx").read_text()
    for key, value in {
        "@NAME@": "localhost",
        "@TLS@": str(tls),
        "@HTTP_PORT@": str(http_port),
        "@HTTPS_PORT@": str(https_port),
        "@HUB_PORT@": str(hub_port),
    }.items():
        site = site.replace(key, value)
    (tmp_path / "site.conf").write_text(site)
    for folder in ("logs", "temp"):
        (tmp_path / folder).mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/logs/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path}/temp/body;\n"
        f" proxy_temp_path {tmp_path}/temp/proxy;\n fastcgi_temp_path {tmp_path}/temp/fcgi;\n"
        f" uwsgi_temp_path {tmp_path}/temp/uwsgi;\n scgi_temp_path {tmp_path}/temp/scgi;\n"
        f" include {tmp_path}/site.conf;\n}}\n"
    )
    db = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    created = subprocess.run(
        [str(BIN / "hub"), "admin-create", "--db", db, "--password", PASSWORD, "admin"],
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    hub = Child(
        "hub",
        [
            *(str(BIN / "hub"), "serve", "--db", db, "--keys", str(tmp_path / "keys")),
            *("--host", "127.0.0.1", "--port", str(hub_port), "--tls-proxy"),
        ],
        tmp_path,
    )
    proxy = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stderr=subprocess.PIPE,
    )
    try:
        hub.wait_ready()

        def answers() -> bool:
            try:
                return (
                    Client(https_port, "127.0.0.1").request("GET", "/admin/login")[0].status == 200
                )
            except OSError:
                return proxy.poll() is not None and pytest.fail(proxy.stderr.read().decode())

        wait_until(answers, 20, interval=0.1, what="nginx in front of the hub")
        yield https_port, hub_port, tmp_path / "hub.sqlite3"
    finally:
        proxy.terminate()
        proxy.wait(10)
        proxy.stderr.close()
        hub.stop()


def audit_sources(db: Path) -> list[tuple[str, str]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT action, detail FROM audit WHERE action LIKE 'sign_in.%'")
        return [(action, json.loads(detail)["source"]) for action, detail in rows]


def test_a_strangers_wrong_passwords_never_delay_the_owner(site):
    https_port, _, db = site
    attacker, owner = Client(https_port, ATTACKER), Client(https_port, OWNER)
    statuses = [attacker.sign_in("guess").status for _ in range(FREE_TRIES + 3)]
    assert 429 in statuses, statuses  # the stranger is slowed down…
    assert owner.sign_in(PASSWORD).status in (302, 303)  # …the owner is not
    sources = audit_sources(db)
    assert ("sign_in.ok", OWNER) in sources
    assert {s for a, s in sources if a != "sign_in.ok"} == {ATTACKER}


def test_forwarded_headers_from_anyone_but_the_proxy_are_ignored(site):
    """Straight to the hub's port from another address, with a forged X-Forwarded-For: the hub
    sees (and throttles and audits) the real address. (setup.sh keeps the hub on 127.0.0.1.)"""
    _, hub_port, db = site
    forger = Client(hub_port, OWNER, tls=False, forged="198.51.100.9")
    assert forger.sign_in("guess").status == 401  # the form again, with its error
    assert audit_sources(db) == [("sign_in.wrong", OWNER)]

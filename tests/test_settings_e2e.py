"""The field trial's settings bug, end to end with real processes: a ``hub serve`` and a
``kiosk serve`` (simulated sensor), enrolled as an installer does it, the threshold set and reset
through the hub's own admin form, a simulated person at the gate, and the hub's 门岗 page.

Field trial: the hub set 发热阈值 38.0, then 恢复门岗默认; the running kiosk kept 38.0 and
admitted a 37.8 °C person, and nothing on the hub said which settings the gate ran.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from kiosk.demo_run import Child
from tests.gate_helpers import wait_until
from tests.sync_fixtures import free_port

BIN = Path(sys.executable).parent
GATE = "gate-1"
PASSWORD = "settings e2e password"
SYNC_WAIT_S = 60.0  # a few sync rounds (sync.interval_s = 2) on a loaded machine


def run(*argv: str | Path) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@dataclass
class Site:
    """A hub and an enrolled kiosk, both running; an admin signed in to the hub's pages."""

    hub_url: str
    kiosk_url: str
    admin: requests.Session

    def csrf(self) -> str:
        page = self.admin.get(f"{self.hub_url}/admin/settings", timeout=10).text
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def settings_form(self, **fields: str) -> None:
        answer = self.admin.post(
            f"{self.hub_url}/admin/settings",
            data={"csrf": self.csrf(), **fields},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text

    def gate_row(self) -> tuple[int, str]:
        """The compound's settings version and the gate's row on the 门岗 page."""
        page = self.admin.get(f"{self.hub_url}/admin/kiosks", timeout=10).text
        current = re.search(r"本小区当前设置版本 Settings version: <strong>(\d+)</strong>", page)
        row = re.search(rf'<tr data-gate="{GATE}">(.*?)</tr>', page, re.S)
        assert current is not None and row is not None, page
        return int(current.group(1)), row.group(1)

    def wait_gate_current(self) -> int:
        """Until the page says the gate runs the compound's current version; that version."""

        def current() -> list[int] | None:  # a list: version 0 is an answer too
            version, row = self.gate_row()
            return [version] if f"设置已生效（版本 {version}，" in row else None

        [version] = wait_until(current, SYNC_WAIT_S, interval=0.3, what="设置已生效 on 门岗")
        return version

    def screen(self) -> dict:
        return requests.get(f"{self.kiosk_url}/api/state", timeout=10).json()

    def person(self, core_c: float) -> dict:
        """A simulated person steps up; the verdict screen they get."""
        wait_until(lambda: self.screen()["screen"] == "idle", 30, interval=0.1, what="idle")
        sim = f"{self.kiosk_url}/api/sim/person"
        answer = requests.post(sim, json={"core_c": core_c}, timeout=10)
        assert answer.status_code == 200, answer.text

        def verdict() -> dict | None:
            state = self.screen()
            return state if state["screen"] in ("admitted", "blocked") else None

        return wait_until(verdict, 30, interval=0.1, what="a verdict on the screen")

    def leave(self) -> None:
        requests.post(f"{self.kiosk_url}/api/sim/leave", json={}, timeout=10)


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    hub_port, kiosk_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    hub, kiosk = BIN / "hub", BIN / "kiosk"
    run(hub, "admin-create", "--db", db, "--password", PASSWORD, "admin")
    code = run(hub, "enrol-code", "--db", db, GATE)
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[kiosk]\nid = "{GATE}"\ndata_dir = "{tmp_path / "kiosk"}"\nidentify = "off"\n'
        "[sensor]\nsimulate = true\n"
        f"[web]\nport = {kiosk_port}\n"
        f'[sync]\nhub_url = "http://127.0.0.1:{hub_port}"\ninterval_s = 2\n',
        encoding="utf-8",
    )
    children: list[Child] = []
    try:
        serve = [str(hub), "serve", "--db", db, "--keys", str(tmp_path / "hub-keys")]
        children.append(
            Child("hub", [*serve, "--host", "127.0.0.1", "--port", str(hub_port)], tmp_path)
        )
        children[-1].wait_ready()
        run(kiosk, "-q", "enrol", "--config", config, "--code", code)
        children.append(Child("kiosk", [str(kiosk), "serve", "--config", str(config)], tmp_path))
        children[-1].wait_ready()
        hub_url = f"http://127.0.0.1:{hub_port}"
        admin = requests.Session()
        login = admin.get(f"{hub_url}/admin/login", timeout=10).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
        signed = admin.post(
            f"{hub_url}/admin/login",
            data={"username": "admin", "password": PASSWORD, "csrf": csrf},
            timeout=10,
        )
        assert signed.status_code == 200 and "/admin/login" not in signed.url, signed.text
        yield Site(hub_url, f"http://127.0.0.1:{kiosk_port}", admin)
    finally:
        for child in reversed(children):
            child.stop()


def test_at_38_0_set_on_the_hub_a_person_at_37_8_is_admitted(site):
    """The control: without it, the test below would pass with a kiosk that ignores the hub."""
    assert site.wait_gate_current() == 0  # enrolled, synced: no setting sent yet
    site.settings_form(action="setting", key="screening.threshold_c", value="38.0")
    assert site.wait_gate_current() > 0
    admitted = site.person(37.8)
    assert (admitted["screen"], admitted["estimate_c"]) == ("admitted", 37.8)


def test_after_the_reset_a_person_at_37_8_is_blocked_and_the_hub_shows_it(site):
    site.settings_form(action="setting", key="screening.threshold_c", value="38.0")
    set_at = site.wait_gate_current()
    site.settings_form(action="remove", kind="setting", key="screening.threshold_c")  # 恢复门岗默认
    version, row = site.gate_row()
    assert version > set_at
    assert site.wait_gate_current() == version
    blocked = site.person(37.8)
    assert (blocked["screen"], blocked["estimate_c"]) == ("blocked", 37.8)
    _, row = site.gate_row()
    assert f"设置已生效（版本 {version}，" in row

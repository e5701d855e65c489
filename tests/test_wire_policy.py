"""No secrets on a plain wire: a kiosk refuses an http:// hub that is not on this machine unless
``sync.allow_plain_http`` says so (then the guard screen and kiosk doctor warn); enrolment over
plain http to such a hub is refused whatever the setting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.doctor import check_hub
from kiosk.guard_desk import GuardDesk
from kiosk.sync_worker import maybe_sync_worker
from sync.wire_policy import plain_http_problem

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "url",
    ["https://hub.example", "http://127.0.0.1:8090", "http://localhost:8090", "http://[::1]:80"],
)
def test_https_and_this_machine_are_fine(url):
    assert plain_http_problem(url) is None


@pytest.mark.parametrize(
    "url", ["http://192.168.1.5:8090", "http://hub.example", "ftp://hub.example", "http://10.0.0.1"]
)
def test_plain_http_elsewhere_is_a_problem(url):
    assert "不是 https" in plain_http_problem(url)


def test_the_kiosk_does_not_sync_to_a_plain_http_hub(start_kiosk):
    k = start_kiosk(sync__hub_url="http://192.168.1.5:8090")
    assert maybe_sync_worker(k.gate, k.ledger) is None
    health = {r["label"]: r["value"] for r in GuardDesk(k.gate).health()}
    assert "不是 https" in health["同步错误"]
    assert check_hub(k.config).status == "fail"


def test_allowed_plain_http_is_warned_about(start_kiosk):
    k = start_kiosk(sync__hub_url="http://192.168.1.5:8090", sync__allow_plain_http=True)
    health = {r["label"]: r["value"] for r in GuardDesk(k.gate).health()}
    assert "不是 https" in health["同步警告"]
    assert check_hub(k.config).status == "warn"


def test_enrolment_over_plain_http_is_refused(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[kiosk]\ndata_dir = "{tmp_path}"\n[sensor]\nsimulate = true\n'
        '[sync]\nhub_url = "http://192.168.1.5:8090"\nallow_plain_http = true\n'
    )
    done = subprocess.run(
        [str(BIN / "kiosk"), "enrol", "--config", str(config), "--code", "ABCD-EFGH"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "拒绝注册" in done.stderr, done.stderr
    assert not (tmp_path / "token").exists()

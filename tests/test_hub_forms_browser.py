"""The hub's side of the guard-screen forms in real Chromium: the duty page's list of staff with
visitors at home, decided by the manager, and the audit page's wrong guard PINs in words, in
Beijing time. Screenshots go to /tmp/shots/ to be looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.guard_accounts import add_guard, unlock
from kiosk.pin_bursts import KIND
from sync.hub.admins import create_admin
from sync.hub.store import HubStore
from tests.sync_fixtures import Faults, RunningHub, free_port, make_ledger

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
SHOTS = Path("/tmp/shots")


@pytest.fixture
def hub(tmp_path):
    store = HubStore(f"sqlite:///{tmp_path}/hub.sqlite3")
    store.migrate()
    create_admin(store, "manager", PASSWORD, "admin")
    kiosk_id = "east-gate"
    store.enrol(store.create_enrol_code(kiosk_id))
    ledger = make_ledger(tmp_path / "k.sqlite3", kiosk_id)
    records = [
        ledger.append(
            "shift",
            verdict="on",
            estimate_c=36.5,
            threshold_c=37.3,
            detail={"guard_id": "wang", "name": "王师傅", "visitors_at_home": True},
        ),
        ledger.append(
            "shift",
            verdict="on",
            estimate_c=36.4,
            threshold_c=37.3,
            detail={"guard_id": "li", "name": "李阿姨", "visitors_at_home": False},
        ),
    ]
    conn = ledger.connection()
    add_guard(conn, "wang", "王师傅", "483190")
    now = 1_800_000_000.0
    for pin in ["000000"] * 5 + ["483190"]:
        result = unlock(conn, "wang", pin, max_failures=5, max_wait_s=30, now=now)
        now += max(result.retry_after_s, 2)
        if result.burst is not None:
            burst = result.burst
            records.append(
                ledger.append(KIND, verdict=burst.verdict, detail=burst.detail("sign_in"))
            )
    answers = store.ingest(kiosk_id, records, 0)
    assert all(a["status"] == "stored" for a in answers), answers
    running = RunningHub(store, free_port(), Faults()).start()
    yield running
    running.stop()
    store.close()


def test_the_manager_decides_on_staff_with_visitors_at_home_and_reads_wrong_pins(hub, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(hub.url + "/admin/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button")
    page.wait_for_url("**/admin/dashboard")
    page.goto(hub.url + "/admin/duty")
    household = page.inner_text("#household")
    assert "王师傅 · east-gate" in household and "家中有外来人员" in household
    assert "李阿姨" not in household
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "hub-duty-household.png"))
    page.click("#household button[value='stay_on']")
    page.wait_for_selector("#household li:has-text('已处理：可继续值班')")
    page.screenshot(path=str(SHOTS / "hub-duty-household-decided.png"))
    page.goto(hub.url + "/admin/audit")
    pins = page.inner_text("#pin-failure-list")
    assert "王师傅（wang） · 连续输错 PIN 5 次，暂停输入 · 登录门卫屏" in pins
    assert "000000" not in page.content()
    assert "处理上岗人员家中有外来人员" in page.inner_text("body")
    page.screenshot(path=str(SHOTS / "hub-audit-pins.png"), full_page=True)
    page.close()
    assert errors == []

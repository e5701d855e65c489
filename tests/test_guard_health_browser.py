"""The guard screen's 设备状态 with every row a kiosk with a hub shows (the threshold in force, the
settings version, the sync rows and a long sync error) still fits the 800x480 display."""

from __future__ import annotations

import pytest

from kiosk.guard_accounts import add_guard
from sync.client import SyncState
from tests.browser_helpers import check, unlock

pytestmark = pytest.mark.browser


def test_the_health_tab_of_a_kiosk_with_a_hub_fits_without_scrolling(start_kiosk, pages):
    k = start_kiosk()
    add_guard(k.ledger.connection(), "li", "李师傅", "592731")
    state = SyncState(
        settings_version=1234,
        last_success="2026-12-06T08:00:00+00:00",
        last_error="连不上中心（网络断开或中心未运行）：记录已存本机，恢复后自动上传",
    )
    k.gate.set_sync_status(lambda: state)
    k.gate.apply_settings({"screening.threshold_c": 38.0})
    page = pages[1]
    unlock(page, k.url, "592731", "li")
    page.click("nav button[data-tab='health']")
    page.wait_for_selector("#health dd")
    shown = page.inner_text("#health")
    assert "38.0 °C，中心设置" in shown and "版本 1234" in shown
    check(page, "guard-health-with-hub")

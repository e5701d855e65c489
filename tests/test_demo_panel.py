"""The demo's control panel (/demo) in Chromium: Chinese first, and it drives the scene."""

from __future__ import annotations

import re

import pytest

from tests.browser_helpers import screen_is
from tests.gate_helpers import wait_until

pytestmark = pytest.mark.browser

# Codes a demo user may meet beside the Chinese: the chip's name and the bus faults' codes.
ALLOWED = {"MLX", "NACK", "EIO", "PEC", "guard"}  # MLX90614 is split at the digits


def test_the_demo_panel_speaks_chinese_and_drives_the_sensor(start_kiosk, pages):
    kiosk = start_kiosk(kiosk__result_hold_s=1.0)
    resident, panel = pages
    panel.goto(kiosk.url + "/demo")
    text = panel.inner_text("body")
    assert "模拟测温探头" in text
    # Found in a field trial: the panel was in English.
    words = set(re.findall(r"[A-Za-z]{3,}", text)) - ALLOWED
    assert words == set(), words
    assert panel.evaluate("document.documentElement.lang") == "zh-CN"
    resident.goto(kiosk.url)
    screen_is(resident, "idle")
    panel.click("button[data-core='38.2']")
    panel.wait_for_selector("#log:has-text('已执行：有人上前（体温 38.2 °C）')")
    screen_is(resident, "blocked")
    panel.click("button[data-fault='unplugged']")
    panel.wait_for_selector("#log:has-text('探头故障：拔下探头')")
    wait_until(lambda: kiosk.gate.status()["sensor_fault"], what="the sensor fault")
    panel.screenshot(path="tests/screenshots/demo-panel.png")

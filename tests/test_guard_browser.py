"""The guard screen in real headless Chromium, beside the resident screen."""

from __future__ import annotations

import json

import pytest

from tests.browser_helpers import screen_is, stock, unlock, visitor_to_last_step
from tests.gate_helpers import wait_for_screen

pytestmark = pytest.mark.browser


@pytest.fixture
def kiosk(start_kiosk, tmp_path):
    k = start_kiosk(kiosk__result_hold_s=3.0)
    stock(k.ledger.connection(), tmp_path)
    return k


def test_blocked_resident_overridden_by_the_guard(kiosk, pages):
    resident, guard = pages
    resident.goto(kiosk.url)
    screen_is(resident, "idle")
    kiosk.hardware.simulator.scene.person(38.2)
    screen_is(resident, "blocked")
    unlock(guard, kiosk.url)
    guard.wait_for_selector("#desk:not([hidden])")
    assert guard.inner_text("#guard-name") == "王师傅"
    guard.wait_for_selector("#pending-list li")
    assert "38.2" in guard.inner_text("#pending-list li")
    guard.click("#pending-list li button.decide")
    guard.click("#override-decision button[data-value='admit']")
    guard.click("#override-reason button[data-value='remeasured_normal']")
    guard.click("#override .next")
    for key in "36.9":
        guard.click(f"#override .keypad button[data-key='{key}']")
    guard.click("#override-pin")  # admitting over a fever: the PIN again, on the same keypad
    for key in "483190":
        guard.click(f"#override .keypad button[data-key='{key}']")
    guard.click("#override button[type='submit']")
    screen_is(resident, "guard_admitted")
    guard.wait_for_selector("#override", state="hidden")
    assert "已放行" in guard.inner_text("#override-done")
    blocked, _alarm, override = (
        e for e in kiosk.ledger.events() if e["kind"] in ("screening", "alarm", "override")
    )
    assert (blocked["verdict"], blocked["estimate_c"]) == ("blocked", 38.2)
    assert (override["verdict"], override["reason"], override["estimate_c"]) == (
        "admitted",
        "remeasured_normal",
        36.9,
    )
    assert override["links_to"] == blocked["id"]
    assert json.loads(override["detail"])["guard_id"] == "wang"
    assert override["seq"] > blocked["seq"]
    assert kiosk.ledger.verify_chain().ok


def test_five_wrong_pins_lock_the_guard_out(kiosk, pages):
    _, guard = pages
    for _ in range(5):
        unlock(guard, kiosk.url, pin="000000")
        guard.wait_for_selector("#login-message:not(:empty)")
        message = guard.inner_text("#login-message")
        guard.evaluate("document.getElementById('login-message').textContent = ''")
    assert "已锁定" in message
    unlock(guard, kiosk.url)
    guard.wait_for_selector("#login-message:has-text('已锁定')")
    assert guard.is_hidden("#desk")


def register_visitor(guard, risk_area: str = "none") -> None:
    visitor_to_last_step(guard)
    guard.click("#purpose button[data-value='delivery']")
    guard.click(f"#risk_area button[data-value='{risk_area}']")
    guard.click("#code_colour button[data-value='green']")
    guard.click("#visitor button[type='submit']")


def test_a_visitor_registers_and_is_admitted(kiosk, pages):
    resident, guard = pages
    resident.goto(kiosk.url)
    unlock(guard, kiosk.url)
    guard.wait_for_selector("#desk:not([hidden])")
    register_visitor(guard)
    guard.wait_for_selector("#visitor .message.ok")
    kiosk.hardware.simulator.scene.person(36.6)
    screen_is(resident, "admitted")
    visitor, screening = (e for e in kiosk.ledger.events() if e["kind"] in ("visitor", "screening"))
    assert visitor["verdict"] == "registered"
    assert json.loads(visitor["detail"])["phone"] == "13812345678"
    assert screening["links_to"] == visitor["id"] and screening["verdict"] == "admitted"


def test_a_visitor_from_a_risk_area_is_held_until_the_guard_decides(kiosk, pages, mock_factory):
    resident, guard = pages
    resident.goto(kiosk.url)
    unlock(guard, kiosk.url)
    guard.wait_for_selector("#desk:not([hidden])")
    register_visitor(guard, risk_area="某市某区")
    guard.wait_for_selector("#visitor .message.ok:has-text('需门卫处置')")
    mock_factory.pin(23).clear_states()
    kiosk.hardware.simulator.scene.person(36.6)
    screen_is(resident, "held")  # a normal temperature does not let a held visitor in
    assert not any(change.state for change in mock_factory.pin(23).states[1:])
    guard.click("nav button[data-tab='pending']")
    guard.wait_for_selector("#pending-list li:has-text('风险地区')")
    guard.click("#pending-list li button.decide")
    guard.click("#override-decision button[data-value='deny']")
    guard.click("#override-reason button[data-value='risk_area']")
    guard.click("#override .next")
    guard.click("#override button[type='submit']")
    screen_is(resident, "guard_denied")
    visitor = next(e for e in kiosk.ledger.events() if e["kind"] == "visitor")
    override = kiosk.ledger.events()[-1]
    assert (visitor["verdict"], visitor["reason"]) == ("held", "risk_area")
    assert (override["kind"], override["verdict"], override["links_to"]) == (
        "override",
        "denied",
        visitor["id"],
    )


def test_a_vehicle_in_and_out_and_an_invalid_plate(kiosk, pages):
    _, guard = pages
    unlock(guard, kiosk.url)
    guard.wait_for_selector("#desk:not([hidden])")
    guard.click("nav button[data-tab='vehicle']")
    guard.click("#province")  # a grid of big buttons, not a <select> (field trial)
    guard.click("#province-list button[data-value='京']")
    guard.fill("#plate", "AI2345")  # the keypad has no I; a scanner or keyboard might
    guard.click("#vehicle button[type='submit']")
    guard.wait_for_selector("#vehicle .message:has-text('I or O')")

    def log_plate(direction: str) -> None:
        guard.fill("#plate", "")
        for key in "AD12345":
            guard.click(f"#vehicle .keypad button[data-key='{key}']")
        guard.click(f"#vehicle-direction button[data-value='{direction}']")
        guard.click("#vehicle button[type='submit']")

    log_plate("in")
    guard.wait_for_selector("#vehicle .message.ok:has-text('京AD12345')")
    kiosk.hardware.simulator.scene.person(36.6)  # the driver is screened
    wait_for_screen(kiosk.gate, "admitted")
    guard.evaluate("document.querySelector('#vehicle .message').textContent = ''")
    log_plate("out")
    guard.wait_for_selector("#vehicle .message.ok:has-text('京AD12345')")
    vehicles = [e for e in kiosk.ledger.events() if e["kind"] == "vehicle"]
    assert [(v["verdict"], json.loads(v["detail"])["plate"]) for v in vehicles] == [
        ("in", "京AD12345"),
        ("out", "京AD12345"),
    ]
    screening = next(e for e in kiosk.ledger.events() if e["kind"] == "screening")
    assert screening["links_to"] == vehicles[0]["id"]


def test_a_quarantined_residents_pass_shows_on_the_guard_screen_only(kiosk, pages):
    resident, guard = pages
    kiosk.gate.reconfigure(kiosk.config.replace(kiosk__identify="before"))
    unlock(guard, kiosk.url)
    guard.wait_for_selector("#desk:not([hidden])")
    resident.goto(kiosk.url)
    screen_is(resident, "idle")
    resident.keyboard.type("Q6002")
    resident.keyboard.press("Enter")
    resident.wait_for_selector("#pass-message:has-text('通行码有效')")
    guard.wait_for_selector("#notices:has-text('Q6002')")
    assert "隔离" in guard.inner_text("#notices")
    assert "隔离" not in resident.inner_text("body")
    assert "quarantine" not in resident.content()

"""One display at 800x480 in Chromium: always back to the resident screen, a verdict brought
forward at once, every target big enough for a finger, nothing scrolls, the green visitor counted
in taps. Screenshots of every kiosk and guard screen go to tests/screenshots/ (not in git)."""

from __future__ import annotations

import json

import pytest

from kiosk.guard_accounts import add_guard
from tests.browser_helpers import check, on_resident_screen, screen_is, stock, unlock
from tests.gate_helpers import resident_pass, wait_for_screen

pytestmark = pytest.mark.browser


@pytest.fixture
def kiosk(start_kiosk, tmp_path):
    k = start_kiosk(kiosk__result_hold_s=3.0, kiosk__identify="after", kiosk__idle_return_s=5.0)
    conn = k.ledger.connection()
    add_guard(conn, "li", "李师傅", "592731")
    places = [
        {**resident_pass(f"B{building}{unit}01"), "building": building, "unit": unit}
        for building in ("1", "2", "3", "5", "6", "7", "8", "9")
        for unit in ("1", "2", "3")
    ]
    stock(conn, tmp_path, passes=places, areas=("某市某区", "另一市某区"))
    return k


@pytest.fixture
def page(pages):
    """One page at 800x480 that fails the test on any script error (the guard tests' pair)."""
    return pages[1]


def test_every_kiosk_and_guard_screen_fits_a_finger_and_never_scrolls(kiosk, page):
    scene = kiosk.hardware.simulator.scene
    page.goto(kiosk.url)
    screen_is(page, "idle")
    check(page, "resident-idle")
    page.click("#language-toggle")
    check(page, "resident-idle-english")
    page.click("#language-toggle")
    scene.person(36.6)
    screen_is(page, "admitted")
    check(page, "resident-admitted")
    scene.leave()
    screen_is(page, "idle")
    scene.person(33.0)  # a cold forehead: too cold, measure again
    screen_is(page, "retry")
    check(page, "resident-retry")
    scene.leave()
    kiosk.hardware.simulator.inject("unplugged")
    screen_is(page, "sensor_fault")
    check(page, "resident-sensor-fault")
    kiosk.hardware.simulator.clear_faults()
    screen_is(page, "idle")
    scene.person(38.4)
    screen_is(page, "blocked")
    assert page.is_hidden("#measure-again")  # nothing on this screen lets them in
    assert "门卫" in page.inner_text("#detail")
    check(page, "resident-blocked-waiting-for-guard")

    page.goto(kiosk.url + "/privacy")
    check(page, "privacy")

    page.goto(kiosk.url + "/guard")
    page.wait_for_selector("#guard-list button")
    check(page, "guard-sign-in")
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    page.wait_for_selector("#pending-list li.blocked")
    check(page, "guard-pending")
    page.click("#pending-list li.blocked button.decide")
    page.click("#override-decision button[data-value='admit']")
    check(page, "guard-override-step1")
    page.click("#override .next")
    check(page, "guard-override-step2")
    page.click("#override .prev")
    page.click("#override .cancel")

    page.click("nav button[data-tab='visitor']")
    check(page, "guard-visitor-step1-phone")
    page.click("#visitor .keypad button[data-key='next']")
    check(page, "guard-visitor-step2-building")
    page.click("#building button[data-value='3']")
    check(page, "guard-visitor-step2-unit")
    page.click("#unit button[data-value='2']")
    check(page, "guard-visitor-step3-room")
    page.click("#room button[data-value='301']")
    check(page, "guard-visitor-step4-name")
    page.click("#surname button[data-value='王']")
    page.click("#title button[data-value='先生']")
    check(page, "guard-visitor-step5-id")
    page.click("#id-skip")
    check(page, "guard-visitor-step6")
    page.click("#visitor button[type='submit']")  # nothing typed: the error names the field
    page.wait_for_selector("#visitor .message:has-text('手机号：')")
    check(page, "guard-visitor-error")

    page.click("nav button[data-tab='vehicle']")
    check(page, "guard-vehicle")
    page.click("nav button[data-tab='today']")
    page.wait_for_selector("#today tbody tr")
    assert page.inner_text("#today thead").split() == [
        "编号",
        "时间",
        "类别",
        "结果",
        "体温",
        "车牌",
        "/",
        "电话",
        "/",
        "通行码",
    ]
    check(page, "guard-today")
    page.click("nav button[data-tab='health']")
    page.wait_for_selector("#health dd")
    assert "正常，最近读数" in page.inner_text("#health")
    check(page, "guard-health")

    scene.leave()  # the blocked person stepped aside; the guard calls them back
    page.wait_for_timeout(500)  # (gone for the gate loop too, not just for the scene)
    page.click("nav button[data-tab='pending']")
    page.click("#pending-list li.blocked button.remeasure")
    wait_for_screen(kiosk.gate, "guard_remeasure")
    page.goto(kiosk.url)
    screen_is(page, "guard_remeasure")
    check(page, "resident-guard-remeasure")
    scene.person(36.7)
    screen_is(page, "admitted")
    again = [e for e in kiosk.ledger.events() if e["kind"] == "screening"][-1]
    assert again["estimate_c"] == 36.7 and again["links_to"] is not None


def test_a_quarantine_notice_shows_the_unit_and_is_dismissed(kiosk, page):
    kiosk.gate.present_pass("Q6002")
    unlock(page, kiosk.url)
    page.wait_for_selector(".notice")
    assert "3-2-301" in page.inner_text("#notices")
    check(page, "guard-notice")
    page.click(".notice button")
    page.wait_for_selector(".notice", state="detached")


def test_the_guard_locking_puts_the_resident_screen_back(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    page.click("nav button[data-tab='visitor']")
    for digit in "13812":  # half typed, then the guard walks off
        page.click(f"#visitor .keypad button[data-key='{digit}']")
    page.click("#lock")
    on_resident_screen(page, kiosk.url)
    screen_is(page, "idle")
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    page.click("nav button[data-tab='visitor']")
    assert page.input_value("#phone") == ""
    # the automatic lock (as if auto_lock_s had passed without a touch) does the same
    page.evaluate("display.state.lastTouch = 0")
    on_resident_screen(page, kiosk.url, timeout=5000)
    screen_is(page, "idle")
    assert kiosk.ledger.count() == 0  # nothing half typed was registered


@pytest.mark.parametrize("path", ["/guard", "/privacy"])
def test_a_page_left_open_goes_back_to_the_resident_by_itself(kiosk, page, path):
    page.goto(kiosk.url + path)
    on_resident_screen(page, kiosk.url, timeout=9000)  # idle_return_s is 5 here
    screen_is(page, "idle")


@pytest.mark.parametrize("path", ["/guard", "/privacy"])
def test_a_fever_while_another_page_is_up_puts_the_verdict_on_screen(kiosk, page, path):
    page.goto(kiosk.url + path)
    page.wait_for_timeout(500)  # the page follows the gate
    kiosk.hardware.simulator.scene.person(38.4)
    on_resident_screen(page, kiosk.url, timeout=4000)  # well before idle_return_s
    screen_is(page, "blocked")
    assert page.inner_text("#temperature") == "38.4 °C"


def test_a_fever_while_the_guard_works_shows_the_verdict_on_the_guard_screen(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    page.click("nav button[data-tab='vehicle']")
    kiosk.hardware.simulator.scene.person(38.4)
    page.wait_for_selector("#urgent:not([hidden]):has-text('38.4')")
    check(page, "guard-urgent-verdict")
    page.click("nav button[data-tab='visitor']")
    page.click("#visitor .keypad button[data-key='next']")
    page.click("#building button[data-value='3']")
    page.click("#unit button[data-value='2']")
    check(page, "guard-urgent-visitor-step3-room")
    page.click("#room button[data-value='301']")
    check(page, "guard-urgent-visitor-step4-name")
    page.click("#urgent-open")
    page.wait_for_selector("#pending-list li.blocked")


def test_the_language_goes_back_to_chinese_for_the_next_person(kiosk, page):
    page.goto(kiosk.url)
    screen_is(page, "idle")
    page.click("#language-toggle")
    assert page.inner_text("#headline").startswith("Step up") or "pass" in page.inner_text(
        "#headline"
    )
    kiosk.hardware.simulator.scene.person(36.6)
    screen_is(page, "admitted")
    assert page.inner_text("#headline") == "体温正常，请通行"


class Taps:
    def __init__(self, page) -> None:
        self.page = page
        self.count = 0

    def __call__(self, selector: str) -> None:
        self.page.click(selector)
        self.count += 1


def test_a_green_visitor_in_taps(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    tap = Taps(page)
    tap("nav button[data-tab='visitor']")
    digits = 0
    for digit in "13812345678":
        tap(f"#visitor .keypad button[data-key='{digit}']")
        digits += 1
    tap("#visitor .keypad button[data-key='next']")
    tap("#building button[data-value='3']")
    tap("#unit button[data-value='2']")
    tap("#room button[data-value='301']")
    tap("#surname button[data-value='王']")
    tap("#title button[data-value='先生']")  # surname and title: on to the ID number
    tap("#id-skip")  # no ID card shown
    tap("#purpose button[data-value='delivery']")
    # 14天内到过风险地区: 无 is chosen already; the guard asks and leaves it
    tap("#code_colour button[data-value='green']")
    tap("#visitor button[type='submit']")
    page.wait_for_selector("#visitor .message.ok")
    # 11 taps besides the 11 digits: the register's room and name added 3, 跳过 the ID 1.
    assert tap.count - digits == 11
    assert tap.count == 22
    first = next(e for e in kiosk.ledger.events() if e["kind"] == "visitor")
    assert first["verdict"] == "registered"

    # The courier comes back the next day: one touch on 常来访客 fills phone, place, room,
    # purpose, and (on the server, from the earlier record) the name.
    tap = Taps(page)
    tap("nav button[data-tab='visitor']")
    tap("#recent button")
    tap("#code_colour button[data-value='green']")
    tap("#visitor button[type='submit']")
    page.wait_for_selector("#visitor .message.ok")
    assert tap.count <= 10
    again = [e for e in kiosk.ledger.events() if e["kind"] == "visitor"][-1]
    detail = json.loads(again["detail"])
    assert (again["verdict"], detail["phone"], detail["building"], detail["unit"]) == (
        "registered",
        "13812345678",
        "3",
        "2",
    )
    assert detail["purpose"] == "delivery"
    assert (detail["room"], detail["name"]) == ("301", "王先生")


RESIDENT_STATES = [
    ("measuring", {}),
    ("need_pass", {}),
    ("admitted", {"estimate_c": 36.5, "threshold_c": 37.3, "recorded": True, "seq": 8}),
    ("admitted-need-pass", {"estimate_c": 36.5, "recorded": True, "seq": 8, "need_pass": True}),
    ("fault", {"reason": "sensor", "recorded": True, "seq": 9}),
    ("held", {"estimate_c": 36.4, "recorded": True, "seq": 10}),
    ("guard_admitted", {"estimate_c": 36.9, "recorded": True, "seq": 11}),
    ("guard_denied", {"recorded": True, "seq": 12}),
    ("not_recorded", {}),
    ("stopped", {}),
]


def test_every_other_resident_screen_fits(kiosk, page):
    """The states the loop shows only for a moment, put up one by one with the loop stopped."""
    kiosk.gate._stop.set()
    kiosk.gate._thread.join(5)
    page.goto(kiosk.url)
    for name, fields in RESIDENT_STATES:
        screen = name.split("-")[0]
        kiosk.gate.show(screen, **fields)
        screen_is(page, screen)
        check(page, f"resident-{name}")
        assert page.inner_text("#headline")
    kiosk.gate.show("blocked", estimate_c=38.4, threshold_c=37.3, recorded=True, seq=13)
    screen_is(page, "blocked")
    page.click("#language-toggle")
    check(page, "resident-blocked-english")

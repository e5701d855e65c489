"""The touchscreen in real headless Chromium (Debian's package), driven by Playwright."""

from __future__ import annotations

import pytest

from kiosk.passes import upsert
from tests.browser_helpers import screen_is
from tests.gate_helpers import (
    pin_went_high,
    resident_pass,
    wait_for_loop_past,
    wait_for_screen,
    wait_until,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def kiosk(start_kiosk):
    return lambda **overrides: start_kiosk(**{"kiosk__result_hold_s": 3.0, **overrides})


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 800, "height": 480}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    yield page
    context.close()
    assert errors == []


def test_a_resident_at_36_6_passes(kiosk, page, mock_factory):
    k = kiosk()
    page.goto(k.url)
    screen_is(page, "idle")
    assert page.inner_text("#headline") == "请上前测温"
    mock_factory.pin(23).clear_states()
    k.hardware.simulator.scene.person(36.6)
    screen_is(page, "admitted")
    assert page.inner_text("#temperature") == "36.6 °C"
    assert page.inner_text("#headline") == "体温正常，请通行"
    assert page.inner_text("#recorded").startswith("已记录")
    assert pin_went_high(mock_factory.pin(23))
    k.hardware.simulator.scene.leave()
    screen_is(page, "idle")  # back to idle by itself


def test_a_resident_at_38_2_is_blocked_and_the_buzzer_sounds_the_alarm(kiosk, page, mock_factory):
    k = kiosk()
    page.goto(k.url)
    screen_is(page, "idle")
    buzzer = mock_factory.pin(18)
    buzzer.clear_states()
    k.hardware.simulator.scene.person(38.2)
    screen_is(page, "blocked")
    assert page.inner_text("#temperature") == "38.2 °C"
    assert "禁止通行" in page.inner_text("#headline")
    wait_until(lambda: len(buzzer.states) >= 6, what="the alarm's first beeps")
    ons = [i for i, change in enumerate(buzzer.states) if change.state]
    assert len(ons) >= 2  # the alarm repeats: 0.4 s on, 0.2 s off
    intervals = [round(c.timestamp, 1) for c in buzzer.states[2:5]]
    assert intervals == [0.4, 0.2, 0.4]
    assert not pin_went_high(mock_factory.pin(23))


def test_a_sensor_fault_never_admits(kiosk, page, mock_factory):
    k = kiosk()
    page.goto(k.url)
    screen_is(page, "idle")
    mock_factory.pin(23).clear_states()
    k.hardware.simulator.inject("unplugged")
    k.hardware.simulator.scene.person(36.6)
    screen_is(page, "sensor_fault")
    assert "联系门卫" in page.inner_text("#headline")
    wait_for_loop_past(k.gate, 1.0)
    assert not pin_went_high(mock_factory.pin(23))
    assert all(e["verdict"] != "admitted" for e in k.ledger.events())


@pytest.mark.parametrize("size", [(800, 480), (1024, 600)])
def test_every_screen_fits_without_scrolling(kiosk, browser, size):
    k = kiosk(kiosk__identify="before")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(k.url)
    k.gate.stop()  # the loop would put its own screen back; here the test shows each in turn
    for screen, extra in [
        ("idle", {"identify": "before"}),
        ("measuring", {}),
        ("admitted", {"estimate_c": 36.6, "threshold_c": 37.3, "recorded": True, "seq": 1234}),
        ("blocked", {"estimate_c": 38.2, "threshold_c": 37.3, "recorded": True, "seq": 1235}),
        ("retry", {"reason": "too_cold", "recorded": True, "seq": 1236}),
        ("fault", {"recorded": True, "seq": 1237}),
        ("sensor_fault", {}),
        ("need_pass", {}),
    ]:
        k.gate.screen.publish(screen, **extra)
        screen_is(page, screen)
        for language in ("zh", "en"):
            if page.evaluate("document.body.dataset.language") != language:
                page.click("#language-toggle")
                page.evaluate(f"document.body.dataset.language = '{language}'")
            overflow = page.evaluate(
                "[document.documentElement.scrollHeight - innerHeight,"
                " document.documentElement.scrollWidth - innerWidth]"
            )
            assert overflow == [0, 0], (screen, language, size)
            for element in ("#headline", "#detail"):
                box = page.locator(element).bounding_box()
                assert box is None or box["y"] + box["height"] <= size[1], (screen, element)
    page.screenshot(path=str(k.config.data_dir / f"screen-{size[0]}.png"))
    context.close()


def test_a_resident_types_a_pass_on_the_keypad(kiosk, page):
    k = kiosk(kiosk__identify="before", kiosk__identify_required=True)
    upsert(k.ledger.connection(), [resident_pass("5001")], source="test")
    page.goto(k.url)
    screen_is(page, "idle")
    k.hardware.simulator.scene.person(36.6)
    screen_is(page, "need_pass")
    for key in "5001":
        page.click(f"#keypad button[data-key='{key}']")
    page.click("#key-ok")
    screen_is(page, "admitted")
    event = next(e for e in k.ledger.events() if e["kind"] == "screening")
    assert event["pass_code"] == "5001"


def test_a_usb_scanner_types_the_code_and_enter(kiosk, page):
    k = kiosk(kiosk__identify="before")
    page.goto(k.url)
    screen_is(page, "idle")
    page.keyboard.type("REVOKED9")
    page.keyboard.press("Enter")
    page.wait_for_selector("#pass-message:has-text('通行码无效')")
    wait_for_screen(k.gate, "idle")
    assert k.ledger.events()[-1]["verdict"] == "refused"


def test_english_can_be_chosen(kiosk, page):
    k = kiosk()
    page.goto(k.url)
    screen_is(page, "idle")
    page.click("#language-toggle")
    assert page.inner_text("#headline") == "Step up to be measured"

"""The lane at the touchscreen (800×480, Debian's Chromium): a tight queue, a scan during a
verdict, the next person's screen during a fever block, a scanner's Enter that presses nothing.
Screenshots go to $MENWEI_SHOTS (default: the test's tmp dir) to be looked at."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kiosk.passes import upsert
from tests.browser_helpers import screen_is
from tests.gate_helpers import resident_pass, wait_for_screen, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture
def kiosk(start_kiosk):
    return lambda **overrides: start_kiosk(**{"kiosk__result_hold_s": 2.0, **overrides})


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 800, "height": 480}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == []


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("MENWEI_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenings(k):
    return [e for e in k.ledger.events() if e["kind"] == "screening"]


@pytest.mark.parametrize("gap_s", [0.0, 1.0, 3.0])
def test_a_tight_queue_gives_every_person_their_own_verdict(kiosk, page, shots, gap_s):
    """Each follower steps in ``gap_s`` after the verdict before, with no dip between them."""
    k = kiosk()
    scene = k.hardware.simulator.scene
    page.goto(k.url)
    screen_is(page, "idle")
    queue = [36.6, 38.5, 36.4] if gap_s else [36.6, 39.0]
    for n, core_c in enumerate(queue):
        scene.person(core_c)  # replaces the one before: no gap the chip can see
        expected = "admitted" if core_c <= 37.3 else "blocked"
        wait_until(lambda n=n: len(screenings(k)) > n, timeout=15, what=f"person {n + 1}")
        screen_is(page, expected)
        assert page.inner_text("#temperature") == f"{core_c:.1f} °C"
        page.screenshot(path=str(shots / f"queue-gap{gap_s:g}-{n + 1}-{expected}.png"))
        if expected == "blocked":
            break
        page.wait_for_timeout(gap_s * 1000)
    # A person who lingers past the hold is measured again (a second screening, linked): the
    # queue, with those folded, is the people in order, each with their own verdict.
    people, linked = [], 0
    for e in screenings(k):
        if people and people[-1] == (e["verdict"], e["estimate_c"]):
            assert json.loads(e["detail"])["after_without_gap"]
            linked += 1
            continue
        people.append((e["verdict"], e["estimate_c"]))
    measured = queue[: len(people)]
    assert people == [("admitted" if c <= 37.3 else "blocked", c) for c in measured]
    assert people[-1][0] == "blocked"
    assert linked <= len(queue)


def test_the_next_person_during_a_block_is_told_to_wait_not_shown_the_fever(kiosk, page, shots):
    k = kiosk()
    scene = k.hardware.simulator.scene
    page.goto(k.url)
    scene.person(38.2)
    screen_is(page, "blocked")
    page.screenshot(path=str(shots / "block-1-the-person.png"))
    scene.person(36.5)  # the next resident steps up
    screen_is(page, "awaiting_guard")
    assert "前一位正在由门卫处理" in page.inner_text("#headline")
    assert page.inner_text("#temperature") == ""
    assert "门卫暂不在岗" in page.inner_text("#detail")  # nobody signed on at this kiosk
    assert page.is_hidden("#measure-again")
    page.screenshot(path=str(shots / "block-2-the-next-person.png"))
    assert [e["verdict"] for e in screenings(k)] == ["blocked"]


def test_a_scan_during_a_verdict_counts_for_the_next_person(kiosk, page, shots):
    k = kiosk(kiosk__identify="before")
    upsert(k.ledger.connection(), [resident_pass("20010501")], source="test")
    scene = k.hardware.simulator.scene
    page.goto(k.url)
    scene.person(36.6)
    screen_is(page, "admitted")
    page.keyboard.type("20010501")  # the next person scans while the verdict is still up
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-message:has-text('轮到您时请上前测温')")
    page.screenshot(path=str(shots / "scan-during-verdict.png"))
    [first] = screenings(k)
    assert first["pass_code"] is None
    scene.person(36.8)  # the next person steps in
    wait_until(lambda: len(screenings(k)) == 2, timeout=15, what="the next person")
    assert screenings(k)[1]["pass_code"] == "20010501"


def test_a_scanners_enter_presses_no_button(kiosk, page):
    """Field trial: a scan's Enter pressed the focused button (it switched the language)."""
    k = kiosk(kiosk__identify="before")
    scene = k.hardware.simulator.scene
    page.goto(k.url)
    screen_is(page, "idle")
    page.click("#language-toggle")
    page.click("#language-toggle")  # back to Chinese; a button was the last thing touched
    scene.person(38.3)
    screen_is(page, "blocked")
    page.keyboard.type("UNKNOWN1")
    page.keyboard.press("Enter")
    wait_until(lambda: k.ledger.events()[-1]["kind"] == "identify", what="the scan recorded")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.inner_text("#headline") == "体温异常，禁止通行"
    identify = k.ledger.events()[-1]
    assert (identify["verdict"], identify["reason"]) == ("refused", "unknown")
    wait_for_screen(k.gate, "awaiting_guard", timeout=5)
    assert json.loads(identify["detail"] or "{}") == {}

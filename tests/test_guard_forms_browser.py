"""The guard screen's forms from the field trial, in real Chromium at 800x480: the visitor's
room, name and ID number; a returning visitor in a few taps; a bad ID that loses nothing; the
today page's pager and the province picker with a notice up; the household notice. Every screen
is measured (targets at least 48x48 px, nothing beyond the screen, nothing scrolls) and saved to
tests/screenshots/ and /tmp/shots/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.passes import upsert
from kiosk.visitor_ids import VISITOR_ID_KEY_FILE
from sync.contract import id_number_hash
from tests.browser_helpers import check, stock, unlock, visitor_to_last_step
from tests.gate_helpers import resident_pass

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
ID = "11010519491231002X"
KEY = bytes.fromhex("5a" * 32)
# Building 3 unit 2 with 30 rooms (more than a page); 4-1 with none known (typed).
ROOMS = [f"{floor}0{door}" for floor in range(1, 16) for door in (1, 2)]


@pytest.fixture
def kiosk(start_kiosk, tmp_path):
    k = start_kiosk(kiosk__result_hold_s=3.0, kiosk__identify="after")
    conn = k.ledger.connection()
    rooms = [{**resident_pass(f"R{room}"), "room": room} for room in ROOMS]
    stock(conn, tmp_path, passes=rooms)
    upsert(
        conn,
        [{**resident_pass("N4101"), "building": "4", "unit": "1", "room": None}],
        source="test",
    )
    (k.config.data_dir / VISITOR_ID_KEY_FILE).write_text(KEY.hex())
    return k


@pytest.fixture
def page(pages):
    return pages[1]


def shot(page, name: str) -> None:
    """Measure (check) and keep the screenshot where the field trial looks at it too."""
    check(page, name)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def notice_up(kiosk, page) -> None:
    """A quarantined resident's pass: a notice above the tabs takes room from every tab."""
    kiosk.gate.present_pass("Q6002")
    page.wait_for_selector(".notice")


def visitors(kiosk) -> list[dict]:
    return [json.loads(e["detail"]) for e in kiosk.ledger.events() if e["kind"] == "visitor"]


class Taps:
    def __init__(self, page) -> None:
        self.page = page
        self.count = 0

    def __call__(self, selector: str) -> None:
        self.page.click(selector)
        self.count += 1


def test_every_visitor_step_fits_a_finger_with_a_notice_up(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    notice_up(kiosk, page)
    page.click("nav button[data-tab='visitor']")
    shot(page, "forms-visitor-1-phone")
    for digit in "13912345678":
        page.click(f"#visitor .keypad[data-target='phone'] button[data-key='{digit}']")
    page.click("#visitor .keypad[data-target='phone'] button[data-key='next']")
    page.click("#building button[data-value='3']")
    shot(page, "forms-visitor-2-unit")
    page.click("#unit button[data-value='2']")
    shot(page, "forms-visitor-3-rooms-page-1")
    page.click("#room-pager button:has-text('下一页')")
    shot(page, "forms-visitor-3-rooms-page-2")
    page.click("#room button[data-value='1302']")
    shot(page, "forms-visitor-4-name")
    page.click("#name-next")  # no name yet: said, and the step stays
    page.wait_for_selector("#visitor .step[data-step='4'] .message:has-text('姓名：')")
    page.click("#surname-pager button:has-text('下一页')")
    page.click("#surname-pager button:has-text('下一页')")
    page.click("#surname button[data-value='欧阳']")
    page.click("#title button[data-value='女士']")
    shot(page, "forms-visitor-5-id")
    for key in ID:
        page.click(f"#visitor .keypad[data-target='id_number'] button[data-key='{key}']")
    page.click("#id-next")
    assert "欧阳女士" in page.inner_text("#visitor-summary")
    assert "110105********002X" in page.inner_text("#visitor-summary")
    page.click("#purpose button[data-value='visit_family']")
    page.click("#code_colour button[data-value='green']")
    shot(page, "forms-visitor-6-last")
    page.click("#visitor button[type='submit']")
    page.wait_for_selector("#visitor .message.ok")
    shot(page, "forms-visitor-done")
    [detail] = visitors(kiosk)
    assert (detail["building"], detail["unit"], detail["room"]) == ("3", "2", "1302")
    assert (detail["name"], detail["id_masked"]) == ("欧阳女士", "110105********002X")
    assert detail["id_hash"] == id_number_hash(KEY, ID)


def test_a_unit_without_known_rooms_types_the_room_on_a_keypad(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    page.click("nav button[data-tab='visitor']")
    for digit in "13912345678":
        page.click(f"#visitor .keypad[data-target='phone'] button[data-key='{digit}']")
    page.click("#visitor .keypad[data-target='phone'] button[data-key='next']")
    page.click("#building button[data-value='4']")
    page.click("#unit button[data-value='1']")
    page.wait_for_selector("#room-type:not([hidden])")
    for digit in "1202":
        page.click(f"#visitor .keypad[data-target='room-typed'] button[data-key='{digit}']")
    shot(page, "forms-visitor-3-room-typed")
    page.click("#visitor .keypad[data-target='room-typed'] button[data-key='next']")
    page.click("#surname button[data-value='李']")
    page.click("#title button[data-value='先生']")
    page.click("#id-skip")
    page.click("#purpose button[data-value='repair']")
    page.click("#code_colour button[data-value='green']")
    page.click("#visitor button[type='submit']")
    page.wait_for_selector("#visitor .message.ok")
    [detail] = visitors(kiosk)
    assert (detail["building"], detail["unit"], detail["room"], detail["name"]) == (
        "4",
        "1",
        "1202",
        "李先生",
    )
    assert (detail["id_masked"], detail["id_hash"]) == (None, None)


def test_a_bad_id_number_is_said_and_nothing_typed_is_lost(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    wrong = ID[:-1] + "1"  # the check character mistyped
    visitor_to_last_step(page, room="1501", id_number=wrong)
    page.click("#purpose button[data-value='delivery']")
    page.click("#code_colour button[data-value='yellow']")
    page.click("#visitor button[type='submit']")
    # Back on the ID step, the error first, the number as typed.
    page.wait_for_selector("#visitor .step[data-step='5']:not([hidden])")
    message = page.inner_text("#visitor .step[data-step='5'] .message")
    assert message.startswith("身份证号：校验位不对")
    assert page.input_value("#id_number") == wrong
    shot(page, "forms-visitor-bad-id")
    assert visitors(kiosk) == []
    # Back to the room (on the rooms' second page), turn to the first page and on again: the
    # room picked is kept although its button is not on the page shown.
    page.click("#visitor .step[data-step='5'] .prev")
    page.click("#visitor .step[data-step='4'] .prev")
    page.click("#room-pager button:has-text('上一页')")
    assert page.locator("#room button[data-value='1501']").count() == 0
    page.click("#room-next")
    page.click("#name-next")  # the name is kept too
    page.wait_for_selector("#visitor .step[data-step='5']:not([hidden])")
    assert page.input_value("#id_number") == wrong
    page.click("#visitor .keypad[data-target='id_number'] button[data-key='⌫']")
    page.click("#visitor .keypad[data-target='id_number'] button[data-key='X']")
    page.click("#id-next")
    # Everything else is as it was: the summary and the choices.
    summary = page.inner_text("#visitor-summary")
    assert "13812345678 · 3-2-1501 · 王先生" in summary
    assert page.get_attribute("#code_colour button.active", "data-value") == "yellow"
    page.click("#visitor button[type='submit']")
    page.wait_for_selector("#visitor .message.ok")
    [detail] = visitors(kiosk)
    assert (detail["phone"], detail["room"], detail["name"], detail["code_colour"]) == (
        "13812345678",
        "1501",
        "王先生",
        "yellow",
    )
    assert detail["id_masked"] == "110105********002X"


def test_a_returning_visitor_is_registered_in_four_taps_with_name_and_id(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    visitor_to_last_step(page, room="302", surname="张", title="女士", id_number=ID)
    page.click("#purpose button[data-value='housekeeping']")
    page.click("#code_colour button[data-value='green']")
    page.click("#visitor button[type='submit']")
    page.wait_for_selector("#visitor .message.ok")
    page.click("nav button[data-tab='pending']")

    tap = Taps(page)
    tap("nav button[data-tab='visitor']")
    assert "张" not in page.inner_text("#recent")  # lists show no names
    assert "138****5678 · 3-2-302" in page.inner_text("#recent")
    tap("#recent button")
    summary = page.inner_text("#visitor-summary")
    assert "姓名同上次" in summary and "证件同上次" in summary
    shot(page, "forms-visitor-returning")
    tap("#code_colour button[data-value='green']")
    tap("#visitor button[type='submit']")
    page.wait_for_selector("#visitor .message.ok")
    assert tap.count == 4 <= 10
    first, again = visitors(kiosk)
    for key in ("phone", "name", "building", "unit", "room", "id_masked", "id_hash", "purpose"):
        assert again[key] == first[key], key


def test_the_today_page_keeps_its_pager_on_screen_with_a_notice_up(kiosk, page):
    for n in range(25):
        kiosk.gate.record("vehicle", verdict="in", detail={"plate": f"京A1234{n % 10}"})
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    page.click("nav button[data-tab='today']")
    page.wait_for_selector("#today tbody tr")
    shot(page, "forms-today")
    rows_without = page.locator("#today tbody tr").count()
    notice_up(kiosk, page)
    # The page fits itself to the room left: fewer rows, the pager on the screen.
    page.wait_for_function(f"document.querySelectorAll('#today tbody tr').length < {rows_without}")
    shot(page, "forms-today-with-notice")
    first_page = page.inner_text("#today tbody")
    page.click("#today-pager button:has-text('下一页')")
    assert page.inner_text("#today tbody") != first_page
    box = page.locator("#today-pager button:has-text('下一页')").bounding_box()
    assert box["y"] + box["height"] <= 480 and box["height"] >= 48


def test_the_province_picker_has_rows_a_finger_can_hit(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    notice_up(kiosk, page)
    page.click("nav button[data-tab='vehicle']")
    shot(page, "forms-vehicle")
    page.click("#province")
    page.wait_for_selector("#province-list:not([hidden])")
    shot(page, "forms-vehicle-provinces")
    sizes = page.eval_on_selector_all(
        "#province-list button",
        "bs => bs.map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height])",
    )
    assert len(sizes) == 31 and all(w >= 48 and h >= 48 for w, h in sizes)
    page.click("#province-list button[data-value='粤']")
    assert page.inner_text("#province").startswith("粤")
    for key in "B12345":
        page.click(f"#vehicle .keypad button[data-key='{key}']")
    page.click("#vehicle button[type='submit']")
    page.wait_for_selector("#vehicle .message.ok:has-text('粤B12345')")


def test_staff_with_visitors_at_home_flag_the_guard_screen(kiosk, page):
    kiosk.gate.record(
        "shift",
        verdict="on",
        estimate_c=36.5,
        threshold_c=37.3,
        detail={"guard_id": "li", "name": "李师傅", "visitors_at_home": True},
    )
    unlock(page, kiosk.url)
    page.wait_for_selector("#household:not([hidden])")
    assert page.inner_text("#household") == "⚠ 李师傅 家中有外来人员"
    notice_up(kiosk, page)
    shot(page, "forms-household-badge")
    page.click("nav button[data-tab='duty']")
    assert "是否换岗由物业经理在中心决定" in page.inner_text("#household-detail")
    shot(page, "forms-household-duty-tab")
    kiosk.gate.record("shift", verdict="off", detail={"guard_id": "li", "name": "李师傅"})
    page.wait_for_selector("#household", state="hidden")


def test_a_half_typed_id_number_and_name_go_with_the_lock(kiosk, page):
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    page.click("nav button[data-tab='visitor']")
    page.click("#visitor .keypad[data-target='phone'] button[data-key='next']")
    page.click("#building button[data-value='3']")
    page.click("#unit button[data-value='2']")
    page.click("#room button[data-value='101']")
    page.click("#surname button[data-value='王']")
    page.click("#title button[data-value='先生']")
    for key in "1101051949":  # half typed, then the guard walks off
        page.click(f"#visitor .keypad[data-target='id_number'] button[data-key='{key}']")
    page.click("#lock")
    page.wait_for_url(kiosk.url + "/")
    unlock(page, kiosk.url)
    page.wait_for_selector("#desk:not([hidden])")
    for field in ("#phone", "#visitor-name", "#id_number", "#room-typed"):
        assert page.input_value(field) == "", field
    assert page.evaluate("document.getElementById('room').dataset.selected") is None
    assert kiosk.ledger.count() == 0

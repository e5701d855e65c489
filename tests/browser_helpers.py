"""Real headless Chromium (Debian's package) driven by Playwright: the browser and page fixtures
(a pytest plugin, see conftest.py) and the helpers the browser tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiosk.guard_accounts import add_guard
from kiosk.passes import upsert
from tests.gate_helpers import resident_pass

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is missing: ./setup.sh test installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def screen_is(page, screen: str, timeout: float = 8000) -> None:
    page.wait_for_selector(f"body[data-screen='{screen}']", timeout=timeout)


def stock(conn, tmp_path, *, passes=(), areas=("某市某区",)) -> None:
    """Guard 王师傅 (PIN 483190), a pass, a quarantined resident's pass, and the risk areas."""
    from kiosk.risk_areas import replace_risk_areas

    add_guard(conn, "wang", "王师傅", "483190")
    rows = [
        resident_pass("F6001"),
        {**resident_pass("Q6002"), "quarantine_until": "2099-12-31"},
        *passes,
    ]
    upsert(conn, rows, source="test")
    path = tmp_path / "areas.txt"
    path.write_text("".join(area + "\n" for area in areas), encoding="utf-8")
    replace_risk_areas(conn, path)


@pytest.fixture
def pages(browser):
    context = browser.new_context(viewport={"width": 800, "height": 480}, locale="zh-CN")
    resident, guard = context.new_page(), context.new_page()
    errors: list[str] = []
    for page in (resident, guard):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield resident, guard
    context.close()
    assert errors == []


def unlock(guard, url: str, pin: str = "483190", guard_id: str = "wang") -> None:
    guard.goto(url + "/guard")
    guard.click(f"#guard-list button[data-guard='{guard_id}']")
    for digit in pin:
        guard.click(f"#login .keypad button[data-key='{digit}']")
    guard.click("#pin-ok")


SHOTS = Path(__file__).parent / "screenshots"


SMALL_TARGETS = """() => {
  const small = [];
  for (const el of document.querySelectorAll("button, a[href], select, input, [role=button]")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not on screen
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (r.width < 48 || r.height < 48) {
      small.push(`${el.tagName} #${el.id} '${el.textContent.trim().slice(0, 16)}' `
        + `${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return small;
}"""


OUTSIDE = """() => {
  const outside = [];
  const root = document.documentElement;
  if (root.scrollHeight > innerHeight || root.scrollWidth > innerWidth) {
    outside.push("page scrolls");
  }
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (getComputedStyle(el).overflowY === "auto" && el.scrollHeight > el.clientHeight + 1) {
      outside.push(`${el.tagName} #${el.id} scrolls`);
    }
    if (r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5) {
      outside.push(`${el.tagName} #${el.id} '${el.textContent.trim().slice(0, 16)}' `
        + `ends at ${Math.round(r.right)}x${Math.round(r.bottom)}`);
    }
  }
  return outside;
}"""


def check(page, name: str) -> None:
    """Save the screenshot, then: every target at least 48x48 px, nothing beyond the screen."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    assert page.evaluate(SMALL_TARGETS) == [], name
    assert page.evaluate(OUTSIDE) == [], name


def on_resident_screen(page, url: str, timeout: float = 8000) -> None:
    page.wait_for_url(url + "/", timeout=timeout)


def visitor_to_last_step(
    page,
    *,
    phone: str = "13812345678",
    building: str = "3",
    unit: str = "2",
    room: str = "301",
    surname: str = "王",
    title: str = "先生",
    id_number: str | None = None,
) -> None:
    """The visitor form's steps ① to ⑤ on the guard screen, by touch: the phone on the keypad,
    building, unit, room, surname and title (which moves on), the ID number on its keypad or
    跳过. Ends on step ⑥ (purpose, risk area, health code)."""
    page.click("nav button[data-tab='visitor']")
    for digit in phone:
        page.click(f"#visitor .keypad[data-target='phone'] button[data-key='{digit}']")
    page.click("#visitor .keypad[data-target='phone'] button[data-key='next']")
    page.click(f"#building button[data-value='{building}']")
    page.click(f"#unit button[data-value='{unit}']")
    for _ in range(10):  # the rooms come in pages
        if page.locator(f"#room button[data-value='{room}']").count():
            break
        page.click("#room-pager button:has-text('下一页')")
    page.click(f"#room button[data-value='{room}']")
    page.click(f"#surname button[data-value='{surname}']")
    page.click(f"#title button[data-value='{title}']")
    if id_number is None:
        page.click("#id-skip")
    else:
        for key in id_number:
            page.click(f"#visitor .keypad[data-target='id_number'] button[data-key='{key}']")
        page.click("#id-next")
    page.wait_for_selector("#visitor .step[data-step='6']:not([hidden])")

"""The hub's pages in real headless Chromium, with a kiosk syncing to the same hub."""

from __future__ import annotations

import csv
import io
import re

import pytest

from kiosk.enrolment import save_token
from kiosk.passes import lookup
from kiosk.server import start_in_background
from sync.hub.admins import create_admin
from sync.hub.store import HubStore
from tests.browser_helpers import screen_is
from tests.gate_helpers import wait_for_screen, wait_until
from tests.sync_fixtures import Faults, RunningHub, free_port

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
RESIDENTS_CSV = (
    "building,unit,room,name,phone,role\n"
    "1,2,301,张三,13812345678,owner\n"
    "1,2,302,李四,,tenant\n"
    "1,2,<b>,坏人,,owner\n"
    "1,2,303,王五,12345,family\n"
)


@pytest.fixture
def site(tmp_path, make_config, mock_factory):
    store = HubStore(f"sqlite:///{tmp_path}/hub.sqlite3")
    store.migrate()
    create_admin(store, "manager", PASSWORD, "admin")
    hub = RunningHub(store, free_port(), Faults()).start()
    config = make_config(
        kiosk__identify="before",
        sync__hub_url=hub.url,
        sync__interval_s=2,
        kiosk__result_hold_s=3.0,
    )
    save_token(config.data_dir, store.enrol(store.create_enrol_code("gate-1"))[1])
    kiosk = start_in_background(config, pin_factory=mock_factory)
    yield hub, kiosk
    kiosk.stop()
    hub.stop()
    store.close()


def sign_in(page, url: str) -> None:
    page.goto(url + "/admin/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button")
    page.wait_for_url("**/admin/dashboard")


def test_import_issue_print_and_use_a_pass_at_the_kiosk(site, browser, tmp_path):
    hub, kiosk = site
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = context.new_page()
    sign_in(page, hub.url)
    page.click("text=住户 Residents")
    upload = tmp_path / "residents.csv"
    upload.write_text(RESIDENTS_CSV, encoding="utf-8")
    page.set_input_files("input[name=file]", str(upload))
    page.click("text=导入 Import")
    report = page.inner_text("#import-report")
    assert "Imported 2" in report and "rejected 2" in report
    assert "row 4" in report and "row 5" in report and "phone" in report
    assert "138****5678" in page.inner_text("#residents")  # masked in the list
    page.click("#issue")  # the job's page follows it to the end
    page.wait_for_selector("#job-state:has-text('已完成')")
    assert page.inner_text("#job-line") == "已为 2 位住户发放通行证，各门岗下次同步后生效"
    page.click("text=回到住户 Back to residents")
    page.wait_for_selector("#residents td:has-text('20')")  # an expiry date appears
    page.click("#sheet-pdf")
    page.wait_for_selector("#job-file:visible")
    with page.expect_download() as download:
        page.click("#job-file")
    assert download.value.path().read_bytes().startswith(b"%PDF")
    page.goto(hub.url + "/admin/residents")
    page.click("#sheet")
    page.wait_for_selector(".card svg")
    codes = [c.strip() for c in page.locator(".card .code").all_inner_texts()]
    assert len(codes) == 2 and all(re.fullmatch(r"\d{10}", c) for c in codes)

    # The kiosk receives the passes through the roster and accepts one typed on its keypad.
    def pass_arrived() -> bool:
        kiosk.sync.client.wake.set()
        return lookup(kiosk.ledger.connection(), codes[0]).ok

    wait_until(pass_arrived, timeout=20, interval=0.3, what="the pass to reach the kiosk")
    resident_screen = context.new_page()
    resident_screen.set_viewport_size({"width": 800, "height": 480})
    resident_screen.goto(kiosk.url)
    screen_is(resident_screen, "idle")
    for digit in codes[0]:
        resident_screen.click(f"#keypad button[data-key='{digit}']")
    resident_screen.click("#key-ok")
    resident_screen.wait_for_selector("#pass-message:has-text('通行码有效')")
    kiosk.hardware.simulator.scene.person(38.4)
    wait_for_screen(kiosk.gate, "blocked")

    # The fever event reaches the hub's dashboard and is followed up there.
    def fever_on_dashboard() -> int:
        kiosk.sync.client.wake.set()
        page.goto(hub.url + "/admin/dashboard")
        return page.locator("#fevers tr[data-event]").count()

    wait_until(fever_on_dashboard, timeout=20, interval=0.5, what="the fever on the dashboard")
    assert "38.4" in page.inner_text("#fevers")
    page.click("#fevers button[value=acknowledged]")
    page.click("#fevers button[value=reported]")
    page.select_option("#fevers select[name=outcome]", "negative")
    page.click("#fevers button[value=closed]")
    assert "closed" in page.inner_text("#fevers") and "negative" in page.inner_text("#fevers")

    # The ledger, exported from the page as CSV and XLSX, re-reads as the database's rows.
    page.click("text=台账 Ledger")
    expected = [e["record"]["id"] for e in hub.store.events_since(0, 1000)]
    with page.expect_download() as download:
        page.click("text=导出 CSV")
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[rows[0].index("记录 Record id")] for r in rows[1:]] == expected
    page.click("text=导出 XLSX")  # made in the background: its page links to the file
    page.wait_for_selector("#job-file:visible")
    with page.expect_download() as download:
        page.click("#job-file")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    values = list(sheet.iter_rows(values_only=True))
    assert [r[values[1].index("记录 Record id")] for r in values[2:]] == expected  # title, header
    context.close()

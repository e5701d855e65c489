"""The compound picker and the district report in real Chromium: an account of two compounds
switches between them; the district account reads its report and downloads its CSV."""

from __future__ import annotations

import pytest

from sync.hub.admins import create_admin
from sync.hub.store import HubStore
from tests.hub_helpers import PASSWORD
from tests.sync_fixtures import Faults, RunningHub, free_port
from tests.tenancy_fixtures import two_compounds


@pytest.fixture
def district_hub(tmp_path):
    store = HubStore(f"sqlite:///{tmp_path}/hub.sqlite3")
    store.migrate()
    a, b = two_compounds(store, tmp_path)
    create_admin(store, "admin-ab", PASSWORD, "admin", [a.name, b.name])
    hub = RunningHub(store, free_port(), Faults()).start()
    yield hub, a, b
    hub.stop()
    store.close()


def sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button")
    page.wait_for_url("**/admin/dashboard")


def test_the_picker_switches_compound_and_the_district_reads_its_report(
    district_hub, browser, tmp_path
):
    hub, a, b = district_hub
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, hub.url, "admin-ab")
    page.goto(hub.url + "/admin/residents")
    assert a.residents[0] in page.content() and b.residents[0] not in page.content()
    page.select_option("select[name=compound]", label=b.name)
    page.click("form.compound-picker button")
    page.wait_for_url("**/admin/residents")
    assert b.residents[0] in page.content() and a.residents[0] not in page.content()
    page.goto(hub.url + "/admin/dashboard")  # the pick stays with the session
    assert b.kiosk in page.content() and a.kiosk not in page.content()
    context.close()

    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    sign_in(page, hub.url, "district-h")
    page.goto(hub.url + "/admin/district")
    rows = page.locator("#district tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text() == a.name
    with page.expect_download() as download:
        page.click("text=下载 CSV")
    saved = tmp_path / "district.csv"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8-sig")
    assert a.name in text and b.name in text and text.startswith("街道/社区,小区,日期")
    context.close()
    assert errors == []

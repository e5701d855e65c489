"""The printed passes scan: every code on the HTML sheet (rendered in Chromium) and on the hub's
PDF (rendered with pdftoppm) is read back by a real decoder, and a kiosk accepts what it read."""

from __future__ import annotations

import pytest

from kiosk.ledger import Ledger
from kiosk.passes import lookup
from kiosk.roster import apply_changes
from sync.hub import pass_qr, residents
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from tests.hub_helpers import PASSWORD, job_file, signed_in
from tests.scan import decode_png, pdf_pages_png

CARDS = 11  # more than one PDF page (nine cards a page)


@pytest.fixture
def issued(hub_store) -> list[str]:
    data = "building,unit,room,name,role\n" + "".join(
        f"{1 + i // 4},1,{101 + i},住户{i},owner\n" for i in range(CARDS)
    )
    residents.import_residents(hub_store, "a.csv", data.encode(), "manager")
    residents.issue_passes(hub_store, "manager", days=30)
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    return sorted(p["code"] for p in residents.residents(hub_store) if p["code"])


@pytest.mark.parametrize("code", ["1234567890", "0000000001", "98765432109876"])
def test_a_pass_is_a_standard_qr_code_never_micro(code):
    qr = pass_qr.pass_qr(code)
    assert not qr.is_micro and qr.error == "Q"
    assert 'viewBox="0 0 116 116"' in pass_qr.qr_svg("1234567890")  # 21 modules + 2 x 4 quiet


def test_the_pdf_sheet_scans_and_the_kiosk_accepts_a_code_read_back(hub_store, issued, tmp_path):
    client, csrf = signed_in(create_hub(hub_store), "admin")
    pdf = job_file(client, client.post("/admin/passes/sheet.pdf", data={"csrf": csrf}))
    pages = pdf_pages_png(pdf, tmp_path)
    assert len(pages) == 2
    read = [code for page in pages for code in decode_png(page)]
    assert sorted(read) == issued  # exactly the issued codes, each once

    ledger = Ledger(tmp_path / "kiosk.sqlite3", "gate-1")
    apply_changes(ledger, hub_store.roster_since(0, 1000))
    assert all(lookup(ledger.connection(), code).ok for code in read)
    assert not lookup(ledger.connection(), "0000000000").ok  # not just any code


@pytest.mark.browser
def test_the_html_sheet_scans_in_chromium(hub_store, issued, browser, tmp_path):
    client, _ = signed_in(create_hub(hub_store), "admin")
    html = client.get("/admin/passes/sheet").get_data(as_text=True)
    page = browser.new_page(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
    try:
        page.set_content(html)
        image = tmp_path / "sheet.png"
        page.screenshot(path=str(image), full_page=True)
    finally:
        page.close()
    assert sorted(decode_png(image)) == issued

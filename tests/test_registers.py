"""The registers (登记表) of a realistic day at one gate, on screen, CSV, XLSX and PDF, with the
seal that checks the printed sheet against the hub."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date

import pytest
from click.testing import CliRunner

from kiosk.ledger import Ledger
from sync.hub import registers, roster_admin, seal
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from sync.hub.cli import main as hub_cli
from tests.hub_helpers import PASSWORD, signed_in
from tests.register_helpers import CHINA, DAY, EVIL, at
from tests.scan import decode_png, pdf_pages_png
from tests.superuser import forge_record
from tests.sync_fixtures import drain, enrolled_client


def test_each_register_is_filled_from_the_day(hub_store, day):
    built = registers.build_day(hub_store, "east-gate", DAY, CHINA)
    screening = built.register("screening").rows
    assert screening[0] == ["2026-11-29 01:30:00", "3-2-601", day["李娜"], 36.4, "放行", "", ""]
    # (no guard had acted yet that night: none is guessed)
    assert ["2026-11-29 08:15:02", "3-1-502", day["张伟"], 36.5, "放行", "", "王强（wang）"] in [
        r for r in screening
    ]
    [visitor] = built.register("visitors").rows
    assert visitor == [
        "2026-11-29 09:40:00",
        EVIL,
        "139****5678",
        "3-1",
        "维修",
        "无",
        "绿码",
        36.7,
        "放行",
        "王强（wang）",
    ]
    vehicles = built.register("vehicles").rows
    assert vehicles[0] == ["2026-11-29 07:58:00", "京A12345", "进", "36.6", "王强（wang）"]
    assert vehicles[1][2] == "出" and vehicles[1][4] == "刘军（liu）"
    [fever] = built.register("fevers").rows
    assert fever[:6] == [
        "2026-11-29 14:02:00",
        "张伟 3-1-502",
        38.4,
        38.3,
        "不放行：确认发热",
        "刘军（liu）",
    ]
    assert fever[6].startswith("20") and fever[7] == "居家隔离"
    assert built.on_duty == ["王强（wang）", "刘军（liu）"]


def test_a_guards_remeasure_at_the_kiosk_decides_the_fever_row(hub, hub_store, tmp_path):
    """Field trial: 发热人员处置记录 stayed 待处置 after the guard's 复测 admitted the person."""
    hub_store.create_enrol_code("east-gate")
    roster_admin.set_guard(hub_store, "wang", "王强", "246813", "manager", ["east-gate"])
    ledger = Ledger(tmp_path / "east.sqlite3", "east-gate")

    def block(hms: str, estimate_c: float, **fields) -> dict:
        with at(hms):
            return ledger.append(
                "screening",
                verdict="blocked",
                reason="fever",
                estimate_c=estimate_c,
                threshold_c=37.3,
                **fields,
            )

    def remeasure(hms: str, of: dict, verdict: str, estimate_c: float | None) -> dict:
        detail = {"direction": "in", "remeasure_of": of["id"], "guard_id": "wang"}
        with at(hms):
            return ledger.append(
                "screening",
                verdict=verdict,
                estimate_c=estimate_c,
                threshold_c=37.3,
                links_to=of["id"],
                detail=detail,
            )

    first = block("10:00:00", 37.6)
    remeasure("10:01:00", first, "retry", None)  # a failed re-measure decides nothing
    remeasure("10:01:30", first, "admitted", 36.9)
    second = block("11:00:00", 38.6)
    third = remeasure("11:02:00", second, "blocked", 38.5)  # still a fever: a row of its own
    block("12:00:00", 38.0)  # nobody has decided yet
    drain(enrolled_client(hub.start(), ledger))
    rows = registers.build_day(hub_store, "east-gate", DAY, CHINA).register("fevers").rows
    assert [row[:6] for row in rows] == [
        ["2026-11-29 10:00:00", "未知", 37.6, 36.9, "门卫复测正常，放行", "王强（wang）"],
        [
            "2026-11-29 11:00:00",
            "未知",
            38.6,
            38.5,
            "门卫复测仍异常（11:02:00 另记一条）",
            "王强（wang）",
        ],
        ["2026-11-29 11:02:00", "未知", 38.5, "", "待处置", ""],
        ["2026-11-29 12:00:00", "未知", 38.0, "", "待处置", ""],
    ]
    assert third["links_to"] == second["id"]


def test_a_days_register_keeps_the_guards_names_of_that_day(hub_store, day, monkeypatch):
    """Found in a field trial: removing guard liu and giving the ID to someone else rewrote the
    name on the signed fever record of an earlier day."""
    from sync.hub import store as store_module

    monkeypatch.setattr(store_module, "now_iso", lambda: "2026-12-02T02:00:00.000000+00:00")
    roster_admin.remove(hub_store, "guard", "liu", "manager")
    roster_admin.set_guard(hub_store, "liu", "赵六", "135792", "manager", ["east-gate"])
    roster_admin.set_guard(hub_store, "wang", "王强强", "246813", "manager", ["east-gate"])
    built = registers.build_day(hub_store, "east-gate", DAY, CHINA)
    [fever] = built.register("fevers").rows
    assert fever[5] == "刘军（liu）"
    assert built.on_duty == ["王强（wang）", "刘军（liu）"]
    later = registers.build_day(hub_store, "east-gate", date(2026, 12, 2), CHINA)
    assert later.on_duty == []  # nobody acted that day; the new names are for its records


def _client(hub_store):
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    return signed_in(create_hub(hub_store, compound="幸福里小区"), "admin")[0]


def test_registers_on_screen_and_as_csv_and_xlsx_keep_text_as_text(hub_store, day):
    client = _client(hub_store)
    page = client.get("/admin/registers?kiosk=east-gate&day=2026-11-29").get_data(as_text=True)
    for title in ("体温检测登记", "外来人员登记", "车辆出入登记", "发热人员处置记录", "值班门卫"):
        assert title in page
    assert "2026-11-29 01:30:00" in page and "MENWEI-SEAL-1|east-gate|2026-11-29|" in page
    raw = client.get("/admin/registers.csv?kiosk=east-gate&day=2026-11-29&register=visitors")
    assert raw.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][1] == "'" + EVIL  # shown as text by Excel, not run as a formula
    xlsx = client.get("/admin/registers.xlsx?kiosk=east-gate&day=2026-11-29&register=visitors")
    with zipfile.ZipFile(io.BytesIO(xlsx.data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "幸福里小区 · east-gate · 外来人员登记 · 2026-11-29"
    assert values[2][1] == EVIL and sheet.freeze_panes == "A3"
    assert sheet.column_dimensions["B"].width == 12
    month = client.get(
        "/admin/registers.csv?kiosk=east-gate&day=2026-11-01&day_to=2026-11-30&register=screening"
    )
    month_rows = list(csv.reader(io.StringIO(month.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(month_rows) == 1 + 5 and month_rows[1][0] == "2026-11-29 01:30:00"
    too_long = "/admin/registers.csv?kiosk=east-gate&day=2026-01-01&day_to=2026-11-30"
    assert "最多 31 天" in client.get(too_long).get_data(as_text=True)
    assert (
        client.get("/admin/registers.csv?kiosk=east-gate&day=2026-11-29&register=x").status_code
        == 400
    )


def test_the_daily_pdf_renders_and_its_seal_scans_and_verifies(hub_store, day, tmp_path):
    client = _client(hub_store)
    response = client.get("/admin/registers.pdf?kiosk=east-gate&day=2026-11-29")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    pages = pdf_pages_png(response.data, tmp_path, dpi=110)
    assert len(pages) >= 4  # one register a page at least
    read = {code for page in pages for code in decode_png(page)}
    [text] = read  # the same seal on every page
    expected = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    assert text == expected.text()
    assert seal.verify(hub_store, seal.parse(text), CHINA).ok
    page = client.post("/admin/seal", data={"seal": text, "csrf": _csrf(client)}).get_data(
        as_text=True
    )
    assert "相符" in page


def _csrf(client) -> str:
    page = client.get("/admin/dashboard").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_a_seal_fails_after_a_record_of_that_day_is_altered_on_the_hub(hub_store, day):
    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    assert seal.verify(hub_store, sealed, CHINA).ok
    seq, event_id = hub_store.fetch_one(
        "SELECT seq, id FROM events WHERE kiosk_id = 'east-gate' AND verdict = 'blocked'"
    )
    forge_record(hub_store, event_id, estimate_c=36.4)  # someone makes the fever disappear
    result = seal.verify(hub_store, sealed, CHINA)
    assert not result.ok and f"序号 {seq}" in result.message and "改动" in result.message
    db = hub_store.url
    cli = CliRunner().invoke(hub_cli, ["verify-sheet", "--db", db, sealed.text()])
    assert cli.exit_code == 1 and "不符" in cli.output


def test_a_seal_re_dated_or_cut_short_does_not_match(hub_store, day):
    """Found in a field trial: the seal's date was not checked, so a sheet re-dated to another
    day (with no records at all) was called "相符"."""
    import dataclasses

    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    for other in (date(2026, 10, 1), date(2025, 1, 1), date(2026, 11, 30)):
        moved = dataclasses.replace(sealed, day=other)
        result = seal.verify(hub_store, moved, CHINA)
        assert not result.ok and "日期" in result.message, (other, result.message)
        cli = CliRunner().invoke(hub_cli, ["verify-sheet", "--db", hub_store.url, moved.text()])
        assert cli.exit_code == 1 and "不符" in cli.output
    # A sheet that leaves out the day's first records (its seal starts later) does not match.
    later = seal.verify(
        hub_store, dataclasses.replace(sealed, first_seq=sealed.first_seq + 1), CHINA
    )
    assert not later.ok and "更早" in later.message


def test_a_sheet_printed_before_the_day_ended_still_matches_and_says_so(hub_store, day):
    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    rows = hub_store.fetch_all(
        "SELECT seq, hash FROM events WHERE kiosk_id = 'east-gate' ORDER BY seq"
    )
    # The sheet printed at noon: its seal ends at an earlier record of the same day.
    noon = [r for r in rows if r[0] < sealed.last_seq][-1]
    import dataclasses

    printed = dataclasses.replace(sealed, last_seq=int(noon[0]), chain_hash=noon[1])
    result = seal.verify(hub_store, printed, CHINA)
    assert result.ok and "打印后" in result.message, result.message


def test_hub_verify_sheet_says_a_good_seal_matches(hub_store, day):
    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    result = CliRunner().invoke(hub_cli, ["verify-sheet", "--db", hub_store.url, sealed.text()])
    assert result.exit_code == 0 and "相符" in result.output
    bad = CliRunner().invoke(hub_cli, ["verify-sheet", "--db", hub_store.url, "hello"])
    assert bad.exit_code == 2 and "封签" in bad.output


@pytest.mark.browser
def test_the_registers_page_and_the_seal_check_in_chromium(hub_store, day, browser, tmp_path):
    client = _client(hub_store)
    html = client.get("/admin/registers?kiosk=east-gate&day=2026-11-29").get_data(as_text=True)
    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.set_content(html)
        assert page.locator("#register-fevers td").first.inner_text() == "2026-11-29 14:02:00"
        page.screenshot(path=str(tmp_path / "registers.png"), full_page=True)
        checked = client.post("/admin/seal", data={"seal": sealed.text(), "csrf": _csrf(client)})
        page.set_content(checked.get_data(as_text=True))
        assert "相符" in page.inner_text("#seal-result")
        page.screenshot(path=str(tmp_path / "seal.png"))
    finally:
        page.close()


@pytest.mark.parametrize("name", ["@SUM(1)", "+1", "-1", "=1"])
def test_a_visitor_named_like_a_formula_is_exported_as_plain_text(name):
    from openpyxl import load_workbook

    from sync.hub import sheets

    columns = registers.COLUMNS["visitors"]
    row = [
        "2026-11-29 09:40:00",
        name,
        "139****5678",
        "3-1",
        "维修",
        "无",
        "绿码",
        36.7,
        "放行",
        "",
    ]
    raw = b"".join(sheets.csv_stream([c.title for c in columns], [row])).decode()
    rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff"))))
    assert rows[1][1] == "'" + name  # Excel shows the characters, never evaluates them
    xlsx = b"".join(
        sheets.xlsx_stream(
            "外来人员登记",
            "east-gate 外来人员登记",
            [c.title for c in columns],
            [c.width for c in columns],
            [row],
        )
    )
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    cell = load_workbook(io.BytesIO(xlsx)).active["B3"]
    assert cell.value == name and cell.data_type == "s"


def test_odd_days_and_unknown_gates_get_a_chinese_answer_not_a_500(hub_store, day):
    """Found in a field trial: day=9999-12-31 was a 500 (the UTC bounds overflowed), and an
    unknown gate an empty file."""
    client = _client(hub_store)
    for url in (
        "/admin/registers.pdf?kiosk=east-gate&day=9999-12-31",
        "/admin/registers?day=0001-01-01",
        "/admin/registers.csv?kiosk=east-gate&day=2026-11-01&day_to=9999-12-31",
        "/admin/ledger.csv?day_from=9999-12-31",
        "/admin/summary?day=9999-12-31",
    ):
        page = client.get(url)
        assert page.status_code == 400, url
        assert "日期超出范围" in page.get_data(as_text=True), url
    unknown = client.get("/admin/registers.csv?kiosk=nogate&day=2026-11-29")
    assert unknown.status_code == 404 and "没有门岗 nogate" in unknown.get_data(as_text=True)
    csv_file = client.get("/admin/registers.csv?kiosk=east-gate&day=2026-11-29")
    assert csv_file.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not twice

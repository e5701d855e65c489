"""A paper sheet checked line by line: each printed row carries its record's check code, and the
seal check lists the sealed day's rows with their codes, so an edited printed number is found
by its code. A seal of a gate the account cannot see says so, not "records deleted"."""

from __future__ import annotations

import re
import subprocess

from click.testing import CliRunner

from sync.hub import compounds, registers, seal
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from sync.hub.cli import main as hub_cli
from tests.hub_helpers import PASSWORD, log_in
from tests.register_helpers import CHINA, DAY


def _signed_in(app, username: str):
    client = app.test_client()
    assert log_in(client, username, PASSWORD).status_code == 302
    page = client.get("/admin/dashboard").get_data(as_text=True)
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _hashes(store) -> dict[str, str]:
    """record id → hash of the gate's records."""
    return dict(store.fetch_all("SELECT id, hash FROM events WHERE kiosk_id = 'east-gate'"))


def test_each_printed_row_carries_its_records_check_code(hub_store, day, tmp_path):
    built = registers.build_day(hub_store, "east-gate", DAY, CHINA)
    codes = {seal.check_code(h) for h in _hashes(hub_store).values()}
    for register in built.registers:
        assert len(register.codes) == len(register.rows)
        assert all(code in codes for code in register.codes if code), register.key
    screening = built.register("screening")
    assert all(len(code) == seal.CODE_LENGTH for code in screening.codes)
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    client, _ = _signed_in(create_hub(hub_store, compound="幸福里小区"), "admin-user")
    pdf = client.get("/admin/registers.pdf?kiosk=east-gate&day=2026-11-29").data
    (tmp_path / "day.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "day.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "校验码" in text
    for register in built.registers:
        for code in register.codes:
            assert not code or code in text, (register.key, code)


def test_the_seal_check_lists_the_sealed_rows_so_an_edited_number_is_found(hub_store, day):
    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    fever_hash = hub_store.fetch_one(
        "SELECT hash FROM events WHERE kiosk_id = 'east-gate' AND verdict = 'blocked'"
    )[0]
    code = seal.check_code(fever_hash)
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    create_admin(hub_store, "viewer-user", PASSWORD, "viewer")
    app = create_hub(hub_store, compound="幸福里小区")
    client, csrf = _signed_in(app, "admin-user")
    page = client.post("/admin/seal", data={"seal": sealed.text(), "csrf": csrf}).get_data(
        as_text=True
    )
    assert "相符" in page and 'id="sealed-rows"' in page
    # The paper's fever row says 36.4 (edited by hand); its code finds the hub's line: 38.4.
    # (the block is a row of 体温检测登记 and of 发热人员处置记录: the same record, the same code)
    lines = [row for row in page.split("<tr>") if f"<code>{code}</code>" in row]
    assert len(lines) == 2 and all("38.4" in line and "36.4" not in line for line in lines)
    for title in ("体温检测登记", "发热人员处置记录", "车辆出入登记"):
        assert title in page
    # A viewer checks the seal, but the rows (names, homes) are not theirs to read.
    viewer, viewer_csrf = _signed_in(app, "viewer-user")
    seen = viewer.post("/admin/seal", data={"seal": sealed.text(), "csrf": viewer_csrf})
    text = seen.get_data(as_text=True)
    assert "相符" in text and 'id="sealed-rows"' not in text and code not in text


def test_a_sheet_printed_at_noon_is_listed_as_it_was_printed(hub_store, day):
    import dataclasses

    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    noon_seq, noon_hash = [
        row
        for row in hub_store.fetch_all(
            "SELECT seq, hash FROM events WHERE kiosk_id = 'east-gate' AND wall_time < ?"
            " ORDER BY seq",
            ("2026-11-29T04:00:00+00:00",),
        )
    ][-1]
    printed = dataclasses.replace(sealed, last_seq=int(noon_seq), chain_hash=noon_hash)
    shown = registers.build_day(
        hub_store, "east-gate", DAY, CHINA, upto=(printed.epoch, printed.last_seq)
    )
    assert shown.register("fevers").rows == []  # the 14:02 fever came after the sheet
    full = registers.build_day(hub_store, "east-gate", DAY, CHINA)
    assert len(full.register("fevers").rows) == 1


def test_hub_verify_sheet_show_lists_the_rows_with_their_codes(hub_store, day):
    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    result = CliRunner().invoke(
        hub_cli, ["verify-sheet", "--db", hub_store.url, "--show", sealed.text()]
    )
    assert result.exit_code == 0, result.output
    assert "相符" in result.output and "体温检测登记" in result.output
    for record_hash in _hashes(hub_store).values():
        code = seal.check_code(record_hash)
        if code in result.output:
            break
    else:
        raise AssertionError(result.output)
    [fever] = [line for line in result.output.splitlines() if "38.4" in line and "拦截" in line]
    assert fever.split()[0] in {seal.check_code(h) for h in _hashes(hub_store).values()}


def test_a_seal_of_a_gate_the_account_cannot_see_says_so(hub_store, day):
    sealed = seal.seal_for_day(hub_store, "east-gate", DAY, CHINA)
    compounds.create(hub_store, "光明苑小区")
    create_admin(hub_store, "other-admin", PASSWORD, "admin", ["光明苑小区"])
    client, csrf = _signed_in(create_hub(hub_store), "other-admin")
    page = client.post("/admin/seal", data={"seal": sealed.text(), "csrf": csrf}).get_data(
        as_text=True
    )
    assert "不属于本账户可见的小区" in page and "删除" not in page
    assert 'id="sealed-rows"' not in page and "2026-11-29 14:02:00" not in page
    unknown = sealed.text().replace("east-gate", "west-gate")
    page = client.post("/admin/seal", data={"seal": unknown, "csrf": csrf}).get_data(as_text=True)
    assert "本中心没有门岗 west-gate" in page and "删除" not in page
    cli = CliRunner().invoke(hub_cli, ["verify-sheet", "--db", hub_store.url, unknown])
    assert cli.exit_code == 1 and "本中心没有门岗" in cli.output

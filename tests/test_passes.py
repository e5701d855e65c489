from __future__ import annotations

from datetime import date

import pytest

from kiosk.ledger import Ledger
from kiosk.passes import PassFileError, check_pass, load_csv, lookup, normalise_code

TODAY = date(2026, 11, 28)


@pytest.fixture
def conn(tmp_path):
    return Ledger(tmp_path / "l.sqlite3", "gate-1").connection()


def write(tmp_path, text: str):
    path = tmp_path / "passes.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_and_check(conn, tmp_path):
    report = load_csv(
        conn,
        write(
            tmp_path,
            "code,name,building,unit,room,expires_on,revoked,quarantine_until\n"
            "A1001,张三,3,2,301,2026-12-31,,\n"
            "A1002,李四,3,2,302,2026-11-01,,\n"
            "A1003,王五,3,2,303,,yes,\n"
            "A1004,赵六,4,1,101,,,2026-12-05\n"
            "<b>,bad,,,,,,\n"
            "A1005,x,,,,31/12/2026,,\n",
        ),
    )
    assert report.loaded == 4
    assert [line for line, _ in report.rejected] == [6, 7]
    assert lookup(conn, "a1001", TODAY).ok
    assert lookup(conn, "A1002", TODAY).reason == "expired"
    assert lookup(conn, "A1003", TODAY).reason == "revoked"
    quarantined = lookup(conn, "A1004", TODAY)
    assert quarantined.ok and quarantined.quarantined
    assert lookup(conn, "ZZZZ", TODAY).reason == "unknown"
    assert lookup(conn, "<script>", TODAY).reason == "format"


def test_reloading_updates_a_pass(conn, tmp_path):
    load_csv(conn, write(tmp_path, "code,revoked\nB2001,no\n"))
    assert lookup(conn, "B2001", TODAY).ok
    load_csv(conn, write(tmp_path, "code,revoked\nB2001,yes\n"))
    assert lookup(conn, "B2001", TODAY).reason == "revoked"


def test_a_file_without_a_code_column(conn, tmp_path):
    with pytest.raises(PassFileError, match="header row"):
        load_csv(conn, write(tmp_path, "name\nx\n"))


def test_a_file_that_is_not_utf8(conn, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("code,name\nA1,张三\n".encode("gbk"))
    with pytest.raises(PassFileError, match="UTF-8"):
        load_csv(conn, path)


@pytest.mark.parametrize("raw", ["", "abc", "x" * 33, "A1 01", "A1001'--", "\u0000A100"])
def test_codes_outside_the_format(raw):
    assert normalise_code(raw) is None


def test_quarantine_ended_is_not_flagged():
    row = {"revoked": 0, "expires_on": None, "quarantine_until": "2026-11-27"}
    assert not check_pass(row, "A1", TODAY).quarantined

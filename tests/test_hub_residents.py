"""Residents' import (CSV and XLSX, per-row report), passes sent to kiosks, revocation."""

from __future__ import annotations

import io

import pytest

from sync.hub import residents
from sync.hub.admins import audit_log


def xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_import_with_a_report(hub_store):
    data = xlsx(
        [
            ["Building", "Unit", "Room", "Name", "Phone", "Role"],
            [3, 1, 502, "赵六", 13900001111, "owner"],
            [3, 1, 503, "钱七", None, "staff"],
            [3, 1, 504, "孙八", None, "landlord"],
            [3, 1, 502, "赵六", 13900001111, "owner"],
        ]
    )
    report = residents.import_residents(hub_store, "people.xlsx", data, "manager")
    assert report.rejected == [(4, "role: owner, tenant, family, staff")]
    assert report.imported == 2 and report.duplicates == 1
    assert audit_log(hub_store)[0]["detail"]["imported"] == 2


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.csv", "名字\n张三\n".encode(), "missing columns"),
        ("a.csv", "building,unit,room,name,role\n".encode("utf-16"), "UTF-8"),
        ("a.xlsx", b"not a workbook", "not a readable XLSX"),
        ("a.csv", b"", "empty"),
    ],
)
def test_unreadable_files_are_refused_whole(hub_store, name, data, message):
    with pytest.raises(residents.ImportError_, match=message):
        residents.import_residents(hub_store, name, data, "manager")
    assert residents.residents(hub_store) == []


def test_passes_go_to_the_roster_and_revocation_follows(hub_store):
    csv_data = "building,unit,room,name,phone,role\n1,1,101,张三,,owner\n".encode()
    residents.import_residents(hub_store, "a.csv", csv_data, "manager")
    assert residents.issue_passes(hub_store, "manager", days=30) == 1
    assert residents.issue_passes(hub_store, "manager", days=30) == 0  # everyone has one
    [person] = residents.residents(hub_store)
    [change] = hub_store.roster_since(0, 10)
    assert change["kind"] == "pass" and change["key"] == person["code"]
    assert "name" not in change["data"] and change["data"]["building"] == "1"
    assert residents.revoke_pass(hub_store, person["code"], "manager")
    assert hub_store.roster_since(change["version"], 10)[0]["data"]["revoked"] == 1
    assert not residents.revoke_pass(hub_store, person["code"], "manager")
    assert residents.residents(hub_store)[0]["code"] is None


def test_the_qr_code_is_an_svg():
    svg = residents.qr_svg("1234567890")
    assert svg.startswith("<svg") and "path" in svg

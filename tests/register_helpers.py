"""A realistic day at one gate for the register tests (a pytest plugin, tests/conftest.py):
east gate, 2026-11-29 (Beijing time), with residents, visitors, vehicles and a fever followed
up (the ``day`` fixture); ``at`` sets the kiosk's clock to a Beijing time of that day."""

from __future__ import annotations

from datetime import date
from unittest import mock

import pytest

from kiosk import clock
from kiosk.ledger import Ledger
from sync.hub import residents, roster_admin
from sync.localtime import zone
from tests.sync_fixtures import drain, enrolled_client

DAY = date(2026, 11, 29)
CHINA = zone("Asia/Shanghai")
EVIL = '=HYPERLINK("http://x","y")'


def at(local_hms: str):
    """A kiosk clock at that Beijing time of DAY (the hour may be 01 → the UTC day before)."""
    h, m, s = (int(p) for p in local_hms.split(":"))
    utc_hour = (h - 8) % 24
    utc_day = DAY.day if h >= 8 else DAY.day - 1
    stamp = f"2026-11-{utc_day:02d}T{utc_hour:02d}:{m:02d}:{s:02d}.000000+00:00"
    return mock.patch.object(clock, "now", lambda: clock.ClockFacts(stamp, True, "b", 1))


@pytest.fixture
def day(hub, hub_store, tmp_path):
    """East gate, 2026-11-29: residents with passes, visitors, vehicles, a fever followed up."""
    data = "楼栋,单元,房号,姓名,电话,身份\n3,1,502,张伟,138 1234 5678,业主\n3,2,601,李娜,,租户\n"
    residents.import_residents(hub_store, "r.csv", data.encode(), "manager")
    residents.issue_passes(hub_store, "manager", days=180)
    codes = {p["name"]: p["code"] for p in residents.residents(hub_store)}
    hub_store.create_enrol_code("east-gate")  # the gate being installed: guards may be put on it
    roster_admin.set_guard(hub_store, "wang", "王强", "246813", "manager", ["east-gate"])
    roster_admin.set_guard(hub_store, "liu", "刘军", "135792", "manager", ["east-gate"])
    ledger = Ledger(tmp_path / "east.sqlite3", "east-gate")
    with at("01:30:00"):  # night: on the 29th's register although 17:30 UTC on the 28th
        ledger.append("screening", verdict="admitted", estimate_c=36.4, pass_code=codes["李娜"])
    with at("07:58:00"):
        ledger.append("vehicle", verdict="in", detail={"plate": "京A12345", "guard_id": "wang"})
    with at("07:58:30"):
        car = ledger.events()[-1]["id"]
        ledger.append("screening", verdict="admitted", estimate_c=36.6, links_to=car)
    with at("08:15:02"):
        ledger.append("screening", verdict="admitted", estimate_c=36.5, pass_code=codes["张伟"])
    with at("09:40:00"):
        visitor = ledger.append(
            "visitor",
            verdict="registered",
            detail={
                "phone": "13912345678",
                "building": "3",
                "unit": "1",
                "purpose": "repair",
                "risk_area": "none",
                "code_colour": "green",
                "name": EVIL,
                "guard_id": "wang",
                "direction": "in",
            },
        )
    with at("09:41:10"):
        ledger.append("screening", verdict="admitted", estimate_c=36.7, links_to=visitor["id"])
    with at("14:02:00"):
        fever = ledger.append(
            "screening",
            verdict="blocked",
            reason="fever",
            estimate_c=38.4,
            threshold_c=37.3,
            pass_code=codes["张伟"],
        )
    with at("14:06:30"):
        ledger.append(
            "override",
            verdict="denied",
            reason="fever_confirmed",
            estimate_c=38.3,
            links_to=fever["id"],
            pass_code=codes["张伟"],
            detail={"guard_id": "liu", "note": None, "remeasured_c": 38.3},
        )
    with at("18:30:00"):
        ledger.append("vehicle", verdict="out", detail={"plate": "京A12345", "guard_id": "liu"})
    drain(enrolled_client(hub.start(), ledger))
    from sync.hub import dashboard

    dashboard.follow_up(hub_store, fever["id"], "acknowledged", "health-user")
    dashboard.follow_up(hub_store, fever["id"], "reported", "health-user")
    dashboard.follow_up(hub_store, fever["id"], "closed", "health-user", outcome="home_isolation")
    return codes

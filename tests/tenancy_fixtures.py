"""Two compounds with data in each, built through the hub's own functions, for the tenancy
tests: 幸福里小区 (A) and 光明苑小区 (B) in 和平街道, and an empty 远方小区 (C) in 远方街道."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync.hub import compounds, dashboard, disinfection, duty, residents, roster_admin, supplies
from sync.hub.admins import audit, create_admin
from sync.hub.store import HubStore
from sync.localtime import DEFAULT_ZONE, zone
from tests.hub_helpers import PASSWORD
from tests.sync_fixtures import make_ledger

TZ = zone(DEFAULT_ZONE)


@dataclass
class Tenant:
    """One compound's data and every identifier or name of it a page could show."""

    name: str
    compound_id: int
    kiosk: str
    guard_id: str
    guard_name: str
    place: str
    supply: str
    risk_area: str
    residents: list[str]
    id_number: str
    note: str
    event_ids: list[str] = field(default_factory=list)
    fever_id: str = ""
    staff_fever_id: str = ""  # a sign-on refused for a fever
    resident_ids: list[str] = field(default_factory=list)
    pass_codes: list[str] = field(default_factory=list)
    shift_id: int = 0
    reader_token: str = ""
    kiosk_token: str = ""
    accounts: list[str] = field(default_factory=list)

    def markers(self) -> list[str]:
        """What must never reach another compound's account (the guard id is the same in both
        compounds, so that a read keyed by guard id alone would show the other's shifts)."""
        return [
            self.name,
            self.kiosk,
            self.guard_name,
            self.place,
            self.supply,
            self.risk_area,
            self.note,
            *self.residents,
            *self.event_ids,
            *self.resident_ids,
            *self.pass_codes,
            *self.accounts,
        ]


def _local(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m-%dT%H:%M")


def fill(store: HubStore, tmp_path: Path, tenant: Tenant, prefix: str) -> None:
    """A compound's gate with a day of records (one a fever), residents with passes, a guard on
    duty, settings, a place with a round, supplies, a home quarantine and a reader token."""
    view = store.scoped(tenant.compound_id)
    code = view.create_enrol_code(tenant.kiosk)
    tenant.kiosk_token = store.enrol(code)[1]
    ledger = make_ledger(tmp_path / f"{tenant.kiosk}.sqlite3", tenant.kiosk)
    records = [
        ledger.append("screening", verdict="admitted", estimate_c=36.6, threshold_c=37.3)
        for _ in range(3)
    ]
    fever = ledger.append("screening", verdict="blocked", estimate_c=38.4, threshold_c=37.3)
    records.append(fever)
    staff = ledger.append(
        "shift",
        verdict="blocked",
        estimate_c=38.1,
        threshold_c=37.3,
        detail={"guard_id": tenant.guard_id, "name": tenant.guard_name},
    )
    records.append(staff)
    ledger.close()
    answers = store.ingest(tenant.kiosk, records, 0)
    assert all(a["status"] == "stored" for a in answers), answers
    tenant.event_ids = [r["id"] for r in records]
    tenant.fever_id = fever["id"]
    tenant.staff_fever_id = staff["id"]
    user = f"admin-{prefix}"
    rows = "楼栋,单元,房号,姓名,电话,身份,身份证号\n"
    rows += f"1,1,101,{tenant.residents[0]},13800000001,业主,{tenant.id_number}\n"
    rows += f"1,1,101,{tenant.residents[1]},,家属,\n"
    report = residents.import_residents(view, "住户.csv", rows.encode(), user)
    assert report.imported == 2, report
    residents.issue_passes(view, user)
    people = residents.residents(view)
    tenant.resident_ids = [p["resident_id"] for p in people]
    tenant.pass_codes = [p["code"] for p in people]
    roster_admin.set_guard(view, tenant.guard_id, tenant.guard_name, "274951", user, [tenant.kiosk])
    roster_admin.set_setting(view, "screening.threshold_c", "37.2", user)
    roster_admin.add_risk_area(view, tenant.risk_area, user)
    now = datetime.now(UTC)
    tenant.shift_id = duty.add_shift(
        view,
        tenant.guard_id,
        tenant.kiosk,
        _local(now - timedelta(hours=1)),
        _local(now + timedelta(hours=3)),
        TZ,
        user,
    )
    disinfection.set_place(view, tenant.place, 2, user)
    disinfection.log_round(
        view,
        tenant.place,
        "84消毒液",
        _local(now - timedelta(minutes=5)),
        TZ,
        user,
        by=tenant.guard_name,
    )
    supplies.set_item(view, tenant.supply, "瓶", "物业", 7, 10, user)
    supplies.move(view, tenant.supply, "receipt", 40, "", user)
    dashboard.follow_up(view, tenant.fever_id, "acknowledged", user, note=tenant.note)
    today = datetime.now(TZ).date()
    residents.register_quarantine(
        view,
        tenant.resident_ids[0],
        today.isoformat(),
        (today + timedelta(days=7)).isoformat(),
        None,
        user,
    )
    tenant.reader_token = store.create_reader(f"reader-{prefix}", compound=tenant.compound_id)
    for role in ("admin", "viewer", "health"):
        username = f"{role}-{prefix}"
        create_admin(store, username, PASSWORD, role, [tenant.name])
        tenant.accounts.append(username)
    with view.transaction():
        audit(view, user, "residents.import", {"file": "住户.csv", "imported": 2})


def two_compounds(store: HubStore, tmp_path: Path) -> tuple[Tenant, Tenant]:
    compounds.update(store, "默认小区", "幸福里小区", "和平街道")
    b = compounds.create(store, "光明苑小区", "和平街道")
    compounds.create(store, "远方小区", "远方街道")
    first = Tenant(
        "幸福里小区",
        1,
        "gate-a1",
        "g-01",
        "王守甲",
        "甲栋电梯",
        "甲牌口罩",
        "甲地风险区",
        ["张阿甲", "张阿乙"],
        "11010519491231002X",
        "甲备注",
    )
    first.compound_id = compounds.by_name(store, "幸福里小区").compound_id
    second = Tenant(
        "光明苑小区",
        b.compound_id,
        "gate-b7",
        "g-01",  # the same guard id in both: each compound's own guard
        "赵守乙",
        "乙栋地库",
        "乙牌消毒液",
        "乙地风险区",
        ["李乙丙", "钱乙丁"],
        "440304198506123316",
        "乙备注",
    )
    fill(store, tmp_path, first, "a")
    fill(store, tmp_path, second, "b")
    create_admin(store, "district-h", PASSWORD, "district", district="和平街道")
    create_admin(store, "district-y", PASSWORD, "district", district="远方街道")
    return first, second


def body_text(response: Any) -> str:
    """What a response shows: the text of pages and CSV, every cell of an XLSX."""
    kind = response.headers.get("Content-Type", "")
    data = response.get_data()
    if "spreadsheetml" in kind:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data)).active
        return "\n".join(
            " ".join("" if v is None else str(v) for v in row)
            for row in sheet.iter_rows(values_only=True)
        )
    return data.decode("utf-8", "replace")

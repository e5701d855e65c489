"""Staff and re-measures in their place on the registers: a guard's fever at sign-on is their
staff health record, not an unknown resident's fever 「未知 38.1 … 待处置」; a guard's 复测 row
in 体温检测登记 shows the home and pass of the screening it re-measures."""

from __future__ import annotations

from kiosk.ledger import Ledger
from sync.hub import registers, residents, roster_admin
from sync.hub.sign_on import sign_on_blocks
from tests.register_helpers import CHINA, DAY, at


def _day(store, tmp_path) -> dict[str, str]:
    data = "楼栋,单元,房号,姓名,电话,身份\n3,1,502,张伟,138 1234 5678,业主\n"
    residents.import_residents(store, "r.csv", data.encode(), "manager")
    residents.issue_passes(store, "manager", days=180)
    [code] = [p["code"] for p in residents.residents(store)]
    assert store.enrol(store.create_enrol_code("east-gate")) is not None
    roster_admin.set_guard(store, "wang", "王强", "246813", "manager", ["east-gate"])
    roster_admin.set_guard(store, "liu", "刘军", "135792", "manager", ["east-gate"])
    ledger = Ledger(tmp_path / "east.sqlite3", "east-gate")
    with at("08:00:00"):
        ledger.append("shift", verdict="on", estimate_c=36.5, detail={"guard_id": "wang"})
    with at("14:02:00"):
        block = ledger.append(
            "screening", verdict="blocked", reason="fever", estimate_c=38.4, pass_code=code
        )
    with at("14:05:00"):  # the guard's 复测 at the kiosk: normal
        ledger.append(
            "screening",
            verdict="admitted",
            estimate_c=36.8,
            links_to=block["id"],
            detail={"remeasure_of": block["id"], "guard_id": "wang"},
        )
    with at("18:00:00"):  # liu's sign-on: a fever; the gate blocks as for anyone
        ledger.append(
            "shift",
            verdict="blocked",
            reason="fever",
            estimate_c=38.1,
            detail={"guard_id": "liu", "name": "刘军", "visitors_at_home": False},
        )
        ledger.append("screening", verdict="blocked", reason="fever", estimate_c=38.1)
    records = ledger.unsent_batch(100)
    assert {a["status"] for a in store.ingest("east-gate", records)} == {"stored"}
    return {"code": code, "block": block["id"]}


def test_a_guards_fever_at_sign_on_is_their_health_record_not_a_residents(hub_store, tmp_path):
    _day(hub_store, tmp_path)
    built = registers.build_day(hub_store, "east-gate", DAY, CHINA)
    fevers = built.register("fevers").rows
    assert [row[1] for row in fevers] == ["张伟 3-1-502"]  # no 「未知 38.1 … 待处置」
    assert all("38.1" not in " ".join(map(str, row)) for row in fevers)
    assert all(row[3] != 38.1 for row in built.register("screening").rows)
    [refused] = [r for r in built.register("staff_health").rows if r[1] == "刘军（liu）"]
    assert refused[2] == 38.1 and refused[4] == "体温异常，未能上岗"


def test_a_remeasure_row_shows_the_home_and_pass_it_re_measures(hub_store, tmp_path):
    day = _day(hub_store, tmp_path)
    built = registers.build_day(hub_store, "east-gate", DAY, CHINA)
    [remeasure] = [r for r in built.register("screening").rows if r[3] == 36.8]
    assert remeasure[1:6] == ["3-1-502", day["code"], 36.8, "放行", "门卫复测"]
    [fever] = built.register("fevers").rows
    assert fever[4] == "门卫复测正常，放行" and fever[3] == 36.8


def test_only_the_block_right_after_a_refused_sign_on_is_the_staff_members():
    def record(seq, kind, verdict, estimate, **extra):
        return {
            "id": f"r{seq}",
            "epoch": "e",
            "seq": seq,
            "kind": kind,
            "verdict": verdict,
            "estimate_c": estimate,
            **extra,
        }

    records = [
        record(1, "shift", "blocked", 38.1),
        record(2, "screening", "blocked", 38.1),  # the sign-on's gate block
        record(3, "shift", "blocked", 38.0),
        record(4, "screening", "blocked", 38.6),  # another reading: someone else
        record(5, "shift", "blocked", 37.9),
        record(6, "screening", "blocked", 37.9, pass_code="1234567890"),  # a resident's pass
    ]
    assert set(sign_on_blocks(records)) == {"r2"}

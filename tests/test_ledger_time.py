"""The hub's ledger reads like time: newest first by when things happened at the gate (the
record's time, shown in Beijing time), in arrival order on request; every kind a kiosk records
can be chosen; gates are chosen from the same list on every page."""

from __future__ import annotations

import re

from kiosk.ledger import Ledger
from sync.hub import ledger_view
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from sync.hub.ledger_view import Filters
from sync.localtime import zone
from tests.hub_helpers import PASSWORD, signed_in
from tests.register_helpers import at

CHINA = zone("Asia/Shanghai")


def _gates(store, tmp_path) -> dict[str, list[str]]:
    """East's records reach the hub late (its link was down): they happened between west's."""
    for gate in ("east-gate", "west-gate", "north-gate"):  # north: enrolled, no records yet
        assert store.enrol(store.create_enrol_code(gate)) is not None
    made: dict[str, list[str]] = {}
    for gate, times in (("west-gate", ("10:00:00", "10:10:00")), ("east-gate", ("10:05:00",))):
        ledger = Ledger(tmp_path / f"{gate}.sqlite3", gate)
        for hms in times:
            with at(hms):
                ledger.append("screening", verdict="admitted", estimate_c=36.5)
        with at("10:20:00" if gate == "west-gate" else "10:06:00"):
            ledger.append("shift", verdict="on", estimate_c=36.4, detail={"guard_id": "wang"})
            ledger.append(
                "disinfection",
                verdict="done",
                detail={"place": "门岗", "agent": "75%酒精", "guard_id": "wang"},
            )
        records = ledger.unsent_batch(100)
        assert {a["status"] for a in store.ingest(gate, records)} == {"stored"}
        made[gate] = [r["id"] for r in records]
    return made


def test_the_ledger_is_newest_first_by_when_it_happened(hub_store, tmp_path):
    made = _gates(hub_store, tmp_path)
    rows = ledger_view.page(hub_store, Filters(kind="screening"), fever_only=False, tz=CHINA)
    assert [(r["kiosk_id"], r["time"]) for r in rows] == [
        ("west-gate", "10:10:00"),
        ("east-gate", "10:05:00"),
        ("west-gate", "10:00:00"),
    ]
    arrival = ledger_view.page(
        hub_store, Filters(kind="screening", order="arrival"), fever_only=False, tz=CHINA
    )
    assert [r["id"] for r in arrival] == [made["east-gate"][0], *reversed(made["west-gate"][:2])]


def test_pages_by_time_neither_skip_nor_repeat(hub_store, tmp_path, monkeypatch):
    _gates(hub_store, tmp_path)
    monkeypatch.setattr(ledger_view, "PAGE", 2)
    seen, before, before_time = [], None, None
    while True:
        rows = ledger_view.page(
            hub_store, Filters(), fever_only=False, tz=CHINA, before=before, before_time=before_time
        )
        seen += rows
        if len(rows) < 2:
            break
        before, before_time = rows[-1]["ingest_seq"], rows[-1]["wall_time"]
    assert len(seen) == len({r["id"] for r in seen}) == 7
    assert [r["wall_time"] for r in seen] == sorted((r["wall_time"] for r in seen), reverse=True)


def test_every_kind_can_be_chosen_and_gates_come_from_one_list(hub_store, tmp_path):
    _gates(hub_store, tmp_path)
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    client = signed_in(create_hub(hub_store), "admin")[0]
    page = client.get("/admin/ledger").get_data(as_text=True)
    kinds = re.search(r'<select name="kind">(.*?)</select>', page, re.S).group(1)
    for code, word in (("disinfection", "消毒"), ("shift", "上下岗")):
        assert re.search(rf'<option value="{code}" *>{word}', kinds), kinds
    for typed, code in (("消毒", "disinfection"), ("上下岗", "shift")):
        assert Filters.from_args({"kind": typed}).kind == code
        rows = client.get(f"/admin/ledger.csv?kind={typed}").get_data(as_text=True)
        assert len(rows.strip().splitlines()) == 1 + 2  # one of each gate
    gates = ["east-gate", "north-gate", "west-gate"]
    for path in ("/admin/ledger", "/admin/dashboard", "/admin/registers?day=2026-11-29"):
        html = client.get(path).get_data(as_text=True)
        select = re.search(r'<select name="kiosk">(.*?)</select>', html, re.S)
        assert select is not None, path
        assert re.findall(r"<option[^>]*>([a-z-]+)</option>", select.group(1)) == gates, path
    by_arrival = client.get("/admin/ledger?order=arrival").get_data(as_text=True)
    assert 'value="arrival" selected' in by_arrival
    assert client.get("/admin/ledger?order=sideways").status_code == 400

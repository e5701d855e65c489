"""An existing single-compound hub (the schema before compounds) migrates into one default compound
with nothing lost: every row survives, belongs to that compound, and the admin who had the
hub sees it all after the migration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sync.auth import hash_password
from sync.hub.app import create_hub
from sync.hub.store import HubStore, now_iso
from tests.hub_helpers import PASSWORD
from tests.sync_fixtures import hub_database, make_ledger
from tests.tenancy_fixtures import body_text

BEFORE = "012_events_partitions"
TABLES = (
    "kiosks",
    "enrol_codes",
    "events",
    "quarantine",
    "chain_breaks",
    "roster",
    "readers",
    "admins",
    "audit",
    "daily_counts",
    "followups",
    "residents",
    "passes",
    "quarantine_register",
    "duty_shifts",
    "disinfection_rounds",
    "supplies",
    "supply_moves",
)
OWNED = ("kiosks", "enrol_codes", "roster", "readers", "residents", "duty_shifts")
OWNED += ("disinfection_rounds", "supplies", "supply_moves", "audit")


@pytest.fixture(params=["sqlite", "postgresql"])
def old_hub(request, tmp_path) -> Iterator[HubStore]:
    """A hub whose schema stops at the migration before compounds."""
    with hub_database(request.param, tmp_path, upto=BEFORE) as store:
        yield store


def fill_old(store: HubStore, tmp_path) -> dict[str, str]:
    """A day of an old hub: a gate with records (a fever, a refused one, a chain break), the
    roster, residents with passes and a quarantine, duty, rounds, supplies, an admin, audit."""
    now = now_iso()
    store.execute(
        "INSERT INTO kiosks (kiosk_id, token_hash, enrolled_at) VALUES ('gate-1', 'h1', ?)",
        (now,),
    )
    store.execute(
        "INSERT INTO enrol_codes (code_hash, kiosk_id, created_at, expires_at)"
        " VALUES ('c1', 'gate-2', ?, ?)",
        (now, 9e9),
    )
    ledger = make_ledger(tmp_path / "gate-1.sqlite3", "gate-1")
    records = [ledger.append("screening", verdict="admitted", estimate_c=36.5) for _ in range(3)]
    fever = ledger.append("screening", verdict="blocked", estimate_c=38.6, threshold_c=37.3)
    ledger.close()
    answers = store.ingest("gate-1", [*records, fever, {"id": "broken"}], 0)
    assert [a["status"] for a in answers][-1] == "quarantined"
    store.execute(
        "INSERT INTO chain_breaks (kiosk_id, epoch, seq, problem, found_at)"
        " VALUES ('gate-1', 'e', 9, 'gap', ?)",
        (now,),
    )
    guard = json.dumps({"name": "王师傅", "pin_hash": "x", "gates": ["gate-1"]}, ensure_ascii=False)
    for kind, key, data in (
        ("guard", "g1", guard),
        ("setting", "screening.threshold_c", '{"value": 37.2}'),
        ("place", "一号电梯", '{"name": "一号电梯", "rounds_per_day": 2}'),
        ("pass", "1234567890", json.dumps({"code": "1234567890", "resident_id": "r1"})),
    ):
        store.execute(
            "INSERT INTO roster (kind, key, data, changed_at) VALUES (?, ?, ?, ?)",
            (kind, key, data, now),
        )
    store.execute(
        "INSERT INTO readers (name, token_hash, created_at) VALUES ('gov', 'rt', ?)", (now,)
    )
    store.execute(
        "INSERT INTO admins (username, password_hash, role, created_at)"
        " VALUES ('old-admin', ?, 'admin', ?)",
        (hash_password(PASSWORD), now),
    )
    store.execute(
        "INSERT INTO audit (at, username, action, detail) VALUES (?, 'old-admin', 'passes.issue',"
        " '{\"issued\": 1}')",
        (now,),
    )
    store.execute(
        "INSERT INTO daily_counts (kiosk_id, day, kind, verdict, count)"
        " VALUES ('gate-1', '2026-10-01', 'screening', 'admitted', 12)"
    )
    store.execute(
        "INSERT INTO followups (event_id, state, note, updated_by, updated_at)"
        " VALUES (?, 'acknowledged', '已电话联系', 'old-admin', ?)",
        (fever["id"], now),
    )
    store.execute(
        "INSERT INTO residents (resident_id, building, unit, room, name, phone, role, created_at,"
        " id_masked, id_hash) VALUES ('r1', '3', '2', '501', '周老住户', '13900000000', 'owner',"
        " ?, '1101**********002X', 'idh')",
        (now,),
    )
    store.execute(
        "INSERT INTO passes (code, resident_id, expires_on, issued_at)"
        " VALUES ('1234567890', 'r1', '2027-06-01', ?)",
        (now,),
    )
    store.execute(
        "INSERT INTO quarantine_register (resident_id, starts_on, ends_on, note, created_by,"
        " created_at) VALUES ('r1', '2026-11-20', '2026-12-20', '居家', 'old-admin', ?)",
        (now,),
    )
    start = datetime.now(UTC) - timedelta(hours=1)
    store.execute(
        "INSERT INTO duty_shifts (person, gate, starts_at, ends_at, created_by, created_at)"
        " VALUES ('g1', 'gate-1', ?, ?, 'old-admin', ?)",
        (start.isoformat(timespec="seconds"), (start + timedelta(hours=8)).isoformat(), now),
    )
    store.execute(
        "INSERT INTO disinfection_rounds (place, agent, done_at, done_by, created_at)"
        " VALUES ('一号电梯', '84消毒液', ?, 'old-admin', ?)",
        (datetime.now(UTC).isoformat(timespec="seconds"), now),
    )
    store.execute(
        "INSERT INTO supplies (item, unit, keeper, reserve_days, margin_pct, created_at)"
        " VALUES ('老口罩', '只', '物业', 7, 10, ?)",
        (now,),
    )
    store.execute(
        "INSERT INTO supply_moves (item, direction, quantity, note, moved_at, moved_by)"
        " VALUES ('老口罩', 'receipt', 500, NULL, ?, 'old-admin')",
        (now,),
    )
    return {"fever": fever["id"]}


# 013's own, and those of the migrations after it (014: a gate's settings version).
NEW_COLUMNS = ("compound_id", "district", "settings_version", "settings_reported_at")


def rows_of(store: HubStore) -> dict[str, list[tuple]]:
    """Every row of every table, without the new column (sorted: order is no promise)."""
    found = {}
    for table in TABLES:
        cursor = store.execute(f"SELECT * FROM {table}")
        names = [c[0] for c in cursor.description]
        found[table] = sorted(
            tuple(
                (name, None if value is None else str(value))
                for name, value in sorted(zip(names, row, strict=True))
                if name not in NEW_COLUMNS
            )
            for row in cursor.fetchall()
        )
    return found


def test_an_existing_hub_migrates_into_one_compound_with_nothing_lost(old_hub, tmp_path):
    ids = fill_old(old_hub, tmp_path)
    before = rows_of(old_hub)
    assert all(before[t] for t in TABLES), [t for t in TABLES if not before[t]]
    old_hub.migrate(default_compound="幸福里小区")
    assert rows_of(old_hub) == before  # every row, every value
    compounds = old_hub.fetch_all("SELECT compound_id, name FROM compounds")
    assert [c[1] for c in compounds] == ["幸福里小区"]
    only = compounds[0][0]
    for table in OWNED:
        assert old_hub.fetch_all(f"SELECT DISTINCT compound_id FROM {table}") == [(only,)], table
    assert old_hub.fetch_all("SELECT username, compound_id FROM account_compounds") == [
        ("old-admin", only)
    ]
    # The kiosk keeps getting the whole roster, the reader token the whole ledger.
    assert {c["key"] for c in old_hub.roster_since(0, 100, "gate-1")} == {
        "g1",
        "screening.threshold_c",
        "一号电梯",
        "1234567890",
    }
    assert len(old_hub.events_since(0, 100, compound=only)) == 4

    # The admin who had the hub sees all of it, under the compound's name.
    app = create_hub(old_hub)
    client = app.test_client()
    from tests.hub_helpers import log_in

    assert log_in(client, "old-admin", PASSWORD).status_code == 302
    seen = {
        path: body_text(client.get(path))
        for path in (
            "/admin/dashboard",
            "/admin/residents",
            "/admin/quarantine",
            "/admin/settings",
            "/admin/duty",
            "/admin/disinfection",
            "/admin/supplies",
            "/admin/audit",
            "/admin/kiosks",
            "/admin/ledger.csv",
        )
    }
    assert "幸福里小区" in seen["/admin/dashboard"]
    assert "gate-1" in seen["/admin/dashboard"]
    assert "周老住户" in seen["/admin/residents"] and "1234567890" in seen["/admin/residents"]
    assert "王师傅" in seen["/admin/settings"] and "gate-1" in seen["/admin/settings"]
    assert "王师傅" in seen["/admin/duty"]
    assert "一号电梯" in seen["/admin/disinfection"]
    assert "老口罩" in seen["/admin/supplies"] and "500" in seen["/admin/supplies"]
    assert "old-admin" in seen["/admin/audit"]
    assert "gap" in seen["/admin/kiosks"] or "记录链" in seen["/admin/kiosks"]
    assert ids["fever"] in seen["/admin/ledger.csv"]
    assert seen["/admin/ledger.csv"].count("gate-1") == 4


def test_a_hub_migrated_without_a_name_takes_the_serve_name(old_hub):
    old_hub.migrate()
    assert old_hub.fetch_all("SELECT name FROM compounds") == [("默认小区",)]
    create_hub(old_hub, compound="光明苑小区")
    assert old_hub.fetch_all("SELECT name FROM compounds") == [("光明苑小区",)]
    create_hub(old_hub, compound="别的名字")  # named already: kept
    assert old_hub.fetch_all("SELECT name FROM compounds") == [("光明苑小区",)]

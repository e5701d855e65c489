"""The local ledger: durable, append-only, sequenced and hash-chained."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

from kiosk.ledger import Ledger, LedgerError
from sync.contract import GENESIS_HASH, record_hash
from sync.localtime import local_today, parse_utc, zone


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3", "gate-1")


def test_durability_settings(ledger):
    conn = ledger.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_append_assigns_sequence_and_chains(ledger):
    first = ledger.append("screening", verdict="admitted", estimate_c=36.6, threshold_c=37.3)
    second = ledger.append("screening", verdict="blocked", estimate_c=38.2, threshold_c=37.3)
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["prev_hash"] == GENESIS_HASH
    assert second["prev_hash"] == first["hash"]
    assert first["id"] != second["id"]
    assert ledger.get(second["id"])["estimate_c"] == 38.2
    stored = ledger.get(first["id"])
    assert record_hash(stored) == stored["hash"]
    assert stored["clock_synced"] in (0, 1)
    assert stored["boottime_ns"] > 0
    assert ledger.verify_chain().ok


def test_reopening_continues_the_sequence_and_chain(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    first = Ledger(path, "gate-1").append("screening", verdict="admitted")
    again = Ledger(path, "gate-1")
    second = again.append("screening", verdict="admitted")
    assert second["seq"] == 2
    assert second["prev_hash"] == first["hash"]
    assert again.verify_chain().checked == 2


def test_a_new_database_is_a_new_epoch(tmp_path):
    a = Ledger(tmp_path / "a.sqlite3", "gate-1")
    b = Ledger(tmp_path / "b.sqlite3", "gate-1")
    assert a.epoch != b.epoch


def test_a_database_of_another_kiosk_is_refused(tmp_path):
    Ledger(tmp_path / "l.sqlite3", "gate-1")
    with pytest.raises(LedgerError, match="belongs to kiosk 'gate-1'"):
        Ledger(tmp_path / "l.sqlite3", "gate-2")


def test_rows_cannot_be_edited(ledger):
    event = ledger.append("screening", verdict="blocked", estimate_c=38.2)
    conn = ledger.connection()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET verdict = 'admitted' WHERE id = ?", (event["id"],))
    # Sync bookkeeping is the one change allowed (set, and cleared when the hub lost a record).
    conn.execute("UPDATE events SET synced_at = '2026-11-28' WHERE id = ?", (event["id"],))
    conn.execute("UPDATE events SET synced_at = NULL WHERE id = ?", (event["id"],))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET hash = 'x', synced_at = 'y' WHERE id = ?", (event["id"],))


def test_unsynced_rows_cannot_be_deleted(ledger):
    event = ledger.append("screening", verdict="admitted")
    with pytest.raises(sqlite3.IntegrityError, match="does not hold yet"):
        ledger.connection().execute("DELETE FROM events WHERE id = ?", (event["id"],))


def test_tampering_breaks_the_chain(ledger, tmp_path):
    for _ in range(3):
        ledger.append("screening", verdict="admitted", estimate_c=36.5)
    ledger.close()
    # Someone with the file and a SQLite tool: drops the trigger and edits a verdict.
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    conn.execute("DROP TRIGGER events_append_only")
    conn.execute("UPDATE events SET estimate_c = 36.9 WHERE seq = 2")
    conn.commit()
    conn.close()
    report = Ledger(tmp_path / "ledger.sqlite3", "gate-1").verify_chain()
    assert (report.ok, report.seq, report.problem) == (False, 2, "a record was altered")


def test_a_removed_row_breaks_the_chain(ledger, tmp_path):
    for _ in range(3):
        ledger.append("screening", verdict="admitted")
    conn = ledger.connection()
    conn.execute("UPDATE events SET synced_at = 'x' WHERE seq = 2")
    conn.execute("DELETE FROM events WHERE seq = 2")
    report = ledger.verify_chain()
    assert not report.ok
    assert report.problem == "a record is missing or out of order"


def test_detail_round_trips_as_json(ledger):
    event = ledger.append("screening", verdict="admitted", detail={"samples": [[34.0, 24.0]]})
    assert json.loads(ledger.get(event["id"])["detail"]) == {"samples": [[34.0, 24.0]]}


def test_unknown_kind_is_refused(ledger):
    with pytest.raises(ValueError, match="unknown event kind"):
        ledger.append("party")


def test_full_disk_raises_and_stores_nothing(ledger):
    ledger.append("screening", verdict="admitted")
    conn = ledger.connection()
    # Cap the file at its current size: the next page allocation fails as on a full disk.
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = {"note": "x" * 20000}
    with pytest.raises(LedgerError, match="full"):
        ledger.append("screening", verdict="admitted", detail=big)
    assert ledger.count() == 1
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert ledger.append("screening", verdict="admitted")["seq"] == 2
    assert ledger.verify_chain().ok


def test_an_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger(blocker / "ledger.sqlite3", "gate-1")


def test_counts_for_day(ledger):
    ledger.append("screening", verdict="admitted")
    ledger.append("screening", verdict="admitted")
    ledger.append("screening", verdict="blocked")
    ledger.append("alarm", verdict="sounding")
    beijing = zone("Asia/Shanghai")
    day = local_today(beijing, parse_utc(ledger.events()[0]["wall_time"]))
    assert ledger.counts_for_day(day, beijing) == {"admitted": 2, "alarm": 1, "blocked": 1}


def test_counts_for_day_is_the_local_day_not_the_utc_date(ledger):
    """Regression: `kiosk counts` counted a UTC date; at 07:00 in Beijing that was yesterday."""
    beijing = zone("Asia/Shanghai")
    conn = ledger.connection()
    ledger.append("screening", verdict="admitted")
    ledger.append("screening", verdict="blocked")
    # 23:30 UTC on the 27th is 07:30 on the 28th in Beijing; 15:59 UTC on the 28th is 23:59 there.
    with conn:
        conn.execute("DROP TRIGGER events_append_only")  # test data only
        conn.execute(
            "UPDATE events SET wall_time = '2026-11-27T23:30:00.000000+00:00' WHERE seq = 1"
        )
        conn.execute(
            "UPDATE events SET wall_time = '2026-11-28T16:00:00.000000+00:00' WHERE seq = 2"
        )
    assert ledger.counts_for_day(date(2026, 11, 28), beijing) == {"admitted": 1}
    assert ledger.counts_for_day(date(2026, 11, 29), beijing) == {"blocked": 1}


def test_schema_migrations_are_recorded(ledger):
    rows = ledger.connection().execute("SELECT name FROM _sqlite_migrations").fetchall()
    assert [r[0] for r in rows] == [
        "m001_events",
        "m002_passes",
        "m003_guards",
        "m004_risk_areas",
        "m005_sync",
        "m006_urgent_outbox",
        "m007_retention",
        "m008_chain_mac",
        "m009_utc_offset",
        "m010_places",
        "m011_duty_clearances",
    ]

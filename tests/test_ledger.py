"""The local ledger: durable, append-only, sequenced and hash-chained."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest
from sqlite_utils import Database

from kiosk.ledger import ChainReport, Ledger, LedgerError, connect
from kiosk.schema import migrations
from sync.contract import GENESIS_HASH, WIRE_FIELDS, record_hash
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
        "m012_lean_append",
        "m013_pin_bursts",
    ]


def test_two_writers_on_one_file_keep_one_unbroken_chain(tmp_path):
    """Each Ledger remembers the chain head to append without reading it; a head another writer
    moved is caught inside the transaction and the append is made from the file's head."""
    gate = Ledger(tmp_path / "ledger.sqlite3", "gate-1")
    cli = Ledger(tmp_path / "ledger.sqlite3", "gate-1")  # e.g. `kiosk calibrate` beside the gate
    seqs = []
    for writer in (gate, gate, cli, gate, cli, cli, gate):
        seqs.append(writer.append("screening", verdict="admitted")["seq"])
    assert seqs == [1, 2, 3, 4, 5, 6, 7]
    assert gate.verify_chain().ok and gate.verify_chain().checked == 7
    assert gate.head()[1] == 8


def test_a_failed_append_leaves_the_head_where_the_file_has_it(ledger):
    first = ledger.append("screening", verdict="admitted")
    with pytest.raises(LedgerError):  # links_to must name a recorded event
        ledger.append("override", verdict="admitted", links_to="no-such-event")
    second = ledger.append("screening", verdict="admitted")
    assert (second["seq"], second["prev_hash"]) == (2, first["hash"])
    assert ledger.verify_chain().ok


def _old_record(seq: int, prev_hash: str, **fields) -> dict:
    record = dict.fromkeys(WIRE_FIELDS)
    record.update(
        id=f"event-{seq}",
        kiosk_id="gate-1",
        epoch="e1",
        seq=seq,
        kind="screening",
        wall_time=f"2026-11-2{seq}T08:00:00.000000+00:00",
        clock_synced=1,
        boot_id="boot",
        boottime_ns=seq,
        verdict="admitted",
        detail="{}",
        prev_hash=prev_hash,
        utc_offset_min=480,
    )
    record.update(fields)
    record["hash"] = record_hash(record)
    return record


def test_m012_keeps_every_record_and_the_chain(tmp_path):
    """A ledger written before m012 (seq not yet the rowid) is copied whole: rows, links, sync
    marks; the chain verifies and goes on; the append-only triggers still hold."""
    path = tmp_path / "ledger.sqlite3"
    conn = connect(path)
    migrations.apply(Database(conn), stop_before="m012_lean_append")
    first = _old_record(1, GENESIS_HASH)
    alarm = _old_record(2, first["hash"], kind="alarm", verdict="sounding", links_to="event-1")
    third = _old_record(3, alarm["hash"])
    for record, synced_at in ((first, "2026-11-28T00:00:00+00:00"), (alarm, None), (third, None)):
        columns = ", ".join(record)
        conn.execute(
            f"INSERT INTO events ({columns}, synced_at) VALUES ({', '.join('?' * len(record))}, ?)",
            (*record.values(), synced_at),
        )
    conn.execute("INSERT INTO chain_head VALUES ('gate-1', 'e1', 4, ?)", (third["hash"],))
    conn.close()

    ledger = Ledger(path, "gate-1")
    assert ledger.verify_chain() == ChainReport(True, 3)
    events = ledger.events()
    assert [(e["seq"], e["id"], e["links_to"]) for e in events] == [
        (1, "event-1", None),
        (2, "event-2", "event-1"),
        (3, "event-3", None),
    ]
    assert [e["hash"] for e in events] == [first["hash"], alarm["hash"], third["hash"]]
    assert ledger.unsynced_count() == 2
    fourth = ledger.append("screening", verdict="blocked")
    assert (fourth["seq"], fourth["epoch"], fourth["prev_hash"]) == (4, "e1", third["hash"])
    assert ledger.verify_chain().ok
    conn = ledger.connection()
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET verdict = 'blocked' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        conn.execute("DELETE FROM events WHERE seq = 3")
    # The head moves inside SQLite: a row that does not continue the chain where the head stands
    # is refused, whoever writes it; a sequence number is never taken twice.
    insert = (
        "INSERT INTO events (id, kiosk_id, epoch, seq, kind, wall_time, clock_synced, boot_id,"
        " boottime_ns, prev_hash, hash) VALUES (?, 'gate-1', 'e1', ?, 'screening', ?, 1, 'b', 1,"
        " ?, ?)"
    )
    when = fourth["wall_time"]
    for seq, prev_hash in ((2, alarm["hash"]), (5, third["hash"]), (6, fourth["hash"])):
        with pytest.raises(sqlite3.IntegrityError, match="not at the chain head"):
            conn.execute(insert, (f"x-{seq}", seq, when, prev_hash, "h"))
    assert ledger.head() == ("e1", 5)

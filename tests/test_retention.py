"""Retention: rows past the period are gone from the hub and the kiosk; unsynced kiosk rows are
never purged; counts per day stay; the hash chain still verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

from kiosk import clock
from kiosk.ledger import Ledger
from kiosk.retention import purge
from sync.hub.admins import audit_log
from sync.hub.retention import daily_counts
from sync.hub.retention import purge as hub_purge
from tests.superuser import unguarded
from tests.sync_fixtures import drain, enrolled_client, ledger_ids

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def append_at(
    ledger: Ledger, when: datetime, verdict: str = "admitted", synced: bool = True, **fields
) -> dict:
    facts = clock.ClockFacts(when.isoformat(timespec="microseconds"), synced, "boot", 1)
    with mock.patch.object(clock, "now", lambda: facts):
        return ledger.append("screening", verdict=verdict, estimate_c=36.6, **fields)


def mark_synced(ledger: Ledger, ids: list[str], when: datetime) -> None:
    conn = ledger.connection()
    for event_id in ids:
        conn.execute("UPDATE events SET synced_at = ? WHERE id = ?", (when.isoformat(), event_id))


def test_kiosk_purges_old_synced_rows_only(tmp_path):
    ledger = Ledger(tmp_path / "k.sqlite3", "gate-1")
    old = NOW - timedelta(days=40)
    old_synced = [append_at(ledger, old)["id"] for _ in range(5)]
    old_unsynced = append_at(ledger, old, verdict="blocked")["id"]
    old_synced += [append_at(ledger, old)["id"] for _ in range(3)]  # after the unsynced one
    recent = [append_at(ledger, NOW - timedelta(days=2))["id"] for _ in range(4)]
    mark_synced(ledger, old_synced, old + timedelta(hours=1))
    mark_synced(ledger, recent[:2], NOW)

    result = purge(ledger, 28, now=NOW)

    assert (result.purged, result.kept_unsynced) == (8, 1)
    assert ledger_ids(ledger) == {old_unsynced, *recent}
    counts = (
        ledger.connection()
        .execute("SELECT day, kind, verdict, count FROM retention_counts")
        .fetchall()
    )
    assert [tuple(c) for c in counts] == [(old.date().isoformat(), "screening", "admitted", 8)]
    # The chain verifies across the purged ranges, on both sides of the kept unsynced row.
    report = ledger.verify_chain()
    assert report.ok and report.checked == 5
    # And a row removed by anything else still shows as a break.
    conn = ledger.connection()
    conn.execute("UPDATE events SET synced_at = 'x' WHERE id = ?", (recent[1],))
    conn.execute("DELETE FROM events WHERE id = ?", (recent[1],))
    assert not ledger.verify_chain().ok


def test_kiosk_purge_keeps_links_to_purged_records(tmp_path):
    ledger = Ledger(tmp_path / "k.sqlite3", "gate-1")
    old = append_at(ledger, NOW - timedelta(days=30), verdict="blocked")
    override = ledger.append("override", verdict="admitted", links_to=old["id"])
    mark_synced(ledger, [old["id"]], NOW - timedelta(days=29))
    assert purge(ledger, 28, now=NOW).purged == 1
    assert ledger.get(override["id"])["links_to"] == old["id"]  # names a purged record
    assert ledger.verify_chain().ok


def test_nothing_unsynced_is_ever_purged(tmp_path):
    ledger = Ledger(tmp_path / "k.sqlite3", "gate-1")
    for _ in range(10):
        append_at(ledger, NOW - timedelta(days=400))
    assert purge(ledger, 1, now=NOW).purged == 0
    assert ledger.count() == 10


def test_hub_purges_old_rows_and_keeps_counts(hub, tmp_path):
    ledger = Ledger(tmp_path / "k.sqlite3", "gate-1")
    old = NOW - timedelta(days=35)
    for _ in range(6):
        append_at(ledger, old, verdict="blocked")
    recent = [append_at(ledger, NOW - timedelta(days=1))["id"] for _ in range(4)]
    drain(enrolled_client(hub.start(), ledger))
    store = hub.store
    with unguarded(store):  # they arrived back then
        store.execute(
            "UPDATE events SET received_at = ? WHERE wall_time < ?",
            ((old + timedelta(hours=1)).isoformat(), (NOW - timedelta(days=30)).isoformat()),
        )

    result = hub_purge(store, 28, now=NOW, username="admin-user")

    assert result.purged == 6
    assert store.event_ids("gate-1") == set(recent)
    assert daily_counts(store) == [("gate-1", old.date().isoformat(), "screening", "blocked", 6)]
    entry = audit_log(store)[0]
    assert entry["action"] == "retention.purge" and entry["detail"]["events"] == 6


def test_hub_keeps_a_record_that_only_looks_old(hub, tmp_path):
    # A kiosk whose clock said 1970 sent it today: the hub received it today, so it stays.
    # (Its clock was not synchronised: a kiosk that claims a synchronised 1970 is quarantined.)
    ledger = Ledger(tmp_path / "k.sqlite3", "gate-1")
    append_at(ledger, datetime(1970, 1, 1, tzinfo=UTC), synced=False)
    drain(enrolled_client(hub.start(), ledger))
    assert hub_purge(hub.store, 28).purged == 0
    assert len(hub.store.event_ids()) == 1

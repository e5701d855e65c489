"""Monthly partitions of the hub's events on PostgreSQL: an existing hub migrates with nothing
lost, partitions are made ahead and a kiosk's clock cannot make more, retention drops whole
months (SQLite keeps one table; retention answers the same on both)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest

from kiosk import clock
from kiosk.ledger import Ledger
from sync.hub import partitions
from sync.hub.integrity import lines
from sync.hub.retention import daily_counts
from sync.hub.retention import purge as hub_purge
from sync.hub.store import HubStore
from sync.protocol import CONFLICT, DUPLICATE, STORED
from tests.superuser import unguarded
from tests.sync_fixtures import hub_database, hub_store  # noqa: F401 (fixture)

ROW = (
    "SELECT ingest_seq, id, kiosk_id, epoch, seq, kind, wall_time, verdict, estimate_c, record,"
    " hash, prev_hash, chain_ok, received_at FROM events ORDER BY ingest_seq"
)
NOW = datetime.now(UTC)


@pytest.fixture
def old_pg_hub(tmp_path) -> Iterator[HubStore]:
    """A PostgreSQL hub as it stood before the partitions (migrations up to 011)."""
    with hub_database("postgresql", tmp_path, upto="011_duty_records") as store:
        yield store


def enrol(store: HubStore, kiosk_id: str) -> None:
    if store.fetch_one("SELECT 1 FROM hub_migrations WHERE name = '013_compounds'") is None:
        # A hub from before compounds (013): its gate's row as that hub's enrolment made it.
        with store.transaction():
            store.execute(
                "INSERT INTO kiosks (kiosk_id, token_hash, enrolled_at) VALUES (?, ?, ?)",
                (kiosk_id, f"token-{kiosk_id}", "2026-07-01T00:00:00+00:00"),
            )
        return
    assert store.enrol(store.create_enrol_code(kiosk_id)) is not None


def append_at(ledger: Ledger, when: datetime, synced: bool = True) -> dict[str, Any]:
    facts = clock.ClockFacts(when.isoformat(timespec="microseconds"), synced, "boot", 1)
    with mock.patch.object(clock, "now", lambda: facts):
        return ledger.append("screening", verdict="admitted", estimate_c=36.6)


def records_at(tmp_path, kiosk_id: str, times: list[datetime], **fields: Any) -> list[dict]:
    ledger = Ledger(tmp_path / f"{kiosk_id}-{uuid.uuid4().hex[:6]}.sqlite3", kiosk_id)
    made = [append_at(ledger, when, **fields) for when in times]
    ledger.close()
    return made


def statuses(answers: list[dict[str, Any]]) -> list[str]:
    return [a["status"] for a in answers]


def month(when: datetime) -> str:
    return when.strftime("%Y-%m")


def partition_of_each_row(store: HubStore) -> set[tuple[str, str]]:
    rows = store.fetch_all("SELECT DISTINCT tableoid::regclass::text, received_at FROM events")
    return {(name, received[:7]) for name, received in rows}


def test_an_existing_hub_is_partitioned_with_nothing_lost(old_pg_hub, tmp_path):
    store = old_pg_hub
    enrol(store, "gate-1")
    enrol(store, "gate-2")
    times = [NOW - timedelta(days=days, hours=hour) for days in (120, 90, 60, 1) for hour in (1, 2)]
    gate1 = records_at(tmp_path, "gate-1", times)
    gate2 = records_at(tmp_path, "gate-2", times)
    tampered = {**gate2[3], "estimate_c": 35.0}  # stored, flagged as a chain break
    assert statuses(store.ingest("gate-1", gate1)) == [STORED] * 8
    assert statuses(store.ingest("gate-2", [*gate2[:3], tampered, *gate2[5:]])) == [STORED] * 7
    with unguarded(store):  # they arrived over four months
        store.execute("UPDATE events SET received_at = wall_time")
    before = store.fetch_all(ROW)
    # (besides: the old hub's records can still be rewritten, until the migration)
    said = [line for line in lines(store) if not line.startswith("保护缺失")]
    checks = (store.chain_breaks(), store.gaps(), said)
    assert len(checks[0]) == 1 and len(checks[1]) == 1  # the tampered record, the missing one

    store.migrate()

    assert store.fetch_all(ROW) == before
    assert (store.chain_breaks(), store.gaps(), lines(store)) == checks
    months = {month(when) for when in times} | {month(NOW), partitions.next_month(month(NOW))}
    assert {p.lower for p in partitions.partitions(store)} == months
    assert partition_of_each_row(store) == {
        (partitions.partition_for(month(when)).name, month(when)) for when in times
    }
    assert store.fetch_one("SELECT count(*) FROM event_keys")[0] == len(before)
    # Ingest answers as before: duplicates, conflicts by id and by place, new records.
    assert statuses(store.ingest("gate-1", gate1)) == [DUPLICATE] * 8
    forged = {**gate2[0], "id": gate1[0]["id"]}
    assert statuses(store.ingest("gate-2", [forged])) == [CONFLICT]
    assert statuses(store.ingest("gate-2", [{**gate2[4], "id": str(uuid.uuid4())}])) == [STORED]
    assert statuses(store.ingest("gate-2", [gate2[4]])) == [CONFLICT]  # its place is taken
    [fresh] = records_at(tmp_path, "gate-3", [NOW])
    enrol(store, "gate-3")
    assert statuses(store.ingest("gate-3", [fresh])) == [STORED]
    read = store.events_since(0, 100)
    assert [e["ingest_seq"] for e in read][: len(before)] == [row[0] for row in before]
    assert read[-1]["record"] == fresh and read[-1]["ingest_seq"] > before[-1][0]


def test_partitions_come_from_the_hubs_clock_not_the_kiosks(hub_store, tmp_path):  # noqa: F811
    if hub_store.dialect.name != "postgresql":
        pytest.skip("partitions: PostgreSQL only")
    store = hub_store
    made = {p.lower for p in partitions.partitions(store)}
    assert made == {month(NOW), partitions.next_month(month(NOW))}
    enrol(store, "gate-1")
    # A clock stuck in 1970 (not synchronised, so accepted) and one running a month fast.
    wild = records_at(
        tmp_path,
        "gate-1",
        [datetime(1970, 1, 1, tzinfo=UTC), NOW + timedelta(days=30)],
        synced=False,
    )
    assert statuses(store.ingest("gate-1", wild)) == [STORED, STORED]
    assert {p.lower for p in partitions.partitions(store)} == made
    # A batch received in a month with no partition yet goes in (the default partition)...
    later = "2031-03-01T00:00:00.000000+00:00"
    enrol(store, "gate-2")
    [record] = records_at(tmp_path, "gate-2", [datetime(2026, 1, 1, tzinfo=UTC)], synced=False)
    with store.transaction(numbers_events=True):
        assert statuses(store._ingest_batch("gate-2", [record], later)) == [STORED]
    assert ("events_default", "2031-03") in partition_of_each_row(store)
    # ... and making that month ahead then fails without stopping ingest; the next month is made.
    store._ensure_partition(later)
    assert {p.lower for p in partitions.partitions(store)} == made | {"2031-04"}
    assert len(store.event_ids()) == 3


def test_retention_drops_old_months_and_deletes_within_the_boundary(hub_store, tmp_path):  # noqa: F811
    store = hub_store
    postgres = store.dialect.name == "postgresql"
    enrol(store, "gate-1")
    ages = [150, 150, 120, 120, 90, 90, 50, 40, 30, 1]  # days; retention keeps 45
    times = [NOW - timedelta(days=d) for d in ages]
    times[3] = NOW - timedelta(days=1)  # its kiosk said "yesterday" although it came 120 days ago
    records = records_at(tmp_path, "gate-1", times)
    assert statuses(store.ingest("gate-1", records)) == [STORED] * len(ages)
    fast = records[3]["id"]
    if postgres:
        with store.transaction(ordered=True):
            for days in ages:
                partitions.create(store, month(NOW - timedelta(days=days)))
    with unguarded(store):  # they arrived back then
        store.execute("UPDATE events SET received_at = wall_time")
        store.execute(
            "UPDATE events SET received_at = ? WHERE id = ?",
            ((NOW - timedelta(days=ages[3])).isoformat(), fast),
        )
    cutoff = (NOW - timedelta(days=45)).isoformat()
    held = store.fetch_all("SELECT id, wall_time, received_at FROM events")
    kept = {i for i, wall, received in held if not (wall < cutoff and received < cutoff)}
    assert fast in kept and len(kept) == 4

    result = hub_purge(store, 45, now=NOW)

    assert result.purged == len(ages) - len(kept)
    assert store.event_ids() == kept
    assert sum(row[4] for row in daily_counts(store)) == result.purged
    if postgres:
        left = {p.lower for p in partitions.partitions(store)}
        keeping = {received[:7] for i, _, received in held if i in kept}
        wholly_old = {
            received[:7]
            for _, _, received in held
            if partitions.next_month(received[:7]) <= cutoff and received[:7] not in keeping
        }
        assert wholly_old and not wholly_old & left  # dropped
        assert keeping <= left  # the fast clock's month stays, its old rows deleted
        assert store.fetch_one("SELECT count(*) FROM event_keys")[0] == len(kept)
    # A purged record sent again is stored again, as it was before the partitions.
    assert statuses(store.ingest("gate-1", [records[0]])) == [STORED]

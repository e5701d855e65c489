"""Several writers ingest at once on PostgreSQL, without a global lock, and a reader paging with
``since=`` never skips a record (the argument: docs/sync-protocol.md, "Readers")."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sync.contract import record_hash
from sync.hub.store import HubStore
from sync.protocol import CONFLICT, STORED
from tests.gate_helpers import wait_until
from tests.sync_fixtures import PG_DSN, hub_store, make_ledger  # noqa: F401 (fixture)

TIMEOUT_S = 60.0


@pytest.fixture
def pg_store(hub_store: HubStore) -> Iterator[HubStore]:  # noqa: F811
    if hub_store.dialect.name != "postgresql":
        pytest.skip("parallel writers: PostgreSQL only (SQLite has one writer at a time)")
    yield hub_store


def kiosk_records(tmp_path, kiosk_id: str, count: int) -> list[dict[str, Any]]:
    ledger = make_ledger(tmp_path / f"{kiosk_id}.sqlite3", kiosk_id)
    records = [
        ledger.append("screening", verdict="admitted", estimate_c=36.6) for _ in range(count)
    ]
    ledger.close()
    return records


def enrol(store: HubStore, kiosk_id: str) -> None:
    assert store.enrol(store.create_enrol_code(kiosk_id)) is not None


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``target`` in a thread; its result (or exception) lands in the list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:  # handed to the test
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def result_of(thread: threading.Thread, out: list[Any]) -> Any:
    thread.join(TIMEOUT_S)
    assert not thread.is_alive(), "the thread did not finish"
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def session_ran(store: HubStore, fragment: str) -> bool:
    """Some other session of this database has run a statement containing ``fragment``."""
    row = store.fetch_one(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND query LIKE ?",
        (f"%{fragment}%",),
    )
    return int(row[0]) > 0


def test_a_reader_waits_for_a_batch_in_flight_instead_of_skipping_it(pg_store, tmp_path):
    """Gate 1's batch draws the lower numbers and stays uncommitted; gate 2's batch draws
    higher numbers and commits (no global lock: it does not wait for gate 1). A reader that
    returned gate 2's records now would move its cursor past gate 1's, for ever."""
    enrol(pg_store, "gate-1")
    enrol(pg_store, "gate-2")
    first, second = kiosk_records(tmp_path, "gate-1", 5), kiosk_records(tmp_path, "gate-2", 5)
    inserted, release = threading.Event(), threading.Event()

    def slow_batch() -> list[dict[str, Any]]:
        with pg_store.transaction(numbers_events=True):
            answers = pg_store._ingest_batch("gate-1", first, "2026-11-29T07:00:00+00:00")
            inserted.set()
            release.wait(TIMEOUT_S)
        return answers

    writer = in_thread(slow_batch)
    wait_until(inserted.is_set, TIMEOUT_S, 0.01, "gate 1's rows inserted, uncommitted")
    assert all(a["status"] == STORED for a in pg_store.ingest("gate-2", second))

    reader = in_thread(lambda: pg_store.events_since(0, 100))
    wait_until(
        lambda: session_ran(pg_store, "SELECT pg_advisory_xact_lock("),
        TIMEOUT_S,
        0.01,
        "the reader waiting",
    )
    assert reader[0].is_alive() and not reader[1], "the reader answered with gate 1 in flight"
    release.set()
    assert all(a["status"] == STORED for a in result_of(*writer))

    page = result_of(*reader)
    assert [e["record"]["id"] for e in page] == [r["id"] for r in first + second]
    assert [e["ingest_seq"] for e in page] == sorted(e["ingest_seq"] for e in page)


def test_a_long_transaction_elsewhere_on_the_server_does_not_hold_readers_up(
    pg_store, tmp_path, monkeypatch
):
    """Found while landing: the reader waited for every transaction in flight on the server
    (another application, another hub's schema, a DBA's open psql), so one left open made the
    ledger API answer nothing for SETTLE_TIMEOUT_S on every page. Only this hub's ingest counts."""
    import psycopg

    from sync.hub import store as store_module

    monkeypatch.setattr(store_module, "SETTLE_TIMEOUT_S", 2.0)
    enrol(pg_store, "gate-1")
    assert all(
        a["status"] == STORED
        for a in pg_store.ingest("gate-1", kiosk_records(tmp_path, "gate-1", 3))
    )
    with psycopg.connect(PG_DSN) as other:
        other.execute("CREATE TEMP TABLE elsewhere (x int)")
        other.execute("INSERT INTO elsewhere VALUES (1)")  # holds a transaction id, left open
        page = pg_store.events_since(0, 10)
        other.rollback()
    assert len(page) == 3, "the reader gave up waiting for a transaction that is not ingest"


def test_concurrent_writers_and_a_racing_reader_skip_nothing(pg_store, tmp_path):
    kiosks, batches, per_batch = 4, 15, 20
    records = {}
    for index in range(kiosks):
        kiosk_id = f"gate-{index}"
        enrol(pg_store, kiosk_id)
        records[kiosk_id] = kiosk_records(tmp_path, kiosk_id, batches * per_batch)
    writing = threading.Event()
    writing.set()
    seen: list[int] = []
    ids: list[str] = []

    def push(kiosk_id: str) -> None:
        for start in range(0, batches * per_batch, per_batch):
            answers = pg_store.ingest(kiosk_id, records[kiosk_id][start : start + per_batch])
            assert all(a["status"] == STORED for a in answers)

    def read() -> None:
        since = 0
        while True:
            done = not writing.is_set()  # decided before the read: a last page after the end
            page = pg_store.events_since(since, 7)
            seen.extend(e["ingest_seq"] for e in page)
            ids.extend(e["record"]["id"] for e in page)
            since = page[-1]["ingest_seq"] if page else since
            if done and not page:
                return

    writers = [in_thread(lambda k=k: push(k)) for k in records]
    reader = in_thread(read)
    for writer in writers:
        result_of(*writer)
    writing.clear()
    result_of(*reader)
    assert seen == sorted(set(seen)), "the reader went backwards or read a record twice"
    expected = {r["id"] for rs in records.values() for r in rs}
    assert len(ids) == len(expected) and set(ids) == expected, "a record was skipped"


def test_an_id_committed_by_another_writer_meanwhile_is_a_conflict(pg_store, tmp_path):
    """Gate 2 sends gate 1's record id with other content while gate 1's batch holding it is
    in flight: gate 2's look-up cannot see it yet, its insert waits and then skips the row, and
    the hub plans the batch again: a conflict, quarantined, the stored record kept."""
    enrol(pg_store, "gate-1")
    enrol(pg_store, "gate-2")
    [record] = kiosk_records(tmp_path, "gate-1", 1)
    [other] = kiosk_records(tmp_path, "gate-2", 1)
    forged = {**other, "id": record["id"]}
    inserted, release = threading.Event(), threading.Event()

    def slow_batch() -> list[dict[str, Any]]:
        with pg_store.transaction(numbers_events=True):
            answers = pg_store._ingest_batch("gate-1", [record], "2026-11-29T07:00:00+00:00")
            inserted.set()
            release.wait(TIMEOUT_S)
        return answers

    writer = in_thread(slow_batch)
    wait_until(inserted.is_set, TIMEOUT_S, 0.01, "gate 1's row inserted, uncommitted")
    forger = in_thread(lambda: pg_store.ingest("gate-2", [forged]))
    wait_until(
        lambda: (
            pg_store.fetch_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE ?",
                ("INSERT INTO events%",),
            )[0]
            > 0
        ),
        TIMEOUT_S,
        0.01,
        "gate 2's insert waiting on gate 1's",
    )
    release.set()
    assert [a["status"] for a in result_of(*writer)] == [STORED]
    assert [a["status"] for a in result_of(*forger)] == [CONFLICT]
    assert [q["kiosk_id"] for q in pg_store.quarantined()] == ["gate-2"]
    assert [e["record"] for e in pg_store.events_since(0, 10)] == [record]


def test_batches_of_one_kiosk_queue_so_a_break_between_them_is_seen(pg_store, tmp_path):
    """Gate 1 sends records 1-5 and 6-10 on two connections at once, and record 6 does not
    link to record 5. The second batch waits for the first (the kiosk's row is locked), so its
    look-up sees record 5 and the break is recorded; without that, neither batch would see the
    other's records."""
    enrol(pg_store, "gate-1")
    records = kiosk_records(tmp_path, "gate-1", 10)
    sixth = {**records[5], "prev_hash": "ab" * 32}
    sixth["hash"] = record_hash(sixth)
    later = [sixth, *records[6:]]
    later[1] = {**later[1], "prev_hash": sixth["hash"]}
    later[1]["hash"] = record_hash(later[1])
    for index in range(2, len(later)):
        later[index] = {**later[index], "prev_hash": later[index - 1]["hash"]}
        later[index]["hash"] = record_hash(later[index])
    inserted, release = threading.Event(), threading.Event()

    def slow_batch() -> list[dict[str, Any]]:
        with pg_store.transaction(numbers_events=True):
            answers = pg_store._ingest_batch("gate-1", records[:5], "2026-11-29T07:00:00+00:00")
            inserted.set()
            release.wait(TIMEOUT_S)
        return answers

    writer = in_thread(slow_batch)
    wait_until(inserted.is_set, TIMEOUT_S, 0.01, "records 1-5 inserted, uncommitted")
    second = in_thread(lambda: pg_store.ingest("gate-1", later))
    wait_until(
        lambda: (
            pg_store.fetch_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE ?",
                ("SELECT chain_key%FOR UPDATE",),
            )[0]
            > 0
        ),
        TIMEOUT_S,
        0.01,
        "the second batch waiting for the first",
    )
    release.set()
    assert {a["status"] for a in result_of(*writer) + result_of(*second)} == {STORED}
    assert [(b["seq"], b["problem"]) for b in pg_store.chain_breaks()] == [
        (6, "prev_hash does not match the record before")
    ]

"""Sync benchmarks, reported as ratios against a baseline measured in the same run.

  (a) a backlog drained from one kiosk by its own sync loop to a ``hub serve`` process on
      loopback: records/s and seconds, on SQLite and on PostgreSQL, against the kiosk's own
      durable append rate (how fast it was made), in batches of 200 (the kiosk's default) and
      of 500 (its largest, ``sync.batch_size``);
  (b) hub ingest from several kiosks at once, over HTTP (the kiosks' own sync loops in threads
      of the hub's interpreter; and, closer to a real site, a ``hub serve`` process of its own
      taking ready-made batches) and at the store (``HubStore.ingest`` called from as many
      threads, no HTTP), against a bare
      ``INSERT … ON CONFLICT DO NOTHING`` of the same rows into the same database from as many
      threads, in batches of the same size: one statement per row (the issue's baseline) and
      one multi-row statement per batch (the best a bare insert can do);
  (c) PostgreSQL only: 2 ``hub serve`` processes against 1, the same kiosks pushing pre-made
      batches, with how busy the machine's cores were during each run.

Run: .venv/bin/python -m bench.sync_bench [--backlog 100000] [--kiosks 4] [--per-kiosk 5000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.hub_fleet import KioskLink, batch_body, cpu_busy, hub_processes, wire_records
from kiosk.background_server import BackgroundServer
from kiosk.ledger import Ledger
from sync.client import SyncClient
from sync.hub.app import create_hub
from sync.hub.store import HubStore
from sync.protocol import MAX_BATCH_RECORDS

PG = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 200


def make_backlog(path: Path, kiosk_id: str, count: int) -> tuple[Ledger, float]:
    ledger = Ledger(path, kiosk_id)
    started = time.perf_counter()
    for index in range(count):
        ledger.append(
            "screening",
            verdict="admitted" if index % 50 else "blocked",
            estimate_c=36.6,
            threshold_c=37.3,
            object_c=34.0,
            ambient_c=24.0,
            detail={"samples": [[34.0, 24.0]] * 5},
        )
    return ledger, count / (time.perf_counter() - started)


def open_store(kind: str, workdir: Path) -> tuple[HubStore, Any]:
    if kind == "sqlite":
        store = HubStore(f"sqlite:///{workdir}/hub-{uuid.uuid4().hex[:6]}.sqlite3")
        store.migrate()
        return store, None
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    store = HubStore(f"{PG}?options=-csearch_path%3D{schema}")
    store.migrate()
    return store, schema


def drop(schema: str | None) -> None:
    if schema:
        import psycopg

        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def run_all(threads: list[threading.Thread]) -> float:
    """Start the threads together and wait for all: the seconds it took."""
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def serve(store: HubStore) -> BackgroundServer:
    return BackgroundServer(
        create_hub(store, max_concurrent_ingests=8), host="127.0.0.1", port=0, threads=8
    ).start()


def token_for(store: HubStore, kiosk_id: str) -> str:
    enrolled = store.enrol(store.create_enrol_code(kiosk_id))
    assert enrolled is not None
    return enrolled[1]


def client_for(
    store: HubStore, server: BackgroundServer, ledger: Ledger, batch: int = BATCH
) -> SyncClient:
    token = token_for(store, ledger.kiosk_id)
    return SyncClient(ledger, f"http://127.0.0.1:{server.port}", token, batch_size=batch)


def drain(client: SyncClient) -> None:
    """The kiosk's own sync loop (``SyncClient.cycle``: push, count, state, roster at the end)
    until it has nothing left to send; a failed round fails the run."""
    while client.cycle() == 0.0:
        pass
    if client.state.last_error:
        raise RuntimeError(f"the drain stopped: {client.state.last_error}")


def drain_to_hub_process(store: HubStore, workdir: Path, ledger: Ledger, batch: int) -> float:
    """Seconds for the kiosk's sync loop to send its whole backlog to a ``hub serve`` process
    of its own (kiosk and hub are two machines: they do not share a Python interpreter)."""
    token = token_for(store, ledger.kiosk_id)
    with hub_processes(store.url, workdir / "keys", 1) as [port]:
        client = SyncClient(ledger, f"http://127.0.0.1:{port}", token, batch_size=batch)
        started = time.perf_counter()
        drain(client)
        return time.perf_counter() - started


def backlog(
    kind: str, workdir: Path, ledger: Ledger, append_rate: float, batch: int = BATCH
) -> dict[str, Any]:
    store, schema = open_store(kind, workdir)
    try:
        elapsed = drain_to_hub_process(store, workdir, ledger, batch)
        held = len(store.event_ids(ledger.kiosk_id))
    finally:
        store.close()
        drop(schema)
        ledger.connection().execute("UPDATE events SET synced_at = NULL")  # for the next run
    assert held == ledger.count()
    rate = held / elapsed
    return {
        "records": held,
        "seconds": round(elapsed, 2),
        "records_per_s": round(rate),
        "ratio_to_kiosk_append": rate / append_rate,
    }


def concurrent_ingest(kind: str, workdir: Path, ledgers: list[Ledger]) -> dict[str, Any]:
    store, schema = open_store(kind, workdir)
    server = serve(store)
    try:
        clients = [client_for(store, server, ledger) for ledger in ledgers]
        hub_elapsed = run_all([threading.Thread(target=drain, args=(c,)) for c in clients])
        total = sum(len(store.event_ids(ledger.kiosk_id)) for ledger in ledgers)
        per_row = bare_inserts(store, ledgers, multi_row=False)
        multi_row = bare_inserts(store, ledgers, multi_row=True)
    finally:
        server.stop()
        store.close()
        drop(schema)
        for ledger in ledgers:
            ledger.connection().execute("UPDATE events SET synced_at = NULL")
    store_elapsed = store_ingest(kind, workdir, ledgers)
    process_elapsed, _ = push_to_hub_processes(kind, workdir, premade_bodies(ledgers), total, 1)
    hub_rate, store_rate = total / hub_elapsed, total / store_elapsed
    process_rate = total / process_elapsed
    return {
        "kiosks": len(ledgers),
        "records": total,
        "hub_per_s": round(hub_rate),
        "hub_process_per_s": round(process_rate),
        "store_ingest_per_s": round(store_rate),
        "bare_per_row_per_s": round(total / per_row),
        "bare_multi_row_per_s": round(total / multi_row),
        "ratio_to_per_row": hub_rate * per_row / total,
        "ratio_to_multi_row": hub_rate * multi_row / total,
        # The hub in a process of its own, the kiosks posting ready-made batches: the kiosks'
        # own work (reading their ledgers, encoding, marking) is not in the hub's interpreter.
        "process_ratio_to_per_row": process_rate * per_row / total,
        "store_ratio_to_per_row": store_rate * per_row / total,
        "store_ratio_to_multi_row": store_rate * multi_row / total,
    }


def store_ingest(kind: str, workdir: Path, ledgers: list[Ledger]) -> float:
    """``HubStore.ingest`` itself, without HTTP: the same rows, threads and batches as the bare
    inserts, into a fresh hub (records made before the clock starts)."""
    store, schema = open_store(kind, workdir)
    try:
        for ledger in ledgers:
            token_for(store, ledger.kiosk_id)
        per_kiosk = {ledger.kiosk_id: wire_records(ledger.path) for ledger in ledgers}

        def push(kiosk_id: str, records: list[dict[str, Any]]) -> None:
            for start in range(0, len(records), BATCH):
                store.ingest(kiosk_id, records[start : start + BATCH])

        elapsed = run_all([threading.Thread(target=push, args=item) for item in per_kiosk.items()])
        assert len(store.event_ids()) == sum(len(r) for r in per_kiosk.values())
    finally:
        store.close()
        drop(schema)
    return elapsed


def bare_inserts(store: HubStore, ledgers: list[Ledger], *, multi_row: bool) -> float:
    """The same rows, straight into a plain table in the same database, same concurrency and
    batch size: one ``INSERT … ON CONFLICT DO NOTHING`` per row, or one per batch. The rows
    are made before the clock starts."""
    table = f"bare_{uuid.uuid4().hex[:8]}"
    store.execute(
        f"CREATE TABLE {table} (id TEXT PRIMARY KEY, kiosk_id TEXT, epoch TEXT, seq BIGINT,"
        " record TEXT)"
    )
    per_kiosk = [
        [(r["id"], r["kiosk_id"], r["epoch"], r["seq"], json.dumps(r)) for r in records]
        for records in (wire_records(ledger.path) for ledger in ledgers)
    ]

    def insert(rows: list[tuple[Any, ...]]) -> None:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            with store.transaction():
                if multi_row:
                    marks = ", ".join("(?, ?, ?, ?, ?)" for _ in batch)
                    store.execute(
                        f"INSERT INTO {table} VALUES {marks} ON CONFLICT DO NOTHING",
                        [value for row in batch for value in row],
                    )
                    continue
                for row in batch:
                    store.execute(
                        f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", row
                    )

    return run_all([threading.Thread(target=insert, args=(rows,)) for rows in per_kiosk])


def premade_bodies(ledgers: list[Ledger]) -> dict[str, list[bytes]]:
    """Each kiosk's records as the batch bodies it would post, made before any clock starts."""
    return {
        ledger.kiosk_id: [
            batch_body(records[start : start + BATCH]) for start in range(0, len(records), BATCH)
        ]
        for ledger in ledgers
        for records in (wire_records(ledger.path),)
    }


def push_to_hub_processes(
    kind: str, workdir: Path, bodies: dict[str, list[bytes]], total: int, count: int
) -> tuple[float, float]:
    """Seconds for the kiosks to push their pre-made batches to ``count`` ``hub serve``
    processes on a fresh hub (kiosk i to process i mod count, each kiosk one batch at a time,
    as a kiosk sends), and how busy the machine's cores were meanwhile."""
    store, schema = open_store(kind, workdir)
    try:
        tokens = {kiosk_id: token_for(store, kiosk_id) for kiosk_id in bodies}
        with hub_processes(store.url, workdir / "keys", count) as ports:
            links = [
                KioskLink(ports[index % count], tokens[kiosk_id])
                for index, kiosk_id in enumerate(bodies)
            ]

            def push(link: KioskLink, kiosk_bodies: list[bytes]) -> None:
                for body in kiosk_bodies:
                    link.push_until_taken(body)

            threads = [
                threading.Thread(target=push, args=(link, bodies[kiosk_id]))
                for link, kiosk_id in zip(links, bodies, strict=True)
            ]
            with cpu_busy() as busy:
                elapsed = run_all(threads)
            for link in links:
                link.close()
        held = len(store.event_ids())
    finally:
        store.close()
        drop(schema)
    assert held == total, f"{held} of {total} records stored"
    return elapsed, busy.fraction


def process_scaling(workdir: Path, ledgers: list[Ledger], rounds: int) -> dict[str, Any]:
    """The same kiosks push the same pre-made batches to 1, then 2 hub processes;
    ``rounds`` times, alternating, because a run of a few seconds on a shared machine is noisy.
    The ratio is of the medians."""
    bodies = premade_bodies(ledgers)
    total = sum(ledger.count() for ledger in ledgers)
    runs: list[dict[str, Any]] = []
    for count in [1, 2] * rounds:
        elapsed, busy = push_to_hub_processes("postgresql", workdir, bodies, total, count)
        runs.append(
            {
                "processes": count,
                "records_per_s": round(total / elapsed),
                "cpu_busy": round(busy, 2),
            }
        )
    one, two = (
        statistics.median(r["records_per_s"] for r in runs if r["processes"] == n) for n in (1, 2)
    )
    return {"runs": runs, "median_1": one, "median_2": two, "ratio": two / one}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--kiosks", type=int, default=4)
    parser.add_argument("--per-kiosk", type=int, default=5000)
    parser.add_argument("--process-kiosks", type=int, default=8)
    parser.add_argument("--process-rounds", type=int, default=3)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    stores = args.stores.split(",")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ledger, append_rate = make_backlog(workdir / "backlog.sqlite3", "backlog", args.backlog)
        results["kiosk_append_per_s"] = round(append_rate)
        for kind in stores:
            results[f"backlog_{kind}"] = backlog(kind, workdir, ledger, append_rate)
            # The kiosk's largest batch (sync.batch_size = 500, the protocol's limit).
            results[f"backlog_{kind}_batch_{MAX_BATCH_RECORDS}"] = backlog(
                kind, workdir, ledger, append_rate, MAX_BATCH_RECORDS
            )
        ledgers = [
            make_backlog(workdir / f"k{i}.sqlite3", f"gate-{i}", args.per_kiosk)[0]
            for i in range(max(args.kiosks, args.process_kiosks))
        ]
        for kind in stores:
            results[f"concurrent_{kind}"] = concurrent_ingest(kind, workdir, ledgers[: args.kiosks])
        if "postgresql" in stores:
            results["processes_postgresql"] = process_scaling(
                workdir, ledgers[: args.process_kiosks], args.process_rounds
            )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

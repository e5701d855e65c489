"""Sync benchmarks, reported as ratios against a baseline measured in the same run.

  (a) a backlog drained from one kiosk to the hub on loopback: records/s, on SQLite and on
      PostgreSQL, against the kiosk's own durable append rate (how fast the backlog was made);
  (b) hub ingest from several kiosks at once over HTTP, against a bare
      ``INSERT ... ON CONFLICT DO NOTHING`` of the same rows into the same database from as many
      threads, in batches of the same size.

Run: .venv/bin/python -m bench.sync_bench [--backlog 100000] [--kiosks 4] [--per-kiosk 5000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from kiosk.background_server import BackgroundServer
from kiosk.ledger import Ledger
from sync.client import SyncClient
from sync.hub.app import create_hub
from sync.hub.store import HubStore

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


def serve(store: HubStore) -> BackgroundServer:
    return BackgroundServer(
        create_hub(store, max_concurrent_ingests=8), host="127.0.0.1", port=0, threads=8
    ).start()


def client_for(store: HubStore, server: BackgroundServer, ledger: Ledger) -> SyncClient:
    enrolled = store.enrol(store.create_enrol_code(ledger.kiosk_id))
    assert enrolled is not None
    return SyncClient(ledger, f"http://127.0.0.1:{server.port}", enrolled[1], batch_size=BATCH)


def drain(client: SyncClient) -> None:
    while client.push_batch():
        pass


def backlog(kind: str, workdir: Path, ledger: Ledger, append_rate: float) -> dict[str, Any]:
    store, schema = open_store(kind, workdir)
    server = serve(store)
    try:
        client = client_for(store, server, ledger)
        started = time.perf_counter()
        drain(client)
        elapsed = time.perf_counter() - started
        held = len(store.event_ids(ledger.kiosk_id))
    finally:
        server.stop()
        store.close()
        drop(schema)
        ledger.connection().execute("UPDATE events SET synced_at = NULL")  # for the next run
    assert held == ledger.count()
    rate = held / elapsed
    return {
        "records": held,
        "records_per_s": round(rate),
        "ratio_to_kiosk_append": rate / append_rate,
    }


def concurrent_ingest(kind: str, workdir: Path, ledgers: list[Ledger]) -> dict[str, Any]:
    store, schema = open_store(kind, workdir)
    server = serve(store)
    try:
        clients = [client_for(store, server, ledger) for ledger in ledgers]
        threads = [threading.Thread(target=drain, args=(c,)) for c in clients]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        hub_elapsed = time.perf_counter() - started
        total = sum(len(store.event_ids(ledger.kiosk_id)) for ledger in ledgers)
        bare_elapsed = bare_inserts(store, ledgers)
    finally:
        server.stop()
        store.close()
        drop(schema)
        for ledger in ledgers:
            ledger.connection().execute("UPDATE events SET synced_at = NULL")
    hub_rate, bare_rate = total / hub_elapsed, total / bare_elapsed
    return {
        "kiosks": len(ledgers),
        "records": total,
        "hub_per_s": round(hub_rate),
        "bare_insert_per_s": round(bare_rate),
        "ratio": hub_rate / bare_rate,
    }


def bare_inserts(store: HubStore, ledgers: list[Ledger]) -> float:
    """The same rows, straight into a plain table in the same database, same concurrency."""
    store.execute(
        "CREATE TABLE bare (id TEXT PRIMARY KEY, kiosk_id TEXT, epoch TEXT, seq BIGINT,"
        " record TEXT)"
    )

    def insert(ledger: Ledger) -> None:
        rows = [
            (r["id"], r["kiosk_id"], r["epoch"], r["seq"], json.dumps(r))
            for r in Ledger(ledger.path, ledger.kiosk_id).events()
        ]
        for start in range(0, len(rows), BATCH):
            with store.transaction():
                for row in rows[start : start + BATCH]:
                    store.execute(
                        "INSERT INTO bare VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", row
                    )

    threads = [threading.Thread(target=insert, args=(ledger,)) for ledger in ledgers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--kiosks", type=int, default=4)
    parser.add_argument("--per-kiosk", type=int, default=5000)
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
        ledgers = [
            make_backlog(workdir / f"k{i}.sqlite3", f"gate-{i}", args.per_kiosk)[0]
            for i in range(args.kiosks)
        ]
        for kind in stores:
            results[f"concurrent_{kind}"] = concurrent_ingest(kind, workdir, ledgers)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

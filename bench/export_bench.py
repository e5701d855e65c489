"""Ledger export benchmark: CSV and XLSX of the whole hub ledger, rows/s and peak memory, against
a bare ``csv.writer`` over the same query, each measured in a fresh process.

Run: .venv/bin/python -m bench.export_bench [--events 1000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sync.hub.ledger_view import Filters, csv_stream, iter_rows, xlsx_stream
from sync.hub.store import HubStore
from sync.localtime import DEFAULT_ZONE, zone


def fill(url: str, events: int) -> None:
    """Synthetic but well-formed events straight into the hub's table (ingest is measured
    elsewhere; this is about reading them out)."""
    store = HubStore(url)
    store.migrate()
    base = {
        "kiosk_id": "gate-1",
        "epoch": "e1",
        "kind": "screening",
        "clock_synced": 1,
        "boot_id": "b",
        "boottime_ns": 1,
        "reason": None,
        "threshold_c": 37.3,
        "object_c": 34.0,
        "ambient_c": 24.0,
        "pass_code": None,
        "links_to": None,
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
    }
    batch = []
    with store.transaction():
        for seq in range(1, events + 1):
            verdict = "blocked" if seq % 97 == 0 else "admitted"
            record = {
                **base,
                "id": str(uuid.uuid4()),
                "seq": seq,
                "verdict": verdict,
                "wall_time": f"2026-11-{1 + seq % 28:02d}T08:{seq % 60:02d}:00+00:00",
                "estimate_c": 38.2 if verdict == "blocked" else 36.6,
                "detail": json.dumps({"samples": [[34.0, 24.0]] * 3}),
            }
            batch.append(
                (
                    record["id"],
                    "gate-1",
                    "e1",
                    seq,
                    "screening",
                    record["wall_time"],
                    verdict,
                    record["estimate_c"],
                    json.dumps(record, sort_keys=True),
                    record["hash"],
                    record["prev_hash"],
                    "2026-11-28",
                )
            )
            if len(batch) == 10_000:
                insert_events(store, batch)
                batch.clear()
        if batch:
            insert_events(store, batch)
    store.close()


def insert_events(store: HubStore, rows: list[tuple]) -> None:
    """Rows (id, kiosk_id, epoch, seq, kind, wall_time, verdict, estimate_c, record, hash,
    prev_hash, received_at) straight into the hub's events table: the record and the hub's
    bookkeeping (the other columns are derived from the record, sync/hub/events_schema.py)."""
    store.connection().executemany(
        "INSERT INTO events (record, chain_ok, received_at) VALUES (?, 1, ?)",
        [(row[8], row[11]) for row in rows],
    )


def run_one(url: str, mode: str, out: str) -> None:
    """In a fresh process: one export, then its time and peak RSS as JSON on stdout."""
    store = HubStore(url)
    started = time.perf_counter()
    rows = 0
    if mode == "bare":
        with open(out, "w", newline="") as fh:
            writer = csv.writer(fh)
            for row in store.execute("SELECT ingest_seq, record FROM events ORDER BY ingest_seq"):
                writer.writerow(row)
                rows += 1
    else:
        counted = _counting(iter_rows(store, Filters(), fever_only=False, tz=zone(DEFAULT_ZONE)))
        stream = csv_stream(counted) if mode == "csv" else xlsx_stream(counted)
        with open(out, "wb") as fh:
            for chunk in stream:
                fh.write(chunk)
        rows = counted.count
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": elapsed,
                "peak_rss_kib": peak_kib,
                "bytes": Path(out).stat().st_size,
            }
        )
    )


class _counting:
    def __init__(self, rows):
        self.rows = rows
        self.count = 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--one", nargs=3, metavar=("URL", "MODE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(*args.one)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/hub.sqlite3"
        fill(url, args.events)
        results = {}
        for mode in ("bare", "csv", "xlsx"):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.export_bench",
                    "--one",
                    url,
                    mode,
                    f"{tmp}/out.{mode}",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results[mode] = json.loads(done.stdout)
        bare_rate = results["bare"]["rows"] / results["bare"]["seconds"]
        report = {"events": args.events}
        for mode in ("bare", "csv", "xlsx"):
            r = results[mode]
            rate = r["rows"] / r["seconds"]
            report[mode] = {
                "rows_per_s": round(rate),
                "peak_rss_mib": round(r["peak_rss_kib"] / 1024, 1),
                "megabytes": round(r["bytes"] / 2**20, 1),
                "speed_ratio_to_bare": round(rate / bare_rate, 3),
                "memory_ratio_to_bare": round(
                    r["peak_rss_kib"] / results["bare"]["peak_rss_kib"], 2
                ),
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

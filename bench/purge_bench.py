"""A month's purge on PostgreSQL: dropping the month's partition (with its keys in event_keys)
against a DELETE of the same number of rows from the partitioned events table (its keys going by
the delete trigger), measured alternately in one run; the median ratio is reported.

Each round fills two past months with the same number of realistic rows (a screening record's
JSON, all indexes and the key table maintained as ingest does), then purges one by each way. The
counts kept per day (one scan of the month, the same for both ways) are timed apart.

Run: .venv/bin/python -m bench.purge_bench [--rows 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.sync_bench import drop, open_store
from sync.hub import partitions
from sync.hub.retention import drop_old_months
from sync.hub.store import HubStore

FILL = (
    # The record is the row: every shown column is derived from it (sync/hub/events_schema.py).
    "INSERT INTO events (record, chain_ok, received_at)"
    " SELECT json_build_object('id', gen_random_uuid()::text, 'kiosk_id', 'gate-' || (n %% 200),"
    " 'epoch', 'epoch-' || ?, 'seq', n, 'kind', 'screening', 'wall_time',"
    " ? || '-' || lpad((1 + n %% 28)::text, 2, '0') || 'T08:00:00.000000+00:00',"
    " 'verdict', 'admitted', 'estimate_c', 36.6, 'detail', repeat('{\"detail\": \"samples\"}', 30),"
    " 'hash', md5(n::text) || md5(n::text), 'prev_hash', md5((n - 1)::text) || md5((n - 1)::text)"
    ")::text, 1, ? || '-' || lpad((1 + n %% 28)::text, 2, '0') || 'T08:00:01.000000+00:00'"
    " FROM generate_series(1, ?) AS n"
)


def fill(store: HubStore, month: str, rows: int) -> None:
    with store.transaction(ordered=True):
        partitions.create(store, month)
        store.execute(FILL, (month, month, month, rows))
    store.execute("VACUUM ANALYZE events")
    store.execute("VACUUM ANALYZE event_keys")


def _delete_month(store: HubStore, month: str) -> int:
    """The month deleted row by row, as retention does it (its cutoff lets the rows go)."""
    end = partitions.next_month(month)
    store.execute("INSERT INTO events_leaving (cutoff) VALUES (?)", (end,))
    deleted = store.execute(
        "DELETE FROM events WHERE received_at >= ? AND received_at < ?", (month, end)
    ).rowcount
    store.execute("DELETE FROM events_leaving")
    return int(deleted)


def timed(store: HubStore, work) -> tuple[float, int]:
    started = time.perf_counter()
    with store.transaction(ordered=True):
        count = work()
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    store, schema = open_store("postgresql", Path("."))  # the path is for SQLite only
    ratios, drops, deletes, counts = [], [], [], []
    try:
        for index in range(args.rounds):
            year = 2001 + index
            by_drop, by_delete = f"{year}-01", f"{year}-02"
            fill(store, by_drop, args.rows)
            fill(store, by_delete, args.rows)
            started = time.perf_counter()
            store.fetch_all(
                "SELECT kiosk_id, substr(wall_time, 1, 10), kind, coalesce(verdict, ''),"
                f" count(*) FROM {partitions.partition_for(by_drop).name} GROUP BY 1, 2, 3, 4"
            )
            counts.append(time.perf_counter() - started)
            pair = [
                ("drop", lambda m=by_drop: drop_old_months(store, partitions.next_month(m))),
                (
                    "delete",
                    lambda m=by_delete: _delete_month(store, m),
                ),
            ]
            if index % 2:
                pair.reverse()
            results = {name: timed(store, work) for name, work in pair}
            assert results["drop"][1] == results["delete"][1] == args.rows, results
            drops.append(results["drop"][0])
            deletes.append(results["delete"][0])
            ratios.append(results["drop"][0] / results["delete"][0])
            print(
                f"round {index + 1}: drop {results['drop'][0] * 1000:.0f} ms,"
                f" delete {results['delete'][0] * 1000:.0f} ms,"
                f" counts {counts[-1] * 1000:.0f} ms, ratio {ratios[-1]:.3f}",
                flush=True,
            )
    finally:
        store.close()
        drop(schema)
    print(
        f"{args.rows:,} rows a month: drop {statistics.median(drops) * 1000:.0f} ms,"
        f" DELETE {statistics.median(deletes) * 1000:.0f} ms,"
        f" counts per day {statistics.median(counts) * 1000:.0f} ms;"
        f" median ratio drop/DELETE {statistics.median(ratios):.3f}"
    )


if __name__ == "__main__":
    main()

"""Retention on the kiosk: personal data goes after ``kiosk.retention_days``, once the hub holds it.

Only events the hub acknowledged (``synced_at`` set) and older than the period by both their
wall time and their sync time are deleted; an event the hub does not hold is never deleted
(a trigger refuses it too). Counts per day, kind and verdict are kept, and the purged sequence
ranges are recorded so that the hash chain still verifies across them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.ledger import Ledger, connect, write_transaction


@dataclass(frozen=True)
class PurgeResult:
    purged: int
    kept_unsynced: int
    cutoff: str


def _ranges(seqs: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def purge(ledger: Ledger, days: int, *, now: datetime | None = None) -> PurgeResult:
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(days=days)).isoformat()
    # A connection of its own, without foreign-key enforcement: a newer event may still point at
    # a purged one (an override at its screening); its links_to then names a record that retention
    # removed, which the purged ranges record.
    conn = connect(ledger.path)
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        with write_transaction(conn):
            old = "synced_at IS NOT NULL AND synced_at < ? AND wall_time < ?"
            conn.execute(
                "INSERT INTO retention_counts (day, kind, verdict, count)"
                f" SELECT substr(wall_time, 1, 10), kind, coalesce(verdict, ''), count(*)"
                f" FROM events WHERE {old} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
                " ON CONFLICT (day, kind, verdict) DO UPDATE SET count = count + excluded.count",
                (cutoff, cutoff),
            )
            seqs = [
                row[0]
                for row in conn.execute(
                    f"SELECT seq FROM events WHERE {old} ORDER BY seq", (cutoff, cutoff)
                )
            ]
            conn.executemany(
                "INSERT INTO purged_ranges (first_seq, last_seq, purged_at) VALUES (?, ?, ?)",
                [(first, last, now.isoformat()) for first, last in _ranges(seqs)],
            )
            conn.execute(f"DELETE FROM events WHERE {old}", (cutoff, cutoff))
            kept = conn.execute(
                "SELECT count(*) FROM events WHERE synced_at IS NULL AND wall_time < ?", (cutoff,)
            ).fetchone()[0]
    finally:
        conn.close()
    return PurgeResult(len(seqs), kept, cutoff)

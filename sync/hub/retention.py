"""Retention on the hub: events older than the period are deleted; counts per kiosk, day, kind and
verdict are kept, and each run is in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.hub.admins import audit
from sync.hub.store import HubStore


@dataclass(frozen=True)
class HubPurge:
    purged: int
    quarantine_purged: int
    cutoff: str


def purge(
    store: HubStore, days: int, *, now: datetime | None = None, username: str | None = None
) -> HubPurge:
    if not 1 <= days <= 3650:
        raise ValueError("retention: 1 to 3650 days")
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat()
    # Old by the kiosk's clock and by the hub's: a kiosk whose clock was wrong cannot make a
    # fresh record look old enough to delete.
    old = "wall_time < ? AND received_at < ?"
    with store.transaction(ordered=True):
        store.execute(
            "INSERT INTO daily_counts (kiosk_id, day, kind, verdict, count)"
            " SELECT kiosk_id, substr(wall_time, 1, 10), kind, coalesce(verdict, ''), count(*)"
            f" FROM events WHERE {old} GROUP BY kiosk_id, substr(wall_time, 1, 10), kind,"
            " coalesce(verdict, '')"
            " ON CONFLICT (kiosk_id, day, kind, verdict)"
            " DO UPDATE SET count = daily_counts.count + excluded.count",
            (cutoff, cutoff),
        )
        purged = store.execute(f"DELETE FROM events WHERE {old}", (cutoff, cutoff)).rowcount
        quarantined = store.execute(
            "DELETE FROM quarantine WHERE received_at < ?", (cutoff,)
        ).rowcount
        audit(
            store,
            username,
            "retention.purge",
            {"days": days, "cutoff": cutoff, "events": purged, "quarantine": quarantined},
        )
    return HubPurge(purged, quarantined, cutoff)


def daily_counts(store: HubStore) -> list[tuple[str, str, str, str, int]]:
    rows = store.fetch_all(
        "SELECT kiosk_id, day, kind, verdict, count FROM daily_counts ORDER BY 1, 2, 3, 4"
    )
    return [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

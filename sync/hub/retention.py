"""Retention on the hub: events older than the period are deleted; counts per kiosk, day, kind and
verdict are kept, and each run is in the audit log. It is the only way events leave the hub: the
database refuses any other DELETE (sync/hub/events_schema.py). The same run deletes refused records
received before the cutoff, home-quarantine entries that ended before it, superseded roster
history (a pass, guard or setting as it was before its latest change) and audit entries older
than the audit period (180 days by default: who looked at what must outlive the data a while).

On PostgreSQL the events are partitioned by the month received (sync/hub/partitions.py): a month
wholly past the cutoff, by the hub's clock and by the kiosks', is dropped whole (its keys deleted
from event_keys); the rest (the boundary month, the default partition) is deleted row by row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.hub import partitions
from sync.hub.admins import audit
from sync.hub.store import POSTGRES, HubStore

AUDIT_DAYS = 180


@dataclass(frozen=True)
class HubPurge:
    purged: int
    quarantine_purged: int
    cutoff: str
    register_purged: int = 0
    roster_purged: int = 0
    audit_purged: int = 0


def purge(
    store: HubStore,
    days: int,
    *,
    now: datetime | None = None,
    username: str | None = None,
    audit_days: int = AUDIT_DAYS,
) -> HubPurge:
    if not 1 <= days <= 3650 or not 1 <= audit_days <= 3650:
        raise ValueError("retention: 1 to 3650 days")
    moment = now or datetime.now(UTC)
    cutoff = (moment - timedelta(days=days)).isoformat()
    audit_cutoff = (moment - timedelta(days=audit_days)).isoformat()
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
        purged = drop_old_months(store, cutoff) if store.dialect is POSTGRES else 0
        # Events leave only by this path: the trigger lets a row go only if it is old by the
        # cutoff written here, which no other session sees (sync/hub/events_schema.py).
        store.execute("INSERT INTO events_leaving (cutoff) VALUES (?)", (cutoff,))
        purged += store.execute(f"DELETE FROM events WHERE {old}", (cutoff, cutoff)).rowcount
        store.execute("DELETE FROM events_leaving")
        quarantined = store.execute(
            "DELETE FROM quarantine WHERE received_at < ?", (cutoff,)
        ).rowcount
        register = store.execute(
            "DELETE FROM quarantine_register WHERE ends_on < ?", (cutoff[:10],)
        ).rowcount
        # A kiosk behind a superseded row receives the newer one for the same item anyway (of
        # its compound: another compound's row of the same key supersedes nothing).
        roster = store.execute(
            "DELETE FROM roster WHERE changed_at < ? AND version < (SELECT max(newer.version)"
            " FROM roster AS newer WHERE newer.compound_id = roster.compound_id"
            " AND newer.kind = roster.kind AND newer.key = roster.key)",
            (cutoff,),
        ).rowcount
        audited = store.execute("DELETE FROM audit WHERE at < ?", (audit_cutoff,)).rowcount
        audit(
            store,
            username,
            "retention.purge",
            {
                "days": days,
                "cutoff": cutoff,
                "events": purged,
                "quarantine": quarantined,
                "quarantine_register": register,
                "roster_history": roster,
                "audit_days": audit_days,
                "audit": audited,
            },
        )
    return HubPurge(purged, quarantined, cutoff, register, roster, audited)


def drop_old_months(store: HubStore, cutoff: str) -> int:
    """Drop the partitions whose every row is old by both clocks (inside the purge's
    transaction): received before the cutoff (the partition ends by then) and with the latest
    ``wall_time`` before it too (one look-up in the partition's index; a kiosk's clock may run
    up to a month fast). The number of events dropped."""
    dropped = 0
    for part in partitions.partitions(store):
        if part.upper > cutoff:
            break
        latest = store.fetch_one(f"SELECT max(wall_time) FROM {part.name}")[0]
        if latest is not None and latest >= cutoff:
            continue  # deleted row by row below
        dropped += store.execute(
            f"DELETE FROM event_keys k USING {part.name} e WHERE k.id = e.id"
        ).rowcount
        store.execute(f"DROP TABLE {part.name}")
    return dropped


def daily_counts(store: HubStore) -> list[tuple[str, str, str, str, int]]:
    rows = store.fetch_all(
        "SELECT kiosk_id, day, kind, verdict, count FROM daily_counts ORDER BY 1, 2, 3, 4"
    )
    return [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

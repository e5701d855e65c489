"""Monthly partitions of the hub's events on PostgreSQL (SQLite keeps one plain table).

Events are partitioned by the month the hub received them (``received_at``, the hub's own clock),
one partition per month (``events_pYYYYMM``) and a default partition for anything else. The keys
that must stay unique across partitions, ``id`` and ``(kiosk_id, epoch, seq)``, live in
``event_keys``, written by a trigger of the statement that inserts the events. Why so, and why by
the month received rather than the kiosk's ``wall_time``: docs/schema.md ("The hub's events").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.hub.store import HubStore

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
PREFIX = "events_p"
DEFAULT = "events_default"
AHEAD = 1  # months made ahead of the current one


@dataclass(frozen=True)
class Partition:
    name: str
    lower: str  # "YYYY-MM", inclusive
    upper: str  # the next month, exclusive


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def partition_for(month: str) -> Partition:
    """The partition of a month ``YYYY-MM`` (received_at values compare as text, collation C)."""
    if not MONTH.match(month) or not 1 <= int(month[5:]) <= 12:
        raise ValueError(f"not a month: {month!r}")
    return Partition(f"{PREFIX}{month.replace('-', '')}", month, next_month(month))


def months_from(month: str, count: int) -> list[str]:
    months = [month]
    while len(months) < count:
        months.append(next_month(months[-1]))
    return months


def create(store: HubStore, month: str) -> None:
    """Make the month's partition if it is missing (inside the caller's ordered transaction)."""
    part = partition_for(month)
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {part.name} PARTITION OF events"
        f" FOR VALUES FROM ('{part.lower}') TO ('{part.upper}')"
    )


def partitions(store: HubStore) -> list[Partition]:
    """The monthly partitions of events, oldest first (the default partition is not listed)."""
    rows = store.fetch_all(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'events'::regclass AND c.relname LIKE ?",
        (f"{PREFIX}%",),
    )
    found = []
    for (name,) in rows:
        digits = name.removeprefix(PREFIX)
        if len(digits) == 6 and digits.isdigit():
            found.append(partition_for(f"{digits[:4]}-{digits[4:]}"))
    return sorted(found, key=lambda p: p.lower)


# The events table, partitioned. ingest_seq keeps its identity (cache 1: the readers' argument in
# docs/sync-protocol.md needs it) but is no primary key: a unique index on a partitioned table
# must hold the partition key, and the numbers are unique by construction.
PARTITIONED = (
    "CREATE TABLE events (ingest_seq BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL,"
    " id TEXT NOT NULL, kiosk_id TEXT NOT NULL, epoch TEXT NOT NULL, seq BIGINT NOT NULL,"
    " kind TEXT NOT NULL, wall_time TEXT NOT NULL, verdict TEXT, estimate_c DOUBLE PRECISION,"
    " record TEXT NOT NULL, hash TEXT NOT NULL, prev_hash TEXT NOT NULL,"
    " chain_ok INTEGER NOT NULL, received_at TEXT NOT NULL)"
    ' PARTITION BY RANGE (received_at COLLATE "C")'
)
COLUMNS = (
    "ingest_seq, id, kiosk_id, epoch, seq, kind, wall_time, verdict, estimate_c, record, hash,"
    " prev_hash, chain_ok, received_at"
)
INDEXES = [
    "CREATE INDEX events_ingest_seq ON events (ingest_seq)",
    "CREATE INDEX events_id ON events (id)",
    "CREATE INDEX events_place ON events (kiosk_id, epoch, seq)",
    "CREATE INDEX events_wall_time ON events (wall_time)",
    "CREATE INDEX events_gate_wall_time ON events (kiosk_id, wall_time)",
    "CREATE INDEX events_kind_wall_time ON events (kind, wall_time)",
]
# event_keys follows events: the keys of every row inserted go in by a statement trigger (its
# unique indexes wait for a concurrent writer of the same key, then refuse the statement: the
# batch is planned again), and the keys of rows deleted go with them, so that a record deleted
# (retention within a month, an admin's DELETE) can be stored again, as on the plain table.
# Dropping a partition fires no trigger: retention deletes that partition's keys itself.
KEY_TRIGGERS = [
    "CREATE FUNCTION events_remember_keys() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN INSERT INTO event_keys (id, kiosk_id, epoch, seq)"
    " SELECT id, kiosk_id, epoch, seq FROM fresh; RETURN NULL; END $$",
    "CREATE TRIGGER events_remember_keys AFTER INSERT ON events REFERENCING NEW TABLE AS fresh"
    " FOR EACH STATEMENT EXECUTE FUNCTION events_remember_keys()",
    "CREATE FUNCTION events_forget_keys() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN DELETE FROM event_keys WHERE id IN (SELECT id FROM gone); RETURN NULL; END $$",
    "CREATE TRIGGER events_forget_keys AFTER DELETE ON events REFERENCING OLD TABLE AS gone"
    " FOR EACH STATEMENT EXECUTE FUNCTION events_forget_keys()",
]


def partition_events(store: HubStore) -> None:
    """The migration: the plain events table becomes a partitioned one, every row kept with its
    ingest_seq, and the sequence goes on from where it stood (inside the migration's
    transaction, which holds the schema writers' lock)."""
    from sync.hub.store import now_iso

    store.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    for index in ("events_wall_time", "events_gate_wall_time", "events_kind_wall_time"):
        store.execute(f"DROP INDEX IF EXISTS {index}")
    store.execute(PARTITIONED)
    store.execute(f"CREATE TABLE {DEFAULT} PARTITION OF events DEFAULT")
    store.execute(
        "CREATE TABLE event_keys (id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL,"
        " epoch TEXT NOT NULL, seq BIGINT NOT NULL, UNIQUE (kiosk_id, epoch, seq))"
    )
    held = {
        row[0]
        for row in store.fetch_all(
            "SELECT DISTINCT substr(received_at, 1, 7) FROM events_unpartitioned"
        )
    }
    for month in sorted(m for m in held if MONTH.match(m) and 1 <= int(m[5:]) <= 12):
        create(store, month)
    for month in months_from(now_iso()[:7], 1 + AHEAD):
        create(store, month)
    store.execute(
        f"INSERT INTO events ({COLUMNS}) OVERRIDING SYSTEM VALUE"
        f" SELECT {COLUMNS} FROM events_unpartitioned"
    )
    store.execute(
        "INSERT INTO event_keys (id, kiosk_id, epoch, seq)"
        " SELECT id, kiosk_id, epoch, seq FROM events_unpartitioned"
    )  # the triggers come after the copy, as the indexes do
    last = store.fetch_one("SELECT max(ingest_seq) FROM events_unpartitioned")[0]
    if last is not None:
        store.execute(
            "SELECT setval(pg_get_serial_sequence('events', 'ingest_seq'), ?)", (int(last),)
        )
    store.execute("DROP TABLE events_unpartitioned")
    for statement in INDEXES + KEY_TRIGGERS:
        store.execute(statement)
    store.execute("ANALYZE events")

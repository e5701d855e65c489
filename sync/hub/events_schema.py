"""The hub's events are written once, and what they show is read from the hashed record.

Migration ``015_events_written_once`` (both databases):

- **One copy.** Every column of ``events`` that a page, export, register or seal reads (``id``,
  ``kiosk_id``, ``epoch``, ``seq``, ``kind``, ``wall_time``, ``verdict``, ``estimate_c``,
  ``hash``, ``prev_hash``) becomes a *generated* column, computed by the database from the
  stored record (``record``, the canonical JSON that the record's hash covers). Nobody can
  write them: ``UPDATE events SET estimate_c = 36.6`` is refused by the database itself. Ingest
  writes only ``record``, ``chain_ok`` and ``received_at``.
- **No updates.** A trigger refuses any UPDATE of a row, except the one piece of hub
  bookkeeping: ``chain_ok`` may go from 1 to 0 (a later record shows the chain breaks there).
- **Rows leave only by retention.** A trigger refuses a DELETE unless the row is old by the
  cutoff of a retention run in progress: retention writes its cutoff into ``events_leaving``
  inside its own transaction (which also writes its audit entry) and removes it before
  committing, so no other session ever sees it. On PostgreSQL TRUNCATE of ``events`` is refused
  too; dropping a month's partition is retention's (a superuser can do it, and ``hub integrity``
  then names the sequence numbers missing).

Someone with the database's superuser can drop the triggers or the generated expressions; what
they change then does not hash: ``hub integrity`` re-hashes every stored record and compares
the columns with it (sync/hub/record_check.py), and names the protections that are missing.

Existing hubs migrate with nothing lost. SQLite cannot turn a column into a generated one, so
``events`` is rebuilt there: every row copied with its ``ingest_seq`` in the migration's
transaction (and the AUTOINCREMENT counter kept). On PostgreSQL (partitioned) the old columns are
renamed, the generated ones added in one rewrite, and the old ones dropped. Either way, a row
whose old column said something its record does not (changed behind the hub's back before this
release) is listed in the audit log (``events.columns_differed``): the record is what stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.hub.store import HubStore

MIGRATION = "015_events_written_once"
# The shown columns, derived from the record: name -> (SQL type, NOT NULL).
DERIVED: dict[str, tuple[str, bool]] = {
    "id": ("TEXT", True),
    "kiosk_id": ("TEXT", True),
    "epoch": ("TEXT", True),
    "seq": ("BIGINT", True),
    "kind": ("TEXT", True),
    "wall_time": ("TEXT", True),
    "verdict": ("TEXT", False),
    "estimate_c": ("DOUBLE PRECISION", False),
    "hash": ("TEXT", True),
    "prev_hash": ("TEXT", True),
}
# What ingest writes; everything else in the row is derived from ``record``.
WRITTEN = ("record", "chain_ok", "received_at")
INDEXES = {
    "sqlite": [
        "CREATE INDEX events_wall_time ON events (wall_time)",
        "CREATE INDEX events_gate_wall_time ON events (kiosk_id, wall_time)",
        "CREATE INDEX events_kind_wall_time ON events (kind, wall_time)",
    ],
    "postgresql": [
        "CREATE INDEX events_id ON events (id)",
        "CREATE INDEX events_place ON events (kiosk_id, epoch, seq)",
        "CREATE INDEX events_wall_time ON events (wall_time)",
        "CREATE INDEX events_gate_wall_time ON events (kiosk_id, wall_time)",
        "CREATE INDEX events_kind_wall_time ON events (kind, wall_time)",
    ],
}
REFUSED_UPDATE = "中心记录只写一次，不能修改 (hub events are written once: UPDATE refused)"
REFUSED_DELETE = (
    "中心记录只能由保存期限清理删除 (hub events leave only by retention: DELETE refused)"
)
REFUSED_TRUNCATE = "中心记录只能由保存期限清理删除 (hub events leave only by retention)"
# The names of the protections, for hub integrity's check that they are in place.
SQLITE_TRIGGERS = ("events_written_once", "events_leave_by_retention")
POSTGRES_TRIGGERS = ("events_written_once", "events_no_truncate")


def _json_source(dialect: str) -> str:
    """The record as JSON the database can read. Records stored before total validation may
    hold NaN or Infinity (Python's JSON, not JSON's): those read as null, as the API shows
    them; only such a record takes the slower path."""
    if dialect == "sqlite":
        fixed = "record"
        for token in ("NaN", "-Infinity", "Infinity"):
            for colon in (":", ": "):
                fixed = f"replace({fixed}, '{colon}{token}', '{colon}null')"
        return (
            "(CASE WHEN instr(record, 'NaN') + instr(record, 'Infinity') = 0 THEN record"
            f" ELSE {fixed} END)"
        )
    return (
        "(CASE WHEN strpos(record, 'NaN') + strpos(record, 'Infinity')"
        " + strpos(record, '\\u0000') = 0 THEN record ELSE"
        " regexp_replace(regexp_replace(record, ':(\\s*)(NaN|Infinity|-Infinity)', ':\\1null',"
        " 'g'), '\\\\u0000', '\\\\ufffd', 'g') END)::json"
    )


def expression(dialect: str, name: str) -> str:
    """The SQL that derives column ``name`` from the record."""
    kind = DERIVED[name][0]
    if dialect == "sqlite":
        return f"json_extract({_json_source(dialect)}, '$.{name}')"
    value = f"({_json_source(dialect)} ->> '{name}')"
    return value if kind == "TEXT" else f"{value}::{kind.lower()}"


def _derived_columns(dialect: str) -> list[str]:
    return [
        f"{name} {kind} GENERATED ALWAYS AS ({expression(dialect, name)}) STORED"
        + (" NOT NULL" if required else "")
        for name, (kind, required) in DERIVED.items()
    ]


def guard_statements(dialect: str) -> list[str]:
    """The triggers that keep events written once (also used by tests that put them back after
    acting as a superuser would)."""
    leaving = (
        "SELECT 1 FROM events_leaving l WHERE OLD.wall_time < l.cutoff"
        " AND OLD.received_at < l.cutoff"
    )
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER events_written_once BEFORE UPDATE ON events"
            " WHEN NEW.record IS NOT OLD.record OR NEW.received_at IS NOT OLD.received_at"
            " OR NEW.ingest_seq IS NOT OLD.ingest_seq OR NEW.chain_ok > OLD.chain_ok"
            f" BEGIN SELECT RAISE(ABORT, '{REFUSED_UPDATE}'); END",
            "CREATE TRIGGER events_leave_by_retention BEFORE DELETE ON events"
            f" WHEN NOT EXISTS ({leaving})"
            f" BEGIN SELECT RAISE(ABORT, '{REFUSED_DELETE}'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION events_written_once() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN"
        " IF TG_OP = 'UPDATE' THEN"
        "  IF NEW.record IS DISTINCT FROM OLD.record"
        "   OR NEW.received_at IS DISTINCT FROM OLD.received_at"
        "   OR NEW.ingest_seq IS DISTINCT FROM OLD.ingest_seq OR NEW.chain_ok > OLD.chain_ok THEN"
        f"   RAISE EXCEPTION '{REFUSED_UPDATE}' USING ERRCODE = 'restrict_violation';"
        "  END IF;"
        "  RETURN NEW;"
        " END IF;"
        f" IF NOT EXISTS ({leaving}) THEN"
        f"  RAISE EXCEPTION '{REFUSED_DELETE}' USING ERRCODE = 'restrict_violation';"
        " END IF;"
        " RETURN OLD;"
        " END $$",
        "CREATE TRIGGER events_written_once BEFORE UPDATE OR DELETE ON events"
        " FOR EACH ROW EXECUTE FUNCTION events_written_once()",
        "CREATE OR REPLACE FUNCTION events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN RAISE EXCEPTION '{REFUSED_TRUNCATE}' USING ERRCODE = 'restrict_violation';"
        " END $$",
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events"
        " FOR EACH STATEMENT EXECUTE FUNCTION events_no_truncate()",
    ]


def _differing(store: HubStore, old: str, new: str, join: str) -> list[Any]:
    """Rows whose old column disagreed with what their record says."""
    test = " OR ".join(
        f"{old}.{name}_was IS DISTINCT FROM {new}.{name}"
        if store.dialect.name == "postgresql"
        else f"{old}.{name} IS NOT {new}.{name}"
        for name in DERIVED
    )
    return store.fetch_all(
        f"SELECT {new}.ingest_seq, {new}.kiosk_id, {new}.seq FROM {join} WHERE {test}"
        f" ORDER BY {new}.ingest_seq"
    )


def _sqlite(store: HubStore) -> list[Any]:
    counter = store.fetch_one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
    store.execute(
        "CREATE TABLE events_once (ingest_seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " record TEXT NOT NULL, chain_ok INTEGER NOT NULL, received_at TEXT NOT NULL, "
        + ", ".join(_derived_columns("sqlite"))
        + ", UNIQUE (id), UNIQUE (kiosk_id, epoch, seq))"
    )
    store.execute(
        "INSERT INTO events_once (ingest_seq, record, chain_ok, received_at)"
        " SELECT ingest_seq, record, chain_ok, received_at FROM events ORDER BY ingest_seq"
    )
    differed = _differing(
        store, "o", "n", "events o JOIN events_once n ON n.ingest_seq = o.ingest_seq"
    )
    held, copied = (
        store.fetch_one(f"SELECT count(*) FROM {table}")[0] for table in ("events", "events_once")
    )
    if held != copied:
        raise RuntimeError(f"{MIGRATION}: {held} events held, {copied} copied")
    store.execute("DROP TABLE events")
    store.execute("ALTER TABLE events_once RENAME TO events")
    if counter is not None:  # ingest_seq numbers are never used twice (readers page by them)
        row = store.fetch_one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        store.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
        store.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)",
            (max(int(counter[0]), int(row[0]) if row else 0),),
        )
    return differed


def key_triggers() -> list[str]:
    """PostgreSQL: event_keys (sync/hub/partitions.py) takes the keys from the record itself.
    A partition made after this migration has no dropped columns, so its rows are converted on
    the way in, and PostgreSQL 15 then hands the statement trigger's transition table NULL for
    every generated column (the rows themselves are right): the keys are read from ``record``,
    which no conversion loses."""
    keys = (
        f"SELECT k ->> 'id', k ->> 'kiosk_id', k ->> 'epoch', (k ->> 'seq')::bigint"
        f" FROM (SELECT {_json_source('postgresql')} AS k FROM {{table}}) AS keys"
    )
    return [
        "CREATE OR REPLACE FUNCTION events_remember_keys() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO event_keys (id, kiosk_id, epoch, seq) "
        + keys.format(table="fresh")
        + "; RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION events_forget_keys() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN DELETE FROM event_keys WHERE id IN (SELECT k ->> 'id' FROM (SELECT "
        + _json_source("postgresql")
        + " AS k FROM gone) AS keys); RETURN NULL; END $$",
    ]


def _postgres(store: HubStore) -> list[Any]:
    for name in DERIVED:
        store.execute(f"ALTER TABLE events RENAME COLUMN {name} TO {name}_was")
    # One ALTER with every column: one rewrite of each partition.
    store.execute(
        "ALTER TABLE events " + ", ".join(f"ADD COLUMN {c}" for c in _derived_columns("postgresql"))
    )
    differed = _differing(store, "events", "events", "events")
    # The old columns' indexes go with them; they are made again on the derived ones.
    store.execute("ALTER TABLE events " + ", ".join(f"DROP COLUMN {n}_was" for n in DERIVED))
    for statement in key_triggers():
        store.execute(statement)
    return differed


def migrate(store: HubStore) -> None:
    """The migration (inside its transaction, which holds the schema writers' lock)."""
    dialect = store.dialect.name
    differed = _sqlite(store) if dialect == "sqlite" else _postgres(store)
    for statement in INDEXES[dialect]:
        store.execute(statement)
    store.execute("CREATE TABLE events_leaving (cutoff TEXT NOT NULL)")
    for statement in guard_statements(dialect):
        store.execute(statement)
    if differed:
        from sync.hub.admins import audit

        audit(
            store,
            None,
            "events.columns_differed",
            {
                "count": len(differed),
                "records": [
                    {"ingest_seq": int(r[0]), "kiosk_id": r[1], "seq": int(r[2])}
                    for r in differed[:100]
                ],
            },
        )


def missing_protections(store: HubStore) -> list[str]:
    """What of this module's protections is not in place (a superuser removed it), in words."""
    missing: list[str] = []
    if store.fetch_one(f"SELECT 1 FROM hub_migrations WHERE name = '{MIGRATION}'") is None:
        return ["中心数据库尚未升级（记录仍可被改写）：请运行 hub serve 或 hub migrate 升级"]
    if store.dialect.name == "sqlite":
        triggers = {
            row[0]
            for row in store.fetch_all(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
            )
        }
        generated = {
            row[1] for row in store.fetch_all("PRAGMA table_xinfo(events)") if row[6] in (2, 3)
        }
        wanted_triggers: tuple[str, ...] = SQLITE_TRIGGERS
    else:
        triggers = {
            row[0]
            for row in store.fetch_all(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass"
                " AND NOT tgisinternal AND tgenabled <> 'D'"
            )
        }
        generated = {
            row[0]
            for row in store.fetch_all(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'events'::regclass"
                " AND attgenerated = 's' AND NOT attisdropped"
            )
        }
        wanted_triggers = POSTGRES_TRIGGERS
    missing += [
        f"触发器 {name} 不在或已停用：中心记录可被改写或删除 (trigger missing)"
        for name in wanted_triggers
        if name not in triggers
    ]
    missing += [
        f"列 {name} 不再由记录生成：它可能与记录不符 (column no longer derived)"
        for name in DERIVED
        if name not in generated
    ]
    return missing

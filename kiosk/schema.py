"""The kiosk database schema, as recorded migrations (sqlite-utils ``Migrations``).

Never drop-and-create: the file may hold records that have not reached the hub yet. Add a new
migration function at the end for every change; docs/schema.md describes the result.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("menwei-kiosk")

# Unsent fever, alarm and fault events: the sync client sends them first. The partial index of
# m006 and the ledger's query share this text, so that SQLite uses the index for the query.
URGENT_UNSENT = (
    "synced_at IS NULL AND (kind IN ('sensor_fault', 'alarm') OR verdict IN ('blocked', 'fault'))"
)


@migrations()
def m001_events(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE events (
            id           TEXT PRIMARY KEY,
            kiosk_id     TEXT NOT NULL,
            epoch        TEXT NOT NULL,
            seq          INTEGER NOT NULL,
            kind         TEXT NOT NULL,
            wall_time    TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            boot_id      TEXT NOT NULL,
            boottime_ns  INTEGER NOT NULL,
            verdict      TEXT,
            reason       TEXT,
            estimate_c   REAL,
            threshold_c  REAL,
            object_c     REAL,
            ambient_c    REAL,
            pass_code    TEXT,
            links_to     TEXT REFERENCES events(id),
            detail       TEXT NOT NULL DEFAULT '{}',
            prev_hash    TEXT NOT NULL,
            hash         TEXT NOT NULL UNIQUE,
            synced_at    TEXT,
            UNIQUE (epoch, seq)
        )
        """
    )
    db.execute("CREATE INDEX events_unsynced ON events (seq) WHERE synced_at IS NULL")
    db.execute("CREATE INDEX events_wall_time ON events (wall_time)")
    # Append-only: only the sync bookkeeping column may change, and only from NULL to a time.
    db.execute(
        """
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        WHEN NEW.id IS NOT OLD.id OR NEW.kiosk_id IS NOT OLD.kiosk_id
          OR NEW.epoch IS NOT OLD.epoch OR NEW.seq IS NOT OLD.seq OR NEW.kind IS NOT OLD.kind
          OR NEW.wall_time IS NOT OLD.wall_time OR NEW.clock_synced IS NOT OLD.clock_synced
          OR NEW.boot_id IS NOT OLD.boot_id OR NEW.boottime_ns IS NOT OLD.boottime_ns
          OR NEW.verdict IS NOT OLD.verdict OR NEW.reason IS NOT OLD.reason
          OR NEW.estimate_c IS NOT OLD.estimate_c OR NEW.threshold_c IS NOT OLD.threshold_c
          OR NEW.object_c IS NOT OLD.object_c OR NEW.ambient_c IS NOT OLD.ambient_c
          OR NEW.pass_code IS NOT OLD.pass_code OR NEW.links_to IS NOT OLD.links_to
          OR NEW.detail IS NOT OLD.detail OR NEW.prev_hash IS NOT OLD.prev_hash
          OR NEW.hash IS NOT OLD.hash OR (OLD.synced_at IS NOT NULL)
        BEGIN
            SELECT RAISE(ABORT, 'ledger events are append-only');
        END
        """
    )
    # Rows leave only through retention, and only once the hub holds them.
    db.execute(
        """
        CREATE TRIGGER events_keep_unsynced BEFORE DELETE ON events
        WHEN OLD.synced_at IS NULL
        BEGIN
            SELECT RAISE(ABORT, 'an event the hub does not hold yet cannot be deleted');
        END
        """
    )
    db.execute(
        """
        CREATE TABLE chain_head (
            kiosk_id  TEXT PRIMARY KEY,
            epoch     TEXT NOT NULL,
            next_seq  INTEGER NOT NULL,
            last_hash TEXT NOT NULL
        )
        """
    )


@migrations()
def m002_passes(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE passes (
            code              TEXT PRIMARY KEY,
            resident_id       TEXT,
            name              TEXT,
            building          TEXT,
            unit              TEXT,
            room              TEXT,
            expires_on        TEXT,
            revoked           INTEGER NOT NULL DEFAULT 0,
            quarantine_until  TEXT,
            source            TEXT NOT NULL,
            updated_at        TEXT NOT NULL
        )
        """
    )


@migrations()
def m003_guards(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE guards (
            guard_id      TEXT PRIMARY KEY,
            name          TEXT NOT NULL,
            pin_hash      TEXT NOT NULL,
            failures      INTEGER NOT NULL DEFAULT 0,
            locked_until  REAL NOT NULL DEFAULT 0,
            active        INTEGER NOT NULL DEFAULT 1,
            source        TEXT NOT NULL,
            updated_at    TEXT NOT NULL
        )
        """
    )


@migrations()
def m004_risk_areas(db: Database) -> None:
    db.execute("CREATE TABLE risk_areas (name TEXT PRIMARY KEY, source TEXT NOT NULL)")


@migrations()
def m005_sync(db: Database) -> None:
    # synced_at is sync bookkeeping: the client may clear it again when the hub turns out to have
    # lost records (restored from an older backup). Every other column stays append-only.
    db.execute("DROP TRIGGER events_append_only")
    db.execute(
        """
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        WHEN NEW.id IS NOT OLD.id OR NEW.kiosk_id IS NOT OLD.kiosk_id
          OR NEW.epoch IS NOT OLD.epoch OR NEW.seq IS NOT OLD.seq OR NEW.kind IS NOT OLD.kind
          OR NEW.wall_time IS NOT OLD.wall_time OR NEW.clock_synced IS NOT OLD.clock_synced
          OR NEW.boot_id IS NOT OLD.boot_id OR NEW.boottime_ns IS NOT OLD.boottime_ns
          OR NEW.verdict IS NOT OLD.verdict OR NEW.reason IS NOT OLD.reason
          OR NEW.estimate_c IS NOT OLD.estimate_c OR NEW.threshold_c IS NOT OLD.threshold_c
          OR NEW.object_c IS NOT OLD.object_c OR NEW.ambient_c IS NOT OLD.ambient_c
          OR NEW.pass_code IS NOT OLD.pass_code OR NEW.links_to IS NOT OLD.links_to
          OR NEW.detail IS NOT OLD.detail OR NEW.prev_hash IS NOT OLD.prev_hash
          OR NEW.hash IS NOT OLD.hash
        BEGIN
            SELECT RAISE(ABORT, 'ledger events are append-only');
        END
        """
    )
    db.execute("CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE TABLE hub_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations()
def m006_urgent_outbox(db: Database) -> None:
    # The sync client sends fever, alarm and fault events first; this index finds them without
    # reading the whole backlog.
    db.execute(f"CREATE INDEX events_unsynced_urgent ON events (seq) WHERE {URGENT_UNSENT}")


@migrations()
def m007_retention(db: Database) -> None:
    # What retention removed: the counts per day stay, and the sequence ranges that were purged,
    # so that the hash chain still verifies across them.
    db.execute(
        "CREATE TABLE retention_counts (day TEXT NOT NULL, kind TEXT NOT NULL,"
        " verdict TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (day, kind, verdict))"
    )
    db.execute(
        "CREATE TABLE purged_ranges (first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
        " purged_at TEXT NOT NULL)"
    )


@migrations()
def m008_chain_mac(db: Database) -> None:
    # The keyed chain (docs/sync-protocol.md): an HMAC of each record's hash with the key from the
    # enrolment; NULL for records written before the kiosk had a key. Append-only like the rest.
    db.execute("ALTER TABLE events ADD COLUMN mac TEXT")
    db.execute("DROP TRIGGER events_append_only")
    db.execute(
        """
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        WHEN NEW.id IS NOT OLD.id OR NEW.kiosk_id IS NOT OLD.kiosk_id
          OR NEW.epoch IS NOT OLD.epoch OR NEW.seq IS NOT OLD.seq OR NEW.kind IS NOT OLD.kind
          OR NEW.wall_time IS NOT OLD.wall_time OR NEW.clock_synced IS NOT OLD.clock_synced
          OR NEW.boot_id IS NOT OLD.boot_id OR NEW.boottime_ns IS NOT OLD.boottime_ns
          OR NEW.verdict IS NOT OLD.verdict OR NEW.reason IS NOT OLD.reason
          OR NEW.estimate_c IS NOT OLD.estimate_c OR NEW.threshold_c IS NOT OLD.threshold_c
          OR NEW.object_c IS NOT OLD.object_c OR NEW.ambient_c IS NOT OLD.ambient_c
          OR NEW.pass_code IS NOT OLD.pass_code OR NEW.links_to IS NOT OLD.links_to
          OR NEW.detail IS NOT OLD.detail OR NEW.prev_hash IS NOT OLD.prev_hash
          OR NEW.hash IS NOT OLD.hash OR NEW.mac IS NOT OLD.mac
        BEGIN
            SELECT RAISE(ABORT, 'ledger events are append-only');
        END
        """
    )


def _append_only_trigger(fields: tuple[str, ...]) -> str:
    """The trigger that refuses any change to these columns (only ``synced_at`` may change)."""
    changed = "\n          OR ".join(f"NEW.{name} IS NOT OLD.{name}" for name in fields)
    return f"""
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        WHEN {changed}
        BEGIN
            SELECT RAISE(ABORT, 'ledger events are append-only');
        END
        """


@migrations()
def m009_utc_offset(db: Database) -> None:
    # The kiosk's local offset at each record's wall_time (minutes east of UTC): the record keeps
    # UTC and says what the kiosk's clock showed. NULL for records written before it.
    db.execute("ALTER TABLE events ADD COLUMN utc_offset_min INTEGER")
    db.execute("DROP TRIGGER events_append_only")
    # The fields as of this migration, spelled out: a later change to the contract gets a
    # migration of its own (tests/test_contract.py checks the trigger against the contract).
    fields = (
        "id kiosk_id epoch seq kind wall_time clock_synced boot_id boottime_ns verdict reason"
        " estimate_c threshold_c object_c ambient_c pass_code links_to detail prev_hash"
        " utc_offset_min hash mac"
    )
    db.execute(_append_only_trigger(tuple(fields.split())))


@migrations()
def m010_places(db: Database) -> None:
    # The places to disinfect, from the hub's roster (kind "place"): the guard screen's list.
    db.execute(
        "CREATE TABLE places (name TEXT PRIMARY KEY, rounds_per_day INTEGER NOT NULL,"
        " source TEXT NOT NULL)"
    )


@migrations()
def m011_duty_clearances(db: Database) -> None:
    # A manager's clearance of a staff member's fever block at sign-on, from the hub's roster
    # (kind "duty_clearance", keyed by the blocked sign-on's event id): the PIN opens the guard
    # screen again before the day ends.
    db.execute(
        "CREATE TABLE duty_clearances (block_id TEXT PRIMARY KEY, guard_id TEXT NOT NULL,"
        " cleared_by TEXT NOT NULL, cleared_at TEXT NOT NULL)"
    )


# The events table as of m012, column order unchanged (RECORD_FIELDS first, tests/test_contract.py).
_EVENTS_M012 = """
    CREATE TABLE {name} (
        id             TEXT NOT NULL UNIQUE,
        kiosk_id       TEXT NOT NULL,
        epoch          TEXT NOT NULL,
        seq            INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL,
        wall_time      TEXT NOT NULL,
        clock_synced   INTEGER NOT NULL,
        boot_id        TEXT NOT NULL,
        boottime_ns    INTEGER NOT NULL,
        verdict        TEXT,
        reason         TEXT,
        estimate_c     REAL,
        threshold_c    REAL,
        object_c       REAL,
        ambient_c      REAL,
        pass_code      TEXT,
        links_to       TEXT REFERENCES events(id),
        detail         TEXT NOT NULL DEFAULT '{{}}',
        prev_hash      TEXT NOT NULL,
        hash           TEXT NOT NULL,
        synced_at      TEXT,
        mac            TEXT,
        utc_offset_min INTEGER
    )
    """
_EVENTS_COLUMNS = (
    "id, kiosk_id, epoch, seq, kind, wall_time, clock_synced, boot_id, boottime_ns, verdict,"
    " reason, estimate_c, threshold_c, object_c, ambient_c, pass_code, links_to, detail,"
    " prev_hash, hash, synced_at, mac, utc_offset_min"
)


@migrations(transactional=False)
def m012_lean_append(db: Database) -> None:
    # Fewer b-trees to write per durable append: seq becomes the rowid (the table is ordered by
    # it, and the UNIQUE (epoch, seq) index goes: one file holds one epoch, chain_head's), and
    # hash loses its UNIQUE index (nothing looks a record up by hash, and the hash covers the
    # unique id). id stays UNIQUE: links_to refers to it. The rows are copied as they are.
    # Fewer statements: the chain head moves by trigger (below).
    # SQLite's procedure for changing a table: foreign keys off (links_to refers to events), one
    # transaction, the keys checked before the commit. Run again after a crash before sqlite-utils
    # records it, it copies the same rows again.
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DROP TRIGGER events_append_only")
        db.execute("DROP TRIGGER events_keep_unsynced")
        db.execute(_EVENTS_M012.format(name="events_m012"))
        db.execute(
            f"INSERT INTO events_m012 ({_EVENTS_COLUMNS}) SELECT {_EVENTS_COLUMNS} FROM events"
            " ORDER BY seq"
        )
        db.execute("DROP TABLE events")
        db.execute("ALTER TABLE events_m012 RENAME TO events")
        db.execute("CREATE INDEX events_unsynced ON events (seq) WHERE synced_at IS NULL")
        db.execute("CREATE INDEX events_wall_time ON events (wall_time)")
        db.execute(f"CREATE INDEX events_unsynced_urgent ON events (seq) WHERE {URGENT_UNSENT}")
        fields = (
            "id kiosk_id epoch seq kind wall_time clock_synced boot_id boottime_ns verdict reason"
            " estimate_c threshold_c object_c ambient_c pass_code links_to detail prev_hash"
            " utc_offset_min hash mac"
        )
        db.execute(_append_only_trigger(tuple(fields.split())))
        db.execute(
            """
            CREATE TRIGGER events_keep_unsynced BEFORE DELETE ON events
            WHEN OLD.synced_at IS NULL
            BEGIN
                SELECT RAISE(ABORT, 'an event the hub does not hold yet cannot be deleted');
            END
            """
        )
        # The chain head moves with the insert, inside SQLite: an append is one INSERT (no read of
        # the head, no UPDATE from Python), and a row that does not continue the chain exactly
        # where the head stands is refused, whoever writes it.
        db.execute(
            """
            CREATE TRIGGER events_continue_chain BEFORE INSERT ON events
            WHEN NOT EXISTS (
                SELECT 1 FROM chain_head WHERE kiosk_id = NEW.kiosk_id AND epoch = NEW.epoch
                AND next_seq = NEW.seq AND last_hash = NEW.prev_hash
            )
            BEGIN
                SELECT RAISE(ABORT, 'not at the chain head');
            END
            """
        )
        db.execute(
            """
            CREATE TRIGGER events_move_head AFTER INSERT ON events
            BEGIN
                UPDATE chain_head SET next_seq = NEW.seq + 1, last_hash = NEW.hash
                WHERE kiosk_id = NEW.kiosk_id;
            END
            """
        )
        broken = db.execute("PRAGMA foreign_key_check(events)").fetchall()
        if broken:
            raise RuntimeError(f"m012: links_to names missing events: {broken[:3]}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        db.execute("PRAGMA foreign_keys = ON")


@migrations()
def m013_pin_bursts(db: Database) -> None:
    # Wrong PINs are recorded in the ledger once per burst (kiosk/pin_bursts.py): how many of
    # the run in ``failures`` a record already covers, when the run began and its latest try.
    db.execute("ALTER TABLE guards ADD COLUMN failures_recorded INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE guards ADD COLUMN failed_since TEXT")
    db.execute("ALTER TABLE guards ADD COLUMN last_failed_at TEXT")


def migrate(db: Database) -> None:
    migrations.apply(db)

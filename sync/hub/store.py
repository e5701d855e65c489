"""The hub's storage: one interface, on SQLite (one compound) or PostgreSQL (a district, a city).

Both run the same SQL, written with ``?`` placeholders; the PostgreSQL dialect rewrites them.
Ingest runs in parallel on PostgreSQL (several hub processes); a reader paging events with
``?since=`` reads only numbers below which nothing more can commit, so it never skips one
(docs/sync-protocol.md, "Readers"). Roster writers are serialised by an advisory lock.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.hub import events_schema, partitions, tenancy_schema
from sync.hub.ingest_plan import MAC_MISMATCH as MAC_MISMATCH  # re-exported: the problems'
from sync.hub.ingest_plan import MAC_MISSING as MAC_MISSING  # words are read from here
from sync.hub.ingest_plan import IngestPlan, Keying, Valid, plan_batch
from sync.hub.keys import HubKeys
from sync.protocol import QUARANTINED, STORED, field_problem, problem_with

log = logging.getLogger(__name__)

ANALYZE_EVERY = 20_000  # records stored by a process before its second ANALYZE
WRITE_LOCK_ID = 0x6D656E77  # "menw": the PostgreSQL advisory lock for roster and schema writers
SETTLE_TIMEOUT_S = 10.0  # how long a reader waits for the ingest transactions in flight
# The PostgreSQL advisory lock (class, then the hub's schema) that ingest holds shared while it
# draws ingest_seq numbers and a reader takes exclusive for an instant (docs/sync-protocol.md).
INGEST_LOCK_CLASS = 0x6D656E69  # "meni"
INGEST_LOCK = "?, hashtext(current_schema())"
PLAN_ATTEMPTS = 20  # plans of one batch, each after another writer took one of its keys
INSERT_CHUNK = 500  # rows per multi-row INSERT on SQLite (13 columns: far below 32,766 values)
# The columns ingest writes, with their PostgreSQL types (for the unnest() of a batch): the
# record and the hub's bookkeeping. Every other column is derived from the record by the
# database (sync/hub/events_schema.py).
EVENT_COLUMNS = {"record": "text", "chain_ok": "integer", "received_at": "text"}
# What ingest wrote into a hub not migrated that far yet (tests of older hubs' migrations).
EVENT_COLUMNS_BEFORE_014 = {
    "id": "text",
    "kiosk_id": "text",
    "epoch": "text",
    "seq": "bigint",
    "kind": "text",
    "wall_time": "text",
    "verdict": "text",
    "estimate_c": "double precision",
    "record": "text",
    "hash": "text",
    "prev_hash": "text",
    "chain_ok": "integer",
    "received_at": "text",
}
QUARANTINE_COLUMNS = {
    "kiosk_id": "text",
    "record_id": "text",
    "reason": "text",
    "body": "text",
    "received_at": "text",
    "epoch": "text",
    "seq": "bigint",
}
BREAK_COLUMNS = {
    "kiosk_id": "text",
    "epoch": "text",
    "seq": "bigint",
    "problem": "text",
    "found_at": "text",
}


def _valid_field(record: Any, name: str) -> Any:
    """A field of a refused record, only if it is valid on its own (for the register)."""
    if not isinstance(record, dict) or name not in record:
        return None
    value = record[name]
    return value if value is not None and field_problem(name, value) is None else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def digest(secret: str) -> str:
    """Tokens and enrolment codes are random and long: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class KioskAuth:
    kiosk_id: str
    revoked: bool


@dataclass(frozen=True)
class Dialect:
    name: str
    autoincrement: str

    def sql(self, statement: str) -> str:
        return statement if self.name == "sqlite" else statement.replace("?", "%s")


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT")
POSTGRES = Dialect("postgresql", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")


Step = str | Callable[["HubStore"], None]  # a statement, or a function of the store


def _migrations(d: Dialect, default_compound: str | None = None) -> list[tuple[str, list[Step]]]:
    return [
        (
            "001_core",
            [
                "CREATE TABLE kiosks (kiosk_id TEXT PRIMARY KEY, token_hash TEXT UNIQUE,"
                " enrolled_at TEXT, revoked_at TEXT, last_seen TEXT, queue_reported BIGINT)",
                "CREATE TABLE enrol_codes (code_hash TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL,"
                " created_at TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL, used_at TEXT)",
                f"CREATE TABLE events (ingest_seq {d.autoincrement}, id TEXT NOT NULL UNIQUE,"
                " kiosk_id TEXT NOT NULL, epoch TEXT NOT NULL, seq BIGINT NOT NULL,"
                " kind TEXT NOT NULL, wall_time TEXT NOT NULL, verdict TEXT, estimate_c"
                " DOUBLE PRECISION, record TEXT NOT NULL, hash TEXT NOT NULL, prev_hash TEXT"
                " NOT NULL, chain_ok INTEGER NOT NULL, received_at TEXT NOT NULL,"
                " UNIQUE (kiosk_id, epoch, seq))",
                f"CREATE TABLE quarantine (qid {d.autoincrement}, kiosk_id TEXT NOT NULL,"
                " record_id TEXT, reason TEXT NOT NULL, body TEXT NOT NULL,"
                " received_at TEXT NOT NULL)",
                f"CREATE TABLE chain_breaks (bid {d.autoincrement}, kiosk_id TEXT NOT NULL,"
                " epoch TEXT NOT NULL, seq BIGINT NOT NULL, problem TEXT NOT NULL,"
                " found_at TEXT NOT NULL)",
                f"CREATE TABLE roster (version {d.autoincrement}, kind TEXT NOT NULL,"
                " key TEXT NOT NULL, data TEXT, changed_at TEXT NOT NULL)",
                "CREATE TABLE readers (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
                " created_at TEXT NOT NULL)",
            ],
        ),
        (
            "002_admin",
            [
                "CREATE TABLE admins (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
                " role TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0,"
                " locked_until DOUBLE PRECISION NOT NULL DEFAULT 0,"
                " active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL)",
                f"CREATE TABLE audit (aid {d.autoincrement}, at TEXT NOT NULL,"
                " username TEXT, action TEXT NOT NULL, detail TEXT NOT NULL)",
                "CREATE TABLE hub_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
                "CREATE INDEX events_wall_time ON events (wall_time)",
            ],
        ),
        (
            "003_retention",
            [
                "CREATE TABLE daily_counts (kiosk_id TEXT NOT NULL, day TEXT NOT NULL,"
                " kind TEXT NOT NULL, verdict TEXT NOT NULL, count BIGINT NOT NULL,"
                " PRIMARY KEY (kiosk_id, day, kind, verdict))",
            ],
        ),
        (
            "004_followups",
            [
                "CREATE TABLE followups (event_id TEXT PRIMARY KEY, state TEXT NOT NULL,"
                " reported_at TEXT, outcome TEXT, note TEXT, updated_by TEXT NOT NULL,"
                " updated_at TEXT NOT NULL)",
            ],
        ),
        (
            "005_residents",
            [
                "CREATE TABLE residents (resident_id TEXT PRIMARY KEY, building TEXT NOT NULL,"
                " unit TEXT NOT NULL, room TEXT NOT NULL, name TEXT NOT NULL, phone TEXT,"
                " role TEXT NOT NULL, created_at TEXT NOT NULL,"
                " UNIQUE (building, unit, room, name))",
                "CREATE TABLE passes (code TEXT PRIMARY KEY, resident_id TEXT NOT NULL"
                " REFERENCES residents (resident_id), expires_on TEXT NOT NULL,"
                " revoked INTEGER NOT NULL DEFAULT 0, issued_at TEXT NOT NULL)",
            ],
        ),
        (
            "006_quarantine",
            [
                f"CREATE TABLE quarantine_register (qid {d.autoincrement},"
                " resident_id TEXT NOT NULL REFERENCES residents (resident_id),"
                " starts_on TEXT NOT NULL, ends_on TEXT NOT NULL, note TEXT,"
                " created_by TEXT NOT NULL, created_at TEXT NOT NULL)",
            ],
        ),
        (
            "007_id_numbers",
            [
                # National ID numbers are never stored in full: masked, plus a keyed hash.
                "ALTER TABLE residents ADD COLUMN id_masked TEXT",
                "ALTER TABLE residents ADD COLUMN id_hash TEXT",
                "CREATE INDEX residents_id_hash ON residents (id_hash)",
            ],
        ),
        (
            "008_tamper_evidence",
            [
                # Where a quarantined record sat in its kiosk's chain: a quarantined record is
                # not a gap. The keyed chain: each kiosk's key and from where its records carry
                # a mac. Reader tokens can be revoked and their last read is kept.
                "ALTER TABLE quarantine ADD COLUMN epoch TEXT",
                "ALTER TABLE quarantine ADD COLUMN seq BIGINT",
                "ALTER TABLE kiosks ADD COLUMN chain_key TEXT",
                "ALTER TABLE kiosks ADD COLUMN keyed_epoch TEXT",
                "ALTER TABLE kiosks ADD COLUMN keyed_from_seq BIGINT",
                "ALTER TABLE readers ADD COLUMN revoked_at TEXT",
                "ALTER TABLE readers ADD COLUMN last_read_at TEXT",
            ],
        ),
        (
            "009_events_gate_day",
            [
                # A gate's day (registers, seals) without reading all of that gate's events.
                "CREATE INDEX events_gate_wall_time ON events (kiosk_id, wall_time)",
            ],
        ),
        (
            "010_sessions_throttle",
            [
                # Sessions and sign-in throttling (sync/hub/admins.py); keys left the database.
                "CREATE TABLE admin_sessions (sid_hash TEXT PRIMARY KEY,"
                " username TEXT NOT NULL REFERENCES admins (username) ON DELETE CASCADE,"
                " csrf TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,"
                " seen_at DOUBLE PRECISION NOT NULL)",
                "CREATE INDEX admin_sessions_user ON admin_sessions (username)",
                "CREATE TABLE sign_in_throttle (bucket TEXT PRIMARY KEY,"
                " failures INTEGER NOT NULL, next_at DOUBLE PRECISION NOT NULL,"
                " updated_at DOUBLE PRECISION NOT NULL)",
                "CREATE INDEX sign_in_throttle_updated ON sign_in_throttle (updated_at)",
                "CREATE INDEX roster_kind_key ON roster (kind, key, version)",
            ],
        ),
        (
            "011_duty_records",
            [
                # The duty schedule, disinfection rounds logged on the hub and the supplies
                # (sync/hub/duty.py, disinfection.py, supplies.py). Places go by the roster.
                f"CREATE TABLE duty_shifts (sid {d.autoincrement}, person TEXT NOT NULL,"
                " gate TEXT NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL,"
                " created_by TEXT NOT NULL, created_at TEXT NOT NULL, removed_at TEXT)",
                "CREATE INDEX duty_shifts_time ON duty_shifts (starts_at, ends_at)",
                f"CREATE TABLE disinfection_rounds (rid {d.autoincrement}, place TEXT NOT NULL,"
                " agent TEXT NOT NULL, done_at TEXT NOT NULL, done_by TEXT NOT NULL,"
                " created_at TEXT NOT NULL)",
                "CREATE INDEX disinfection_rounds_done_at ON disinfection_rounds (done_at)",
                "CREATE TABLE supplies (item TEXT PRIMARY KEY, unit TEXT NOT NULL,"
                " keeper TEXT NOT NULL, reserve_days INTEGER NOT NULL,"
                " margin_pct INTEGER NOT NULL, created_at TEXT NOT NULL)",
                f"CREATE TABLE supply_moves (mid {d.autoincrement}, item TEXT NOT NULL"
                " REFERENCES supplies (item), direction TEXT NOT NULL,"
                " quantity BIGINT NOT NULL CHECK (quantity > 0), note TEXT,"
                " moved_at TEXT NOT NULL, moved_by TEXT NOT NULL)",
                "CREATE INDEX supply_moves_item ON supply_moves (item, moved_at)",
                "CREATE INDEX events_kind_wall_time ON events (kind, wall_time)",
            ],
        ),
        (
            "012_events_partitions",
            # PostgreSQL: events by month received, the unique keys in event_keys
            # (sync/hub/partitions.py, docs/schema.md). SQLite keeps the plain table.
            [] if d is SQLITE else [partitions.partition_events],
        ),
        ("013_compounds", [*tenancy_schema.migration(d, default_compound, now_iso())]),
        (
            "014_settings_version",
            [
                # The settings version each gate last reported, and when (settings_version.py).
                "ALTER TABLE kiosks ADD COLUMN settings_version BIGINT",
                "ALTER TABLE kiosks ADD COLUMN settings_reported_at TEXT",
            ],
        ),
        # Events written once; every shown column derived from the hashed record.
        (events_schema.MIGRATION, [events_schema.migrate]),
        (
            "016_hub_jobs",
            [
                # The pages' background jobs (sync/hub/jobs.py): one running of a kind per
                # compound, enforced by the partial unique index.
                "CREATE TABLE hub_jobs (job_id TEXT PRIMARY KEY, compound_id BIGINT NOT NULL,"
                " kind TEXT NOT NULL, state TEXT NOT NULL, done BIGINT NOT NULL DEFAULT 0,"
                " total BIGINT, started_at TEXT NOT NULL, started_by TEXT NOT NULL,"
                " heartbeat_at TEXT NOT NULL, finished_at TEXT, runner TEXT NOT NULL,"
                " params TEXT NOT NULL, message TEXT, result_file TEXT, result_count BIGINT)",
                "CREATE UNIQUE INDEX hub_jobs_one_running ON hub_jobs (compound_id, kind)"
                " WHERE state = 'running'",
                "CREATE INDEX hub_jobs_compound ON hub_jobs (compound_id, started_at)",
                # A resident's passes: who lacks a valid one, each one's newest (issuing
                # and the sheets of 10,000 residents read these per resident).
                "CREATE INDEX passes_resident ON passes (resident_id, issued_at)",
            ],
        ),
    ]


def _text_arrays(rows: list[tuple[Any, ...]]) -> list[list[str | None]]:
    """One array of text per column, cast per column by the server (a column may mix int and
    float)."""
    return [
        [None if value is None else str(value) for value in column]
        for column in zip(*rows, strict=True)
    ]


def _stored_record(text: str) -> dict[str, Any]:
    """A stored record for the API. Records stored before total validation may hold NaN or
    Infinity; the API never emits them (they are not JSON): they read as null."""
    return json.loads(text, parse_constant=lambda _: None)


class CompoundError(ValueError):
    """Which compound is meant is unclear, or a kiosk cannot move; the message says why."""


class HubStore:
    """All of the hub's reads and writes. One connection per thread.

    ``compound``: None for the whole hub (the ``hub`` command, the kiosks' API); a compound's
    id for a copy made by :meth:`scoped`, which the pages use: every read of a compound's data
    is then limited to that compound (:meth:`in_compound`, :meth:`gate_in_compound`)."""

    compound: int | None = None

    def __init__(self, url: str, keys: HubKeys | None = None) -> None:
        self.url = url
        # The session and ID-number keys: never in the database (sync/hub/keys.py). Without
        # keys given, fresh ones live in memory only (tests, benchmarks).
        self.keys = keys or HubKeys.ephemeral()
        if url.startswith(("postgresql://", "postgres://")):
            self.dialect = POSTGRES
        elif url.startswith("sqlite:///"):
            self.dialect = SQLITE
            self.path = Path(url.removeprefix("sqlite:///"))
        else:
            raise ValueError("database URL must be sqlite:///path or postgresql://…")
        self._local = threading.local()
        self._opened: list[Any] = []  # every thread's connection, to close them all at the end
        self._opened_lock = threading.Lock()
        self._analyze_at = 1
        self._stored = 0  # records this process stored (for _refresh_statistics)
        self._sequence_name: str | None = None
        self._partition_months: set[str] = set()  # months whose partitions this process made
        self._derived = False  # the events' columns are derived from the record (migration 014)

    # -- connections and transactions --------------------------------------------------------

    def _connect(self) -> Any:
        if self.dialect is SQLITE:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Used by one thread only; check_same_thread=False lets close() end them all.
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
            return conn
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def close_thread(self) -> None:
        """Close this thread's connection (a worker thread that ends: sync/hub/jobs.py)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._opened_lock:
            if conn in self._opened:
                self._opened.remove(conn)
        conn.close()

    def close(self) -> None:
        """Close every thread's connection (when the hub stops)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.connection().execute(self.dialect.sql(sql), tuple(params))

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    @contextmanager
    def transaction(self, *, ordered: bool = False, numbers_events: bool = False) -> Iterator[None]:
        """A write transaction. ``ordered``: it assigns roster versions (or changes the schema),
        so such writers queue. ``numbers_events``: it inserts events, which draw ``ingest_seq``;
        on PostgreSQL it holds the ingest lock shared before drawing any, which is what lets a
        reader wait for every number drawn so far (:meth:`events_since`)."""
        conn = self.connection()
        if self.dialect is SQLITE:
            conn.execute("BEGIN IMMEDIATE")  # SQLite has one writer at a time anyway
        else:
            conn.execute("BEGIN")
            if ordered:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_ID,))
            if numbers_events:
                conn.execute(
                    f"SELECT pg_advisory_xact_lock_shared({INGEST_LOCK})".replace("?", "%s"),
                    (INGEST_LOCK_CLASS,),
                )
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- compounds (tenancy) -----------------------------------------------------------------

    def scoped(self, compound_id: int) -> HubStore:
        """This store seen from one compound: the same connections, every read limited."""
        view = copy.copy(self)
        view.compound = int(compound_id)
        return view

    def in_compound(self, column: str = "compound_id") -> str:
        """SQL: the row's compound is this store's (always true for the whole hub). The id is
        an int written into the statement, so callers' placeholders keep their order."""
        if self.compound is None:
            return "1 = 1"
        return f"{column} = {int(self.compound)}"

    def gate_in_compound(self, column: str = "kiosk_id") -> str:
        """SQL: the row's gate (an event's, a refused record's) is one of this compound's."""
        if self.compound is None:
            return "1 = 1"
        return f"{column} IN (SELECT kiosk_id FROM kiosks WHERE compound_id = {int(self.compound)})"

    def write_compound(self) -> int:
        """The compound a write goes to: this store's, or the hub's only one."""
        if self.compound is not None:
            return self.compound
        rows = self.fetch_all("SELECT compound_id FROM compounds ORDER BY compound_id LIMIT 2")
        if len(rows) != 1:
            raise CompoundError("中心有多个小区：请指定小区（--compound 小区名称）")
        return int(rows[0][0])

    def migrate(self, *, upto: str | None = None, default_compound: str | None = None) -> None:
        """Apply the migrations not applied yet (``upto``: stop after that one, for tests of a
        migration), then make this month's and the next month's event partitions.
        ``default_compound``: the name of the compound that an existing hub's rows go to
        (``hub serve --compound``), else 默认小区."""
        with self.transaction(ordered=True):
            self.execute(
                "CREATE TABLE IF NOT EXISTS hub_migrations (name TEXT PRIMARY KEY,"
                " applied_at TEXT NOT NULL)"
            )
        applied = {row[0] for row in self.fetch_all("SELECT name FROM hub_migrations")}
        for name, statements in _migrations(self.dialect, default_compound):
            if name in applied:
                continue
            with self.transaction(ordered=True):
                for statement in statements:
                    if callable(statement):
                        statement(self)
                    else:
                        self.execute(statement)
                self.execute(
                    "INSERT INTO hub_migrations (name, applied_at) VALUES (?, ?)", (name, now_iso())
                )
            if name == upto:
                return
        self._partition_months.clear()
        self._ensure_partition(now_iso())

    def _ensure_partition(self, received: str) -> None:
        """PostgreSQL: the partitions of the month of ``received`` and the next one exist (made
        ahead, once a month per process, before the first batch of a month). If one cannot be
        made (the default partition holds rows of that month: the hub's clock went back), its
        rows go on into the default partition, which retention empties by DELETE."""
        month = received[:7]
        if self.dialect is not POSTGRES or month in self._partition_months:
            return
        if (
            self.fetch_one("SELECT 1 FROM hub_migrations WHERE name = '012_events_partitions'")
            is None
        ):
            return
        for wanted in partitions.months_from(month, 1 + partitions.AHEAD):
            try:
                with self.transaction(ordered=True):
                    partitions.create(self, wanted)
            except Exception:  # ingest goes on into the default partition
                log.exception("事件分区 %s 无法创建，记录暂存入默认分区", wanted)
        self._partition_months.add(month)

    # -- enrolment and tokens ----------------------------------------------------------------

    def create_enrol_code(
        self, kiosk_id: str, ttl_s: float = 86400, *, compound: int | None = None
    ) -> str:
        """A one-time code that enrols ``kiosk_id`` into a compound (``compound``, else this
        store's, else the hub's only one). A gate that has records stays in its compound:
        moving it would hand its history to another tenant. From a page (a scoped store) a
        gate id in use by another compound is refused outright."""
        compound_id = compound if compound is not None else self.write_compound()
        code = "-".join(secrets.token_hex(3).upper() for _ in range(3))
        with self.transaction(ordered=True):
            self._check_kiosk_move(kiosk_id, compound_id, strict=self.compound is not None)
            self.execute(
                "INSERT INTO enrol_codes (code_hash, kiosk_id, created_at, expires_at,"
                " compound_id) VALUES (?, ?, ?, ?, ?)",
                (digest(code), kiosk_id, now_iso(), time.time() + ttl_s, compound_id),
            )
        return code

    def _check_kiosk_move(self, kiosk_id: str, compound_id: int, *, strict: bool) -> None:
        """Refuse a gate id that belongs to another compound: always once it has records;
        ``strict``: also when it has none, or another compound's code is waiting for it."""
        row = self.fetch_one("SELECT compound_id FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
        if row is not None and int(row[0]) != compound_id:
            held = self.fetch_one(
                "SELECT 1 FROM events WHERE kiosk_id = ? UNION ALL"
                " SELECT 1 FROM quarantine WHERE kiosk_id = ? LIMIT 1",
                (kiosk_id, kiosk_id),
            )
            if held is not None:
                raise CompoundError(
                    f"门岗 {kiosk_id} 已有记录，属于另一个小区，不能改到本小区"
                    "（否则它的历史记录会交给另一个小区）：新门岗请另起编号"
                )
            if strict:
                raise CompoundError(f"门岗编号 {kiosk_id} 已被其他小区使用：请另起编号")
        if strict:
            waiting = self.fetch_one(
                "SELECT 1 FROM enrol_codes WHERE kiosk_id = ? AND compound_id <> ?"
                " AND used_at IS NULL AND expires_at > ?",
                (kiosk_id, compound_id, time.time()),
            )
            if waiting is not None:
                raise CompoundError(f"门岗编号 {kiosk_id} 已被其他小区使用：请另起编号")

    def enrol(
        self, code: str, *, epoch: str | None = None, next_seq: int | None = None
    ) -> tuple[str, str] | None:
        """Trade a one-time code for a kiosk token. A re-enrolled kiosk's old token stops.

        The kiosk also gets its chain key (:meth:`chain_key`), made at its first enrolment and
        kept across re-enrolments. ``epoch``/``next_seq``: where the kiosk's ledger stands, so
        that from there on every record must carry a valid mac (see docs/sync-protocol.md)."""
        token = secrets.token_urlsafe(32)
        with self.transaction():
            row = self.fetch_one(
                "SELECT kiosk_id, expires_at, used_at, compound_id FROM enrol_codes"
                " WHERE code_hash = ?",
                (digest(code.strip().upper()),),
            )
            if row is None or row[2] is not None or row[1] < time.time():
                return None
            kiosk_id, compound_id = row[0], int(row[3])
            self._check_kiosk_move(kiosk_id, compound_id, strict=False)
            self.execute(
                "UPDATE enrol_codes SET used_at = ? WHERE code_hash = ?",
                (now_iso(), digest(code.strip().upper())),
            )
            keyed = epoch is not None and next_seq is not None
            self.execute(
                "INSERT INTO kiosks (kiosk_id, token_hash, enrolled_at, chain_key, keyed_epoch,"
                " keyed_from_seq, compound_id) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (kiosk_id) DO UPDATE SET token_hash = excluded.token_hash,"
                " compound_id = excluded.compound_id,"
                " enrolled_at = excluded.enrolled_at, revoked_at = NULL,"
                " chain_key = coalesce(kiosks.chain_key, excluded.chain_key),"
                " keyed_epoch = CASE WHEN ? THEN excluded.keyed_epoch"
                " ELSE kiosks.keyed_epoch END,"
                " keyed_from_seq = CASE WHEN ? THEN excluded.keyed_from_seq"
                " ELSE kiosks.keyed_from_seq END",
                (
                    kiosk_id,
                    digest(token),
                    now_iso(),
                    secrets.token_hex(32),
                    epoch if keyed else None,
                    next_seq if keyed else None,
                    compound_id,
                    keyed,
                    keyed,
                ),
            )
        return kiosk_id, token

    def chain_key(self, kiosk_id: str) -> bytes | None:
        """The kiosk's chain key: it leaves the hub once, in the answer to the enrolment."""
        row = self.fetch_one("SELECT chain_key FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
        return None if row is None or row[0] is None else bytes.fromhex(row[0])

    def _keying(self, kiosk_id: str, *, lock: bool = False) -> Keying:
        """The kiosk's chain key and from where its records must carry a mac. ``lock``: hold the
        kiosk's row to the end of the transaction (PostgreSQL; SQLite has one writer anyway)."""
        row = self.fetch_one(
            "SELECT chain_key, keyed_epoch, keyed_from_seq FROM kiosks WHERE kiosk_id = ?"
            + (" FOR UPDATE" if lock and self.dialect is POSTGRES else ""),
            (kiosk_id,),
        )
        if row is None or row[0] is None:
            return None, None, None
        return bytes.fromhex(row[0]), row[1], None if row[2] is None else int(row[2])

    def keying(self, kiosk_id: str) -> Keying:
        """The kiosk's chain key and from where its records carry a mac (for re-checking)."""
        return self._keying(kiosk_id)

    def kiosk_for_token(self, token: str) -> KioskAuth | None:
        row = self.fetch_one(
            "SELECT kiosk_id, revoked_at FROM kiosks WHERE token_hash = ?", (digest(token),)
        )
        return None if row is None else KioskAuth(row[0], row[1] is not None)

    def revoke(self, kiosk_id: str) -> bool:
        with self.transaction():
            cursor = self.execute(
                "UPDATE kiosks SET revoked_at = ? WHERE kiosk_id = ? AND revoked_at IS NULL"
                f" AND {self.in_compound()}",
                (now_iso(), kiosk_id),
            )
        return cursor.rowcount == 1

    def create_reader(self, name: str, *, compound: int | None = None) -> str:
        """A token for another system to read one compound's events (``/api/v1/ledger``)."""
        compound_id = compound if compound is not None else self.write_compound()
        token = secrets.token_urlsafe(32)
        with self.transaction():
            self.execute(
                "INSERT INTO readers (name, token_hash, created_at, compound_id)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash,"
                " created_at = excluded.created_at, revoked_at = NULL,"
                " compound_id = excluded.compound_id",
                (name, digest(token), now_iso(), compound_id),
            )
        return token

    def reader_compound(self, name: str) -> int:
        """The compound whose events a reader token reads."""
        return int(self.fetch_one("SELECT compound_id FROM readers WHERE name = ?", (name,))[0])

    def reader_for_token(self, token: str) -> str | None:
        """The reader's name, unless the token is unknown or revoked."""
        row = self.fetch_one(
            "SELECT name FROM readers WHERE token_hash = ? AND revoked_at IS NULL",
            (digest(token),),
        )
        return None if row is None else row[0]

    def readers(self) -> list[dict[str, Any]]:
        rows = self.fetch_all(
            "SELECT r.name, r.created_at, r.revoked_at, r.last_read_at, c.name FROM readers r"
            " JOIN compounds c ON c.compound_id = r.compound_id"
            f" WHERE {self.in_compound('r.compound_id')} ORDER BY r.name"
        )
        return [
            {
                "name": r[0],
                "created_at": r[1],
                "revoked_at": r[2],
                "last_read_at": r[3],
                "compound": r[4],
            }
            for r in rows
        ]

    def revoke_reader(self, name: str) -> bool:
        """Stop a reader token at once (inside the caller's transaction)."""
        cursor = self.execute(
            "UPDATE readers SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (now_iso(), name),
        )
        return cursor.rowcount == 1

    def reader_read(self, name: str) -> None:
        """Note a reader's read (inside the caller's transaction, beside its audit entry)."""
        self.execute("UPDATE readers SET last_read_at = ? WHERE name = ?", (now_iso(), name))

    # -- ingest ------------------------------------------------------------------------------

    def ingest(
        self, kiosk_id: str, records: list[Any], queue: int | None = None
    ) -> list[dict[str, Any]]:
        """Store a batch in one transaction and say, per record, what became of it."""
        received = now_iso()
        self._ensure_partition(received)
        with self.transaction(numbers_events=True):
            results = self._ingest_batch(kiosk_id, records, received)
            self.execute(
                # A batch without a queue count keeps the last one: the kiosk's word that it holds
                # nothing unsent is what turns a gap into a gap never filled.
                "UPDATE kiosks SET last_seen = ?, queue_reported = coalesce(?, queue_reported)"
                " WHERE kiosk_id = ?",
                # The kiosk counts the batch it is sending; what it still holds is the rest.
                (received, None if queue is None else max(0, queue - len(records)), kiosk_id),
            )
        self._refresh_statistics(results, received)
        return results

    def _refresh_statistics(self, results: list[dict[str, Any]], received: str) -> None:
        """PostgreSQL plans the batch look-ups from table statistics. A hub that takes in a
        long backlog grows faster than autovacuum re-analyses, and plans made for an empty table
        turn every look-up into a scan; so each hub process analyses after its first batch and
        then as the records it stored grow: the month's partition being filled and
        event_keys (the parent of the partitions holds no rows, and analysing it would sample
        every month again)."""
        if self.dialect is not POSTGRES:
            return
        self._stored += sum(1 for r in results if r.get("status") == STORED)
        if self._stored < self._analyze_at:
            return
        # After the first batch, at ANALYZE_EVERY, then each time the records stored have
        # doubled: estimates need the right size, not the exact count, and autovacuum analyses
        # the partitions of a hub in steady state.
        self._analyze_at = max(2 * self._stored, ANALYZE_EVERY)
        name = partitions.partition_for(received[:7]).name
        found = self.fetch_one(
            "SELECT to_regclass(?) IS NOT NULL, to_regclass('event_keys')", (name,)
        )
        if found[1] is None:
            self.execute("ANALYZE events")  # not partitioned (yet)
        else:
            self.execute(f"ANALYZE event_keys, {name if found[0] else partitions.DEFAULT}")

    def _ingest_batch(
        self, kiosk_id: str, records: list[Any], received: str
    ) -> list[dict[str, Any]]:
        """Validate in Python, look up what the hub holds around the batch (three queries),
        decide every answer (``sync.hub.ingest_plan``), then write with a few multi-row
        statements. The kiosk's row is locked first: batches of one kiosk queue, so that each
        sees the other's records for its chain checks; batches of different kiosks run side
        by side on PostgreSQL."""
        answers: list[dict[str, Any]] = []
        refused: list[tuple[Any, str]] = []
        valid: list[Valid] = []
        now = datetime.fromisoformat(received)
        for index, record in enumerate(records):
            problem = problem_with(record, kiosk_id, now)
            if problem is None:
                canonical = json.dumps(
                    record, ensure_ascii=False, sort_keys=True, separators=(",", ":")
                )
                valid.append(Valid(index, record, canonical))
                answers.append({})
                continue
            refused.append((record, problem))
            answers.append(
                {"id": _valid_field(record, "id"), "status": QUARANTINED, "reason": problem}
            )
        keying = self._keying(kiosk_id, lock=True)
        self._quarantine(kiosk_id, refused, received)
        plan = self._write_plan(kiosk_id, valid, keying, received)
        for index, answer in plan.answers.items():
            answers[index] = answer
        return answers

    def _write_plan(
        self, kiosk_id: str, valid: list[Valid], keying: Keying, received: str
    ) -> IngestPlan:
        """Plan against what the hub holds, then insert. If another transaction committed a
        record with one of the batch's ids meanwhile (a kiosk sending another kiosk's id), the
        insert skips it (or, on partitioned events, is refused): undo the insert and plan
        again, now seeing that record."""
        for _ in range(PLAN_ATTEMPTS):
            held = self._held_records([item.record["id"] for item in valid])
            chain = self._neighbours(
                kiosk_id, [(v.record["epoch"], v.record["seq"]) for v in valid]
            )
            plan = plan_batch(valid, held, chain, keying)
            self.execute("SAVEPOINT ingest_rows")
            if self._inserted_all(kiosk_id, plan, received):
                break
            self.execute("ROLLBACK TO SAVEPOINT ingest_rows")
        else:
            raise RuntimeError(f"ingest of {kiosk_id}: event keys held without their events")
        self.execute("RELEASE SAVEPOINT ingest_rows")
        self._quarantine(kiosk_id, plan.conflicts, received)
        for epoch, seq in plan.flag_stored:
            self.execute(
                "UPDATE events SET chain_ok = 0 WHERE kiosk_id = ? AND epoch = ? AND seq = ?",
                (kiosk_id, epoch, seq),
            )
        self._insert_rows(
            "chain_breaks",
            BREAK_COLUMNS,
            [(kiosk_id, epoch, seq, problem, received) for epoch, seq, problem in plan.breaks],
        )
        return plan

    def _inserted_all(self, kiosk_id: str, plan: IngestPlan, received: str) -> bool:
        """Insert the plan's rows; False if a key was taken meanwhile by another transaction.
        SQLite and a plain table: the insert skips the row. Partitioned events (PostgreSQL): the
        keys go into event_keys by the insert's trigger, whose unique index waits for the
        other transaction and then refuses the whole statement (docs/schema.md)."""
        if self.dialect is not POSTGRES:
            return self._insert_events(kiosk_id, plan, received) == len(plan.rows)
        from psycopg.errors import UniqueViolation

        try:
            return self._insert_events(kiosk_id, plan, received) == len(plan.rows)
        except UniqueViolation:
            return False

    def _insert_events(self, kiosk_id: str, plan: IngestPlan, received: str) -> int:
        """Insert the plan's rows; how many were inserted. Only the record and the hub's
        bookkeeping are written: the database derives the rest from the record."""
        if self._events_derived():
            rows = [
                (item.canonical, int(plan.chain_ok[(r["epoch"], r["seq"])]), received)
                for item in plan.rows
                for r in (item.record,)
            ]
            return self._insert_rows("events", EVENT_COLUMNS, rows, skip_conflicts=True)
        old = [
            (
                *(r[name] for name in ("id", "kiosk_id", "epoch", "seq", "kind", "wall_time")),
                r["verdict"],
                r["estimate_c"],
                item.canonical,
                r["hash"],
                r["prev_hash"],
                int(plan.chain_ok[(r["epoch"], r["seq"])]),
                received,
            )
            for item in plan.rows
            for r in (item.record,)
        ]
        return self._insert_rows("events", EVENT_COLUMNS_BEFORE_014, old, skip_conflicts=True)

    def _events_derived(self) -> bool:
        """Are the events' columns derived from the record (migration 014)? Checked until so."""
        if not self._derived:
            self._derived = (
                self.fetch_one(
                    "SELECT 1 FROM hub_migrations WHERE name = ?", (events_schema.MIGRATION,)
                )
                is not None
            )
        return self._derived

    def _insert_rows(
        self,
        table: str,
        columns: dict[str, str],
        rows: list[tuple[Any, ...]],
        *,
        skip_conflicts: bool = False,
    ) -> int:
        """Insert rows with few statements; the number of rows inserted. PostgreSQL: one
        ``INSERT … SELECT … FROM unnest(…)`` of one array per column (a short statement, the
        same for every batch, so psycopg prepares it once); SQLite: multi-row VALUES."""
        if not rows:
            return 0
        names = ", ".join(columns)
        conflicts = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
        if self.dialect is POSTGRES:
            arrays = _text_arrays(rows)
            casts = ", ".join(f"c{i}::{kind}" for i, kind in enumerate(columns.values()))
            unnest = ", ".join("%b::text[]" for _ in columns)  # binary: no array-literal quoting
            aliases = ", ".join(f"c{i}" for i in range(len(columns)))
            sql = (
                f"INSERT INTO {table} ({names}) SELECT {casts}"
                f" FROM unnest({unnest}) AS batch ({aliases}){conflicts}"
            )
            return int(self.execute(sql, arrays).rowcount)
        inserted = 0
        one = "(" + ", ".join("?" for _ in columns) + ")"
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            values = ", ".join(one for _ in chunk)
            sql = f"INSERT INTO {table} ({names}) VALUES {values}{conflicts}"
            inserted += self.execute(sql, [value for row in chunk for value in row]).rowcount
        return inserted

    def _one_of(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values`` (at most a batch's worth): ``= ANY(array)`` on
        PostgreSQL (one statement text whatever the count), ``IN (…)`` on SQLite."""
        if self.dialect is POSTGRES:
            return f"{column} = ANY(?)", [values]
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    def _held_records(self, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        where, params = self._one_of("id", ids)
        return {
            row[0]: row[1]
            for row in self.fetch_all(f"SELECT id, record FROM events WHERE {where}", params)
        }

    def _neighbours(
        self, kiosk_id: str, places: list[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[str, str]]:
        """(epoch, seq) -> (hash, prev_hash) of the stored records at and around the batch's
        places."""
        wanted: dict[str, set[int]] = {}
        for epoch, seq in places:
            wanted.setdefault(epoch, set()).update((seq - 1, seq, seq + 1))
        found: dict[tuple[str, int], tuple[str, str]] = {}
        for epoch, seqs in wanted.items():
            where, params = self._one_of("seq", sorted(seqs))
            rows = self.fetch_all(
                "SELECT seq, hash, prev_hash FROM events WHERE kiosk_id = ? AND epoch = ?"
                f" AND {where}",
                (kiosk_id, epoch, *params),
            )
            for row in rows:
                found[(epoch, int(row[0]))] = (row[1], row[2])
        return found

    def _quarantine(self, kiosk_id: str, refused: list[tuple[Any, str]], received: str) -> None:
        """Keep refused records aside, as escaped ASCII JSON: a NUL or a lone surrogate in one
        cannot break PostgreSQL's text type, nor the pages that show it."""
        rows = []
        for record, reason in refused:
            body = json.dumps(record, ensure_ascii=True, sort_keys=True, default=str)
            if len(body) > 65536:
                body = body[:65536] + " …"
            rows.append(
                (
                    kiosk_id,
                    _valid_field(record, "id"),
                    reason,
                    body,
                    received,
                    _valid_field(record, "epoch"),
                    _valid_field(record, "seq"),
                )
            )
        self._insert_rows("quarantine", QUARANTINE_COLUMNS, rows)

    # -- what a kiosk asks -------------------------------------------------------------------

    def held(self, kiosk_id: str, ids: list[str]) -> list[str]:
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self.fetch_all(
            f"SELECT id FROM events WHERE kiosk_id = ? AND id IN ({marks})", (kiosk_id, *ids)
        )
        return [row[0] for row in rows]

    def checkpoint(self, kiosk_id: str) -> list[dict[str, Any]]:
        rows = self.fetch_all(
            "SELECT epoch, count(*), max(seq) FROM events WHERE kiosk_id = ?"
            " GROUP BY epoch ORDER BY epoch",
            (kiosk_id,),
        )
        return [{"epoch": r[0], "count": int(r[1]), "max_seq": int(r[2])} for r in rows]

    def roster_put(self, kind: str, key: str, data: dict[str, Any] | None) -> int:
        """A change for the kiosks of one compound (this store's, or the hub's only one)."""
        with self.transaction(ordered=True):
            return self.roster_insert(kind, key, data)

    def roster_insert(self, kind: str, key: str, data: dict[str, Any] | None) -> int:
        """:meth:`roster_put` inside the caller's transaction, which must be ``ordered`` (a
        chunk of passes issued together: sync/hub/residents.py)."""
        compound_id = self.write_compound()
        row = self.fetch_one(
            "INSERT INTO roster (kind, key, data, changed_at, compound_id)"
            " VALUES (?, ?, ?, ?, ?) RETURNING version",
            (
                kind,
                key,
                None if data is None else json.dumps(data, ensure_ascii=False, sort_keys=True),
                now_iso(),
                compound_id,
            ),
        )
        if kind == "guard":
            # A superseded PIN hash is never sent again, so it is not kept either.
            for version, old in self.fetch_all(
                "SELECT version, data FROM roster WHERE kind = 'guard' AND key = ?"
                " AND version < ? AND data LIKE ? AND compound_id = ?",
                (key, row[0], "%pin_hash%", compound_id),
            ):
                scrubbed = {k: v for k, v in json.loads(old).items() if k != "pin_hash"}
                self.execute(
                    "UPDATE roster SET data = ? WHERE version = ?",
                    (json.dumps(scrubbed, ensure_ascii=False, sort_keys=True), version),
                )
        return int(row[0])

    def roster_since(
        self, version: int, limit: int, kiosk_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The roster changes after ``version``: only the latest of each key (a superseded
        change is skipped). For a kiosk: only its compound's changes; a guard not assigned
        to its gate comes as a removal, and the list of gates is not sent."""
        scope = self.in_compound("r.compound_id")
        if kiosk_id is not None:
            owner = self.fetch_one("SELECT compound_id FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
            scope = f"r.compound_id = {int(owner[0]) if owner else -1}"
        rows = self.fetch_all(
            f"SELECT version, kind, key, data FROM roster r WHERE {scope} AND version > ?"
            " AND version = (SELECT max(version) FROM roster WHERE compound_id = r.compound_id"
            " AND kind = r.kind AND key = r.key) ORDER BY version LIMIT ?",
            (version, limit),
        )
        changes = []
        for r in rows:
            data = None if r[3] is None else json.loads(r[3])
            if r[1] == "guard" and data is not None and kiosk_id is not None:
                gates = data.pop("gates", None)
                if gates is not None and kiosk_id not in gates:
                    data = None  # not this gate's guard: the kiosk drops it, if it had it
            changes.append({"version": int(r[0]), "kind": r[1], "key": r[2], "data": data})
        return changes

    # -- readers and admins ------------------------------------------------------------------

    def events_since(
        self, ingest_seq: int, limit: int, compound: int | None = None
    ) -> list[dict[str, Any]]:
        """Events after ``ingest_seq`` in its order. Writers ingest in parallel on PostgreSQL,
        so a number may commit before a smaller one: only numbers below which nothing more can
        commit are read (:meth:`_settled_seq`); a page is then never followed by a smaller
        number. If a transaction stays in flight past SETTLE_TIMEOUT_S, the page is empty."""
        settled = self._settled_seq()
        if settled is not None and settled <= ingest_seq:
            return []
        gates = "" if compound is None else f" AND {self.scoped(compound).gate_in_compound()}"
        rows = self.fetch_all(
            "SELECT ingest_seq, record, chain_ok FROM events WHERE ingest_seq > ?"
            + gates
            + ("" if settled is None else f" AND ingest_seq <= {int(settled)}")
            + " ORDER BY ingest_seq LIMIT ?",
            (ingest_seq, limit),
        )
        return [
            {"ingest_seq": int(r[0]), "chain_ok": bool(r[2]), "record": _stored_record(r[1])}
            for r in rows
        ]

    def _settled_seq(self) -> int | None:
        """PostgreSQL: a number such that every ``ingest_seq`` up to it that will ever be
        visible is visible now (None on SQLite, whose single writer commits in number order).
        In this order (the argument: docs/sync-protocol.md, "Readers"):

        1. L = the last number drawn from the sequence (drawn, not committed: a sequence is
           outside transactions).
        2. Take the ingest lock exclusive, and let it go at once. Whoever drew a number up to L
           held that lock shared before drawing it, and still holds it until their transaction
           ends: the exclusive lock is granted only when all of them have committed or rolled
           back (batches that start meanwhile queue behind it for that instant).
        Then every number up to L is visible or will never exist. Only the hub's own ingest is
        waited for: a long transaction elsewhere on the server does not hold readers up. 0 if the
        wait passes SETTLE_TIMEOUT_S (late, never skipped)."""
        if self.dialect is not POSTGRES:
            return None
        if self.connection().info.transaction_status != 0:  # psycopg's IDLE: not in a transaction
            raise RuntimeError("events are read outside a transaction")
        from psycopg.errors import LockNotAvailable

        drawn = self.fetch_one(f"SELECT last_value, is_called FROM {self._ingest_sequence()}")
        last = int(drawn[0]) if drawn[1] else 0
        try:
            with self.transaction():
                self.execute(f"SET LOCAL lock_timeout = '{int(SETTLE_TIMEOUT_S * 1000)}ms'")
                self.execute(f"SELECT pg_advisory_xact_lock({INGEST_LOCK})", (INGEST_LOCK_CLASS,))
        except LockNotAvailable:
            log.warning("台账读取：入库事务超过 %s 秒未结束，本页稍后再读", SETTLE_TIMEOUT_S)
            return 0
        return last

    def _ingest_sequence(self) -> str:
        if self._sequence_name is None:
            row = self.fetch_one("SELECT pg_get_serial_sequence('events', 'ingest_seq')")
            self._sequence_name = row[0]
        return self._sequence_name

    def max_ingest_seq(self) -> int:
        return int(self.fetch_one("SELECT coalesce(max(ingest_seq), 0) FROM events")[0])

    def event_ids(self, kiosk_id: str | None = None) -> set[str]:
        if kiosk_id is None:
            return {row[0] for row in self.fetch_all("SELECT id FROM events")}
        return {
            row[0]
            for row in self.fetch_all("SELECT id FROM events WHERE kiosk_id = ?", (kiosk_id,))
        }

    def chain_breaks(self) -> list[dict[str, Any]]:
        rows = self.fetch_all(
            "SELECT kiosk_id, epoch, seq, problem FROM chain_breaks"
            f" WHERE {self.gate_in_compound()} ORDER BY bid"
        )
        return [{"kiosk_id": r[0], "epoch": r[1], "seq": int(r[2]), "problem": r[3]} for r in rows]

    def quarantined(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Refused and conflicting records, newest last (``limit``: only the newest)."""
        sql = (
            "SELECT qid, kiosk_id, record_id, reason, received_at, epoch, seq, body FROM quarantine"
            f" WHERE {self.gate_in_compound()} ORDER BY qid"
        )
        if limit is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) AS newest ORDER BY qid"
        return [
            {
                "kiosk_id": r[1],
                "record_id": r[2],
                "reason": r[3],
                "received_at": r[4],
                "epoch": r[5],
                "seq": None if r[6] is None else int(r[6]),
                "body": r[7],
            }
            for r in self.fetch_all(sql)
        ]

    def gaps(self) -> list[dict[str, Any]]:
        """Sequence numbers missing between records the hub holds, per kiosk and epoch. A record
        in quarantine is not missing. ``settled``: the kiosk has since said it holds nothing
        unsent, so the gap will never be filled (a record deleted on the kiosk)."""
        rows = self.fetch_all(
            "SELECT g.kiosk_id, g.epoch, g.prev + 1, g.seq - 1, k.queue_reported FROM ("
            " SELECT kiosk_id, epoch, seq,"
            " lag(seq) OVER (PARTITION BY kiosk_id, epoch ORDER BY seq) AS prev FROM ("
            " SELECT kiosk_id, epoch, seq FROM events UNION"
            " SELECT kiosk_id, epoch, seq FROM quarantine WHERE epoch IS NOT NULL"
            " AND seq IS NOT NULL) AS present) AS g"
            " LEFT JOIN kiosks k ON k.kiosk_id = g.kiosk_id"
            f" WHERE g.seq > g.prev + 1 AND {self.gate_in_compound('g.kiosk_id')}"
            " ORDER BY g.kiosk_id, g.epoch, g.seq"
        )
        return [
            {
                "kiosk_id": r[0],
                "epoch": r[1],
                "first": int(r[2]),
                "last": int(r[3]),
                "settled": r[4] is not None and int(r[4]) == 0,
            }
            for r in rows
        ]

    def kiosk_seen(self, kiosk_id: str) -> None:
        """A kiosk asked for its roster: it is alive even when it had nothing to send (field
        trial: 最近联系 stayed at the last batch while the kiosk kept syncing)."""
        with self.transaction():
            self.execute(
                "UPDATE kiosks SET last_seen = ? WHERE kiosk_id = ?", (now_iso(), kiosk_id)
            )

    def waiting_enrolments(self) -> list[dict[str, Any]]:
        """Gates being installed: an enrolment code issued, not yet used nor expired, and not
        enrolled already (a working gate given a new code stays one gate), with when the newest
        code for each runs out (UTC ISO)."""
        rows = self.fetch_all(
            "SELECT kiosk_id, max(expires_at) FROM enrol_codes WHERE used_at IS NULL"
            " AND expires_at > ? AND kiosk_id NOT IN (SELECT kiosk_id FROM kiosks"
            f" WHERE revoked_at IS NULL) AND {self.in_compound()}"
            " GROUP BY kiosk_id ORDER BY kiosk_id",
            (time.time(),),
        )
        return [
            {
                "kiosk_id": r[0],
                "expires_at": datetime.fromtimestamp(float(r[1]), UTC).isoformat(
                    timespec="seconds"
                ),
            }
            for r in rows
        ]

    def kiosks(self) -> list[dict[str, Any]]:
        rows = self.fetch_all(
            "SELECT kiosk_id, enrolled_at, revoked_at, last_seen, queue_reported"
            f" FROM kiosks WHERE {self.in_compound()} ORDER BY kiosk_id"
        )
        return [
            {
                "kiosk_id": r[0],
                "enrolled_at": r[1],
                "revoked_at": r[2],
                "last_seen": r[3],
                "queue_reported": r[4],
            }
            for r in rows
        ]

"""The kiosk's local ledger (台账): an append-only, hash-chained event log in SQLite.

Every write goes through :meth:`Ledger.append`: one short ``BEGIN IMMEDIATE`` transaction that takes
the next sequence number, chains the hash and commits with WAL and ``synchronous=FULL`` before it
returns, so a record the screen calls "recorded" survives a power cut. Each thread gets its own
connection; the web app, the gate loop and the sync worker share the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, tzinfo
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from kiosk import clock
from kiosk.schema import URGENT_UNSENT, migrate
from sync.contract import EVENT_KINDS, GENESIS_HASH, WIRE_FIELDS, chain_mac, record_hash
from sync.localtime import DEFAULT_ZONE, day_bounds_utc, utc_offset_min, zone
from sync.ops.secrets import write_secret

BUSY_TIMEOUT_MS = 5000
# The keyed chain: the key the hub gave at enrolment, in a file beside the database (0600), never
# inside it, so that a copy of the database alone cannot re-key rewritten records.
CHAIN_KEY_FILE = "chain_key"


class LedgerError(RuntimeError):
    """The ledger could not record an event (disk full, read-only, corrupt). Nothing was stored."""


# An appended record is the wire record (sync.contract), all of it.
_APPEND_COLUMNS = WIRE_FIELDS
_INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(_APPEND_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _APPEND_COLUMNS)})"
)
# The trigger events_continue_chain (kiosk/schema.py m012) refuses a row that does not continue
# the chain where chain_head stands; events_move_head then moves the head.
_NOT_AT_HEAD = "not at the chain head"
_DETAIL_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    problem: str | None = None
    seq: int | None = None


def save_chain_key(data_dir: Path, key: bytes) -> None:
    """Keep the chain key from the enrolment beside the ledger, readable only by its owner."""
    write_secret(data_dir / CHAIN_KEY_FILE, key.hex().encode("ascii"))


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the durability settings every writer must use."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A short ``BEGIN IMMEDIATE`` write: committed when the block ends, rolled back on any error.
    Every write to the kiosk's database goes through here."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _retention_gap(before: int, after: int, purged: list[tuple[int, int]]) -> bool:
    """Were all the sequence numbers between two present records removed by retention?"""
    missing = before + 1
    for first, last in sorted(purged):
        if first <= missing <= last:
            missing = last + 1
    return missing >= after


class Ledger:
    """Append, read and verify the events of one kiosk's database file."""

    def __init__(self, path: Path | str, kiosk_id: str, tz: tzinfo | None = None) -> None:
        self.path = Path(path)
        self.kiosk_id = kiosk_id
        # The kiosk's zone (kiosk.timezone): each record keeps UTC and the offset it had here.
        self.tz = tz if tz is not None else zone(DEFAULT_ZONE)
        self._local = threading.local()
        self._chain_key: bytes | None = None
        # (epoch, next_seq, last_hash) as this process last wrote or read it: an append then needs
        # no read. Only a hint: the trigger that guards the chain checks it inside the transaction.
        self._head: tuple[str, int, str] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self.connection()
            migrate(Database(conn))
            self._ensure_head(conn)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot open the ledger at {self.path}: {exc}") from exc

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (one per thread, as sqlite3 wants)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _ensure_head(self, conn: sqlite3.Connection) -> None:
        with write_transaction(conn):
            row = conn.execute("SELECT kiosk_id FROM chain_head").fetchone()
            if row is None:
                # A new database is a new epoch: a re-imaged SD card never reuses (epoch, seq).
                conn.execute(
                    "INSERT INTO chain_head (kiosk_id, epoch, next_seq, last_hash)"
                    " VALUES (?, ?, 1, ?)",
                    (self.kiosk_id, uuid.uuid4().hex, GENESIS_HASH),
                )
            elif row["kiosk_id"] != self.kiosk_id:
                raise LedgerError(
                    f"{self.path} belongs to kiosk {row['kiosk_id']!r}, not {self.kiosk_id!r}"
                )

    def chain_key(self) -> bytes | None:
        """The chain key, once the kiosk is enrolled (read when it first appears: ``kiosk enrol``
        runs in another process while the gate keeps recording)."""
        if self._chain_key is None:
            try:
                text = (self.path.parent / CHAIN_KEY_FILE).read_text().strip()
                self._chain_key = bytes.fromhex(text) if text else None
            except (OSError, ValueError):
                return None
        return self._chain_key

    def head(self) -> tuple[str, int]:
        """(epoch, next sequence number): where the next record goes."""
        row = self.connection().execute("SELECT epoch, next_seq FROM chain_head").fetchone()
        return row[0], int(row[1])

    @property
    def epoch(self) -> str:
        return self.connection().execute("SELECT epoch FROM chain_head").fetchone()[0]

    def append(
        self,
        kind: str,
        *,
        verdict: str | None = None,
        reason: str | None = None,
        estimate_c: float | None = None,
        threshold_c: float | None = None,
        object_c: float | None = None,
        ambient_c: float | None = None,
        pass_code: str | None = None,
        links_to: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Durably record one event and return it. Raises :class:`LedgerError` on failure."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        facts = clock.now()
        key = self.chain_key()
        conn = self.connection()
        detail_json = _DETAIL_JSON.encode(detail or {})
        offset_min = utc_offset_min(facts.wall_time, self.tz)
        for remembered in (self._head, None):
            try:
                with write_transaction(conn):
                    epoch, seq, prev_hash = remembered or self._read_head(conn)
                    record: dict[str, Any] = {
                        "id": str(uuid.uuid4()),
                        "kiosk_id": self.kiosk_id,
                        "epoch": epoch,
                        "seq": seq,
                        "kind": kind,
                        "wall_time": facts.wall_time,
                        "clock_synced": int(facts.clock_synced),
                        "boot_id": facts.boot_id,
                        "boottime_ns": facts.boottime_ns,
                        "verdict": verdict,
                        "reason": reason,
                        "estimate_c": estimate_c,
                        "threshold_c": threshold_c,
                        "object_c": object_c,
                        "ambient_c": ambient_c,
                        "pass_code": pass_code,
                        "links_to": links_to,
                        "detail": detail_json,
                        "prev_hash": prev_hash,
                        "utc_offset_min": offset_min,
                    }
                    record["hash"] = record_hash(record)
                    record["mac"] = None if key is None else chain_mac(key, record["hash"])
                    conn.execute(_INSERT_EVENT, [record[name] for name in _APPEND_COLUMNS])
            except sqlite3.IntegrityError as exc:
                self._head = None
                if remembered is not None and _NOT_AT_HEAD in str(exc):
                    continue  # another connection appended since: again, from the file's head
                raise LedgerError(f"could not record the {kind} event: {exc}") from exc
            except sqlite3.Error as exc:
                self._head = None
                raise LedgerError(f"could not record the {kind} event: {exc}") from exc
            self._head = (epoch, seq + 1, record["hash"])
            return record
        raise LedgerError(f"could not record the {kind} event: the chain head kept moving")

    def _read_head(self, conn: sqlite3.Connection) -> tuple[str, int, str]:
        row = conn.execute(
            "SELECT epoch, next_seq, last_hash FROM chain_head WHERE kiosk_id = ?",
            (self.kiosk_id,),
        ).fetchone()
        return row[0], int(row[1]), row[2]

    # -- reading -----------------------------------------------------------------------------

    def get(self, event_id: str) -> dict[str, Any] | None:
        row = self.connection().execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return dict(row) if row else None

    def events(self, *, since_seq: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events WHERE seq > ? ORDER BY seq"
        params: tuple[Any, ...] = (since_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return [dict(r) for r in self.connection().execute(sql, params)]

    def iter_events(self) -> Iterator[dict[str, Any]]:
        for row in self.connection().execute("SELECT * FROM events ORDER BY seq"):
            yield dict(row)

    def count(self) -> int:
        return self.connection().execute("SELECT count(*) FROM events").fetchone()[0]

    def unsynced_count(self) -> int:
        sql = "SELECT count(*) FROM events WHERE synced_at IS NULL"
        return self.connection().execute(sql).fetchone()[0]

    def counts_for_day(self, day: date, tz: tzinfo) -> dict[str, int]:
        """Counts of screenings by verdict, and of other events by kind, for a local day in
        ``tz`` (``kiosk.timezone``; a Beijing day starts at 16:00 UTC the day before)."""
        start, end = day_bounds_utc(day, tz)
        rows = self.connection().execute(
            "SELECT CASE kind WHEN 'screening' THEN verdict ELSE kind END AS k, count(*)"
            " FROM events WHERE wall_time >= ? AND wall_time < ? GROUP BY k ORDER BY k",
            (start, end),
        )
        return {row[0]: row[1] for row in rows}

    def verify_chain(self) -> ChainReport:
        """Recompute every hash and link. Retention removes old synced rows: the chain is checked
        from the first row still present, and across the sequence ranges retention recorded."""
        checked = 0
        previous: dict[str, Any] | None = None
        purged = [
            (r[0], r[1])
            for r in self.connection().execute("SELECT first_seq, last_seq FROM purged_ranges")
        ]
        for row in self.iter_events():
            if record_hash(row) != row["hash"]:
                return ChainReport(False, checked, "a record was altered", row["seq"])
            if (
                previous is not None
                and row["prev_hash"] != previous["hash"]
                and not _retention_gap(previous["seq"], row["seq"], purged)
            ):
                return ChainReport(
                    False, checked, "a record is missing or out of order", row["seq"]
                )
            previous = row
            checked += 1
        head = self.connection().execute("SELECT last_hash FROM chain_head").fetchone()
        if previous is not None and head["last_hash"] != previous["hash"]:
            return ChainReport(False, checked, "the newest records are missing", None)
        return ChainReport(True, checked)

    # -- the outbox (sync.outbox.Outbox): what the sync client reads and marks ------------------

    def unsent_batch(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` unsent wire records: urgent ones first, then the oldest. Two index
        range scans, so the cost does not grow with the backlog."""
        conn = self.connection()
        select = f"SELECT {', '.join(WIRE_FIELDS)} FROM events"
        urgent = f"{select} WHERE {URGENT_UNSENT} ORDER BY seq LIMIT ?"
        batch = {row["id"]: dict(row) for row in conn.execute(urgent, (limit,))}
        oldest = f"{select} WHERE synced_at IS NULL ORDER BY seq LIMIT ?"
        for row in conn.execute(oldest, (limit,)):
            if len(batch) >= limit:
                break
            batch.setdefault(row["id"], dict(row))
        return list(batch.values())

    def mark_sent(self, ids: Sequence[str], when: str) -> None:
        conn = self.connection()
        with write_transaction(conn):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                conn.execute(
                    f"UPDATE events SET synced_at = ? WHERE synced_at IS NULL AND id IN ({marks})",
                    (when, *chunk),
                )

    def sent_ids(self) -> list[str]:
        sql = "SELECT id FROM events WHERE synced_at IS NOT NULL ORDER BY seq"
        return [row[0] for row in self.connection().execute(sql)]

    def mark_unsent(self, ids: Sequence[str]) -> None:
        conn = self.connection()
        with write_transaction(conn):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                conn.execute(f"UPDATE events SET synced_at = NULL WHERE id IN ({marks})", chunk)

    def queue(self) -> tuple[int, str | None]:
        """How many records are unsent (counted in the unsent index alone) and the wall time of
        the first of them (one index look-up; min(wall_time) read every unsent row), in one
        statement, so that the two agree while records are appended."""
        row = (
            self.connection()
            .execute(
                "SELECT count(*), (SELECT wall_time FROM events WHERE synced_at IS NULL"
                " ORDER BY seq LIMIT 1) FROM events WHERE synced_at IS NULL"
            )
            .fetchone()
        )
        return int(row[0]), row[1]

    def load_sync_state(self) -> dict[str, Any]:
        rows = self.connection().execute("SELECT key, value FROM sync_state")
        return {row[0]: json.loads(row[1]) for row in rows}

    def save_sync_state(self, state: Mapping[str, Any]) -> None:
        conn = self.connection()
        with write_transaction(conn):
            for key, value in state.items():
                conn.execute(
                    "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key)"
                    " DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )

    def integrity_ok(self) -> bool:
        return self.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"

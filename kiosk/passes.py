"""Resident passes held on the kiosk: loading them from CSV and checking one at the gate.

Until the hub sends the roster, passes come from a CSV file (``kiosk passes load``). A pass is a
code printed as a QR code; the USB scanner types it into the page like a keyboard.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from kiosk.ledger import write_transaction
from sync.contract import PASS_CSV_COLUMNS, normalise_code, parse_pass_row


class PassFileError(ValueError):
    """The pass file cannot be read at all (missing, wrong columns)."""


@dataclass(frozen=True)
class PassCheck:
    ok: bool
    reason: str  # "ok", "format", "unknown", "revoked", "expired"
    code: str | None = None
    quarantined: bool = False  # for the guard's eyes only, never the resident screen


@dataclass(frozen=True)
class LoadReport:
    loaded: int
    rejected: list[tuple[int, str]]  # (line number, why)


def check_pass(row: dict[str, Any] | None, code: str | None, today: date) -> PassCheck:
    """Pure rule: is this pass row good for entry today?"""
    if code is None:
        return PassCheck(False, "format")
    if row is None:
        return PassCheck(False, "unknown", code)
    quarantined = bool(row.get("quarantine_until")) and row["quarantine_until"] >= today.isoformat()
    if row["revoked"]:
        return PassCheck(False, "revoked", code, quarantined)
    if row["expires_on"] and row["expires_on"] < today.isoformat():
        return PassCheck(False, "expired", code, quarantined)
    return PassCheck(True, "ok", code, quarantined)


def lookup(conn: sqlite3.Connection, raw: str, today: date | None = None) -> PassCheck:
    code = normalise_code(raw)
    row = None
    if code is not None:
        found = conn.execute("SELECT * FROM passes WHERE code = ?", (code,)).fetchone()
        row = dict(found) if found else None
    return check_pass(row, code, today or datetime.now(UTC).date())


def load_csv(conn: sqlite3.Connection, path: Path) -> LoadReport:
    """Insert or update passes from a UTF-8 CSV with a header row; bad rows are reported, not
    loaded; good rows are committed together."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PassFileError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise PassFileError(f"{path} is not UTF-8 text (save it as CSV UTF-8)") from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "code" not in reader.fieldnames:
        raise PassFileError(
            f"{path} needs a header row with at least 'code'; columns: "
            + ", ".join(PASS_CSV_COLUMNS)
        )
    good: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    for line, raw in enumerate(reader, start=2):
        try:
            good.append(parse_pass_row(raw))
        except ValueError as exc:
            rejected.append((line, str(exc)))
    upsert(conn, good, source=f"csv:{path.name}")
    return LoadReport(len(good), rejected)


def store_pass(conn: sqlite3.Connection, row: dict[str, Any], *, source: str, now: str) -> None:
    """Insert or update one pass (inside the caller's write transaction)."""
    conn.execute(
        "INSERT INTO passes (code, resident_id, name, building, unit, room, expires_on,"
        " revoked, quarantine_until, source, updated_at)"
        " VALUES (:code, :resident_id, :name, :building, :unit, :room, :expires_on,"
        " :revoked, :quarantine_until, :source, :updated_at)"
        " ON CONFLICT (code) DO UPDATE SET resident_id = excluded.resident_id,"
        " name = excluded.name, building = excluded.building, unit = excluded.unit,"
        " room = excluded.room, expires_on = excluded.expires_on,"
        " revoked = excluded.revoked, quarantine_until = excluded.quarantine_until,"
        " source = excluded.source, updated_at = excluded.updated_at",
        {**row, "source": source, "updated_at": now},
    )


def upsert(conn: sqlite3.Connection, rows: Iterable[dict[str, Any]], *, source: str) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with write_transaction(conn):
        for row in rows:
            store_pass(conn, row, source=source, now=now)

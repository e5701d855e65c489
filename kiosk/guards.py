"""Guard accounts on the kiosk: personal PINs, hashed, with a lockout after repeated failures.

Guards are added with ``kiosk guards add`` until the hub sends them. The lockout state is in the
database, so pulling the plug does not reset it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.ledger import write_transaction
from kiosk.passwords import hash_password as hash_pin
from kiosk.passwords import password_matches as pin_matches

PIN_PATTERN = re.compile(r"^[0-9]{4,8}$")
GUARD_ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")


class GuardError(ValueError):
    """A guard could not be added (bad id, name or PIN)."""


@dataclass(frozen=True)
class UnlockResult:
    ok: bool
    reason: str  # "ok", "wrong_pin", "locked", "unknown"
    guard_id: str | None = None
    name: str | None = None
    retry_after_s: int = 0
    attempts_left: int = 0


def check_guard(guard_id: str, name: str, pin: str) -> str:
    """The rules for a guard account, wherever it is made; returns the name, trimmed."""
    if not GUARD_ID_PATTERN.fullmatch(guard_id):
        raise GuardError("guard id: 1-32 lower-case letters, digits, '-' or '_'")
    name = name.strip()
    if not name or len(name) > 32 or any(c in name for c in "<>&\"'"):
        raise GuardError("name: 1-32 characters, without < > & or quotes")
    if not PIN_PATTERN.fullmatch(pin):
        raise GuardError("PIN: 4 to 8 digits")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise GuardError("PIN: too easy to guess (all the same digit, or a run)")
    return name


def add_guard(
    conn: sqlite3.Connection, guard_id: str, name: str, pin: str, *, source: str = "cli"
) -> None:
    name = check_guard(guard_id, name, pin)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with write_transaction(conn):
        conn.execute(
            "INSERT INTO guards (guard_id, name, pin_hash, source, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guard_id) DO UPDATE SET name = excluded.name,"
            " pin_hash = excluded.pin_hash, failures = 0, locked_until = 0, active = 1,"
            " source = excluded.source, updated_at = excluded.updated_at",
            (guard_id, name, hash_pin(pin), source, now),
        )


def list_guards(conn: sqlite3.Connection) -> list[dict[str, str]]:
    rows = conn.execute("SELECT guard_id, name FROM guards WHERE active = 1 ORDER BY name")
    return [{"guard_id": r[0], "name": r[1]} for r in rows]


def unlock(
    conn: sqlite3.Connection,
    guard_id: str,
    pin: str,
    *,
    max_failures: int,
    lockout_s: float,
    now: float | None = None,
) -> UnlockResult:
    """Check a PIN. ``max_failures`` wrong PINs in a row lock the guard for ``lockout_s``."""
    now = time.time() if now is None else now
    with write_transaction(conn):
        row = conn.execute(
            "SELECT name, pin_hash, failures, locked_until FROM guards"
            " WHERE guard_id = ? AND active = 1",
            (guard_id,),
        ).fetchone()
        if row is None:
            result = UnlockResult(False, "unknown")
        elif row["locked_until"] > now:
            result = UnlockResult(
                False, "locked", guard_id, retry_after_s=int(row["locked_until"] - now) + 1
            )
        elif PIN_PATTERN.fullmatch(pin) and pin_matches(pin, row["pin_hash"]):
            conn.execute(
                "UPDATE guards SET failures = 0, locked_until = 0 WHERE guard_id = ?", (guard_id,)
            )
            result = UnlockResult(True, "ok", guard_id, row["name"])
        else:
            failures = row["failures"] + 1
            if failures >= max_failures:
                conn.execute(
                    "UPDATE guards SET failures = 0, locked_until = ? WHERE guard_id = ?",
                    (now + lockout_s, guard_id),
                )
                result = UnlockResult(False, "locked", guard_id, retry_after_s=int(lockout_s))
            else:
                conn.execute(
                    "UPDATE guards SET failures = ? WHERE guard_id = ?", (failures, guard_id)
                )
                result = UnlockResult(
                    False, "wrong_pin", guard_id, attempts_left=max_failures - failures
                )
    return result

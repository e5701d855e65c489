"""Guard accounts on the kiosk: personal PINs (6-8 digits), hashed, with a back-off after
repeated failures.

Anyone at the gate can pick a guard's name and type PINs, so wrong PINs never lock a guard out:
after ``max_failures`` wrong ones in a row each further try waits 5 s, 10 s, 20 s … up to
``max_wait_s`` (``guard.lockout_s``, 30 s by default). The guard waits at most that long; a
stranger gets under three thousand tries a day, so a 6-digit PIN (a million) holds for about a
year on average. The back-off is in the
database, so pulling the plug does not reset it. Guards are added with ``kiosk guards add``
until the hub sends them.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.ledger import write_transaction
from kiosk.pin_bursts import PinBurst, locked_milestone
from sync import auth
from sync.auth import burn_time, needs_rehash
from sync.auth import hash_password as hash_pin
from sync.auth import password_matches as pin_matches
from sync.contract import PIN_PATTERN, check_guard

FIRST_WAIT_S = 5.0


@dataclass(frozen=True)
class UnlockResult:
    ok: bool
    reason: str  # "ok", "wrong_pin", "locked" (for retry_after_s seconds at most), "unknown"
    guard_id: str | None = None
    name: str | None = None
    retry_after_s: int = 0
    attempts_left: int = 0
    burst: PinBurst | None = None  # wrong PINs for the ledger (kiosk/pin_bursts.py), if any


def add_guard(
    conn: sqlite3.Connection, guard_id: str, name: str, pin: str, *, source: str = "cli"
) -> None:
    name = check_guard(guard_id, name, pin)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with write_transaction(conn):
        conn.execute(
            "INSERT INTO guards (guard_id, name, pin_hash, source, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guard_id) DO UPDATE SET name = excluded.name,"
            " pin_hash = excluded.pin_hash, failures = 0, locked_until = 0, failures_recorded = 0,"
            " failed_since = NULL, last_failed_at = NULL, active = 1,"
            " source = excluded.source, updated_at = excluded.updated_at",
            (guard_id, name, hash_pin(pin), source, now),
        )


def list_guards(conn: sqlite3.Connection) -> list[dict[str, str]]:
    rows = conn.execute("SELECT guard_id, name FROM guards WHERE active = 1 ORDER BY name")
    return [{"guard_id": r[0], "name": r[1]} for r in rows]


def wait_after(failures: int, max_failures: int, max_wait_s: float) -> float:
    """Seconds before the next try after this many wrong PINs in a row."""
    return auth.wait_after(
        failures, free_tries=max_failures, first_wait_s=FIRST_WAIT_S, max_wait_s=max_wait_s
    )


def unlock(
    conn: sqlite3.Connection,
    guard_id: str,
    pin: str,
    *,
    max_failures: int,
    max_wait_s: float,
    now: float | None = None,
) -> UnlockResult:
    """Check a PIN (see the module's text for the back-off). A hash made at an older cost is
    replaced on the next good PIN."""
    now = time.time() if now is None else now
    with write_transaction(conn):
        row = conn.execute(
            "SELECT name, pin_hash, failures, locked_until, failures_recorded, failed_since,"
            " last_failed_at FROM guards"
            " WHERE guard_id = ? AND active = 1",
            (guard_id,),
        ).fetchone()
        if row is None:
            burn_time(pin)  # as slow as a known guard
            result = UnlockResult(False, "unknown")
        elif row["failures"] >= max_failures and row["locked_until"] > now:
            result = UnlockResult(
                False, "locked", guard_id, retry_after_s=int(row["locked_until"] - now) + 1
            )
        elif PIN_PATTERN.fullmatch(pin) and pin_matches(pin, row["pin_hash"]):
            # The right PIN ends the run of wrong ones: what no record covers yet is recorded.
            unrecorded = row["failures"] - row["failures_recorded"]
            burst = None
            if unrecorded > 0:
                burst = PinBurst(
                    "wrong",
                    guard_id,
                    row["name"],
                    unrecorded,
                    row["failures"],
                    row["failed_since"],
                    row["last_failed_at"],
                )
            conn.execute(
                "UPDATE guards SET failures = 0, locked_until = 0, failures_recorded = 0,"
                " failed_since = NULL, last_failed_at = NULL WHERE guard_id = ?",
                (guard_id,),
            )
            if needs_rehash(row["pin_hash"]):
                conn.execute(
                    "UPDATE guards SET pin_hash = ? WHERE guard_id = ?", (hash_pin(pin), guard_id)
                )
            result = UnlockResult(True, "ok", guard_id, row["name"], burst=burst)
        else:
            failures = row["failures"] + 1
            wait = wait_after(failures, max_failures, max_wait_s)
            at = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
            since = row["failed_since"] or at
            burst = None
            recorded = row["failures_recorded"]
            if locked_milestone(failures, max_failures):
                burst = PinBurst(
                    "locked", guard_id, row["name"], failures - recorded, failures, since, at
                )
                recorded = failures
            conn.execute(
                "UPDATE guards SET failures = ?, locked_until = ?, failures_recorded = ?,"
                " failed_since = ?, last_failed_at = ? WHERE guard_id = ?",
                (failures, now + wait, recorded, since, at, guard_id),
            )
            result = UnlockResult(
                False,
                "locked" if wait else "wrong_pin",
                guard_id,
                retry_after_s=int(wait + 0.999),
                attempts_left=max(0, max_failures - failures),
                burst=burst,
            )
    return result

"""Applying the roster the hub sends: passes, guards, risk areas, places and settings.

Each batch of changes is applied in one transaction, before the client moves its cursor, so a
crash half-way applies the batch again (every change is an upsert or a delete).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from kiosk.ledger import Ledger, write_transaction
from kiosk.passes import store_pass
from kiosk.settings import BY_KEY
from sync.contract import HUB_SETTINGS


def apply_changes(ledger: Ledger, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply roster changes; returns the settings now set by the hub."""
    conn = ledger.connection()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with write_transaction(conn):
        for change in changes:
            kind, key, data = change.get("kind"), change.get("key"), change.get("data")
            if not isinstance(key, str):
                continue
            if kind == "pass":
                _pass(conn, key, data, now)
            elif kind == "guard":
                _guard(conn, key, data, now)
            elif kind == "risk_area":
                if data is None:
                    conn.execute("DELETE FROM risk_areas WHERE name = ?", (key,))
                else:
                    conn.execute(
                        "INSERT INTO risk_areas (name, source) VALUES (?, 'hub')"
                        " ON CONFLICT (name) DO NOTHING",
                        (key,),
                    )
            elif kind == "place":
                if data is None:
                    conn.execute("DELETE FROM places WHERE name = ?", (key,))
                else:
                    conn.execute(
                        "INSERT INTO places (name, rounds_per_day, source) VALUES (?, ?, 'hub')"
                        " ON CONFLICT (name) DO UPDATE"
                        " SET rounds_per_day = excluded.rounds_per_day",
                        (key, int(data.get("rounds_per_day") or 1)),
                    )
            elif kind == "block_clearance":
                pass  # acted on by the gate (SyncWorker): an override in the ledger, once
            elif kind == "duty_clearance":
                _clearance(conn, key, data)
            elif kind == "setting" and key in HUB_SETTINGS:
                if data is None:
                    conn.execute("DELETE FROM hub_settings WHERE key = ?", (key,))
                else:
                    conn.execute(
                        "INSERT INTO hub_settings (key, value) VALUES (?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(data.get("value"))),
                    )
    return hub_settings(ledger)


def hub_settings(ledger: Ledger) -> dict[str, Any]:
    rows = ledger.connection().execute("SELECT key, value FROM hub_settings")
    return {row[0]: json.loads(row[1]) for row in rows if row[0] in BY_KEY}


def _pass(conn: Any, code: str, data: dict[str, Any] | None, now: str) -> None:
    if data is None:
        conn.execute("DELETE FROM passes WHERE code = ?", (code,))
        return
    row = {
        "code": code,
        "resident_id": data.get("resident_id"),
        "name": data.get("name"),
        "building": data.get("building"),
        "unit": data.get("unit"),
        "room": data.get("room"),
        "expires_on": data.get("expires_on"),
        "revoked": int(bool(data.get("revoked"))),
        "quarantine_until": _quarantine_until(data),
    }
    store_pass(conn, row, source="hub", now=now)


# The hub sends a flag, not the quarantine's dates: held until the hub sends the pass again.
UNTIL_HUB_CLEARS = "9999-12-31"


def _quarantine_until(data: dict[str, Any]) -> str | None:
    if "quarantined" in data:
        return UNTIL_HUB_CLEARS if data.get("quarantined") else None
    return data.get("quarantine_until")  # a hub from before the flag


def _guard(conn: Any, guard_id: str, data: dict[str, Any] | None, now: str) -> None:
    if data is None:
        conn.execute("UPDATE guards SET active = 0 WHERE guard_id = ?", (guard_id,))
        return
    # The hub sends the PIN's hash, never the PIN.
    conn.execute(
        "INSERT INTO guards (guard_id, name, pin_hash, source, updated_at)"
        " VALUES (?, ?, ?, 'hub', ?) ON CONFLICT (guard_id) DO UPDATE SET name = excluded.name,"
        " pin_hash = excluded.pin_hash, active = 1, source = 'hub',"
        " updated_at = excluded.updated_at",
        (guard_id, data["name"], data["pin_hash"], now),
    )


def _clearance(conn: Any, block_id: str, data: dict[str, Any] | None) -> None:
    """A manager cleared (or took back the clearance of) a staff fever block at sign-on."""
    if data is None:
        conn.execute("DELETE FROM duty_clearances WHERE block_id = ?", (block_id,))
        return
    conn.execute(
        "INSERT INTO duty_clearances (block_id, guard_id, cleared_by, cleared_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (block_id) DO UPDATE SET guard_id = excluded.guard_id,"
        " cleared_by = excluded.cleared_by, cleared_at = excluded.cleared_at",
        (
            block_id,
            str(data.get("guard_id") or ""),
            str(data.get("by") or ""),
            str(data.get("at") or ""),
        ),
    )

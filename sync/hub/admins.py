"""Admin accounts on the hub: roles, hashed passwords, lockout, and the audit log."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from kiosk.passwords import hash_password, password_matches
from sync.hub.store import HubStore, now_iso

ROLES = ("admin", "viewer", "health")  # manages / reads / fever events and quarantine
USERNAME = re.compile(r"^[a-z0-9_.-]{2,32}$")
MAX_FAILURES = 5
LOCKOUT_S = 900.0


class AccountError(ValueError):
    """An account could not be made; the message says why."""


@dataclass(frozen=True)
class SignIn:
    ok: bool
    reason: str  # "ok", "wrong", "locked"
    username: str | None = None
    role: str | None = None
    retry_after_s: int = 0


def create_admin(store: HubStore, username: str, password: str, role: str) -> None:
    if not USERNAME.fullmatch(username):
        raise AccountError("username: 2-32 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError("role: one of " + ", ".join(ROLES))
    if len(password) < 10:
        raise AccountError("password: at least 10 characters")
    with store.transaction():
        store.execute(
            "INSERT INTO admins (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,"
            " role = excluded.role, failures = 0, locked_until = 0, active = 1",
            (username, hash_password(password), role, now_iso()),
        )
        audit(store, None, "account.set", {"username": username, "role": role})


def sign_in(store: HubStore, username: str, password: str, *, now: float | None = None) -> SignIn:
    """Check a password. Five wrong in a row lock the account for 15 minutes. The answer never
    says whether the username exists."""
    now = time.time() if now is None else now
    with store.transaction():
        row = store.fetch_one(
            "SELECT password_hash, role, failures, locked_until FROM admins"
            " WHERE username = ? AND active = 1",
            (username,),
        )
        if row is None:
            result = SignIn(False, "wrong")
        elif row[3] > now:
            result = SignIn(False, "locked", username, retry_after_s=int(row[3] - now) + 1)
        elif password_matches(password, row[0]):
            store.execute(
                "UPDATE admins SET failures = 0, locked_until = 0 WHERE username = ?", (username,)
            )
            result = SignIn(True, "ok", username, row[1])
        else:
            failures = row[2] + 1
            locked_until = now + LOCKOUT_S if failures >= MAX_FAILURES else 0
            store.execute(
                "UPDATE admins SET failures = ?, locked_until = ? WHERE username = ?",
                (0 if locked_until else failures, locked_until, username),
            )
            result = (
                SignIn(False, "locked", username, retry_after_s=int(LOCKOUT_S))
                if locked_until
                else SignIn(False, "wrong")
            )
        audit(store, username, "sign_in." + result.reason, {})
    return result


def audit(store: HubStore, username: str | None, action: str, detail: dict[str, Any]) -> None:
    """Append to the audit log (inside the caller's transaction when there is one)."""
    store.execute(
        "INSERT INTO audit (at, username, action, detail) VALUES (?, ?, ?, ?)",
        (now_iso(), username, action, json.dumps(detail, ensure_ascii=False, sort_keys=True)),
    )


def audit_log(store: HubStore, limit: int = 200) -> list[dict[str, Any]]:
    rows = store.fetch_all(
        "SELECT at, username, action, detail FROM audit ORDER BY aid DESC LIMIT ?", (limit,)
    )
    return [
        {"at": r[0], "username": r[1], "action": r[2], "detail": json.loads(r[3])} for r in rows
    ]


def session_secret(store: HubStore) -> str:
    """The key that signs admin sessions: made once, kept in the database, so every hub process
    (and a restarted one) shares it."""
    with store.transaction():
        row = store.fetch_one("SELECT value FROM hub_secrets WHERE name = 'session'")
        if row is not None:
            return row[0]
        value = secrets.token_hex(32)
        store.execute("INSERT INTO hub_secrets (name, value) VALUES ('session', ?)", (value,))
        return value

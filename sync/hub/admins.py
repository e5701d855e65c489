"""Admin accounts on the hub: roles, hashed passwords, throttled sign-in, server-side sessions,
and the audit log.

Sign-in is throttled per account *and* source address: after ``FREE_TRIES`` wrong passwords
from one address the next try from that address waits 1 s, then 2 s, 4 s … up to ``MAX_WAIT_S``.
A stranger guessing from elsewhere never locks the owner out, and an unknown username is
throttled, answered and timed exactly like a known one. A try is claimed with one conditional
UPDATE before the password is checked, so parallel guessers on PostgreSQL cannot get more tries
than the schedule allows.

Sessions live in the database (only a hash of the cookie's random id): signing out, a new
password, a new role or a disabled account end them at once; they also end after
``SESSION_IDLE_S`` without a request and ``SESSION_MAX_S`` after sign-in.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from sync import auth
from sync.auth import (
    burn_time,
    hash_password,
    needs_rehash,
    new_session,
    password_matches,
    session_digest,
)
from sync.hub.store import HubStore, now_iso

# manages / reads / fever events and quarantine (each in its compounds) / reads a district
ROLES = ("admin", "viewer", "health", "district")
ROLE_WORDS = {"admin": "管理员", "viewer": "查看", "health": "卫生专员", "district": "街道/社区"}
USERNAME = re.compile(r"^[a-z0-9_.-]{2,32}$")
FREE_TRIES = 5
MAX_WAIT_S = 900.0
SESSION_IDLE_S = 30 * 60
SESSION_MAX_S = 12 * 3600
THROTTLE_FORGET_S = 86400.0


class AccountError(ValueError):
    """An account could not be made; the message says why."""


@dataclass(frozen=True)
class SignIn:
    ok: bool
    reason: str  # "ok", "wrong", "wait"
    username: str | None = None
    role: str | None = None
    retry_after_s: int = 0


@dataclass(frozen=True)
class Session:
    sid: str  # the cookie's value; only its hash is stored
    username: str
    role: str
    csrf: str
    compound_id: int | None = None  # the compound picked on the pages (None: the first)


def wait_after(failures: int) -> float:
    """Seconds to wait before the next try after this many failures in a row."""
    return auth.wait_after(failures, free_tries=FREE_TRIES, first_wait_s=1.0, max_wait_s=MAX_WAIT_S)


def create_admin(
    store: HubStore,
    username: str,
    password: str,
    role: str,
    compounds: list[str] | None = None,
    district: str | None = None,
) -> None:
    """Create an account, or reset its password, role and compounds; its sessions end.
    ``compounds``: the names of the compounds it sees (none given: the hub's only compound);
    a district account (role ``district``) names its district instead."""
    if not USERNAME.fullmatch(username):
        raise AccountError("username: 2-32 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError("role: one of " + ", ".join(ROLES))
    if len(password) < 10:
        raise AccountError("password: at least 10 characters")
    district = (district or "").strip()
    if role == "district":
        if not district or compounds:
            raise AccountError("街道/社区账户须用 --district 指定所辖街道或社区（不用 --compound）")
        ids: list[int] = []
    else:
        if district:
            raise AccountError("只有街道/社区账户（--role district）才指定 --district")
        ids = _compound_ids(store, compounds)
    with store.transaction():
        store.execute(
            "INSERT INTO admins (username, password_hash, role, created_at, district)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,"
            " role = excluded.role, district = excluded.district, failures = 0,"
            " locked_until = 0, active = 1",
            (username, hash_password(password), role, now_iso(), district or None),
        )
        store.execute("DELETE FROM account_compounds WHERE username = ?", (username,))
        for compound_id in ids:
            store.execute(
                "INSERT INTO account_compounds (username, compound_id) VALUES (?, ?)",
                (username, compound_id),
            )
        store.execute("DELETE FROM admin_sessions WHERE username = ?", (username,))
        names = [  # the audit log keeps the compounds' names, as its reader knows them
            name
            for compound_id, name in store.fetch_all("SELECT compound_id, name FROM compounds")
            if compound_id in ids
        ]
        audit(
            store,
            None,
            "account.set",
            {"username": username, "role": role, "compounds": names, "district": district},
        )


def _compound_ids(store: HubStore, names: list[str] | None) -> list[int]:
    from sync.hub import compounds
    from sync.hub.store import CompoundError

    try:
        if not names:
            return [store.write_compound()]
        return sorted({compounds.by_name(store, name).compound_id for name in names})
    except CompoundError as exc:
        raise AccountError(str(exc)) from None


def set_active(store: HubStore, username: str, active: bool) -> bool:
    """Disable (or enable again) an account; disabling ends its sessions at once."""
    with store.transaction():
        cursor = store.execute(
            "UPDATE admins SET active = ? WHERE username = ?", (int(active), username)
        )
        if not active:
            store.execute("DELETE FROM admin_sessions WHERE username = ?", (username,))
        action = "account.enable" if active else "account.disable"
        audit(store, None, action, {"username": username})
    return cursor.rowcount == 1


def _claim_try(
    store: HubStore, bucket: str, now: float, *, free_tries: int = 0, wait: Any = None
) -> float:
    """Take one try from the bucket; 0 when taken, else the seconds to wait. One conditional
    UPDATE: PostgreSQL re-checks its WHERE after a concurrent writer commits, so two guessers
    cannot both take the last free try."""
    free_tries = free_tries or FREE_TRIES
    wait = wait or wait_after
    with store.transaction():
        store.execute(
            "INSERT INTO sign_in_throttle (bucket, failures, next_at, updated_at)"
            " VALUES (?, 0, 0, ?) ON CONFLICT (bucket) DO NOTHING",
            (bucket, now),
        )
        # Count the try as a failure before checking: a success resets the bucket afterwards.
        row = store.fetch_one(
            "UPDATE sign_in_throttle SET failures = failures + 1, updated_at = ?"
            " WHERE bucket = ? AND (failures < ? OR next_at <= ?) RETURNING failures",
            (now, bucket, free_tries, now),
        )
        if row is not None:  # the row stays locked until commit: the next claimer sees this
            store.execute(
                "UPDATE sign_in_throttle SET next_at = ? WHERE bucket = ?",
                (now + wait(int(row[0])), bucket),
            )
        if row is not None:
            return 0.0
        waiting = store.fetch_one(
            "SELECT next_at FROM sign_in_throttle WHERE bucket = ?", (bucket,)
        )
    return max(1.0, float(waiting[0]) - now)


# Look-ups by ID number: a person at the management office shows their ID now and then; an
# account (or an address) that asks hundreds of times is recovering ID numbers from their
# structure (region, birth date, sequence, check digit). Each account and each source address
# has LOOKUP_FREE look-ups, then each further one waits longer (1 s, 2 s, 4 s … 15 minutes); a
# quiet THROTTLE_FORGET_S forgets them. Look-ups are counted, never reset by a hit.
LOOKUP_FREE = 20


def lookup_wait(failures: int) -> float:
    return auth.wait_after(
        failures, free_tries=LOOKUP_FREE, first_wait_s=1.0, max_wait_s=MAX_WAIT_S
    )


def claim_lookup(
    store: HubStore, username: str, source: str, now: float | None = None
) -> tuple[float, int]:
    """Take one ID look-up for ``username`` from ``source``: (seconds to wait, 0 when allowed;
    the look-ups counted for the account, for the audit)."""
    now = time.time() if now is None else now
    waits = [
        _claim_try(store, session_digest(bucket), now, free_tries=LOOKUP_FREE, wait=lookup_wait)
        for bucket in (f"lookup\naccount\n{username}", f"lookup\nsource\n{source}")
    ]
    row = store.fetch_one(
        "SELECT failures FROM sign_in_throttle WHERE bucket = ?",
        (session_digest(f"lookup\naccount\n{username}"),),
    )
    return max(waits), int(row[0]) if row else 0


def sign_in(
    store: HubStore, username: str, password: str, *, source: str = "", now: float | None = None
) -> SignIn:
    """Check a password (see the module's text). The answer never says whether the username
    exists, and takes the same time either way."""
    now = time.time() if now is None else now
    bucket = session_digest(f"{username}\n{source}")
    wait = _claim_try(store, bucket, now)
    row = None
    if wait:
        result = SignIn(False, "wait", retry_after_s=int(wait) + 1)
    else:
        row = store.fetch_one(
            "SELECT password_hash, role FROM admins WHERE username = ? AND active = 1",
            (username,),
        )
        if row is None:
            burn_time(password)
            result = SignIn(False, "wrong")
        elif password_matches(password, row[0]):
            result = SignIn(True, "ok", username, row[1])
        else:
            result = SignIn(False, "wrong")
    with store.transaction():
        if result.ok:
            store.execute("DELETE FROM sign_in_throttle WHERE bucket = ?", (bucket,))
            if row is not None and needs_rehash(
                row[0]
            ):  # today's cost, now that the password is known
                store.execute(
                    "UPDATE admins SET password_hash = ? WHERE username = ?",
                    (hash_password(password), username),
                )
        store.execute(
            "DELETE FROM sign_in_throttle WHERE updated_at < ?", (now - THROTTLE_FORGET_S,)
        )
        # The name typed is kept only when it is an account (else it may be a password).
        audit(
            store,
            username if row is not None else None,
            "sign_in." + result.reason,
            {"source": source},
        )
    return result


def start_session(store: HubStore, username: str, *, now: float | None = None) -> Session:
    now = time.time() if now is None else now
    sid, csrf = new_session()
    with store.transaction():
        row = store.fetch_one(
            "SELECT role FROM admins WHERE username = ? AND active = 1", (username,)
        )
        if row is None:
            raise AccountError("no such active account")
        store.execute(  # ended sessions go (expired ones are refused anyway)
            "DELETE FROM admin_sessions WHERE seen_at < ? OR created_at < ?",
            (now - SESSION_IDLE_S, now - SESSION_MAX_S),
        )
        store.execute(
            "INSERT INTO admin_sessions (sid_hash, username, csrf, created_at, seen_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (session_digest(sid), username, csrf, now, now),
        )
    return Session(sid, username, row[0], csrf)


def current_session(store: HubStore, sid: str, *, now: float | None = None) -> Session | None:
    """The live session for a cookie's id, with the account's role as it is now; touching it
    moves its idle deadline. None when it ended, expired or its account is disabled."""
    now = time.time() if now is None else now
    row = store.fetch_one(
        "SELECT s.username, a.role, s.csrf, s.compound_id FROM admin_sessions s"
        " JOIN admins a ON a.username = s.username AND a.active = 1"
        " WHERE s.sid_hash = ? AND s.seen_at > ? AND s.created_at > ?",
        (session_digest(sid), now - SESSION_IDLE_S, now - SESSION_MAX_S),
    )
    if row is None:
        return None
    with store.transaction():
        store.execute(
            "UPDATE admin_sessions SET seen_at = ? WHERE sid_hash = ?", (now, session_digest(sid))
        )
    return Session(sid, row[0], row[1], row[2], None if row[3] is None else int(row[3]))


def pick_compound(store: HubStore, sid: str, compound_id: int) -> None:
    """Remember the compound a session's pages show (the caller checked the account may)."""
    with store.transaction():
        store.execute(
            "UPDATE admin_sessions SET compound_id = ? WHERE sid_hash = ?",
            (compound_id, session_digest(sid)),
        )


def end_session(store: HubStore, sid: str) -> None:
    with store.transaction():
        store.execute("DELETE FROM admin_sessions WHERE sid_hash = ?", (session_digest(sid),))
        store.execute(
            "DELETE FROM admin_sessions WHERE seen_at < ? OR created_at < ?",
            (time.time() - SESSION_IDLE_S, time.time() - SESSION_MAX_S),
        )


def audit(store: HubStore, username: str | None, action: str, detail: dict[str, Any]) -> None:
    """Append to the audit log (inside the caller's transaction when there is one), in the
    store's compound; from the whole hub, in its only compound, or in none when it has several
    (the hub's own entries: sign-ins, accounts, which no compound's admin reads)."""
    compound = store.compound
    if compound is None:
        only = store.fetch_all("SELECT compound_id FROM compounds LIMIT 2")
        compound = int(only[0][0]) if len(only) == 1 else None
    store.execute(
        "INSERT INTO audit (at, username, action, detail, compound_id) VALUES (?, ?, ?, ?, ?)",
        (
            now_iso(),
            username,
            action,
            json.dumps(detail, ensure_ascii=False, sort_keys=True),
            compound,
        ),
    )


def audit_log(store: HubStore, limit: int = 200) -> list[dict[str, Any]]:
    """The newest entries: for a compound, its own and the sign-ins of its accounts; for the
    whole hub (``hub audit``), every entry, with its compound's name (None: the hub's own)."""
    scope = "1 = 1"
    if store.compound is not None:
        own = int(store.compound)
        scope = (
            f"(a.compound_id = {own} OR (a.compound_id IS NULL AND a.action IN ('sign_in.ok',"
            " 'sign_in.wrong', 'sign_in.wait') AND"
            " a.username IN (SELECT username FROM account_compounds"
            f" WHERE compound_id = {own})))"
        )
    rows = store.fetch_all(
        "SELECT a.at, a.username, a.action, a.detail, c.name FROM audit a"
        f" LEFT JOIN compounds c ON c.compound_id = a.compound_id WHERE {scope}"
        " ORDER BY a.aid DESC LIMIT ?",
        (limit,),
    )
    return [
        {
            "at": r[0],
            "username": r[1],
            "action": r[2],
            "detail": json.loads(r[3]),
            "compound": r[4],
        }
        for r in rows
    ]

"""Authentication for the guard screen (kiosk) and the admin pages (hub), in one place: hashes
for PINs and passwords, the back-off after wrong ones, sessions that lock when idle, and the CSRF
check. The stores differ (the kiosk's guards table, the hub's database); the rules do not.

**Hashes.** Salted scrypt, never stored in clear. A hash carries its own parameters
(``scrypt$n=65536,r=8,p=1$salt$digest``), so the cost can be raised later: ``needs_rehash`` tells
the caller, after a successful sign-in, to store a new hash at today's cost. Hashes from before
parameters were stored (``scrypt$salt$digest``) used n=2**14. Cost: n=2**16, r=8 (64 MiB, about
0.2 s per hash on one core of the project's test machine, see docs/guard.md). A stolen SD card's
6-digit PIN then takes days to find offline, not seconds.

**Back-off.** After ``free_tries`` wrong answers in a row each further try waits ``first_wait_s``,
then twice that, and so on up to ``max_wait_s``: never a lockout that a stranger could use to keep
the owner out (the callers keep the count per guard, or per account and address).

**Sessions.** A session is a random id (only the cookie holds it; the hub stores its hash) and a
CSRF token every change must carry; it ends after ``idle_s`` without a touch.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

# -- hashes ----------------------------------------------------------------------------------

SCRYPT = {"n": 2**16, "r": 8, "p": 1}
LEGACY_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_N = 2**20  # refuse absurd parameters in a stored hash (memory)


def _digest(secret: str, salt: bytes, params: dict[str, int]) -> bytes:
    memory = 128 * params["r"] * (params["n"] + params["p"] + 2)
    return hashlib.scrypt(secret.encode(), salt=salt, dklen=32, maxmem=memory + 2**20, **params)


def hash_password(secret: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = _digest(secret, salt, SCRYPT)
    params = ",".join(f"{k}={v}" for k, v in SCRYPT.items())
    return f"scrypt${params}${salt.hex()}${digest.hex()}"


def _parse(stored: str) -> tuple[dict[str, int], bytes, str] | None:
    parts = stored.split("$")
    try:
        if len(parts) == 3 and parts[0] == "scrypt":
            return dict(LEGACY_SCRYPT), bytes.fromhex(parts[1]), parts[2]
        if len(parts) == 4 and parts[0] == "scrypt":
            params = {k: int(v) for k, v in (item.split("=") for item in parts[1].split(","))}
            if set(params) != {"n", "r", "p"} or not 2 <= params["n"] <= MAX_N:
                return None
            if params["n"] & (params["n"] - 1) or not 1 <= params["r"] <= 32:
                return None
            if not 1 <= params["p"] <= 4:
                return None
            return params, bytes.fromhex(parts[2]), parts[3]
    except ValueError:
        return None
    return None


def password_matches(secret: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        return False
    params, salt, digest_hex = parsed
    return hmac.compare_digest(_digest(secret, salt, params).hex(), digest_hex)


def needs_rehash(stored: str) -> bool:
    """True when the stored hash was made at another cost than today's."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != SCRYPT


def burn_time(secret: str) -> None:
    """Spend the time of one check, so that an unknown account answers as slowly as a known
    one (no timing oracle for usernames)."""
    _digest(secret, b"\0" * 16, SCRYPT)


# -- back-off --------------------------------------------------------------------------------


def wait_after(failures: int, *, free_tries: int, first_wait_s: float, max_wait_s: float) -> float:
    """Seconds before the next try after ``failures`` wrong answers in a row."""
    if failures < free_tries:
        return 0.0
    return min(max_wait_s, first_wait_s * 2.0 ** min(failures - free_tries, 16))


# -- sessions and CSRF -----------------------------------------------------------------------


def new_session() -> tuple[str, str]:
    """A session's random id (for the cookie) and its CSRF token."""
    return secrets.token_urlsafe(32), new_csrf()


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def session_digest(sid: str) -> str:
    """What a server keeps of a session id: its hash (a copy of the store opens nothing)."""
    return hashlib.sha256(sid.encode()).hexdigest()


def csrf_ok(given: object, expected: object) -> bool:
    """Does the token a request carries match the session's? In constant time; anything but a
    non-empty text (a missing field, a number, non-ASCII) is a mismatch, never an error."""
    if not isinstance(given, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


class IdleSessions:
    """Sessions held in memory (the kiosk's guard screen: a few at most, gone at a restart), each
    ending after ``idle_s`` without a touch. ``clock`` is monotonic seconds."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._live: dict[str, dict[str, Any]] = {}

    def start(self, **info: Any) -> tuple[str, str]:
        """A new session holding ``info``; returns (id, CSRF token)."""
        sid, csrf = new_session()
        with self._lock:
            self._live[sid] = {**info, "csrf": csrf, "seen": self._clock()}
        return sid, csrf

    def get(self, sid: str, idle_s: float) -> dict[str, Any] | None:
        """The session's info (with its ``csrf``), or None when it ended or idled out."""
        with self._lock:
            now = self._clock()
            for key in [k for k, v in self._live.items() if now - v["seen"] > idle_s]:
                del self._live[key]
            info = self._live.get(sid)
            return None if info is None else dict(info)

    def touch(self, sid: str, at: float) -> None:
        """The owner acted at ``at`` (the same clock); a later touch moves the idle deadline."""
        with self._lock:
            info = self._live.get(sid)
            if info is not None and at > info["seen"]:
                info["seen"] = at

    def end(self, sid: str) -> None:
        with self._lock:
            self._live.pop(sid, None)

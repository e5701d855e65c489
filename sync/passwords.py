"""Salted scrypt hashes for guard PINs and admin passwords (never stored in clear).

A hash carries its own parameters (``scrypt$n=65536,r=8,p=1$salt$digest``), so the cost can be
raised later: ``needs_rehash`` tells the caller, after a successful sign-in, to store a new hash
at today's cost. Hashes from before parameters were stored (``scrypt$salt$digest``) used n=2**14.

Cost: n=2**16, r=8 (64 MiB, about 0.2 s per hash on one core of the project's test machine, see
docs/guard.md). A stolen SD card's 6-digit PIN then takes days to find offline, not seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

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

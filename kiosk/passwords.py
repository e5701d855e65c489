"""Salted scrypt hashes for guard PINs and admin passwords (never stored in clear)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# scrypt at n=2**14 takes ~50 ms on a Pi 4: cheap for one sign-in, slow for guessing a stolen file.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(secret: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(secret: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)

"""The kiosk's own secret (signs the guard's session cookie): made once, kept in the data dir."""

from __future__ import annotations

import secrets
from pathlib import Path

from sync.ops.secrets import write_secret


def load_or_create_secret(path: Path) -> bytes:
    """Read the secret, or create it (mode 0600) when missing. Never regenerated when present, so
    a restart does not sign out a guard mid-shift."""
    try:
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    secret = secrets.token_bytes(32)
    write_secret(path, secret)
    return secret

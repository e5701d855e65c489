"""The hub's two keys, kept outside the database: one signs admin session cookies, one keys the
hash of ID numbers. A copy of the database alone then forges no session and gives back no ID.

Where they come from, first found wins:
1. systemd credentials (``LoadCredential=session.key:…`` → ``$CREDENTIALS_DIRECTORY``);
2. files in the key directory (``--keys``, default /etc/menwei-hub/keys), mode 0600;
3. hubs from before this moved them: the rows in ``hub_secrets`` are written to the files and
   deleted from the database (the ID key keeps its value, so existing ID hashes still match);
4. otherwise made now (64 random bytes) and written to the files.
See docs/admin.md ("Keys") for rotation.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sync.ops.secrets import write_secret

if TYPE_CHECKING:
    from sync.hub.store import HubStore

DEFAULT_KEY_DIR = Path("/etc/menwei-hub/keys")
NAMES = {"session": "session.key", "id_key": "id.key"}  # hub_secrets name -> file name
MIN_BYTES = 32


class KeyError_(RuntimeError):
    """A key cannot be read or written; the message says where and what to do."""


@dataclass(frozen=True)
class HubKeys:
    session: bytes
    id_key: bytes

    @classmethod
    def ephemeral(cls) -> HubKeys:
        """Fresh keys held in memory only (tests, benchmarks): nothing survives the process."""
        return cls(secrets.token_bytes(64), secrets.token_bytes(64))


def _write_new(path: Path, value: bytes) -> None:
    try:
        write_secret(path, value, replace=False)
    except OSError as exc:
        raise KeyError_(f"cannot create the key file {path}: {exc.strerror}") from None


def _read(path: Path) -> bytes | None:
    try:
        # Exactly the bytes written: random key bytes may begin or end with a whitespace byte,
        # and stripping them would change the key at the next start.
        value = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyError_(f"cannot read the key file {path}: {exc.strerror}") from None
    if len(value) < MIN_BYTES:
        raise KeyError_(f"the key file {path} is shorter than {MIN_BYTES} bytes")
    if path.stat().st_mode & 0o077:
        raise KeyError_(f"the key file {path} is readable by others: chmod 600 {path}")
    return value


def _legacy(store: HubStore | None, name: str) -> bytes | None:
    if store is None:
        return None
    row = store.fetch_one("SELECT value FROM hub_secrets WHERE name = ?", (name,))
    if row is None:
        return None
    # The old hub used the hex text itself as the session key and its bytes as the ID key.
    return bytes.fromhex(row[0]) if name == "id_key" else row[0].encode()


def load_keys(directory: Path, store: HubStore | None = None) -> HubKeys:
    """Read the keys (see the module's text); make the missing ones; move old ones out of the
    database."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    found: dict[str, bytes] = {}
    for name, file_name in NAMES.items():
        value = _read(Path(credentials) / file_name) if credentials else None
        if value is None:
            value = _read(directory / file_name)
        legacy = _legacy(store, name)
        if value is None:
            value = legacy if legacy is not None else secrets.token_bytes(64)
            _write_new(directory / file_name, value)
        elif legacy is not None and legacy != value:
            raise KeyError_(
                f"the database still holds an old {name} that differs from {directory / file_name};"
                " move the file away to take the database's key (ID look-ups need it)"
            )
        found[name] = value
    if store is not None:
        with store.transaction():
            store.execute("DELETE FROM hub_secrets")
    return HubKeys(session=found["session"], id_key=found["id_key"])

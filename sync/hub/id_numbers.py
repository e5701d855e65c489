"""Mainland resident ID numbers (GB 11643): checked, then kept only masked and as a keyed hash.

The full number is never stored. The hash (HMAC-SHA256 with a key kept in the hub's database)
lets an admin find a resident by the number a person shows, without the numbers being
recoverable from a copy of the residents table alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sync.hub.store import HubStore

ID_NUMBER = re.compile(r"^[1-9][0-9]{16}[0-9X]$")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def valid_id_number(raw: str) -> str | None:
    number = raw.strip().upper()
    if not ID_NUMBER.fullmatch(number):
        return None
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], WEIGHTS, strict=True))
    return number if CHECK[total % 11] == number[17] else None


def mask(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def id_key(store: HubStore) -> bytes:
    with store.transaction():
        row = store.fetch_one("SELECT value FROM hub_secrets WHERE name = 'id_key'")
        if row is None:
            value = secrets.token_hex(32)
            store.execute("INSERT INTO hub_secrets (name, value) VALUES ('id_key', ?)", (value,))
        else:
            value = row[0]
    return bytes.fromhex(value)


def keyed_hash(key: bytes, number: str) -> str:
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()

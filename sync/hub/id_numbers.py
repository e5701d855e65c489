"""Mainland resident ID numbers (GB 11643): checked, then kept only masked and as a keyed hash.

The full number is never stored. The hash (HMAC-SHA256 with a key kept outside the database,
see sync/hub/keys.py) lets an admin find a resident by the number a person shows, without the
numbers being recoverable from a copy of the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re

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
    return store.keys.id_key


def keyed_hash(key: bytes, number: str) -> str:
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()

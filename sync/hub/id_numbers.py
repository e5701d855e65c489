"""Mainland resident ID numbers (GB 11643) at the hub: kept only masked and as a keyed hash.

The full number is never stored. The hash (HMAC-SHA256 with a key kept outside the database,
see sync/hub/keys.py) lets an admin find a resident by the number a person shows, without the
numbers being recoverable from a copy of the database. The check, the mask and the hash are
the contract's (sync/contract.py), shared with the kiosk's visitor form.
"""

from __future__ import annotations

from sync.contract import ID_NUMBER_PATTERN as ID_NUMBER
from sync.contract import id_number_hash as keyed_hash
from sync.contract import mask_id_number as mask
from sync.contract import valid_id_number
from sync.hub.store import HubStore

__all__ = ["ID_NUMBER", "id_key", "keyed_hash", "mask", "valid_id_number"]


def id_key(store: HubStore) -> bytes:
    return store.keys.id_key

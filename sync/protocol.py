"""The wire protocol between a kiosk and the hub (version 1). See docs/sync-protocol.md.

A record on the wire is a ledger event exactly as the kiosk stored and hashed it: the fields of
``kiosk.ledger.RECORD_FIELDS`` plus ``hash``. Pure logic: validation of one record.
"""

from __future__ import annotations

import re
from typing import Any

from kiosk.ledger import EVENT_KINDS, RECORD_FIELDS, record_hash

API = "/api/v1"
WIRE_FIELDS = (*RECORD_FIELDS, "hash")
MAX_BATCH_RECORDS = 500
MAX_BODY_BYTES = 2 * 1024 * 1024

STORED = "stored"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"  # malformed: kept aside for an admin, never blocks the rest
CONFLICT = "conflict"  # same id, different content: flagged, the stored one is kept

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "kiosk_id": (str,),
    "epoch": (str,),
    "seq": (int,),
    "kind": (str,),
    "wall_time": (str,),
    "clock_synced": (int,),
    "boot_id": (str,),
    "boottime_ns": (int,),
    "verdict": (str, type(None)),
    "reason": (str, type(None)),
    "estimate_c": (int, float, type(None)),
    "threshold_c": (int, float, type(None)),
    "object_c": (int, float, type(None)),
    "ambient_c": (int, float, type(None)),
    "pass_code": (str, type(None)),
    "links_to": (str, type(None)),
    "detail": (str,),
    "prev_hash": (str,),
    "hash": (str,),
}


def problem_with(record: Any, kiosk_id: str) -> str | None:
    """Why a record cannot be stored as a ledger event, or None if it can.

    A record whose hash does not match its content is *not* a problem here: it is stored and
    flagged as a chain break, so that tampering is visible rather than silently dropped.
    """
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    missing = [name for name in WIRE_FIELDS if name not in record]
    if missing:
        return "missing fields: " + ", ".join(missing)
    extra = sorted(set(record) - set(WIRE_FIELDS))
    if extra:
        return "unknown fields: " + ", ".join(extra)
    for name, types in TYPES.items():
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, types):
            return f"{name} has the wrong type"
    if not UUID.fullmatch(record["id"]):
        return "id is not a UUID"
    if record["kiosk_id"] != kiosk_id:
        return "kiosk_id does not match the token"
    if record["seq"] < 1 or record["seq"] > 2**62:
        return "seq out of range"
    if record["kind"] not in EVENT_KINDS:
        return "unknown kind"
    if not HEX64.fullmatch(record["hash"]) or not HEX64.fullmatch(record["prev_hash"]):
        return "hash and prev_hash must be 64 hex digits"
    if record["links_to"] is not None and not UUID.fullmatch(record["links_to"]):
        return "links_to is not a UUID"
    if len(record["detail"]) > 64 * 1024 or any(
        isinstance(record[n], str) and len(record[n]) > 256 for n in WIRE_FIELDS if n != "detail"
    ):
        return "a field is too long"
    return None


def hash_matches(record: dict[str, Any]) -> bool:
    return record_hash(record) == record["hash"]

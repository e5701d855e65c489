"""Finding a visitor by the ID number they show, at the hub.

A kiosk records a visitor's ID number only masked (``110105********1234``) and as an HMAC
with its own visitor ID key, which the hub derives from its ID key for that kiosk alone
(``sync.contract.visitor_id_key``) and sent to the kiosk once, at enrolment. So the hub finds a
visitor by deriving each gate's key again: no key is stored in the database, and the full
number is nowhere. A record without a hash (the kiosk had no key yet) matches by the mask only,
and says so: the birth date was not compared.
"""

from __future__ import annotations

import json
from typing import Any

from sync.contract import (
    id_number_hash,
    mask_id_number,
    mask_phone,
    valid_id_number,
    visitor_id_key,
)
from sync.hub.sql import json_field
from sync.hub.store import HubStore

LIMIT = 200


def find_visitors(store: HubStore, raw: str) -> list[dict[str, Any]]:
    """This compound's visitor records of that ID number, newest first; ``match`` is ``id``
    (the keyed hash matched) or ``masked`` (only the masked number: no hash to compare)."""
    number = valid_id_number(raw or "")
    if number is None:
        return []
    masked = mask_id_number(number)
    detail_sql = json_field(store, "detail")
    rows = store.fetch_all(
        f"SELECT id, kiosk_id, wall_time, verdict, {detail_sql} FROM events"
        f" WHERE kind = 'visitor' AND {store.gate_in_compound()} AND {detail_sql} LIKE ?"
        " ORDER BY wall_time DESC LIMIT ?",
        (f"%{masked}%", LIMIT),
    )
    keys: dict[str, str] = {}
    found = []
    for event_id, kiosk_id, wall_time, verdict, detail_text in rows:
        detail = json.loads(detail_text or "{}")
        if detail.get("id_masked") != masked:
            continue
        stored_hash = detail.get("id_hash")
        if stored_hash:
            if kiosk_id not in keys:
                keys[kiosk_id] = id_number_hash(visitor_id_key(store.keys.id_key, kiosk_id), number)
            if stored_hash != keys[kiosk_id]:
                continue  # another person with the same region and last four digits
        place = "-".join(str(detail.get(k) or "") for k in ("building", "unit", "room"))
        found.append(
            {
                "id": event_id,
                "kiosk_id": kiosk_id,
                "wall_time": wall_time,
                "verdict": verdict,
                "phone": mask_phone(str(detail.get("phone") or "")),
                "place": place.strip("-"),
                "id_masked": masked,
                "match": "id" if stored_hash else "masked",
            }
        )
    return found

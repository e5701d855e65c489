"""A staff member's fever at sign-on as the kiosk records it, read back as one staff record.

The kiosk writes a ``shift`` event ``blocked`` (the sign-on refused) and, at once and next in
its chain, the gate's fever block: a ``screening`` ``blocked`` with no pass, for the guards to
clear (kiosk/gate.py, ``_record_sign_on``: the one measured may be a resident who stepped up, so
the gate blocks as for anyone). The screening carries no link to the shift; the pair is found by
its place in the chain and its equal reading. The registers show it once, as the staff member's
health record (员工健康登记表, 值班记录), not as an unknown resident's fever.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def sign_on_blocks(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The gate's fever blocks recorded by a sign-on: screening id → the refused sign-on.
    ``records``: a gate's records with ``kind``, ``verdict``, ``epoch``, ``seq``,
    ``estimate_c``, ``pass_code``, ``links_to``."""
    records = list(records)
    by_place = {(r["epoch"], int(r["seq"])): r for r in records}
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        if (
            record["kind"] != "screening"
            or record.get("verdict") != "blocked"
            or record.get("pass_code")
            or record.get("links_to")
        ):
            continue
        before = by_place.get((record["epoch"], int(record["seq"]) - 1))
        if (
            before is not None
            and before["kind"] == "shift"
            and before.get("verdict") == "blocked"
            and before.get("estimate_c") == record.get("estimate_c")
        ):
            found[record["id"]] = before
    return found

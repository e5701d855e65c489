"""Fever blocks still waiting at a gate, and an admin's clearance of one from the hub.

A fever block stops the gate's lane until a guard decides. At a gate where no guard can act (none
signed on, or the only one barred by their own fever) the kiosk says so to the next person and
sends an ``alarm`` record ``unattended`` linked to the block. An admin can then end the wait from
the hub with a reason: the clearance goes down in the roster (kind ``block_clearance``), the
kiosk records it as an ``override`` ``denied`` (the person is not let in by it) and its lane goes
on. The block's record stays as it was; the clearance is in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync.hub import roster_admin
from sync.hub.admins import audit
from sync.hub.sql import json_field
from sync.hub.store import HubStore, now_iso

WAITING_DAYS = 2  # blocks older than this are not offered (the gate has long been restarted)
MAX_REASON = 200


class BlockError(ValueError):
    """The clearance cannot be made (the words say why, in Chinese)."""


def waiting_blocks(store: HubStore, days: int = WAITING_DAYS) -> list[dict[str, Any]]:
    """The compound's fever blocks that no guard decided on (no override or re-measure links to
    them) and no admin cleared, newest first; ``unattended`` when the kiosk said no guard can
    act."""
    start = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    links_to = json_field(store, "links_to")
    blocks = store.fetch_all(
        "SELECT id, kiosk_id, wall_time, estimate_c FROM events"
        " WHERE kind = 'screening' AND verdict = 'blocked' AND wall_time >= ?"
        f" AND {store.gate_in_compound()} ORDER BY wall_time DESC",
        (start,),
    )
    if not blocks:
        return []
    answers = store.fetch_all(
        f"SELECT {links_to}, kind, verdict FROM events"
        " WHERE kind IN ('override', 'screening', 'alarm') AND wall_time >= ?"
        f" AND {links_to} IS NOT NULL AND {store.gate_in_compound()}",
        (start,),
    )
    decided = {row[0] for row in answers if row[1] in ("override", "screening")}
    unattended = {row[0] for row in answers if row[1] == "alarm" and row[2] == "unattended"}
    cleared = roster_admin.current(store, "block_clearance")
    return [
        {
            "id": row[0],
            "kiosk_id": row[1],
            "wall_time": row[2],
            "estimate_c": row[3],
            "unattended": row[0] in unattended,
        }
        for row in blocks
        if row[0] not in decided and row[0] not in cleared
    ]


def clear_block(store: HubStore, event_id: str, reason: str, username: str) -> dict[str, Any]:
    """An admin ends a gate's wait on a fever block, with a reason (audited)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise BlockError("请写明原因，例如：门卫不在岗，已电话确认发热者已离开并上报")
    if len(reason) > MAX_REASON or any(ch in reason for ch in "<>\x00"):
        raise BlockError(f"原因最多 {MAX_REASON} 个字，不含 < > 等符号")
    waiting = {b["id"]: b for b in waiting_blocks(store)}
    block = waiting.get((event_id or "").strip()[:64])
    if block is None:
        raise BlockError("这条发热拦截已由门卫处置或已解除：请刷新页面")
    data = {"by": username, "at": now_iso(), "reason": reason, "kiosk_id": block["kiosk_id"]}
    store.roster_put("block_clearance", block["id"], data)
    with store.transaction():
        audit(
            store,
            username,
            "gate.clear_block",
            {"event_id": block["id"], "kiosk_id": block["kiosk_id"], "reason": reason},
        )
    return block

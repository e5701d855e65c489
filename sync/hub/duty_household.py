"""家里是否有外来人员: the household question at sign-on, where the manager decides.

A staff member who answers 有 at their sign-on still signs on (the kiosk records
``detail.visitors_at_home`` and keeps a notice up on its guard screen while they are on duty);
the hub's duty page lists each such sign-on until the manager decides: 可继续值班 (they may stay
on duty) or 安排换岗 (someone relieves them). The decision is an audit entry
(``duty.household``), never an edit of the record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.hub import duty
from sync.hub.admins import audit
from sync.hub.store import HubStore, now_iso

OUTCOMES = ("stay_on", "relieve")  # 可继续值班, 安排换岗
ACTION = "duty.household"
RECENT_DAYS = 14


class HouseholdError(ValueError):
    """The decision cannot be taken; the message says why, in Chinese."""


def _decisions(store: HubStore) -> dict[str, dict[str, Any]]:
    scope = "" if store.compound is None else f" AND compound_id = {int(store.compound)}"
    rows = store.fetch_all(
        f"SELECT at, username, detail FROM audit WHERE action = ?{scope} ORDER BY aid", (ACTION,)
    )
    decided: dict[str, dict[str, Any]] = {}
    for at, username, detail in rows:
        parsed = json.loads(detail)
        decided[str(parsed.get("event_id"))] = {
            "outcome": parsed.get("outcome"),
            "by": username,
            "at": at,
        }
    return decided


def flags(store: HubStore, days: int = RECENT_DAYS) -> list[dict[str, Any]]:
    """Sign-ons of the last ``days`` whose person answered 有, newest first; each with
    ``decision`` (outcome, by, at) or None while the manager has not decided."""
    now = datetime.now(UTC)
    events = duty.shift_events(
        store,
        (now - timedelta(days=days)).isoformat(),
        (now + timedelta(days=1)).isoformat(),
    )
    decided = _decisions(store)
    found = [
        {**event, "decision": decided.get(event["id"])}
        for event in events
        if event["verdict"] == "on" and event["detail_"].get("visitors_at_home") is True
    ]
    return found[::-1]


def open_flags(store: HubStore) -> list[dict[str, Any]]:
    return [flag for flag in flags(store) if flag["decision"] is None]


def decide(store: HubStore, event_id: str, outcome: str, username: str) -> dict[str, Any]:
    """The manager's decision on one flagged sign-on, in the audit log."""
    if outcome not in OUTCOMES:
        raise HouseholdError("请选择“可继续值班”或“安排换岗”")
    event_id = (event_id or "").strip()[:64]
    flagged = {flag["id"]: flag for flag in flags(store)}
    flag = flagged.get(event_id)
    if flag is None:
        raise HouseholdError("没有这条上岗记录（或已超过 14 天）：请刷新页面")
    if flag["decision"] is not None:
        raise HouseholdError("这条已处理：请刷新页面")
    with store.transaction():
        audit(
            store,
            username,
            ACTION,
            {
                "event_id": event_id,
                "kiosk_id": flag["kiosk_id"],
                "guard_id": flag["detail_"].get("guard_id", ""),
                "signed_on_at": flag["wall_time"],
                "outcome": outcome,
            },
        )
    return {**flag, "decision": {"outcome": outcome, "by": username, "at": now_iso()}}

"""Staff on duty at this gate and the disinfection rounds logged here (the guard screen's 上岗
and 消毒 tabs). Who is on duty is read from the ledger's ``shift`` events, never kept apart:
the ledger is the record the hub and the registers see.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from kiosk.visitors import FormError
from sync.contract import DISINFECTANTS

RECENT_SHIFT_EVENTS = 500  # sign-ons older than this many shift events are not open any more


def on_duty(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """guard id → their open sign-on (the event), oldest sign-on first."""
    rows = conn.execute(
        "SELECT * FROM (SELECT * FROM events WHERE kind = 'shift' ORDER BY seq DESC LIMIT ?)"
        " ORDER BY seq",
        (RECENT_SHIFT_EVENTS,),
    )
    open_: dict[str, dict[str, Any]] = {}
    for row in rows:
        guard_id = json.loads(row["detail"] or "{}").get("guard_id")
        if row["verdict"] == "on":
            open_[guard_id] = dict(row)
        else:  # signed off, or a sign-on refused for a fever
            open_.pop(guard_id, None)
    return open_


def places(conn: sqlite3.Connection) -> list[str]:
    """The places to disinfect, as the hub sent them."""
    return [row[0] for row in conn.execute("SELECT name FROM places ORDER BY name")]


def check_round(conn: sqlite3.Connection, place: Any, agent: Any) -> tuple[str, str]:
    """A round's place (one the hub listed) and agent (one of the list)."""
    known = places(conn)
    if not isinstance(place, str) or place not in known:
        if not known:
            raise FormError("place", "场所：本机还没有消毒场所，请管理员在中心添加后同步")
        raise FormError("place", "场所：请从列表中选择消毒场所")
    if agent not in DISINFECTANTS:
        raise FormError("agent", "消毒剂：请从列表中选择")
    return place, str(agent)

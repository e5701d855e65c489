"""Staff on duty at this gate and the disinfection rounds logged here (the guard screen's 上岗
and 消毒 tabs). Who is on duty is read from the ledger's ``shift`` events, never kept apart:
the ledger is the record the hub and the registers see.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, tzinfo
from typing import Any

from kiosk.visitors import FormError
from sync.contract import DISINFECTANTS
from sync.localtime import day_bounds_utc, format_local, local_today

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
        elif row["verdict"] in ("off", "blocked"):  # signed off, or refused for a fever
            open_.pop(guard_id, None)
        # "refused" (a blocked guard's PIN turned away) changes nobody's duty
    return open_


def household_flags(conn: sqlite3.Connection, tz: tzinfo) -> list[dict[str, Any]]:
    """The people on duty here who answered 有 to 家里是否有外来人员 at their sign-on: the guard
    screen keeps a notice up for each while they are on duty (the hub's duty page is where
    the manager decides)."""
    flags = []
    for guard_id, event in on_duty(conn).items():
        detail = json.loads(event["detail"] or "{}")
        if detail.get("visitors_at_home") is True:
            flags.append(
                {
                    "guard_id": guard_id,
                    "name": detail.get("name") or guard_id,
                    "since": format_local(event["wall_time"], tz, "%H:%M"),
                    "seq": event["seq"],
                }
            )
    return flags


def fever_block(
    conn: sqlite3.Connection, guard_id: str, tz: tzinfo, now: datetime | None = None
) -> dict[str, Any] | None:
    """The guard's sign-on refused for a fever that still bars them, or None.

    A fever at sign-on bars that person from the guard screen for the rest of the local day
    (Beijing midnight ends it), unless a manager clears it on the hub first (解除, which reaches
    the kiosk with the roster). Offline, the bar holds until midnight: the safe side."""
    start, end = day_bounds_utc(local_today(tz, now), tz)
    row = conn.execute(
        "SELECT * FROM events e WHERE e.kind = 'shift' AND e.verdict = 'blocked'"
        " AND e.wall_time >= ? AND e.wall_time < ?"
        " AND json_extract(e.detail, '$.guard_id') = ?"
        " AND NOT EXISTS (SELECT 1 FROM duty_clearances c WHERE c.block_id = e.id)"
        " ORDER BY e.seq DESC LIMIT 1",
        (start, end, guard_id),
    ).fetchone()
    return None if row is None else dict(row)


def fever_block_words(block: dict[str, Any], tz: tzinfo) -> str:
    """What a barred guard reads at the PIN pad: why, until when, and whom to call."""
    temperature = f"{block['estimate_c']:.1f} °C" if block["estimate_c"] is not None else "超标"
    at = format_local(block["wall_time"], tz, "%H:%M")
    return (
        f"您今天 {at} 上岗测温体温异常（{temperature}），今天不能上岗，门卫屏已对您关闭。"
        "请回家休息，并打电话告诉物业经理；经理在管理中心“解除”后（或明天）才能再用。"
    )


def places(conn: sqlite3.Connection) -> list[str]:
    """The places to disinfect, as the hub sent them."""
    return [row[0] for row in conn.execute("SELECT name FROM places ORDER BY name")]


def check_round(conn: sqlite3.Connection, place: Any, agent: Any) -> tuple[str, str]:
    """A round's place (one the hub listed) and agent (one of the list)."""
    known = places(conn)
    if not isinstance(place, str) or place not in known:
        if not known:
            raise FormError("place", "本机还没有消毒场所，请管理员在中心添加后同步")
        raise FormError("place", "请从列表中选择消毒场所")
    if agent not in DISINFECTANTS:
        raise FormError("agent", "请从列表中选择")
    return place, str(agent)

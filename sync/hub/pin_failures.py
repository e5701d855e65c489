"""Wrong guard PINs at the gates, as the audit page shows them.

Each kiosk records a burst of wrong PINs once (a ``guard_pin`` event: the count and the times,
never the digits; kiosk/pin_bursts.py); the hub reads them from the events like any other record
and says them in words: 门岗 east-gate · 王师傅（wang）· 连续输错 5 次，暂停输入 · 08:10–08:15.
"""

from __future__ import annotations

import json
from datetime import tzinfo
from typing import Any

from sync.hub import labels
from sync.hub.sql import json_field
from sync.hub.store import HubStore
from sync.localtime import format_local

WHERE = {"sign_in": "登录门卫屏", "confirm": "放行发热人员时再次输入"}


def recent(store: HubStore, limit: int = 100) -> list[dict[str, Any]]:
    """The newest ``guard_pin`` records of this store's compound (every compound's for the
    whole hub), newest first, detail parsed."""
    rows = store.fetch_all(
        f"SELECT kiosk_id, wall_time, verdict, {json_field(store, 'detail')} FROM events"
        f" WHERE kind = 'guard_pin' AND {store.gate_in_compound()}"
        " ORDER BY wall_time DESC LIMIT ?",
        (limit,),
    )
    found = []
    for kiosk_id, wall_time, verdict, detail in rows:
        try:
            parsed = json.loads(detail) if detail else {}
        except ValueError:
            parsed = {}
        found.append(
            {
                "kiosk_id": kiosk_id,
                "wall_time": wall_time,
                "verdict": verdict,
                "detail": parsed if isinstance(parsed, dict) else {},
            }
        )
    return found


def words(record: dict[str, Any], tz: tzinfo) -> str:
    """One record in words, Chinese first, with local times."""
    detail = record["detail"]
    name = str(detail.get("name") or "")
    guard_id = str(detail.get("guard_id") or "")
    who = f"{name}（{guard_id}）" if name else guard_id or "未知门卫"
    count = _count(detail.get("failures"))
    in_a_row = _count(detail.get("in_a_row"))
    if record["verdict"] == "locked":
        what = f"连续输错 PIN {in_a_row} 次，暂停输入"
        if count != in_a_row:
            what += f"（本条记 {count} 次）"
    elif record["verdict"] == "wrong":
        what = f"输错 PIN {count} 次后输对"
    else:
        what = labels.zh(record["verdict"], "guard_pin")
    first = format_local(_text(detail.get("first_at")), tz, "%m-%d %H:%M:%S")
    last = format_local(_text(detail.get("last_at")), tz, "%m-%d %H:%M:%S")
    span = f"{first}–{last}" if first and last and first != last else first or last
    where = WHERE.get(str(detail.get("where") or ""), "")
    parts = [f"门岗 {record['kiosk_id']}", who, what]
    if where:
        parts.append(where)
    if span:
        parts.append(f"输错时间 {span}")
    return " · ".join(parts)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None

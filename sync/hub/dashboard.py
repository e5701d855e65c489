"""The admins' dashboard: today per gate, the last 14 days, fever events and their follow-up,
and kiosk health. Days are local days (the hub's time zone, China Standard Time by default)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from html import escape
from typing import Any

from sync.hub.admins import audit
from sync.hub.store import HubStore, now_iso
from sync.localtime import DEFAULT_ZONE, day_bounds_utc, local_today, zone

CHINA = zone(DEFAULT_ZONE)
FOLLOWUP_STATES = ("acknowledged", "reported", "closed")
OUTCOMES = ("negative", "home_isolation", "referred_to_hospital", "other")


class FollowupError(ValueError):
    pass


class UnknownFever(FollowupError):
    """No such fever event in the compound (another compound's is not there either)."""


def day_bounds(day: date, tz: tzinfo = CHINA) -> tuple[str, str]:
    """A local day as a [start, end) range of UTC ISO times, as wall_time is stored."""
    return day_bounds_utc(day, tz)


def today(tz: tzinfo = CHINA) -> date:
    return local_today(tz)


@dataclass(frozen=True)
class GateDay:
    kiosk_id: str
    entries: int
    blocks: int
    overrides: int
    visitors: int
    vehicles: int


def counts_for_day(
    store: HubStore, day: date, kiosk: str | None = None, tz: tzinfo = CHINA
) -> list[GateDay]:
    start, end = day_bounds(day, tz)
    gate = " AND kiosk_id = ?" if kiosk else ""
    rows = store.fetch_all(
        "SELECT kiosk_id,"
        " sum(CASE WHEN kind = 'screening' AND verdict = 'admitted' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN kind = 'screening' AND verdict = 'blocked' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN kind = 'override' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN kind = 'visitor' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN kind = 'vehicle' THEN 1 ELSE 0 END)"
        f" FROM events WHERE wall_time >= ? AND wall_time < ?{gate}"
        f" AND {store.gate_in_compound()}"
        " GROUP BY kiosk_id ORDER BY kiosk_id",
        (start, end, *([kiosk] if kiosk else [])),
    )
    return [GateDay(r[0], *(int(v or 0) for v in r[1:])) for r in rows]


def last_days(
    store: HubStore, days: int = 14, kiosk: str | None = None, tz: tzinfo = CHINA
) -> list[tuple[date, int, int]]:
    """(day, admitted, blocked) for each of the last ``days`` local days, oldest first, for all
    gates or one."""
    end_day = today(tz)
    result = []
    for offset in range(days - 1, -1, -1):
        day = end_day - timedelta(days=offset)
        totals = counts_for_day(store, day, kiosk, tz)
        result.append((day, sum(g.entries for g in totals), sum(g.blocks for g in totals)))
    return result


def chart_svg(series: list[tuple[date, int, int]], width: int = 700, height: int = 180) -> str:
    """A bar chart drawn on the server: nothing is loaded from the internet."""
    top = max((a + b for _, a, b in series), default=0) or 1
    bar = width / max(len(series), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 30}"'
        ' role="img" aria-label="14 days">'
    ]
    for index, (day, admitted, blocked) in enumerate(series):
        x = index * bar + 4
        h_ok = (height - 10) * admitted / top
        h_bad = (height - 10) * blocked / top
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h_ok:.1f}" width="{bar - 8:.1f}"'
            f' height="{h_ok:.1f}" fill="#2e9d4f"><title>{day} admitted {admitted}'
            "</title></rect>"
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h_ok - h_bad:.1f}" width="{bar - 8:.1f}"'
            f' height="{h_bad:.1f}" fill="#b3141b"><title>{day} blocked {blocked}'
            "</title></rect>"
        )
        parts.append(
            f'<text x="{x:.1f}" y="{height + 20}" font-size="11">'
            f"{escape(day.strftime('%m-%d'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def fever_events(store: HubStore, days: int = 14, tz: tzinfo = CHINA) -> list[dict[str, Any]]:
    start, _ = day_bounds(today(tz) - timedelta(days=days - 1), tz)
    rows = store.fetch_all(
        "SELECT e.id, e.kiosk_id, e.wall_time, e.estimate_c, f.state, f.reported_at, f.outcome,"
        " f.note, f.updated_by FROM events e LEFT JOIN followups f ON f.event_id = e.id"
        " WHERE e.kind = 'screening' AND e.verdict = 'blocked' AND e.wall_time >= ?"
        f" AND {store.gate_in_compound('e.kiosk_id')}"
        " ORDER BY e.wall_time DESC LIMIT 200",
        (start,),
    )
    keys = (
        "id",
        "kiosk_id",
        "wall_time",
        "estimate_c",
        "state",
        "reported_at",
        "outcome",
        "note",
        "updated_by",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def follow_up(
    store: HubStore,
    event_id: str,
    state: str,
    username: str,
    *,
    outcome: str | None = None,
    note: str | None = None,
) -> None:
    if state not in FOLLOWUP_STATES:
        raise FollowupError("无法识别的处置状态：请用页面上的按钮（确认、已报社区卫生站、结案）")
    if state == "closed" and outcome not in OUTCOMES:
        raise FollowupError("结案须选择结果：排除、居家隔离、转诊医院 或 其他")
    if note is not None and (len(note) > 200 or any(c in note for c in "<>")):
        raise FollowupError("备注最多 200 字，不能含 < 或 >：请修改后再提交")
    with store.transaction():
        row = store.fetch_one(
            "SELECT 1 FROM events WHERE id = ? AND kind = 'screening' AND verdict = 'blocked'"
            f" AND {store.gate_in_compound()}",
            (event_id,),
        )
        if row is None:
            raise UnknownFever("中心没有这条发热记录：请刷新概览页面")
        reported_at = now_iso() if state == "reported" else None
        store.execute(
            "INSERT INTO followups (event_id, state, reported_at, outcome, note, updated_by,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET"
            " state = excluded.state,"
            " reported_at = coalesce(excluded.reported_at, followups.reported_at),"
            " outcome = coalesce(excluded.outcome, followups.outcome),"
            " note = coalesce(excluded.note, followups.note),"
            " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (event_id, state, reported_at, outcome, note, username, now_iso()),
        )
        audit(
            store,
            username,
            "fever." + state,
            {"event_id": event_id, "outcome": outcome, "note": note},
        )


def kiosk_health(store: HubStore, tz: tzinfo = CHINA) -> list[dict[str, Any]]:
    breaks: dict[str, int] = {}
    for item in store.chain_breaks():
        breaks[item["kiosk_id"]] = breaks.get(item["kiosk_id"], 0) + 1
    start, end = day_bounds(today(tz), tz)
    health = []
    for kiosk in store.kiosks():
        latest = store.fetch_one(
            "SELECT record FROM events WHERE kiosk_id = ? ORDER BY ingest_seq DESC LIMIT 1",
            (kiosk["kiosk_id"],),
        )
        faults = store.fetch_one(
            "SELECT count(*) FROM events WHERE kiosk_id = ? AND kind = 'sensor_fault'"
            " AND wall_time >= ? AND wall_time < ?",
            (kiosk["kiosk_id"], start, end),
        )[0]
        synced = json.loads(latest[0])["clock_synced"] if latest else None
        health.append(
            {
                **kiosk,
                "chain_breaks": breaks.get(kiosk["kiosk_id"], 0),
                "sensor_faults_today": int(faults),
                "clock_synced": None if synced is None else bool(synced),
            }
        )
    return health

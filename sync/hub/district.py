"""The district's daily report (街道/社区日报): one line per compound of the district, read
through each compound's own view of the hub (so the report can hold nothing a compound's own
pages would not): entries, blocks, fevers and where their follow-up stands, gates found
unmanned (漏岗) or without any shift that day, and gates with sync problems (no sync for
``STALE_H`` hours, chain breaks, refused records)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sync.hub import dashboard, duty
from sync.hub.compounds import Compound
from sync.hub.store import HubStore
from sync.localtime import day_bounds_utc

STALE_H = 2  # a gate that has not synced for this long is a sync problem
FOLLOWUP_WORDS = {
    None: "待处置",
    "acknowledged": "已确认",
    "reported": "已上报",
    "closed": "已结案",
}


@dataclass
class CompoundDay:
    name: str
    district: str
    entries: int = 0
    blocks: int = 0
    fevers: int = 0
    followups: dict[str, int] = field(default_factory=dict)  # 待处置/已确认/已上报/已结案 → n
    unmanned: list[str] = field(default_factory=list)  # 漏岗 now: "gate（N 分钟）"
    unscheduled: list[str] = field(default_factory=list)  # gates without a shift that day
    sync_problems: list[str] = field(default_factory=list)  # "gate：N 小时未同步" …


def compound_day(
    store: HubStore, compound: Compound, day: date, tz: tzinfo, now: datetime | None = None
) -> CompoundDay:
    """One compound's line; ``store`` is the whole hub, read here as that compound only."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    view = store.scoped(compound.compound_id)
    line = CompoundDay(compound.name, compound.district)
    for gate in dashboard.counts_for_day(view, day, tz=tz):
        line.entries += gate.entries
        line.blocks += gate.blocks
    start, end = day_bounds_utc(day, tz)
    days_back = max(1, (dashboard.today(tz) - day).days + 1)
    line.followups = {word: 0 for word in FOLLOWUP_WORDS.values()}
    for fever in dashboard.fever_events(view, days=days_back, tz=tz):
        if start <= fever["wall_time"] < end:
            line.fevers += 1
            line.followups[FOLLOWUP_WORDS.get(fever["state"], "待处置")] += 1
    line.unmanned = [f"{u.gate}（{u.minutes} 分钟）" for u in duty.unmanned(view, now)]
    gates = [k for k in view.kiosks() if not k["revoked_at"]]
    scheduled = {s.gate for s in duty.shifts_between(view, start, end)}
    line.unscheduled = [k["kiosk_id"] for k in gates if k["kiosk_id"] not in scheduled]
    breaks: dict[str, int] = {}
    for item in view.chain_breaks():
        breaks[item["kiosk_id"]] = breaks.get(item["kiosk_id"], 0) + 1
    refused: dict[str, int] = {}
    for item in view.quarantined():
        refused[item["kiosk_id"]] = refused.get(item["kiosk_id"], 0) + 1
    for kiosk in gates:
        gate, problems = kiosk["kiosk_id"], []
        seen = kiosk["last_seen"]
        if seen is None:
            problems.append("从未同步")
        elif now - datetime.fromisoformat(seen) > timedelta(hours=STALE_H):
            hours = int((now - datetime.fromisoformat(seen)).total_seconds() // 3600)
            problems.append(f"{hours} 小时未同步")
        if breaks.get(gate):
            problems.append(f"记录链断开 {breaks[gate]} 处")
        if refused.get(gate):
            problems.append(f"拒收记录 {refused[gate]} 条")
        if problems:
            line.sync_problems.append(f"{gate}：" + "，".join(problems))
    return line


def report(store: HubStore, compounds: list[Compound], day: date, tz: tzinfo) -> list[CompoundDay]:
    return [compound_day(store, compound, day, tz) for compound in compounds]


HEADER = (
    "街道/社区",
    "小区",
    "日期",
    "通行",
    "拦截",
    "发热",
    "待处置",
    "已确认",
    "已上报",
    "已结案",
    "漏岗门岗（当前）",
    "当日无排班门岗",
    "同步异常门岗",
)


def csv_rows(lines: list[CompoundDay], day: date) -> Iterator[list[Any]]:
    for line in lines:
        yield [
            line.district,
            line.name,
            day.isoformat(),
            line.entries,
            line.blocks,
            line.fevers,
            *(line.followups[word] for word in FOLLOWUP_WORDS.values()),
            "；".join(line.unmanned),
            "；".join(line.unscheduled),
            "；".join(line.sync_problems),
        ]

"""Disinfection (消毒): the compound's places with the rounds each needs per day, the rounds
done (logged at a kiosk as ``disinfection`` events, or on the hub), today's rounds against the
plan, and what is overdue.

The places reach the kiosks through the roster (kind ``place``), like the guards and risk areas.
A place with ``n`` rounds a day has its rounds due evenly over the working day (the hub's
settings ``disinfection.day_start_h`` and ``day_end_h``, 07:00–21:00 by default): the k-th by
``start + k × (end − start) / n`` local time (2 rounds: by 14:00 and by 21:00). A place is
overdue when fewer rounds are done than are due by now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sync.hub import duty_settings, roster_admin
from sync.hub.admins import audit
from sync.hub.duty import DutyError, parse_local
from sync.hub.sql import json_field
from sync.hub.store import HubStore, now_iso
from sync.localtime import day_bounds_utc, local_today

COMMON_PLACES = ("电梯轿厢", "垃圾箱", "地库", "消防通道", "门岗", "口罩回收箱")
MAX_ROUNDS = 24
FORBIDDEN = "<>&\"'"


class DisinfectionError(ValueError):
    """A place or round that cannot be stored; the message says in Chinese what to change."""


@dataclass(frozen=True)
class PlaceStatus:
    name: str
    required: int
    done: int
    due_now: int  # rounds that should be done by now
    next_due: datetime | None  # local time the next round is due by, None when all are done

    @property
    def overdue(self) -> bool:
        return self.done < self.due_now


def places(store: HubStore) -> dict[str, int]:
    """Place name → rounds required per day."""
    return {
        name: int(data.get("rounds_per_day", 1))
        for name, data in roster_admin.current(store, "place").items()
    }


def _text(raw: str, what: str, limit: int = 32) -> str:
    value = (raw or "").strip()
    if not value or len(value) > limit or any(c in value for c in FORBIDDEN):
        raise DisinfectionError(f"{what}须为 1–{limit} 个字，不能含 < > & 或引号：请修改后再提交")
    return value


def set_place(store: HubStore, name: str, rounds: str | int, username: str) -> None:
    name = _text(name, "场所名称")
    try:
        count = int(str(rounds).strip())
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_ROUNDS:
        raise DisinfectionError(f"每日消毒次数须为 1–{MAX_ROUNDS} 的整数：请修改后再保存")
    store.roster_put("place", name, {"name": name, "rounds_per_day": count})
    with store.transaction():
        audit(store, username, "place.set", {"name": name, "rounds_per_day": count})


def remove_place(store: HubStore, name: str, username: str) -> None:
    if name not in places(store):
        raise DisinfectionError(f"没有名为“{name[:32]}”的消毒场所：请刷新页面")
    store.roster_put("place", name, None)
    with store.transaction():
        audit(store, username, "place.remove", {"name": name})


BACKDATE_DAYS = 7  # a round written on paper may be entered this late


def log_round(
    store: HubStore,
    place: str,
    agent: str,
    done_at: str,
    tz: tzinfo,
    username: str,
    now: datetime | None = None,
    *,
    by: str,
) -> None:
    """A round logged on the hub (the office's own staff, or a round written on paper): ``by``
    is who disinfected (the register's 消毒人); the account that typed it is in the audit log."""
    if place not in places(store):
        raise DisinfectionError(f"没有名为“{place[:32]}”的消毒场所：请从列表中选择，或先添加该场所")
    agent = _text(agent, "消毒剂")
    by = _text(by, "消毒人")
    try:
        moment = parse_local(done_at, tz, "消毒时间")
    except DutyError as exc:
        raise DisinfectionError(str(exc)) from None
    now = now or datetime.now(UTC)
    if moment > now + timedelta(minutes=1):
        raise DisinfectionError("消毒时间不能晚于现在：请填写实际完成的时间")
    if moment < now - timedelta(days=BACKDATE_DAYS):
        raise DisinfectionError(
            f"只能补登最近 {BACKDATE_DAYS} 天内的消毒：更早的请附纸质记录，不在系统中补登"
        )
    with store.transaction():
        same = store.fetch_one(
            f"SELECT 1 FROM disinfection_rounds WHERE place = ? AND done_at = ?"
            f" AND {store.in_compound()}",
            (place, moment.isoformat(timespec="seconds")),
        )
        if same is not None:
            raise DisinfectionError(
                f"{place}在这个时间的消毒已经登记过（可能重复提交）：无需再登记"
            )
        store.execute(
            "INSERT INTO disinfection_rounds (place, agent, done_at, done_by, created_at,"
            " compound_id) VALUES (?, ?, ?, ?, ?, ?)",
            (
                place,
                agent,
                moment.isoformat(timespec="seconds"),
                by,
                now_iso(),
                store.write_compound(),
            ),
        )
        audit(store, username, "disinfection.log", {"place": place, "agent": agent, "by": by})


def rounds_of_day(
    store: HubStore,
    day: date,
    tz: tzinfo,
    kiosk_id: str | None = None,
    *,
    hub_rounds: bool | None = None,
) -> list[dict[str, Any]]:
    """The rounds of a local day from the kiosks (one gate's, or all) and those logged on the
    hub (by default only with all gates), by time: ``wall_time``, ``place``, ``agent``, ``by``
    (name), ``where`` (gate or 中心), ``hash`` (the kiosk's record; None for the hub's)."""
    start, end = day_bounds_utc(day, tz)
    sql = (
        f"SELECT kiosk_id, wall_time, {json_field(store, 'detail')}, hash FROM events"
        " WHERE kind = 'disinfection' AND wall_time >= ? AND wall_time < ?"
        f" AND {store.gate_in_compound()}"
    )
    params: tuple[Any, ...] = (start, end)
    if kiosk_id is not None:
        sql += " AND kiosk_id = ?"
        params += (kiosk_id,)
    rounds = []
    for gate, wall_time, detail, record_hash in store.fetch_all(sql, params):
        facts = json.loads(detail) if detail else {}
        rounds.append(
            {
                "wall_time": wall_time,
                "place": facts.get("place", ""),
                "agent": facts.get("agent", ""),
                "by": facts.get("name") or facts.get("guard_id", ""),
                "where": gate,
                "hash": record_hash,  # the record's (its check code on the register)
            }
        )
    if hub_rounds or (hub_rounds is None and kiosk_id is None):
        for place, agent, done_at, done_by in store.fetch_all(
            "SELECT place, agent, done_at, done_by FROM disinfection_rounds"
            f" WHERE done_at >= ? AND done_at < ? AND {store.in_compound()}",
            (start, end),
        ):
            rounds.append(
                {
                    "wall_time": done_at,
                    "place": place,
                    "agent": agent,
                    "by": done_by,
                    "where": "中心",
                    "hash": None,  # logged on the hub: no kiosk hashed it
                }
            )
    rounds.sort(key=lambda r: r["wall_time"])
    return rounds


def due_times(
    day: date, rounds: int, tz: tzinfo, start_h: int = 7, end_h: int = 21
) -> list[datetime]:
    """When each of a place's rounds is due by, local, over ``start_h``–``end_h``."""
    midnight = datetime.combine(day, time(0, 0), tz)
    start = midnight + timedelta(hours=start_h)
    span = timedelta(hours=end_h - start_h)
    return [start + span * k / rounds for k in range(1, rounds + 1)]


def plan_status(store: HubStore, tz: tzinfo, now: datetime | None = None) -> list[PlaceStatus]:
    """Today's rounds per place against the plan, as of ``now``."""
    now = (now or datetime.now(UTC)).astimezone(tz)
    day = local_today(tz, now)
    done: dict[str, int] = {}
    for entry in rounds_of_day(store, day, tz):
        done[entry["place"]] = done.get(entry["place"], 0) + 1
    settings = duty_settings.current(store)
    start_h, end_h = settings["disinfection.day_start_h"], settings["disinfection.day_end_h"]
    statuses = []
    for name, required in places(store).items():
        dues = due_times(day, required, tz, start_h, end_h)
        count = done.get(name, 0)
        due_now = sum(1 for due in dues if due <= now)
        statuses.append(
            PlaceStatus(name, required, count, due_now, dues[count] if count < required else None)
        )
    return statuses

"""The duty schedule (排班) and the gate found unmanned (漏岗).

A shift is one person at one gate for a span of hours, kept in UTC and entered and shown in the
hub's local zone. Who is actually on duty comes from the kiosks' ``shift`` events (signed on with
a temperature and the household question, or signed off). A gate is staffed while a shift covers
the moment; when nobody is signed on there for longer than the grace period, it is 漏岗.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sync.contract import GUARD_ID_PATTERN
from sync.hub import duty_settings, roster_admin
from sync.hub.admins import audit
from sync.hub.sql import json_field
from sync.hub.store import HubStore, now_iso
from sync.localtime import FIRST_YEAR, LAST_YEAR, format_local

MAX_SHIFT_H = 24


class DutyError(ValueError):
    """A shift that cannot be kept; the message says in Chinese what to change."""


class UnknownStaffFever(DutyError):
    """No such refused sign-on in the compound (another compound's is not there either)."""


@dataclass(frozen=True)
class Shift:
    sid: int
    person: str
    name: str
    gate: str
    starts_at: str  # UTC ISO
    ends_at: str


@dataclass(frozen=True)
class Unmanned:
    """漏岗: a gate staffed by the schedule with nobody signed on since ``since`` (UTC)."""

    gate: str
    since: str
    minutes: int
    scheduled: list[str]  # the names the schedule has at the gate now


def parse_local(raw: str, tz: tzinfo, what: str) -> datetime:
    """``2026-11-29T08:00`` (or with a space) read in the hub's zone, returned in UTC."""
    text = (raw or "").strip().replace(" ", "T")[:19]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DutyError(
            f"{what}格式不对（{text[:20]}）：请按 2026-11-29 08:00 的格式填写"
        ) from None
    if moment.tzinfo is not None:
        raise DutyError(f"{what}请填写当地时间，不要带时区")
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise DutyError(
            f"{what}超出范围（{text[:20]}）：请填写 {FIRST_YEAR} 至 {LAST_YEAR} 年之间的时间"
        )
    return moment.replace(tzinfo=tz).astimezone(UTC)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _names(store: HubStore) -> dict[str, str]:
    return {
        key: data.get("name", key) for key, data in roster_admin.current(store, "guard").items()
    }


def add_shift(
    store: HubStore,
    person: str,
    gate: str,
    starts: str,
    ends: str,
    tz: tzinfo,
    username: str,
) -> int:
    """Put a person on a gate for a span; refuses what cannot be kept (and stores nothing)."""
    person, gate = (person or "").strip(), (gate or "").strip()
    names = _names(store)
    if not GUARD_ID_PATTERN.fullmatch(person) or person not in names:
        raise DutyError(f"没有编号为“{person[:32]}”的值班人员：请先在“设置”里添加该门卫或员工")
    if not roster_admin.GATE.fullmatch(gate):
        raise DutyError("门岗编号须为 1–32 个字母、数字或“-”：请从列表中选择门岗")
    if gate not in roster_admin.known_gates(store):
        raise DutyError(
            f"没有门岗 {gate}：请从列表中选择已注册的门岗（新门岗请先在“门岗”页生成登记码）"
        )
    start, end = parse_local(starts, tz, "开始时间"), parse_local(ends, tz, "结束时间")
    if end <= start:
        raise DutyError("结束时间须晚于开始时间：请修改后再保存")
    if end - start > timedelta(hours=MAX_SHIFT_H):
        raise DutyError(f"一个班次最长 {MAX_SHIFT_H} 小时：请分成几个班次")
    with store.transaction(ordered=True):
        clash = store.fetch_one(
            "SELECT gate, starts_at, ends_at FROM duty_shifts WHERE person = ?"
            f" AND removed_at IS NULL AND starts_at < ? AND ends_at > ? AND {store.in_compound()}",
            (person, _utc(end), _utc(start)),
        )
        if clash:
            raise DutyError(
                f"{names[person]}在 {format_local(clash[1], tz, '%m-%d %H:%M')}–"
                f"{format_local(clash[2], tz, '%m-%d %H:%M')} 已排在{clash[0]}，同一人的班次不能"
                "重叠：请调整时间或先删除原班次"
            )
        row = store.fetch_one(
            "INSERT INTO duty_shifts (person, gate, starts_at, ends_at, created_by, created_at,"
            " compound_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING sid",
            (person, gate, _utc(start), _utc(end), username, now_iso(), store.write_compound()),
        )
        audit(
            store,
            username,
            "duty.add",
            {"person": person, "gate": gate, "starts_at": _utc(start), "ends_at": _utc(end)},
        )
    return int(row[0])


def remove_shift(store: HubStore, sid: int, username: str) -> None:
    with store.transaction():
        row = store.fetch_one(
            "UPDATE duty_shifts SET removed_at = ? WHERE sid = ? AND removed_at IS NULL"
            f" AND {store.in_compound()} RETURNING sid",
            (now_iso(), sid),
        )
        if row is None:
            raise DutyError("该班次已删除或不存在：请刷新排班页面")
        audit(store, username, "duty.remove", {"sid": sid})


def shifts_between(store: HubStore, start: str, end: str) -> list[Shift]:
    """Shifts that overlap ``[start, end)`` (UTC ISO), by start."""
    names = _names(store)
    rows = store.fetch_all(
        "SELECT sid, person, gate, starts_at, ends_at FROM duty_shifts WHERE removed_at IS NULL"
        f" AND starts_at < ? AND ends_at > ? AND {store.in_compound()} ORDER BY starts_at, gate",
        (end, start),
    )
    return [Shift(r[0], r[1], names.get(r[1], r[1]), r[2], r[3], r[4]) for r in rows]


def week(store: HubStore, monday: date, tz: tzinfo) -> list[tuple[date, list[Shift]]]:
    """The seven local days from ``monday`` with the shifts that start on each."""
    days = [monday + timedelta(days=i) for i in range(7)]
    start = datetime.combine(monday, datetime.min.time(), tz)
    shifts = shifts_between(store, _utc(start), _utc(start + timedelta(days=7)))
    by_day: dict[date, list[Shift]] = {day: [] for day in days}
    for shift in shifts:
        local = datetime.fromisoformat(shift.starts_at).astimezone(tz).date()
        by_day.setdefault(max(local, monday), []).append(shift)
    return [(day, by_day[day]) for day in days]


def shift_events(
    store: HubStore, start: str, end: str, kiosk_id: str | None = None
) -> list[dict[str, Any]]:
    """The sign-on/off events in ``[start, end)`` (UTC ISO), oldest first, detail parsed."""
    sql = (
        f"SELECT id, kiosk_id, wall_time, verdict, estimate_c, {json_field(store, 'links_to')},"
        f" {json_field(store, 'detail')}"
        " FROM events WHERE kind = 'shift' AND wall_time >= ? AND wall_time < ?"
        f" AND {store.gate_in_compound()}"
    )
    params: tuple[Any, ...] = (start, end)
    if kiosk_id is not None:
        sql += " AND kiosk_id = ?"
        params += (kiosk_id,)
    rows = store.fetch_all(sql + " ORDER BY wall_time", params)
    names = ("id", "kiosk_id", "wall_time", "verdict", "estimate_c", "links_to")
    events = []
    for row in rows:
        event = dict(zip(names, row, strict=False))
        event["detail_"] = json.loads(row[-1]) if row[-1] else {}
        events.append(event)
    return events


def signed_on(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(gate, person) → the sign-on still open at the end of ``events`` (oldest first)."""
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        key = (event["kiosk_id"], event["detail_"].get("guard_id", ""))
        if event["verdict"] == "on":
            open_[key] = event
        elif event["verdict"] in ("off", "blocked"):  # signed off, or refused for a fever
            open_.pop(key, None)
        # "refused" (a barred guard's PIN turned away at the kiosk) changes nobody's duty
    return open_


def unmanned(
    store: HubStore, now: datetime | None = None, grace_min: int | None = None
) -> list[Unmanned]:
    """Gates staffed by the schedule now, with nobody signed on for longer than the grace
    (the hub's setting ``duty.grace_min`` unless given)."""
    if grace_min is None:
        grace_min = int(duty_settings.current(store)["duty.grace_min"])
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = _utc(now)
    staffed: dict[str, list[Shift]] = {}
    for shift in shifts_between(store, stamp, _utc(now + timedelta(seconds=1))):
        staffed.setdefault(shift.gate, []).append(shift)
    if not staffed:
        return []
    # A sign-on older than a day's longest shift does not keep a gate staffed.
    events = shift_events(store, _utc(now - timedelta(hours=MAX_SHIFT_H)), stamp)
    earlier = shifts_between(store, _utc(now - timedelta(hours=2 * MAX_SHIFT_H)), stamp)
    on = signed_on(events)
    findings = []
    for gate, shifts in sorted(staffed.items()):
        if any(key[0] == gate for key in on):
            continue
        since = _staffed_since(
            min(shift.starts_at for shift in shifts),
            [s for s in earlier if s.gate == gate],
        )
        for event in events:
            # Nobody has been on since the last accepted sign-on ended: only a sign-on that
            # was accepted (and so its sign-off) manned the gate. A refused one (a fever, a
            # barred guard's retry) did not, and must not restart the unmanned time.
            if (
                event["kiosk_id"] == gate
                and event["verdict"] in ("on", "off")
                and event["wall_time"] > since
            ):
                since = event["wall_time"]
        minutes = int((now - datetime.fromisoformat(since)).total_seconds() // 60)
        if minutes >= grace_min:
            findings.append(Unmanned(gate, since, minutes, [s.name for s in shifts]))
    return findings


@dataclass(frozen=True)
class UnmannedPeriod:
    """A past (or running) 漏岗: a gate the schedule staffed with nobody signed on from
    ``since`` to ``until`` (UTC ISO), at least the grace long."""

    gate: str
    since: str
    until: str
    minutes: int
    scheduled: list[str]
    ongoing: bool  # still unmanned at the end of the window (now)


Span = tuple[datetime, datetime]


def unmanned_history(
    store: HubStore,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    grace_min: int | None = None,
) -> list[UnmannedPeriod]:
    """The 漏岗 periods within ``[start, end)`` (up to now), by gate and time: the times a shift
    covered with no accepted sign-on open at that gate, each at least the grace long (as the
    dashboard flags them). A refused sign-on or a retry changes nothing."""
    if grace_min is None:
        grace_min = int(duty_settings.current(store)["duty.grace_min"])
    now = (now or datetime.now(UTC)).astimezone(UTC)
    start, end = start.astimezone(UTC), min(end.astimezone(UTC), now)
    if end <= start:
        return []
    spans: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for shift in shifts_between(store, _utc(start), _utc(end)):
        a = max(datetime.fromisoformat(shift.starts_at), start)
        b = min(datetime.fromisoformat(shift.ends_at), end)
        if a < b:
            spans.setdefault(shift.gate, []).append((a, b, shift.name))
    if not spans:
        return []
    events = shift_events(store, _utc(start - timedelta(hours=MAX_SHIFT_H)), _utc(end))
    manned = _manned(events, end)
    periods = []
    for gate, gate_spans in sorted(spans.items()):
        for covered in _union([(a, b) for a, b, _ in gate_spans]):
            for a, b in _minus(covered, manned.get(gate, [])):
                minutes = int((b - a).total_seconds() // 60)
                if minutes < max(grace_min, 1):
                    continue
                names = sorted({n for s0, s1, n in gate_spans if s0 < b and s1 > a})
                periods.append(UnmannedPeriod(gate, _utc(a), _utc(b), minutes, names, b >= now))
    return sorted(periods, key=lambda p: (p.since, p.gate))


def _manned(events: list[dict[str, Any]], end: datetime) -> dict[str, list[Span]]:
    """Gate → the times somebody had an accepted sign-on open there (merged). A sign-on with
    no sign-off counts for a day's longest shift at most."""
    opened: dict[tuple[str, str], datetime] = {}
    spans: dict[str, list[Span]] = {}
    for event in events:
        key = (event["kiosk_id"], event["detail_"].get("guard_id", ""))
        at = datetime.fromisoformat(event["wall_time"])
        if event["verdict"] == "on" and key not in opened:
            opened[key] = at
        elif event["verdict"] in ("off", "blocked") and key in opened:
            since = opened.pop(key)
            spans.setdefault(key[0], []).append((since, min(at, since + _LONGEST)))
    for (gate, _), since in opened.items():
        spans.setdefault(gate, []).append((since, min(end, since + _LONGEST)))
    return {gate: _union(gate_spans) for gate, gate_spans in spans.items()}


_LONGEST = timedelta(hours=MAX_SHIFT_H)


def _union(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _minus(span: Span, holes: list[Span]) -> list[Span]:
    """``span`` without the (merged, sorted) ``holes``."""
    a, b = span
    left = []
    for h0, h1 in holes:
        if h1 <= a or h0 >= b:
            continue
        if h0 > a:
            left.append((a, h0))
        a = max(a, h1)
    if a < b:
        left.append((a, b))
    return left


def _staffed_since(start: str, shifts: list[Shift]) -> str:
    """The start of the unbroken run of shifts at a gate that reaches ``start``: back-to-back
    or overlapping shifts (08–16, then 12–23) staff the gate from the first one's start."""
    changed = True
    while changed:
        changed = False
        for shift in shifts:
            if shift.starts_at < start <= shift.ends_at:
                start, changed = shift.starts_at, True
    return start


def staff_fevers(store: HubStore, days: int = 14) -> list[dict[str, Any]]:
    """Sign-ons blocked by a fever that no manager has cleared, newest first: the person is
    barred from the kiosk's guard screen for that day and the manager must act. Each carries
    ``retries``: the barred person's later tries at the kiosk (their PIN turned away)."""
    start = _utc(datetime.now(UTC) - timedelta(days=days))
    events = shift_events(store, start, _utc(datetime.now(UTC) + timedelta(days=1)))
    cleared = roster_admin.current(store, "duty_clearance")
    retries: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["verdict"] == "refused" and event["links_to"]:
            retries.setdefault(event["links_to"], []).append(event)
    fevers = []
    for event in events:
        if event["verdict"] == "blocked" and event["id"] not in cleared:
            fevers.append({**event, "retries": retries.get(event["id"], [])})
    return fevers[::-1]


def clear_fever(store: HubStore, event_id: str, username: str) -> dict[str, Any]:
    """The manager clears a staff member's fever block at sign-on (解除): their PIN opens the
    kiosk's guard screen again once the kiosk has the roster. Only a blocked sign-on can be
    cleared; the block's record stays as it was, the clearance is in the audit log."""
    event_id = (event_id or "").strip()[:64]
    event = _blocked_sign_on(store, event_id)
    if event is None:
        raise UnknownStaffFever("没有这条上岗体温异常记录：请刷新页面")
    if event_id in roster_admin.current(store, "duty_clearance"):
        raise DutyError("这条上岗体温异常已解除：请刷新页面")
    data = {
        "guard_id": event["detail_"].get("guard_id", ""),
        "by": username,
        "at": now_iso(),
    }
    store.roster_put("duty_clearance", event_id, data)
    with store.transaction():
        audit(
            store,
            username,
            "duty.clear_fever",
            {
                "event_id": event_id,
                "kiosk_id": event["kiosk_id"],
                "guard_id": data["guard_id"],
                "signed_on_at": event["wall_time"],
            },
        )
    return event


def _blocked_sign_on(store: HubStore, event_id: str) -> dict[str, Any] | None:
    row = store.fetch_one(
        "SELECT wall_time FROM events WHERE id = ? AND kind = 'shift' AND verdict = 'blocked'"
        f" AND {store.gate_in_compound()}",
        (event_id,),
    )
    if row is None:
        return None
    # The events of that very moment ("~" sorts after every digit of a time).
    same = [e for e in shift_events(store, row[0], row[0] + "~") if e["id"] == event_id]
    return same[0] if same else None

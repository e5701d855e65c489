"""The registers (登记表) an inspection asks for, per gate and local day, filled from the synced
events: 体温检测登记, 外来人员登记, 车辆出入登记, 发热人员处置记录, 员工健康登记表, 值班记录,
消毒记录表 and the 值班 line.

Pure assembly over the hub's tables: homes are resolved from the pass on the hub, guards' names
from the roster, fever follow-ups from the dashboard's table. Times are local (the hub's zone).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

from sync.contract import mask_phone
from sync.hub import disinfection, labels, seal
from sync.hub.record_check import Unsound
from sync.hub.sign_on import sign_on_blocks
from sync.hub.sql import json_field
from sync.hub.store import HubStore
from sync.localtime import day_bounds_utc, format_local, local_today


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # characters in XLSX; PDF widths are proportional to it


@dataclass(frozen=True)
class Register:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[list[Any]]
    # Each row's check code (seal.check_code of the record it shows; "" for a row logged on the
    # hub, which no kiosk hashed): printed beside the row, listed by the seal check.
    codes: list[str] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return [c.title for c in self.columns]


@dataclass(frozen=True)
class Day:
    """One gate's local day: its registers and the guards on duty."""

    kiosk_id: str
    day: date
    registers: tuple[Register, ...]
    on_duty: list[str]
    # Records of the day that are not what their kiosk hashed: their rows are marked, and the
    # day's sheet carries no seal (nothing may vouch for it).
    unsound: tuple[Unsound, ...] = ()

    @property
    def unsound_seqs(self) -> list[int]:
        return sorted({u.seq for u in self.unsound})

    def register(self, key: str) -> Register:
        for register in self.registers:
            if register.key == key:
                return register
        raise KeyError(key)


TITLES = {
    "screening": "体温检测登记",
    "visitors": "外来人员登记",
    "vehicles": "车辆出入登记",
    "fevers": "发热人员处置记录",
    "staff_health": "员工健康登记表",
    "duty": "值班记录",
    "disinfection": "消毒记录表",
}
COLUMNS: dict[str, tuple[Column, ...]] = {
    "screening": (
        Column("时间", 20),
        Column("楼栋-单元-房号", 16),
        Column("通行码", 13),
        Column("体温 °C", 9),
        Column("结果", 10),
        Column("原因", 12),
        Column("值班门卫", 14),
    ),
    "visitors": (
        Column("时间", 20),
        Column("姓名", 12),
        Column("电话", 13),
        Column("去往", 12),
        Column("事由", 10),
        Column("风险地区", 12),
        Column("健康码", 8),
        Column("体温 °C", 9),
        Column("处理", 12),
        Column("门卫", 12),
    ),
    "vehicles": (
        Column("时间", 20),
        Column("车牌", 12),
        Column("进/出", 6),
        Column("车内人员体温 °C", 22),
        Column("门卫", 12),
    ),
    "fevers": (
        Column("时间", 20),
        Column("人员/住址", 18),
        Column("体温 °C", 9),
        Column("复测 °C", 9),
        Column("门卫处置", 18),
        Column("处置门卫", 12),
        Column("上报卫生站时间", 20),
        Column("结果", 16),
    ),
    "staff_health": (
        Column("时间", 20),
        Column("姓名", 16),
        Column("体温 °C", 9),
        Column("家里是否有外来人员", 18),
        Column("结果", 18),
    ),
    "duty": (
        Column("姓名", 16),
        Column("上岗时间", 20),
        Column("下岗时间", 20),
        Column("上岗体温 °C", 12),
        Column("备注", 18),
    ),
    "disinfection": (
        Column("时间", 20),
        Column("场所", 14),
        Column("消毒剂", 14),
        Column("消毒人", 16),
        Column("登记处", 12),
    ),
}
KEYS = tuple(TITLES)
CODE_COLUMN = Column("校验码", 9)  # printed after a register's own columns (seal.check_code)
# After the time of a row whose record is not what its kiosk hashed (※: the PDF's CJK font has
# it; it has no ⚠).
UNSOUND_MARK = "（※ 记录与哈希不符，不能作证）"


# The fields a register shows, read in SQL: parsing each whole record in Python was most of
# the cost of a month's register (bench/register_bench.py).
RECORD_COLUMNS = ("id", "kind", "wall_time", "verdict", "estimate_c", "epoch", "seq", "hash")
SHOWN_FIELDS = ("pass_code", "reason", "links_to")


def day_records(store: HubStore, kiosk_id: str, day: date, tz: tzinfo) -> list[dict[str, Any]]:
    """The gate's events of that local day, in the order the kiosk recorded them, with the
    fields the registers show (``detail_`` is the parsed detail)."""
    start, end = day_bounds_utc(day, tz)
    fields = ", ".join(json_field(store, key) for key in SHOWN_FIELDS)
    # A screening's detail is its raw samples: nothing a register shows, so it is not read.
    detail = f"CASE WHEN kind = 'screening' THEN NULL ELSE {json_field(store, 'detail')} END"
    rows = store.fetch_all(
        f"SELECT {', '.join(RECORD_COLUMNS)}, {fields}, {detail} FROM events"
        " WHERE kiosk_id = ? AND wall_time >= ? AND wall_time < ?"
        f" AND {store.gate_in_compound()} ORDER BY epoch, seq",
        (kiosk_id, start, end),
    )
    names = (*RECORD_COLUMNS, *SHOWN_FIELDS)
    records = []
    for row in rows:
        record = dict(zip(names, row, strict=False))
        record["detail_"] = json.loads(row[-1]) if row[-1] else {}
        records.append(record)
    records.sort(key=lambda r: r["wall_time"])
    return records


def _homes(store: HubStore, codes: set[str]) -> dict[str, tuple[str, str]]:
    """pass code → (楼栋-单元-房号, name), for the passes the hub issued."""
    homes: dict[str, tuple[str, str]] = {}
    wanted = sorted(codes)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = store.fetch_all(
            "SELECT p.code, r.building, r.unit, r.room, r.name FROM passes p"
            " JOIN residents r ON r.resident_id = p.resident_id"
            f" WHERE p.code IN ({', '.join('?' * len(chunk))})"
            f" AND {store.in_compound('r.compound_id')}",
            tuple(chunk),
        )
        for code, building, unit, room, name in rows:
            homes[code] = (f"{building}-{unit}-{room}", name)
    return homes


def _guard_names(store: HubStore, day: date, tz: tzinfo) -> dict[str, str]:
    from sync.hub.roster_admin import guard_names_as_of

    return guard_names_as_of(store, day_bounds_utc(day, tz)[1])


def _number(value: Any) -> Any:
    return "" if value is None else round(float(value), 1)


class _Rows(list[list[Any]]):
    """A register's rows as they are built, each with the check code of its record."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: list[str] = []

    def add(self, record: dict[str, Any] | None, row: list[Any]) -> list[Any]:
        self.append(row)
        self.codes.append(seal.check_code(record["hash"]) if record and record.get("hash") else "")
        return row


def build_day(
    store: HubStore, kiosk_id: str, day: date, tz: tzinfo, *, upto: tuple[str, int] | None = None
) -> Day:
    """``upto``: (epoch, seq) of the last record a printed sheet held (its seal): the day as
    that sheet showed it, without the records that came after."""
    records = day_records(store, kiosk_id, day, tz)
    if upto is not None:
        records = [r for r in records if not (r["epoch"] == upto[0] and int(r["seq"]) > upto[1])]
    names = _guard_names(store, day, tz)
    for record in records:  # a guard the kiosk knows and the hub does not: the name it sent
        detail = record["detail_"]
        if record["kind"] in ("shift", "disinfection") and detail.get("name"):
            names.setdefault(detail.get("guard_id") or "", detail["name"])

    def guard(guard_id: str | None) -> str:
        if not guard_id:
            return ""
        name = names.get(guard_id)
        return f"{name}（{guard_id}）" if name and name != guard_id else guard_id

    homes = _homes(store, {r["pass_code"] for r in records if r.get("pass_code")})
    followups = _followups(
        store, [r["id"] for r in records if r["kind"] == "screening" and r["verdict"] == "blocked"]
    )
    linked: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("links_to"):
            linked.setdefault(record["links_to"], []).append(record)
    # A guard's 复测 of a fever block is a screening linked to it: who re-measured is in its
    # detail, which is not read for screenings (their samples): read just that, for those few.
    blocks = {r["id"] for r in records if r["kind"] == "screening" and r["verdict"] == "blocked"}
    remeasures = [r for r in records if r["kind"] == "screening" and r.get("links_to") in blocks]
    for record, guard_id in zip(
        remeasures, _remeasured_by(store, [r["id"] for r in remeasures]), strict=True
    ):
        record["detail_"] = {"guard_id": guard_id} if guard_id else {}
    by_id = {r["id"]: r for r in records}

    def pass_of(record: dict[str, Any]) -> str:
        """The pass a screening belongs to: its own, or a re-measure's block's (a guard's 复测
        measures the person of the block, who shows no pass again)."""
        seen = 0
        while not record.get("pass_code") and record.get("links_to") in blocks and seen < 8:
            record, seen = by_id[record["links_to"]], seen + 1
        return record.get("pass_code") or ""

    remeasure_ids = {r["id"] for r in remeasures}
    staff_blocks = sign_on_blocks(records)  # shown as the staff member's, in their registers
    acted_ids: list[str] = []  # guards who acted at the gate (a sign-on is not an action)
    for record in records:
        guard_id = record["detail_"].get("guard_id")
        if guard_id and guard_id not in acted_ids and record["kind"] != "shift":
            acted_ids.append(guard_id)

    unsound = tuple(seal.unsound_of_day(store, kiosk_id, day, tz))
    unsound_ids = {u.record_id for u in unsound}

    def when(record: dict[str, Any]) -> str:
        shown = format_local(record["wall_time"], tz)
        return shown + UNSOUND_MARK if record["id"] in unsound_ids else shown

    screening, visitors, vehicles, fevers = _Rows(), _Rows(), _Rows(), _Rows()
    staff, shifts = _Rows(), _Rows()
    open_shifts: dict[str, list[Any]] = {}
    refused_rows: dict[str, list[Any]] = {}  # a fever-refused sign-on's id → [row, retries, note]
    signed_on: list[str] = []
    # The guard who last acted at the gate so far; none is guessed for the hours before the
    # first guard acted (the 值班 line names everyone of the day).
    acting: str | None = None
    for record in records:
        kind, detail = record["kind"], record["detail_"]
        if not (kind == "shift" and record.get("verdict") in ("blocked", "refused")):
            # A person refused at sign-on (or barred) is not the guard at the gate.
            acting = detail.get("guard_id") or acting
        code = record.get("pass_code") or ""
        if kind == "screening" and record["id"] in staff_blocks:
            continue  # a staff member's fever at sign-on: their health record, below
        if kind == "screening":
            code = pass_of(record)
            reason = labels.zh(record.get("reason"))
            if record["id"] in remeasure_ids:
                reason = "门卫复测" + (f"：{reason}" if reason else "")
            screening.add(
                record,
                [
                    when(record),
                    homes.get(code, ("", ""))[0],
                    code,
                    _number(record.get("estimate_c")),
                    labels.zh(record.get("verdict")),
                    reason,
                    guard(acting),
                ],
            )
            if record.get("verdict") == "blocked":
                fevers.add(
                    record,
                    _fever_row(followups, record, homes, linked, guard, when, tz, code),
                )
        elif kind == "visitor":
            screened = [r for r in linked.get(record["id"], []) if r["kind"] == "screening"]
            decided = [r for r in linked.get(record["id"], []) if r["kind"] == "override"]
            if decided:
                outcome = "门卫" + labels.zh(decided[-1]["verdict"])
            elif screened:
                outcome = labels.zh(screened[-1]["verdict"])
            else:
                outcome = labels.zh(record.get("verdict"))
            place = "-".join(str(detail.get(k) or "") for k in ("building", "unit")).strip("-")
            visitors.add(
                record,
                [
                    when(record),
                    detail.get("name") or "",
                    mask_phone(detail["phone"]) if detail.get("phone") else "",
                    place,
                    labels.zh(detail.get("purpose")),
                    labels.zh(detail.get("risk_area")),
                    labels.zh(detail.get("code_colour")),
                    _number(screened[-1].get("estimate_c")) if screened else "",
                    outcome,
                    guard(detail.get("guard_id")),
                ],
            )
        elif kind == "vehicle":
            temps = [
                f"{r['estimate_c']:.1f}"
                for r in linked.get(record["id"], [])
                if r["kind"] == "screening" and r.get("estimate_c") is not None
            ]
            vehicles.add(
                record,
                [
                    when(record),
                    detail.get("plate") or "",
                    labels.zh(record.get("verdict")),
                    "、".join(temps),
                    guard(detail.get("guard_id")),
                ],
            )
        elif kind == "shift":
            guard_id = detail.get("guard_id") or ""
            verdict = record.get("verdict")
            if verdict == "off":
                row = open_shifts.pop(guard_id, None)
                if row is None:  # signed on the day before
                    shifts.add(record, [guard(guard_id), "", when(record), "", "前一日上岗"])
                else:
                    row[2] = when(record)
                continue
            if verdict == "refused":
                # A person barred by a fever tried their PIN again: a note on the refused row,
                # not a shift and not a measurement.
                refused_row = refused_rows.get(record.get("links_to") or "")
                if refused_row is not None:
                    refused_row[1] += 1
                    refused_row[0][4] = f"{refused_row[2]}；其后 {refused_row[1]} 次登录被拒"
                continue
            fit = verdict == "on"
            staff.add(
                record,
                [
                    when(record),
                    guard(guard_id),
                    _number(record.get("estimate_c")),
                    "有" if detail.get("visitors_at_home") else "无",
                    "正常，上岗" if fit else "体温异常，未能上岗",
                ],
            )
            if fit:
                row = [guard(guard_id), when(record), "", _number(record.get("estimate_c")), ""]
                open_shifts[guard_id] = row
                if guard_id not in signed_on:
                    signed_on.append(guard_id)
            else:
                # Refused: no shift began, so no 上岗时间; the time of the refusal is the note's.
                note = f"{when(record)[11:16]} 上岗测温体温异常，未能上岗（当日禁止上岗）"
                row = [guard(guard_id), "", "", _number(record.get("estimate_c")), note]
                refused_rows[record["id"]] = [row, 0, note]
            shifts.add(record, row)
    # A shift still open at the end of the day's records: still on duty if the day is today,
    # otherwise the sign-off never came that day.
    still_on = "在岗" if day == local_today(tz) else "当日未下岗"
    for row in open_shifts.values():
        row[4] = still_on
    rounds = _Rows()
    shown = {r["hash"] for r in records}
    for r in disinfection.rounds_of_day(store, day, tz, kiosk_id, hub_rounds=True):
        if r["hash"] is None or r["hash"] in shown:  # a kiosk's round after the sheet: not on it
            row = [format_local(r["wall_time"], tz), r["place"], r["agent"], r["by"], r["where"]]
            rounds.add(r, row)
    rows = {
        "screening": screening,
        "visitors": visitors,
        "vehicles": vehicles,
        "fevers": fevers,
        "staff_health": staff,
        "duty": shifts,
        "disinfection": rounds,
    }
    registers = tuple(
        Register(k, TITLES[k], COLUMNS[k], list(rows[k]), rows[k].codes) for k in KEYS
    )
    # The 值班 line: who signed on that day, then anyone who acted at the gate without signing
    # on; on a day without any sign-on (before the guard screen had it), who acted.
    on_duty = [guard(g) for g in signed_on]
    if signed_on:
        on_duty += [guard(g) + "（未签到）" for g in acted_ids if g not in signed_on]
    else:
        on_duty = [guard(g) for g in acted_ids]
    return Day(kiosk_id, day, registers, on_duty, unsound)


def _remeasured_by(store: HubStore, event_ids: list[str]) -> list[str | None]:
    """The guard id in each of these screenings' detail (a re-measure), in order."""
    found: dict[str, str | None] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        rows = store.fetch_all(
            f"SELECT id, {json_field(store, 'detail')} FROM events"
            f" WHERE id IN ({', '.join('?' * len(chunk))}) AND {store.gate_in_compound()}",
            tuple(chunk),
        )
        for event_id, detail in rows:
            guard_id = json.loads(detail).get("guard_id") if detail else None
            found[event_id] = guard_id if isinstance(guard_id, str) else None
    return [found.get(event_id) for event_id in event_ids]


def _followups(store: HubStore, event_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """event id → (reported_at, outcome, note, state) for these fever events."""
    found: dict[str, tuple[Any, ...]] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        rows = store.fetch_all(
            "SELECT event_id, reported_at, outcome, note, state FROM followups"
            f" WHERE event_id IN ({', '.join('?' * len(chunk))})",
            tuple(chunk),
        )
        found.update((row[0], tuple(row[1:])) for row in rows)
    return found


def _fever_row(
    followups: dict[str, tuple[Any, ...]],
    record: dict[str, Any],
    homes: dict[str, tuple[str, str]],
    linked: dict[str, list[dict[str, Any]]],
    guard: Any,
    when: Any,
    tz: tzinfo,
    code: str,
) -> list[Any]:
    home = homes.get(code)
    who = f"{home[1]} {home[0]}" if home else (f"通行码 {code}" if code else "未知")
    decisions = [r for r in linked.get(record["id"], []) if r["kind"] == "override"]
    decision = decisions[-1] if decisions else None
    # The guard's 复测 at the kiosk decides a block too: the first re-measure that gave a
    # verdict (a retry or a failed one decides nothing; a fever again is a new block, its own
    # row).
    remeasures = [
        r
        for r in linked.get(record["id"], [])
        if r["kind"] == "screening" and r.get("verdict") in ("admitted", "blocked")
    ]
    remeasure = remeasures[0] if remeasures and decision is None else None
    followup = followups.get(record["id"])
    outcome = ""
    if followup is not None:
        outcome = labels.zh(followup[1]) or labels.zh(followup[3])
        if followup[2]:
            outcome += f"（{followup[2]}）"
    if decision is not None:
        remeasured_c = _number(decision["detail_"].get("remeasured_c"))
        decided = f"{labels.zh(decision['verdict'])}：{labels.zh(decision.get('reason'))}"
        by = guard(decision["detail_"].get("guard_id"))
    elif remeasure is not None:
        remeasured_c = _number(remeasure.get("estimate_c"))
        decided = (
            "门卫复测正常，放行"
            if remeasure["verdict"] == "admitted"
            else f"门卫复测仍异常（{when(remeasure)[11:19]} 另记一条）"
        )
        by = guard(remeasure["detail_"].get("guard_id"))
    else:
        remeasured_c, decided, by = "", "待处置", ""
    return [
        when(record),
        who,
        _number(record.get("estimate_c")),
        remeasured_c,
        decided,
        by,
        format_local(followup[0], tz) if followup and followup[0] else "",
        outcome,
    ]


def range_rows(
    store: HubStore, kiosk_id: str, first: date, last: date, key: str, tz: tzinfo
) -> Iterator[list[Any]]:
    """One register's rows over several days (a month for the inspection), one day in memory
    at a time."""
    day = first
    while day <= last:
        yield from build_day(store, kiosk_id, day, tz).register(key).rows
        day += timedelta(days=1)


def text_lines(day: Day) -> list[str]:
    """A day's registers as text lines (``hub verify-sheet --show``): each row with its check
    code first, to be found by the code printed on the sheet."""
    out = []
    for register in day.registers:
        count = len(register.rows)
        out.append(f"{register.title} · {day.kiosk_id} · {day.day.isoformat()} · 共 {count} 条")
        out.append("  校验码    " + " | ".join(register.header))
        for code, row in zip(register.codes, register.rows, strict=True):
            cells = " | ".join("" if value is None else str(value) for value in row)
            out.append(f"  {code or '（中心）':<8}  {cells}")
    return out


def gates_of_day(store: HubStore, day: date, tz: tzinfo) -> list[str]:
    start, end = day_bounds_utc(day, tz)
    rows = store.fetch_all(
        "SELECT DISTINCT kiosk_id FROM events WHERE wall_time >= ? AND wall_time < ?"
        f" AND {store.gate_in_compound()} ORDER BY kiosk_id",
        (start, end),
    )
    return [row[0] for row in rows]


def gate_known(store: HubStore, kiosk_id: str) -> bool:
    """One of the compound's gates (a day without records is still its day)."""
    return (
        store.fetch_one(
            f"SELECT 1 FROM kiosks WHERE kiosk_id = ? AND {store.in_compound()}", (kiosk_id,)
        )
        is not None
    )


def sheet_title(register: Register, kiosk_id: str, day: date, compound: str) -> str:
    return f"{compound} · {kiosk_id} · {register.title} · {day.isoformat()}"


__all__ = [
    "Day",
    "Register",
    "build_day",
    "gates_of_day",
    "local_today",
    "range_rows",
    "sheet_title",
]

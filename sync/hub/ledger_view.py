"""The hub's ledger for admins: filters, the daily ledger (台账) columns, CSV and XLSX exports
streamed in constant memory. Dates and times are local (the hub's zone), codes are words."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, tzinfo
from pathlib import Path
from typing import Any

from sync.contract import EVENT_KINDS, mask_phone
from sync.hub import labels, sheets
from sync.hub.store import HubStore
from sync.localtime import (
    DEFAULT_ZONE,
    DayError,
    day_bounds_utc,
    offset_label,
    parse_day,
    to_local,
    zone,
)

COLUMNS = (
    ("序号 No.", "ingest_seq"),
    ("门岗 Gate", "kiosk_id"),
    ("日期 Date", "date"),
    ("时间 Time", "time"),
    ("时钟已同步 Clock synced", "clock_synced"),
    ("事件 Event", "kind"),
    ("结果 Result", "verdict"),
    ("原因 Reason", "reason"),
    ("体温 °C", "estimate_c"),
    ("阈值 °C", "threshold_c"),
    ("通行码 Pass", "pass_code"),
    ("车牌 Plate", "plate"),
    ("访客电话 Visitor phone", "phone"),
    ("记录 Record id", "id"),
    ("关联 Links to", "links_to"),
    ("门岗时区 Gate's zone", "utc_offset"),
)
KINDS = (
    "screening",
    "override",
    "visitor",
    "vehicle",
    "alarm",
    "identify",
    "sensor_fault",
    "sensor_recovered",
    "shift",
    "disinfection",
    "guard_pin",
)
assert set(KINDS) == set(EVENT_KINDS)  # every kind a kiosk records can be chosen
VERDICTS = (
    "admitted",
    "blocked",
    "retry",
    "fault",
    "accepted",
    "refused",
    "denied",
    "held",
    "registered",
    "sounding",
    "silenced",
    "in",
    "out",
    "on",
    "off",
    "done",
)
ORDERS = ("time", "arrival")  # by when it happened (the record's time), or as it reached the hub
WIDTHS = (9, 12, 11, 9, 8, 10, 12, 14, 8, 8, 12, 11, 14, 38, 38)
FEVER_ONLY = "((kind = 'screening' AND verdict = 'blocked') OR kind = 'override')"
PAGE = 200


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    day_from: str | None = None
    day_to: str | None = None
    kiosk: str | None = None
    kind: str | None = None
    verdict: str | None = None
    text: str | None = None  # a plate, a pass code, a record id: only what the ledger shows
    order: str | None = None  # None: by the record's time; "arrival": as the hub received them

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        values: dict[str, str | None] = {}
        for name in ("day_from", "day_to", "kiosk", "kind", "verdict", "text", "order"):
            value = (args.get(name) or "").strip()
            if len(value) > 64:
                raise FilterError(f"查询条件过长（{name}）：请缩短后重试")
            values[name] = value or None
        for name in ("day_from", "day_to"):
            if day := values[name]:
                try:
                    parse_day(day, "2026-11-28")
                except DayError as exc:
                    raise FilterError(str(exc)) from None
        if values["order"] not in (None, *ORDERS):
            raise FilterError("排序只能是 按发生时间 或 按到达中心顺序：请从页面上选择")
        if values["order"] == "time":
            values["order"] = None  # the default
        for name, allowed in (("kind", KINDS), ("verdict", VERDICTS)):
            if label := values[name]:
                code = labels.code_for(label, allowed)
                if code is None:
                    raise FilterError(
                        f"无法识别的{'事件' if name == 'kind' else '结果'}“{values[name]}”："
                        "请选用 " + "、".join(labels.zh(c) for c in allowed)
                    )
                values[name] = code
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def where(self, *, fever_only: bool, tz: tzinfo | None = None) -> tuple[str, list[Any]]:
        """SQL for these filters; days are local days in ``tz`` (the hub's zone)."""
        tz = tz or zone(DEFAULT_ZONE)
        clauses, params = ["1 = 1"], []
        if self.day_from:
            clauses.append("wall_time >= ?")
            params.append(day_bounds_utc(date.fromisoformat(self.day_from), tz)[0])
        if self.day_to:
            clauses.append("wall_time < ?")
            params.append(day_bounds_utc(date.fromisoformat(self.day_to), tz)[1])
        for column in ("kiosk", "kind", "verdict"):
            value = getattr(self, column)
            if value:
                clauses.append(f"{'kiosk_id' if column == 'kiosk' else column} = ?")
                params.append(value)
        if self.text:
            # Only narrows the candidates: shows() then keeps the rows whose *shown* fields match,
            # so the search reveals nothing the ledger does not show (a masked phone, a name).
            clauses.append("record LIKE ?")
            params.append("%" + self.text.replace("%", "").replace("_", "") + "%")
        if fever_only:
            clauses.append(FEVER_ONLY)
        return " AND ".join(clauses), params


SEARCHED = ("id", "pass_code", "plate")  # the shown columns a search looks in


def shows(filters: Filters, row: dict[str, Any]) -> bool:
    """Does a ledger row match the search text in what it shows?"""
    if not filters.text:
        return True
    text = filters.text.casefold()
    return any(text in str(row[key]).casefold() for key in SEARCHED)


def row_for(ingest_seq: int, record_text: str, tz: tzinfo) -> dict[str, Any]:
    """One event as a line of the daily ledger: local date and time, words for codes, phones
    masked, no names."""
    record = json.loads(record_text)
    detail = json.loads(record.get("detail") or "{}")
    local = to_local(record["wall_time"], tz)
    return {
        "ingest_seq": ingest_seq,
        "wall_time": record["wall_time"],  # UTC, for paging by time (shown as date and time)
        "kiosk_id": record["kiosk_id"],
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M:%S"),
        "clock_synced": "是" if record["clock_synced"] else "否",
        "kind": labels.zh(record["kind"]),
        "verdict": labels.zh(record["verdict"], record["kind"]),
        "verdict_code": record["verdict"] or "",
        "reason": labels.zh(record["reason"]),
        "estimate_c": record["estimate_c"],
        "threshold_c": record["threshold_c"],
        "pass_code": record["pass_code"] or "",
        "plate": detail.get("plate", ""),
        "phone": mask_phone(detail["phone"]) if detail.get("phone") else "",
        "id": record["id"],
        "links_to": record["links_to"] or "",
        # What the gate's clock showed: the record keeps UTC and the kiosk's offset.
        "utc_offset": offset_label(record.get("utc_offset_min")),
    }


def page(
    store: HubStore,
    filters: Filters,
    *,
    fever_only: bool,
    tz: tzinfo,
    before: int | None = None,
    before_time: str | None = None,
) -> list[dict[str, Any]]:
    """One page, newest first: by the record's own time (when it happened at the gate; ties in
    arrival order), or with ``filters.order == "arrival"`` as the hub received them. The next
    page starts before the last row: ``before`` (its ingest_seq) and, by time, ``before_time``
    (its wall_time)."""
    where, params = filters.where(fever_only=fever_only, tz=tz)
    by_arrival = filters.order == "arrival"
    order = "ingest_seq DESC" if by_arrival else "wall_time DESC, ingest_seq DESC"
    found: list[dict[str, Any]] = []
    while len(found) < PAGE:
        clause, args = where, list(params)
        if before is not None and (by_arrival or before_time is None):
            clause += " AND ingest_seq < ?"
            args.append(before)
        elif before is not None:
            clause += " AND (wall_time < ? OR (wall_time = ? AND ingest_seq < ?))"
            args += [before_time, before_time, before]
        rows = store.fetch_all(
            f"SELECT ingest_seq, record, wall_time FROM events WHERE {clause}"
            f" AND {store.gate_in_compound()} ORDER BY {order} LIMIT ?",
            (*args, PAGE),
        )
        found += [
            row for row in (row_for(int(s), text, tz) for s, text, _ in rows) if shows(filters, row)
        ]
        if len(rows) < PAGE:
            break
        before, before_time = int(rows[-1][0]), rows[-1][2]
    return found[:PAGE]


def gate_choices(store: HubStore) -> list[str]:
    """The gates a filter offers, the same list on every page: each of the compound's gates
    (a revoked one too: its records stay)."""
    return [kiosk["kiosk_id"] for kiosk in store.kiosks()]


def iter_rows(
    store: HubStore,
    filters: Filters,
    *,
    fever_only: bool,
    tz: tzinfo,
    chunk: int = 2000,
    seen: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, fetched in chunks by ingest sequence (constant
    memory, and no cursor held open across a slow download). ``seen``: told how many
    candidate events each chunk read (the export job's progress, of :func:`count`)."""
    where, params = filters.where(fever_only=fever_only, tz=tz)
    after = 0
    while True:
        rows = store.fetch_all(
            f"SELECT ingest_seq, record FROM events WHERE {where} AND ingest_seq > ?"
            f" AND {store.gate_in_compound()}"
            " ORDER BY ingest_seq LIMIT ?",
            (*params, after, chunk),
        )
        for ingest_seq, record in rows:
            row = row_for(int(ingest_seq), record, tz)
            if shows(filters, row):
                yield row
        if seen is not None:
            seen(len(rows))
        if len(rows) < chunk:
            return
        after = int(rows[-1][0])


def count(store: HubStore, filters: Filters, *, fever_only: bool, tz: tzinfo) -> int:
    """How many events an export reads (a search text narrows them further as they are read)."""
    where, params = filters.where(fever_only=fever_only, tz=tz)
    row = store.fetch_one(
        f"SELECT count(*) FROM events WHERE {where} AND {store.gate_in_compound()}", params
    )
    return int(row[0])


def xlsx_file(
    store: HubStore,
    filters: Filters,
    path: Path,
    *,
    fever_only: bool,
    tz: tzinfo,
    title: str,
    progress: Any,
) -> int:
    """The XLSX export written to ``path`` by the pages' background job (sync/hub/jobs.py),
    which shows ``progress`` (events read of those to read); returns the rows written."""
    progress.set_total(count(store, filters, fever_only=fever_only, tz=tz))
    written = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal written
        for row in iter_rows(store, filters, fever_only=fever_only, tz=tz, seen=progress.advance):
            written += 1
            yield row

    with path.open("wb") as output:
        for block in xlsx_stream(counted(), title):
            output.write(block)
    return written


def csv_stream(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    return sheets.csv_stream(
        [title for title, _ in COLUMNS], ([row[key] for _, key in COLUMNS] for row in rows)
    )


def export_title(filters: Filters, compound: str, zone_name: str) -> str:
    """The XLSX title row: whose ledger, which gate and days, and in which time."""
    if filters.day_from and filters.day_to:
        period = f"{filters.day_from} 至 {filters.day_to}"
    elif filters.day_from or filters.day_to:
        period = f"自 {filters.day_from}" if filters.day_from else f"至 {filters.day_to}"
    else:
        period = "全部日期"
    gate = filters.kiosk or "全部门岗"
    return f"{compound} 门岗台账 · {gate} · {period} · 时间为 {zone_name} 当地时间"


def xlsx_stream(rows: Iterator[dict[str, Any]], title: str = "门岗台账") -> Iterator[bytes]:
    return sheets.xlsx_stream(
        "台账 Ledger",
        title,
        [title for title, _ in COLUMNS],
        WIDTHS,
        ([row[key] for _, key in COLUMNS] for row in rows),
    )

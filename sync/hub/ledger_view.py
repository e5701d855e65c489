"""The hub's ledger for admins: filters, the daily ledger (台账) columns, CSV and XLSX exports
streamed in constant memory."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from kiosk.visitors import mask_phone
from sync.hub.store import HubStore

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
)
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

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        values = {}
        for name in ("day_from", "day_to", "kiosk", "kind", "verdict", "text"):
            value = (args.get(name) or "").strip()
            if len(value) > 64:
                raise FilterError(f"{name} is too long")
            values[name] = value or None
        for name in ("day_from", "day_to"):
            if values[name]:
                try:
                    date.fromisoformat(values[name])
                except ValueError:
                    raise FilterError(f"{name} must be a date like 2026-11-28") from None
        if values["kind"] and values["kind"] not in KINDS:
            raise FilterError("kind: " + ", ".join(KINDS))
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def where(self, *, fever_only: bool) -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], []
        if self.day_from:
            clauses.append("wall_time >= ?")
            params.append(self.day_from)
        if self.day_to:
            clauses.append("wall_time < ?")
            params.append(self.day_to + "T99")  # the whole of that day
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


def row_for(ingest_seq: int, record_text: str) -> dict[str, Any]:
    """One event as a line of the daily ledger: phones masked, no names."""
    record = json.loads(record_text)
    detail = json.loads(record.get("detail") or "{}")
    return {
        "ingest_seq": ingest_seq,
        "kiosk_id": record["kiosk_id"],
        "date": record["wall_time"][:10],
        "time": record["wall_time"][11:19],
        "clock_synced": "是 yes" if record["clock_synced"] else "否 no",
        "kind": record["kind"],
        "verdict": record["verdict"] or "",
        "reason": record["reason"] or "",
        "estimate_c": record["estimate_c"],
        "threshold_c": record["threshold_c"],
        "pass_code": record["pass_code"] or "",
        "plate": detail.get("plate", ""),
        "phone": mask_phone(detail["phone"]) if detail.get("phone") else "",
        "id": record["id"],
        "links_to": record["links_to"] or "",
    }


def page(
    store: HubStore, filters: Filters, *, fever_only: bool, before: int | None = None
) -> list[dict[str, Any]]:
    where, params = filters.where(fever_only=fever_only)
    found: list[dict[str, Any]] = []
    while len(found) < PAGE:
        clause, args = where, list(params)
        if before is not None:
            clause += " AND ingest_seq < ?"
            args.append(before)
        rows = store.fetch_all(
            f"SELECT ingest_seq, record FROM events WHERE {clause}"
            " ORDER BY ingest_seq DESC LIMIT ?",
            (*args, PAGE),
        )
        found += [r for r in (row_for(int(s), text) for s, text in rows) if shows(filters, r)]
        if len(rows) < PAGE:
            break
        before = int(rows[-1][0])
    return found[:PAGE]


def iter_rows(
    store: HubStore, filters: Filters, *, fever_only: bool, chunk: int = 2000
) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, fetched in chunks by ingest sequence (constant
    memory, and no cursor held open across a slow download)."""
    where, params = filters.where(fever_only=fever_only)
    after = 0
    while True:
        rows = store.fetch_all(
            f"SELECT ingest_seq, record FROM events WHERE {where} AND ingest_seq > ?"
            " ORDER BY ingest_seq LIMIT ?",
            (*params, after, chunk),
        )
        for ingest_seq, record in rows:
            row = row_for(int(ingest_seq), record)
            if shows(filters, row):
                yield row
        if len(rows) < chunk:
            return
        after = int(rows[-1][0])


def csv_stream(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so that Excel opens the UTF-8 file with Chinese intact
    writer.writerow(title for title, _ in COLUMNS)
    for row in rows:
        writer.writerow(row[key] for _, key in COLUMNS)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def xlsx_stream(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """A workbook written row by row (openpyxl's write-only mode keeps memory flat), then sent
    in chunks from a temporary file."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("台账 Ledger")
    sheet.append([title for title, _ in COLUMNS])
    for row in rows:
        sheet.append([row[key] for _, key in COLUMNS])
    with tempfile.TemporaryFile() as output:
        workbook.save(output)
        output.seek(0)
        while chunk := output.read(64 * 1024):
            yield chunk

"""The registers' pages: a gate's day on screen, as CSV, XLSX and a printable PDF, and the seal
check (封签核验). Routes on the admins' blueprint, kept here so that admin_web stays small."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import Response, render_template, request, stream_with_context
from werkzeug.exceptions import BadRequest, NotFound

from sync.hub import ledger_view, register_pdf, registers, seal, sheets
from sync.hub.admin_web import EVERYONE, _store, admin, compound_name, hub_zone, roles
from sync.hub.admins import audit
from sync.hub.pass_pdf import PassPdfError
from sync.localtime import DayError, parse_day

DEFAULT_COMPOUND = "小区"
READERS = ("admin", "health")  # the registers carry names and homes
MAX_DAYS = 30


def compound() -> str:
    return compound_name() or DEFAULT_COMPOUND


def _day_and_gate() -> tuple[date, str | None, list[str]]:
    tz = hub_zone()
    raw = (request.args.get("day") or "").strip()
    try:
        day = parse_day(raw) if raw else registers.local_today(tz)
    except DayError as exc:
        raise BadRequest(str(exc)) from None
    store = _store()
    with_records = registers.gates_of_day(store, day, tz)
    kiosk = (request.args.get("kiosk") or "").strip()[:32] or (
        with_records[0] if with_records else None
    )
    if kiosk is not None and kiosk not in with_records and not registers.gate_known(store, kiosk):
        raise NotFound(f"没有门岗 {kiosk}：请从登记表页面的门岗列表中选择")
    # The same list of gates as every page's (a day without records is still the gate's day).
    gates = sorted({*ledger_view.gate_choices(store), *with_records})
    return day, kiosk, gates


@admin.get("/registers")
@roles(*READERS)
def registers_page(user: dict[str, str]) -> str:
    day, kiosk, gates = _day_and_gate()
    store, tz = _store(), hub_zone()
    built = registers.build_day(store, kiosk, day, tz) if kiosk else None
    sealed = (
        seal.seal_for_day(store, built.kiosk_id, day, tz) if built and not built.unsound else None
    )
    return render_template(
        "registers.html",
        user=user,
        day=day,
        kiosk=kiosk,
        gates=gates,
        built=built,
        seal=sealed,
        compound=compound(),
        unsealed=register_pdf.unsealed_text(built) if built and built.unsound else None,
    )


@admin.get("/registers.<fmt>")
@roles(*READERS)
def registers_export(user: dict[str, str], fmt: str) -> Response:
    if fmt not in ("csv", "xlsx", "pdf"):
        raise NotFound()
    day, kiosk, _ = _day_and_gate()
    if kiosk is None:
        raise BadRequest(f"{day.isoformat()} 没有任何门岗的记录：请换一个日期")
    key = request.args.get("register") or ("" if fmt == "pdf" else "screening")
    if key and key not in registers.KEYS:
        raise BadRequest(
            "没有这种登记表：请选 " + "、".join(registers.TITLES[k] for k in registers.KEYS)
        )
    store, tz = _store(), hub_zone()
    built = registers.build_day(store, kiosk, day, tz)
    with store.transaction():
        audit(
            store,
            user["username"],
            f"registers.{fmt}",
            {"kiosk": kiosk, "day": day.isoformat(), "register": key or "all"},
        )
    stem = f"{kiosk}-{day.isoformat()}"
    if fmt == "pdf":
        try:
            sealed = None if built.unsound else seal.seal_for_day(store, kiosk, day, tz)
            pdf = register_pdf.day_pdf(built, compound(), sealed, (key,) if key else None)
        except PassPdfError as exc:
            raise BadRequest(str(exc)) from None
        return Response(pdf, mimetype="application/pdf", headers=_attachment(f"{stem}.pdf"))
    register = built.register(key)
    title = registers.sheet_title(register, kiosk, day, compound())
    rows: Iterable[list[Any]] = register.rows
    last = _day_to(day)
    if last is not None:  # several days (a month for the inspection) in one file
        title += f" 至 {last.isoformat()}"
        stem += f"-{last.isoformat()}"
        rows = registers.range_rows(store, kiosk, day, last, key, tz)
    if fmt == "csv":
        body = sheets.csv_stream(register.header, rows)
        mimetype = "text/csv"  # Flask adds the charset
    else:
        widths = [c.width for c in register.columns]
        body = sheets.xlsx_stream(register.title, title, register.header, widths, rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        stream_with_context(body), mimetype=mimetype, headers=_attachment(f"{stem}-{key}.{fmt}")
    )


def _day_to(first: date) -> date | None:
    raw = (request.args.get("day_to") or "").strip()
    if not raw:
        return None
    try:
        last = parse_day(raw, "2026-11-30")
    except DayError as exc:
        raise BadRequest(str(exc)) from None
    if not 0 <= (last - first).days <= MAX_DAYS:
        raise BadRequest(f"结束日期须在开始日期之后，最多 {MAX_DAYS + 1} 天：请分段导出")
    return last


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@admin.get("/seal")
@roles(*EVERYONE)
def seal_page(user: dict[str, str]) -> str:
    return render_template("seal.html", user=user, result=None, text="")


@admin.post("/seal")
@roles(*EVERYONE)
def seal_check(user: dict[str, str]) -> Any:
    text = (request.form.get("seal") or "")[:400]
    try:
        parsed = seal.parse(text)
    except seal.SealError as exc:
        return render_template("seal.html", user=user, result=None, error=str(exc), text=text), 400
    store, tz = _store(), hub_zone()
    result = seal.verify(store, parsed, tz)
    # The day as the sheet showed it, each row with its check code, for a line-by-line
    # comparison (names and homes: only for those who may read the registers).
    shown = None
    if result.visible and user["role"] in READERS:
        shown = registers.build_day(
            store, parsed.kiosk_id, parsed.day, tz, upto=(parsed.epoch, parsed.last_seq)
        )
    with store.transaction():
        audit(
            store,
            user["username"],
            "seal.verify",
            {"kiosk": parsed.kiosk_id, "day": parsed.day.isoformat(), "ok": result.ok},
        )
    return render_template(
        "seal.html", user=user, result=result, seal=parsed, text=text, shown=shown
    )

"""The district's pages (街道/社区): the daily cross-compound report on screen and as CSV.
Routes on the admins' blueprint, kept here so that admin_web stays small."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Response, g, render_template, request, stream_with_context
from werkzeug.exceptions import BadRequest

from sync.hub import district, sheets
from sync.hub.admin_web import _base_store, admin, hub_zone, roles
from sync.hub.admins import audit
from sync.localtime import DayError, format_local, local_today, parse_day


def _day() -> date:
    raw = (request.args.get("day") or "").strip()[:10]
    try:
        return parse_day(raw, "2026-11-29") if raw else local_today(hub_zone())
    except DayError as exc:
        raise BadRequest(str(exc)) from None


@admin.get("/district")
@roles("district")
def district_page(user: dict[str, str]) -> str:
    day = _day()
    lines = district.report(_base_store(), g.compounds, day, hub_zone())
    return render_template(
        "district.html",
        user=user,
        day=day,
        lines=lines,
        district_name=g.compounds[0].district,
        stale_h=district.STALE_H,
    )


@admin.get("/district.csv")
@roles("district")
def district_csv(user: dict[str, str]) -> Response:
    day = _day()
    store = _base_store()
    lines = district.report(store, g.compounds, day, hub_zone())
    with store.transaction():
        audit(store, user["username"], "district.csv", {"day": day.isoformat()})
    stamp = format_local(datetime.now(UTC), hub_zone(), "%Y%m%d-%H%M%S")
    return Response(
        stream_with_context(sheets.csv_stream(district.HEADER, district.csv_rows(lines, day))),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="district-{day.isoformat()}-{stamp}.csv"'
        },
    )

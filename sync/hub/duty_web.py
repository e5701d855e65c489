"""The duty pages: the schedule's week (排班), disinfection against the plan (消毒) and the
supplies (防疫物资). The manager (admin) edits; everyone signed in reads. Routes on the admins'
blueprint, kept here so that admin_web stays small."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from sync.contract import DISINFECTANTS
from sync.hub import (
    disinfection,
    duty,
    duty_household,
    duty_settings,
    gate_blocks,
    roster_admin,
    supplies,
)
from sync.hub.admin_web import EVERYONE, _store, admin, hub_zone, roles
from sync.localtime import DayError, local_today, parse_day


def _monday() -> date:
    raw = (request.args.get("week") or "").strip()[:10]
    try:
        day = parse_day(raw, "2026-11-30") if raw else local_today(hub_zone())
    except DayError as exc:
        raise BadRequest(str(exc)) from None
    return day - timedelta(days=day.weekday())


@admin.get("/duty")
@roles(*EVERYONE)
def duty_page(user: dict[str, str]) -> str:
    store, tz = _store(), hub_zone()
    monday = _monday()
    week_start = datetime.combine(monday, datetime.min.time(), tz)
    return render_template(
        "duty.html",
        history=duty.unmanned_history(store, week_start, week_start + timedelta(days=7)),
        user=user,
        monday=monday,
        days=duty.week(store, monday, tz),
        people=roster_admin.current(store, "guard"),
        gates=sorted(roster_admin.known_gates(store)),
        unmanned=duty.unmanned(store),
        household=duty_household.flags(store),
        grace_min=duty_settings.current(store)["duty.grace_min"],
        prev_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
    )


@admin.post("/duty")
@roles("admin")
def duty_change(user: dict[str, str]) -> Any:
    form, store = request.form, _store()
    try:
        if form.get("action") == "settings":
            _set_duty_settings(form, ("duty.grace_min",), user["username"])
        elif form.get("action") == "remove":
            duty.remove_shift(store, _whole(form.get("sid")), user["username"])
        else:
            duty.add_shift(
                store,
                form.get("person", ""),
                form.get("gate", ""),
                form.get("starts", ""),
                form.get("ends", ""),
                hub_zone(),
                user["username"],
            )
    except duty.DutyError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.duty_page", week=form.get("week") or None))


@admin.post("/duty/fever/<event_id>/clear")
@roles("admin")
def duty_fever_clear(user: dict[str, str], event_id: str) -> Any:
    """The manager clears a staff fever block at sign-on (解除): see duty.clear_fever."""
    try:
        duty.clear_fever(_store(), event_id, user["username"])
    except duty.UnknownStaffFever as exc:
        raise NotFound(str(exc)) from None
    except duty.DutyError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.dashboard_page"))


@admin.post("/gate-block/<event_id>/clear")
@roles("admin")
def gate_block_clear(user: dict[str, str], event_id: str) -> Any:
    """An admin ends a gate's wait on a fever block no guard can act on: see gate_blocks."""
    try:
        gate_blocks.clear_block(
            _store(), event_id, request.form.get("reason", ""), user["username"]
        )
    except gate_blocks.BlockError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.dashboard_page"))


@admin.post("/duty/household/<event_id>")
@roles("admin")
def duty_household_decide(user: dict[str, str], event_id: str) -> Any:
    """The manager decides on a sign-on whose person has someone from outside at home."""
    try:
        duty_household.decide(_store(), event_id, request.form.get("outcome", ""), user["username"])
    except duty_household.HouseholdError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.duty_page"))


def _set_duty_settings(form: Any, keys: tuple[str, ...], username: str) -> None:
    try:
        duty_settings.set_values(_store(), {k: form.get(k, "") for k in keys}, username)
    except duty_settings.DutySettingError as exc:
        raise BadRequest(str(exc)) from None


def _whole(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise BadRequest("无法识别的记录编号：请刷新页面后再试") from None


@admin.get("/disinfection")
@roles(*EVERYONE)
def disinfection_page(user: dict[str, str]) -> str:
    store, tz = _store(), hub_zone()
    now = datetime.now(UTC)
    return render_template(
        "disinfection.html",
        user=user,
        day=local_today(tz),
        status=disinfection.plan_status(store, tz, now),
        rounds=disinfection.rounds_of_day(store, local_today(tz), tz),
        common=[p for p in disinfection.COMMON_PLACES if p not in disinfection.places(store)],
        agents=DISINFECTANTS,
        hours=duty_settings.current(store),
        people=sorted({g.get("name", k) for k, g in roster_admin.current(store, "guard").items()}),
        now_local=now.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
    )


@admin.post("/disinfection")
@roles("admin")
def disinfection_change(user: dict[str, str]) -> Any:
    form, store = request.form, _store()
    action = form.get("action")
    try:
        if action == "place":
            disinfection.set_place(
                store, form.get("name", ""), form.get("rounds", ""), user["username"]
            )
        elif action == "remove":
            disinfection.remove_place(store, form.get("name", "")[:64], user["username"])
        elif action == "settings":
            keys = ("disinfection.day_start_h", "disinfection.day_end_h")
            _set_duty_settings(form, keys, user["username"])
        elif action == "round":
            disinfection.log_round(
                store,
                form.get("place", "")[:64],
                form.get("agent", ""),
                form.get("done_at", ""),
                hub_zone(),
                user["username"],
                by=form.get("by", ""),
            )
        else:
            raise BadRequest("无法识别的操作：请从消毒页面上的按钮提交")
    except disinfection.DisinfectionError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.disinfection_page"))


@admin.get("/supplies")
@roles(*EVERYONE)
def supplies_page(user: dict[str, str]) -> str:
    store = _store()
    return render_template(
        "supplies.html",
        user=user,
        items=supplies.supplies(store),
        moves=supplies.moves(store),
        common=supplies.COMMON_ITEMS,
        window=supplies.USE_WINDOW_DAYS,
        default_days=supplies.DEFAULT_RESERVE_DAYS,
        default_margin=supplies.DEFAULT_MARGIN_PCT,
    )


@admin.post("/supplies")
@roles("admin")
def supplies_change(user: dict[str, str]) -> Any:
    form, store = request.form, _store()
    try:
        if form.get("action") == "item":
            supplies.set_item(
                store,
                form.get("item", ""),
                form.get("unit", ""),
                form.get("keeper", ""),
                form.get("reserve_days", ""),
                form.get("margin_pct", ""),
                user["username"],
            )
        elif form.get("action") == "move":
            supplies.move(
                store,
                form.get("item", "")[:64],
                form.get("direction", ""),
                form.get("quantity", ""),
                form.get("note", ""),
                user["username"],
            )
        else:
            raise BadRequest("无法识别的操作：请从物资页面上的按钮提交")
    except supplies.SupplyError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.supplies_page"))

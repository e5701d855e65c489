"""The guard screen's API: PIN unlock, then decisions, alarm, direction, visitors and vehicles.

A guard session lives in the kiosk process; the signed, HTTP-only, same-site cookie holds only
its random id, so "lock" ends it for good (a cookie saved before no longer opens anything), as
does ``guard.auto_lock_s`` without a request, and a restart of the kiosk. Every change also needs
the session's CSRF token in the ``X-CSRF-Token`` header. Nothing here is reachable from the
resident screen's API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, session
from werkzeug.exceptions import Forbidden, Unauthorized

from kiosk import duty, guard_accounts, pin_bursts
from kiosk.guard_desk import GuardDesk
from kiosk.ledger import LedgerError
from kiosk.overrides import parse_override
from kiosk.plates import PlateError, validate_plate
from kiosk.visitors import FormError, parse_visitor
from kiosk.web.forms import choice_field, json_body, text_field
from sync.auth import IdleSessions, csrf_ok

guard = Blueprint("guard", __name__)
log = logging.getLogger(__name__)


def _desk() -> GuardDesk:
    return current_app.extensions["guard_desk"]


def _config() -> Any:
    return _desk().gate.config


def _sessions() -> IdleSessions:
    # The sessions' clock is this module's monotonic time, as the guard's touches are.
    fresh = IdleSessions(clock=lambda: time.monotonic())
    return current_app.extensions.setdefault("guard_sessions", fresh)


def _signed_in() -> dict[str, str] | None:
    sid = session.get("guard_sid")
    info = _sessions().get(sid, _config().guard.auto_lock_s) if isinstance(sid, str) else None
    if info is None:
        session.pop("guard_sid", None)
    return info


def guard_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        info = _signed_in()
        if info is None:
            raise Unauthorized("门卫屏已锁定，请输入 PIN 解锁 (the guard screen is locked)")
        if request.method != "GET" and not csrf_ok(
            request.headers.get("X-CSRF-Token"), info["csrf"]
        ):
            raise Forbidden("会话校验失败，请重新登录 (missing or wrong CSRF token)")
        if duty.fever_block(_desk().ledger.connection(), info["guard_id"], _config().tz):
            # A fever at their sign-on (this session's own, or one recorded since) ends it.
            _end_session()
            return _fever_barred({"guard_id": info["guard_id"], "name": info["name"]}, False)
        touched_at = _touched_at(time.monotonic())
        if touched_at is not None:
            _sessions().touch(session.get("guard_sid", ""), touched_at)
        return view({"guard_id": info["guard_id"], "name": info["name"]}, *args, **kwargs)

    return checked


def _touched_at(now: float) -> float | None:
    """When the guard last touched the screen, as this request tells. A change, or a read the
    guard asked for (options, today's ledger), is a touch now. The page's poll of the state is
    not: it carries the page's own time since the last touch (``touched_ago_s``), so a page left
    polling still locks after ``guard.auto_lock_s``."""
    if request.endpoint != "guard.state":
        return now
    try:
        ago = float(request.args.get("touched_ago_s", ""))
    except ValueError:
        return None
    if not 0 <= ago <= 86400:  # also refuses NaN
        return None
    return now - ago


@guard.get("/guard")
def page() -> str:
    return render_template(
        "guard.html",
        language=_config().kiosk.language,
        idle_return_s=_config().kiosk.idle_return_s,
        urgent_lock_s=_config().guard.urgent_lock_s,
    )


@guard.get("/api/guard/guards")
def guard_list() -> Any:
    return jsonify(guards=guard_accounts.list_guards(_desk().ledger.connection()))


@guard.post("/api/guard/unlock")
def unlock() -> Any:
    body = json_body()
    guard_id = text_field(body, "guard_id", max_length=32)
    pin = text_field(body, "pin", max_length=8)
    config = _config().guard
    _end_session()
    result = _check_pin(guard_id, pin, where="sign_in")
    if not result.ok:
        status = 423 if result.reason == "locked" else 401
        return jsonify(
            ok=False,
            reason=result.reason,
            retry_after_s=result.retry_after_s,
            attempts_left=result.attempts_left,
        ), status
    who = {"guard_id": result.guard_id or guard_id, "name": result.name or ""}
    if duty.fever_block(_desk().ledger.connection(), who["guard_id"], _config().tz):
        return _fever_barred(who)
    # Someone else's sign-on left half done (they walked away) ends here: it is not this
    # guard's, and its words are not for them.
    _desk().gate.cancel_staff(keep=who["guard_id"])
    sid, csrf = _sessions().start(guard_id=who["guard_id"], name=who["name"])
    session["guard_sid"] = sid
    return jsonify(ok=True, name=result.name, csrf=csrf, auto_lock_s=config.auto_lock_s)


def _fever_barred(who: dict[str, str], attempt: bool = True) -> Any:
    """A guard barred by a fever at sign-on: no session; an attempt is recorded and flagged
    to the manager; the guard reads why and whom to call."""
    message = _desk().fever_barred(who, attempt=attempt) or "门卫屏已对您关闭，请联系物业经理"
    return jsonify(ok=False, reason="fever_blocked", message=message), 403


def _check_pin(guard_id: str, pin: str, *, where: str) -> guard_accounts.UnlockResult:
    """One PIN check, counted towards the guard's lockout like any other; a burst of wrong
    PINs goes into the ledger (kiosk/pin_bursts.py: the count and times, never the digits).
    ``where``: ``sign_in`` or ``confirm`` (the PIN asked again to admit a fever)."""
    config = _config().guard
    result = guard_accounts.unlock(
        _desk().ledger.connection(),
        guard_id,
        pin,
        max_failures=config.max_pin_failures,
        max_wait_s=config.lockout_s,
    )
    if result.burst is not None:
        burst = result.burst
        try:
            _desk().gate.record(pin_bursts.KIND, verdict=burst.verdict, detail=burst.detail(where))
        except LedgerError as error:
            # A ledger that cannot take the record must not keep a guard off their own screen
            # (its health page is where they see why); the log says what was lost.
            log.error(
                "wrong PINs not recorded (%s, %d tries): %s", burst.guard_id, burst.failures, error
            )
    return result


def _confirm_pin(who: dict[str, str], body: dict[str, Any]) -> None:
    """The guard's PIN typed again at the confirm step, or a FormError naming the PIN field."""
    pin = body.get("pin")
    if not isinstance(pin, str) or not pin:
        raise FormError("pin", "放行发热人员须再次输入您的 PIN")
    result = _check_pin(who["guard_id"], pin[:8], where="confirm")
    if result.ok:
        return
    if result.reason == "locked":
        raise FormError("pin", f"错误次数过多，已锁定，请 {result.retry_after_s} 秒后再试")
    raise FormError("pin", f"PIN 错误，还可尝试 {result.attempts_left} 次")


def _end_session() -> None:
    sid = session.pop("guard_sid", None)
    if isinstance(sid, str):
        _sessions().end(sid)
    session.clear()


@guard.post("/api/guard/lock")
def lock() -> Any:
    info = _signed_in()
    _end_session()
    if info is not None:
        _desk().gate.cancel_staff(keep=None)  # their sign-on, if any, ends with the session
    return jsonify(ok=True)


@guard.get("/api/guard/state")
@guard_required
def state(who: dict[str, str]) -> Any:
    return jsonify(_desk().state(who))


@guard.get("/api/guard/options")
@guard_required
def options(who: dict[str, str]) -> Any:
    return jsonify(_desk().form_options())


@guard.get("/api/guard/today")
@guard_required
def today(who: dict[str, str]) -> Any:
    return jsonify(events=_desk().today())


@guard.post("/api/guard/override")
@guard_required
def override(who: dict[str, str]) -> Any:
    body = json_body()
    form = parse_override(body, threshold_c=_desk().gate.rules.threshold_c)
    if _desk().admit_needs_pin(form):
        _confirm_pin(who, body)
    record = _desk().override(form, who)
    return jsonify(ok=True, seq=record["seq"], id=record["id"])


@guard.post("/api/guard/remeasure")
@guard_required
def remeasure(who: dict[str, str]) -> Any:
    event_id = text_field(json_body(), "event_id", max_length=36)
    _desk().remeasure(event_id, who)
    return jsonify(ok=True)


@guard.post("/api/guard/notice/dismiss")
@guard_required
def dismiss_notice(who: dict[str, str]) -> Any:
    notice_id = text_field(json_body(), "notice_id", max_length=36)
    if not _desk().gate.dismiss_notice(notice_id):
        raise FormError("notice_id", "该提醒已关闭 already dismissed")
    return jsonify(ok=True)


@guard.post("/api/guard/silence")
@guard_required
def silence(who: dict[str, str]) -> Any:
    json_body()
    return jsonify(ok=True, was_sounding=_desk().silence(who))


@guard.post("/api/guard/direction")
@guard_required
def direction(who: dict[str, str]) -> Any:
    _desk().set_direction(choice_field(json_body(), "direction", ("in", "out")))
    return jsonify(ok=True)


@guard.post("/api/guard/visitor")
@guard_required
def visitor(who: dict[str, str]) -> Any:
    options = _desk().form_options()
    body = json_body()
    same_as = body.get("same_as")
    earlier = None
    if same_as is not None:
        # 常来访客: the phone, and the name and ID number unless given again, are the earlier
        # record's (the screen never had the full phone, the name or the number).
        if not isinstance(same_as, str) or len(same_as) > 36:
            raise FormError("phone", "找不到这位访客，请输入手机号 enter the phone number")
        earlier = _desk().earlier_visitor(same_as)
        body = {**body, "phone": earlier["phone"]}
        if not body.get("name") and earlier.get("name"):
            body["name"] = earlier["name"]
    form = parse_visitor(
        body, places=options["places"], risk_areas=options["risk_areas"], rooms=options["rooms"]
    )
    record = _desk().register_visitor(
        form, who, same_id_as=earlier if form.id_number is None else None
    )
    return jsonify(
        ok=True, seq=record["seq"], held=record["verdict"] == "held", reason=record["reason"]
    )


@guard.post("/api/guard/vehicle")
@guard_required
def vehicle(who: dict[str, str]) -> Any:
    body = json_body()
    raw = body.get("plate")
    if not isinstance(raw, str) or len(raw) > 16:
        raise FormError("plate", "请输入车牌，如 京A12345 (a plate like 京A12345)")
    try:
        plate = validate_plate(raw)
    except PlateError as exc:
        raise FormError("plate", str(exc)) from None
    direction = choice_field(body, "direction", ("in", "out"))
    occupants = body.get("occupants", 1)
    if isinstance(occupants, bool) or not isinstance(occupants, int):
        raise FormError("occupants", "车上人数：请选 1 到 9 人 (occupants: 1 to 9)")
    record = _desk().register_vehicle(plate, direction, who, occupants=occupants)
    return jsonify(ok=True, seq=record["seq"], plate=plate)


@guard.post("/api/guard/vehicle/done")
@guard_required
def vehicle_done(who: dict[str, str]) -> Any:
    json_body()
    _desk().end_vehicle()
    return jsonify(ok=True)


@guard.post("/api/guard/shift/on")
@guard_required
def shift_on(who: dict[str, str]) -> Any:
    answer = choice_field(json_body(), "visitors_at_home", ("yes", "no"))
    _desk().sign_on(who, visitors_at_home=answer == "yes")
    return jsonify(ok=True)


@guard.post("/api/guard/shift/confirm")
@guard_required
def shift_confirm(who: dict[str, str]) -> Any:
    answer = choice_field(json_body(), "own", ("yes", "no"))
    record = _desk().confirm_sign_on(who, own=answer == "yes")
    return jsonify(ok=True, seq=record["seq"] if record else None)


@guard.post("/api/guard/shift/off")
@guard_required
def shift_off(who: dict[str, str]) -> Any:
    json_body()
    record = _desk().sign_off(who)
    return jsonify(ok=True, seq=record["seq"])


@guard.post("/api/guard/disinfection")
@guard_required
def disinfection(who: dict[str, str]) -> Any:
    body = json_body()
    record = _desk().log_round(who, body.get("place"), body.get("agent"))
    return jsonify(ok=True, seq=record["seq"])


@guard.errorhandler(FormError)
def form_error(exc: FormError) -> Any:
    return jsonify(error="Bad Request", field=exc.field, message=exc.message), 400

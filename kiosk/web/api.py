"""The touchscreen's API: the live screen state, showing a pass, measuring again."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, Conflict

from kiosk.gate import AwaitingGuard, Gate, PassesNotTaken
from kiosk.web.forms import json_body, text_field

api = Blueprint("api", __name__, url_prefix="/api")

LONG_POLL_S = 20.0


def _gate() -> Gate:
    return current_app.extensions["gate"]


@api.get("/state")
def state() -> Any:
    """The screen state; with ``?after=<version>`` waits (up to 20 s) for a newer one."""
    after = request.args.get("after")
    screen = _gate().screen
    if after is None:
        return jsonify(screen.snapshot())
    if not after.isdigit() or len(after) > 12:
        raise BadRequest("参数 after 须为版本号（数字） ('after' must be a version number)")
    return jsonify(screen.wait(int(after), LONG_POLL_S))


@api.post("/pass")
def show_pass() -> Any:
    code = text_field(json_body(), "code", max_length=64)
    try:
        check = _gate().present_pass(code)
    except PassesNotTaken as exc:
        raise Conflict(str(exc)) from None
    # Only the outcome: no name, no unit, no quarantine flag on the resident-facing screen.
    return jsonify(ok=check.ok, reason=check.reason), 200 if check.ok else 422


@api.post("/measure-again")
def measure_again() -> Any:
    json_body()
    try:
        _gate().measure_again()
    except AwaitingGuard:
        raise Conflict(
            "体温异常，请在旁等候门卫复测 Please wait for the guard to measure you again"
        ) from None
    return jsonify(ok=True)


@api.get("/health")
def health() -> Any:
    return jsonify(_gate().status())

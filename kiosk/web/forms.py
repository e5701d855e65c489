"""Reading JSON request bodies strictly: every bad input gets a message that says what is wrong."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest, Forbidden, UnsupportedMediaType


def same_origin() -> None:
    """Refuse cross-site requests: a JSON content type is required (a plain HTML form cannot send
    one) and an Origin header, when the browser sends one, must be this host."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
        raise Forbidden("cross-origin requests are not accepted")


def json_body() -> dict[str, Any]:
    same_origin()
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, max_length: int) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be text")
    value = value.strip()
    if not value:
        raise BadRequest(f"'{name}' must not be empty")
    if len(value) > max_length:
        raise BadRequest(f"'{name}' is longer than {max_length} characters")
    return value


def number_field(body: dict[str, Any], name: str, *, minimum: float, maximum: float) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"'{name}' must be a number")
    if not minimum <= value <= maximum:
        raise BadRequest(f"'{name}' must be between {minimum:g} and {maximum:g}")
    return float(value)


def choice_field(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in choices:
        raise BadRequest(f"'{name}' must be one of: {', '.join(choices)}")
    return str(value)

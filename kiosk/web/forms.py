"""Reading JSON request bodies strictly: every bad input gets a message that says what is wrong."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest, Forbidden, UnsupportedMediaType

from kiosk.visitors import FIELD_NAMES

# Fields of the kiosk's own JSON bodies that are not form fields of the guard screen.
NAMES = {
    **FIELD_NAMES,
    "code": "通行码",
    "guard_id": "门卫",
    "pin": "PIN",
    "core_c": "体温",
    "visitors_at_home": "家里是否有外来人员",
    "own": "本人确认",
}


def _name(field: str) -> str:
    return NAMES.get(field, field)


def same_origin() -> None:
    """Refuse cross-site requests: a JSON content type is required (a plain HTML form cannot send
    one) and an Origin header, when the browser sends one, must be this host."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
        raise Forbidden("不接受来自其他网站的请求 (cross-origin requests are not accepted)")


def json_body() -> dict[str, Any]:
    same_origin()
    if not request.is_json:
        raise UnsupportedMediaType("请求格式不对 (send the body as application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("请求格式不对 (the body must be a JSON object)")
    if not _clean(body):
        raise BadRequest(
            "内容含有无法识别的字符（乱码或控制字符），请重新输入"
            " (the request has invalid or control characters)"
        )
    return body


# A lone surrogate (JSON "\ud800") cannot be stored or hashed as UTF-8; NUL and other control
# characters have no place in a form. Tab and newline are allowed.
BAD_CHARACTERS = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(value: Any) -> bool:
    """True when no string anywhere in the JSON value (keys included) has a bad character."""
    if isinstance(value, str):
        return BAD_CHARACTERS.search(value) is None
    if isinstance(value, dict):
        return all(_clean(k) and _clean(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_clean(item) for item in value)
    return True


def text_field(body: dict[str, Any], name: str, *, max_length: int) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"{_name(name)}：须为文字 ('{name}' must be text)")
    value = value.strip()
    if not value:
        raise BadRequest(f"{_name(name)}：必填 ('{name}' must not be empty)")
    if len(value) > max_length:
        raise BadRequest(
            f"{_name(name)}：最多 {max_length} 个字符 ('{name}' is longer than {max_length})"
        )
    return value


def number_field(body: dict[str, Any], name: str, *, minimum: float, maximum: float) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{_name(name)}：须为数字 ('{name}' must be a number)")
    if not minimum <= value <= maximum:
        raise BadRequest(
            f"{_name(name)}：应在 {minimum:g}–{maximum:g} 之间"
            f" ('{name}' must be between {minimum:g} and {maximum:g})"
        )
    return float(value)


def choice_field(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in choices:
        raise BadRequest(
            f"{_name(name)}：请从列表中选择 ('{name}' must be one of: {', '.join(choices)})"
        )
    return str(value)

"""The wire protocol between a kiosk and the hub (version 1). See docs/sync-protocol.md.

A record on the wire is a ledger event exactly as the kiosk stored and hashed it: the fields of
``sync.contract.RECORD_FIELDS`` plus ``hash`` and ``mac``. ``sync.contract.FIELD_RULES`` is the one
declaration of what each field may hold: the hub's validation here, its OpenAPI schema
(``sync.hub.openapi``) and the tests all read it. Pure logic: body parsing and the validation of
one record.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.contract import (
    FIELD_RULES,
    MAX_DETAIL_BYTES,
    WIRE_FIELDS,
    FieldRule,
    chain_mac,
    record_hash,
)

API = "/api/v1"
# Kiosks from before the keyed chain do not send a mac; those from before the local offset
# do not send utc_offset_min.
OPTIONAL_FIELDS = ("utc_offset_min", "mac")
MAX_BATCH_RECORDS = 500
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_JSON_DEPTH = 32  # a batch is 3 deep; a record's detail is text and nests no further

STORED = "stored"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"  # malformed: kept aside for an admin, never blocks the rest
CONFLICT = "conflict"  # same id, different content: flagged, the stored one is kept

# wall_time: the kiosk writes UTC ISO 8601 (kiosk.clock). How far from the hub's clock it may be:
# a kiosk that says its clock is synchronised may be late with a backlog (offline for up to
# SYNCED_PAST) but not ahead by more than clock skew; a kiosk without a synchronised clock (a Pi
# without RTC boots in 1970 or at its last shutdown) may say anything from 1970 on, but not far in
# the future, where a record would outlive retention. Outside the window: quarantined, kept.
SYNCED_PAST = timedelta(days=400)
SYNCED_FUTURE = timedelta(days=1)
UNSYNCED_FUTURE = timedelta(days=31)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)

# C0 controls other than tab, newline and carriage return, DEL, and lone surrogates.
FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


_COMPILED = {name: re.compile(rule.pattern) for name, rule in FIELD_RULES.items() if rule.pattern}


class BadBody(ValueError):
    """The request body is not acceptable JSON (answered with a 400)."""


def bad_text(value: str) -> bool:
    """Control characters (NUL …) or lone surrogates: never stored, never valid."""
    return FORBIDDEN_CHARS.search(value) is not None


def _depth_and_text(value: Any, depth: int = 1) -> None:
    if depth > MAX_JSON_DEPTH:
        raise BadBody(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if _has_surrogate(key):
                raise BadBody("a lone surrogate is not valid Unicode")
            _depth_and_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _depth_and_text(item, depth + 1)
    elif isinstance(value, str) and _has_surrogate(value):
        raise BadBody("a lone surrogate is not valid Unicode")


# A JSON text can hold a lone surrogate only as an escape (\uD800-\uDFFF): valid UTF-8 cannot
# encode one. Without such an escape (or with "\\" before "ud…", a false alarm that only takes
# the slow path), only the depth is left to check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _depth_ok(value: Any, depth: int = 1) -> None:
    """The depth part of :func:`_depth_and_text` alone (containers only)."""
    if depth > MAX_JSON_DEPTH:
        raise BadBody(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, dict | list):
                _depth_ok(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _depth_ok(item, depth + 1)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_body(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no lone surrogates, nested at most MAX_JSON_DEPTH. ``NaN`` and
    ``Infinity`` parse (as Python's ``json`` does) so that one record holding them is quarantined
    alone instead of refusing its whole batch; the record rules refuse non-finite numbers."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("the body is not UTF-8") from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise BadBody(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # includes integers with too many digits
        raise BadBody(f"the body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) is None:
        _depth_ok(body)  # the body was UTF-8 and has no escaped surrogate: none in it
    else:
        _depth_and_text(body)
    return body


def field_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be the wire field ``name``, or None."""
    return _FIELD_CHECKS[name](value)


def _field_check(name: str, rule: FieldRule) -> Callable[[Any], str | None]:
    """The rule of one field as a function, its constants bound once (a batch checks 22 fields
    of each of up to 500 records)."""
    null = None if rule.nullable else f"{name} 不能为空 must not be null"
    wrong = f"{name} 类型错误 has the wrong type"
    kind, max_length, enum = rule.type, rule.max_length, rule.enum
    minimum, maximum, pattern = rule.minimum, rule.maximum, _COMPILED.get(name)

    def check(value: Any) -> str | None:
        if value is None:
            return null
        if isinstance(value, bool):
            return wrong
        if kind == "string":
            if not isinstance(value, str):
                return wrong
            if max_length is not None and len(value) > max_length:
                return f"{name} 过长 is too long"
            if FORBIDDEN_CHARS.search(value) is not None:
                return f"{name} 含控制字符或无效字符 holds control characters or invalid Unicode"
        elif kind == "integer":
            if not isinstance(value, int):
                return wrong
        elif kind == "number":
            if not isinstance(value, int | float):
                return wrong
            if isinstance(value, float) and not math.isfinite(value):
                return f"{name} 不是有限数 is not a finite number"
        if enum is not None and value not in enum:
            return f"{name} 取值无效 is not one of the allowed values"
        if minimum is not None and value < minimum:
            return f"{name} 超出范围 is out of range"
        if maximum is not None and value > maximum:
            return f"{name} 超出范围 is out of range"
        if pattern is not None and not pattern.fullmatch(value):
            return f"{name} 格式错误 is malformed"
        return None

    return check


_FIELD_CHECKS = {name: _field_check(name, rule) for name, rule in FIELD_RULES.items()}
_WIRE_CHECKS = [(name, _FIELD_CHECKS[name]) for name in WIRE_FIELDS]
_WIRE_SET = frozenset(WIRE_FIELDS)


def _detail_problem(detail: str) -> str | None:
    if len(detail.encode("utf-8")) > MAX_DETAIL_BYTES:
        return "detail 过长 is too long"
    # Without a backslash every text in the parsed detail is a piece of ``detail`` itself: if
    # that holds no control character or surrogate, neither does any piece (the common case,
    # checked once instead of string by string).
    plain = "\\" not in detail and not bad_text(detail)
    try:
        parsed = _DETAIL_DECODER.decode(detail)
        if plain:
            # Every object or list opens with a bracket: with fewer brackets than the depth
            # left (a record is 2 deep) none can be too deep, and no walk is needed.
            if detail.count("{") + detail.count("[") > MAX_JSON_DEPTH - 2:
                _depth_ok(parsed, depth=2)
        else:
            _depth_and_text(parsed, depth=2)
    except (ValueError, RecursionError):
        return "detail 不是有效的 JSON 对象 is not a valid JSON object"
    if not isinstance(parsed, dict):
        return "detail 不是 JSON 对象 is not a JSON object"
    if not plain and _holds_bad_text(parsed):
        return "detail 含控制字符 holds control characters"
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


_DETAIL_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _holds_bad_text(value: Any) -> bool:
    if isinstance(value, str):
        return bad_text(value)
    if isinstance(value, dict):
        return any(bad_text(k) or _holds_bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_bad_text(v) for v in value)
    return False


def wall_time_problem(wall_time: str, clock_synced: int, now: datetime) -> str | None:
    """Is the kiosk's time inside the window of the hub's clock? (The format is checked first.)"""
    try:
        when = datetime.fromisoformat(wall_time)
    except ValueError:
        return "wall_time 不是有效时间 is not a valid time"
    if clock_synced:
        earliest, latest = now - SYNCED_PAST, now + SYNCED_FUTURE
    else:
        earliest, latest = EARLIEST, now + UNSYNCED_FUTURE
    if when < earliest:
        return "wall_time 早于允许范围 is before the accepted window"
    if when > latest:
        return "wall_time 晚于允许范围 is after the accepted window"
    return None


def problem_with(record: Any, kiosk_id: str, now: datetime | None = None) -> str | None:
    """Why a record cannot be stored as a ledger event, or None if it can.

    A record whose hash (or mac) does not match its content is *not* a problem here: it is stored
    and flagged as a chain break, so that tampering is visible rather than silently dropped.
    """
    if not isinstance(record, dict):
        return "记录必须是 JSON 对象 a record must be a JSON object"
    missing = [n for n in WIRE_FIELDS if n not in record and n not in OPTIONAL_FIELDS]
    if missing:
        return "缺少字段 missing fields: " + ", ".join(missing)
    extra = record.keys() - _WIRE_SET
    if extra:
        return f"多余字段 {len(extra)} unknown fields"
    for name, check in _WIRE_CHECKS:
        problem = check(record.get(name))
        if problem is not None:
            return problem
    if record["kiosk_id"] != kiosk_id:
        return "kiosk_id 与令牌不符 does not match the token"
    problem = _detail_problem(record["detail"])
    if problem is not None:
        return problem
    return wall_time_problem(record["wall_time"], record["clock_synced"], now or datetime.now(UTC))


def hash_matches(record: Mapping[str, Any]) -> bool:
    return record_hash(record) == record["hash"]


def mac_matches(key: bytes, record: Mapping[str, Any]) -> bool:
    mac = record.get("mac")
    return isinstance(mac, str) and hmac.compare_digest(chain_mac(key, record["hash"]), mac)

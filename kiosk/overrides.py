"""The guard's override form: decision, reason, note and a re-measured value. Pure logic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiosk.screening import tenth
from kiosk.visitors import FormError

ADMIT_REASONS = ("remeasured_normal", "exertion_or_sun", "device_error", "emergency", "other")
DENY_REASONS = ("fever_confirmed", "risk_area", "health_code", "refused_measurement", "other")
REMEASURED_RANGE = (34.0, 43.0)
# What "other" means, one touch each: the kiosk has no keyboard, so the guard screen offers these
# as the note that "other" requires (a note typed elsewhere is taken too).
OTHER_NOTES = {
    "admit": ("住户亲自接回", "医护急救人员", "执行公务", "物业工作人员"),
    "deny": ("拒绝登记信息", "联系不上住户", "住户不同意来访", "行为异常"),
}


@dataclass(frozen=True)
class Override:
    event_id: str
    decision: str  # "admit" or "deny"
    reason: str
    note: str | None
    remeasured_c: float | None


def parse_override(body: dict[str, Any], *, threshold_c: float) -> Override:
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not re.fullmatch(r"[0-9a-f-]{36}", event_id):
        raise FormError("event_id", "缺少要处置的记录 the event to decide on is missing")
    decision = body.get("decision")
    if decision not in ("admit", "deny"):
        raise FormError("decision", "请选择放行或不放行 admit or deny")
    reasons = ADMIT_REASONS if decision == "admit" else DENY_REASONS
    reason = body.get("reason")
    if reason not in reasons:
        raise FormError("reason", "请从列表中选择原因 pick a reason from the list")
    note = body.get("note")
    if note in (None, ""):
        note = None
    elif not isinstance(note, str):
        raise FormError("note", "须为文字 must be text")
    else:
        note = note.strip()
        if len(note) > 200 or re.search(r"[<>\x00-\x08\x0b-\x1f]", note):
            raise FormError("note", "最多 200 个字符，不含 < 或 > at most 200 characters")
    if reason == "other" and not note:
        raise FormError("note", "选“其他”时请选择具体情况 pick what the other reason is")
    remeasured = body.get("remeasured_c")
    if remeasured in (None, ""):
        remeasured = None
    else:
        if isinstance(remeasured, bool) or not isinstance(remeasured, int | float):
            raise FormError("remeasured_c", "请输入体温，如 36.9 a temperature in °C")
        low, high = REMEASURED_RANGE
        if not low <= remeasured <= high:
            raise FormError(
                "remeasured_c", f"应在 {low}–{high} °C 之间 between {low} and {high} °C"
            )
        remeasured = float(tenth(float(remeasured)))
    if decision == "admit":
        if reason == "remeasured_normal" and remeasured is None:
            raise FormError(
                "remeasured_c", "请输入接触式体温计的读数 enter the contact thermometer's value"
            )
        if remeasured is not None and remeasured > float(tenth(threshold_c)):
            raise FormError(
                "remeasured_c",
                f"{remeasured} °C 高于标准 {threshold_c} °C，不能放行"
                " (above the threshold: cannot admit)",
            )
    return Override(event_id, decision, reason, note, remeasured)

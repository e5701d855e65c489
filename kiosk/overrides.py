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
        raise FormError("event_id", "the event to decide on is missing")
    decision = body.get("decision")
    if decision not in ("admit", "deny"):
        raise FormError("decision", "admit or deny")
    reasons = ADMIT_REASONS if decision == "admit" else DENY_REASONS
    reason = body.get("reason")
    if reason not in reasons:
        raise FormError("reason", "pick a reason from the list")
    note = body.get("note")
    if note in (None, ""):
        note = None
    elif not isinstance(note, str):
        raise FormError("note", "must be text")
    else:
        note = note.strip()
        if len(note) > 200 or re.search(r"[<>\x00-\x08\x0b-\x1f]", note):
            raise FormError("note", "at most 200 characters, without < or >")
    if reason == "other" and not note:
        raise FormError("note", "say what the other reason is")
    remeasured = body.get("remeasured_c")
    if remeasured in (None, ""):
        remeasured = None
    else:
        if isinstance(remeasured, bool) or not isinstance(remeasured, int | float):
            raise FormError("remeasured_c", "a temperature in °C, like 36.9")
        low, high = REMEASURED_RANGE
        if not low <= remeasured <= high:
            raise FormError("remeasured_c", f"between {low} and {high} °C")
        remeasured = float(tenth(float(remeasured)))
    if decision == "admit":
        if reason == "remeasured_normal" and remeasured is None:
            raise FormError("remeasured_c", "enter the value from the contact thermometer")
        if remeasured is not None and remeasured > float(tenth(threshold_c)):
            raise FormError(
                "remeasured_c",
                f"{remeasured} °C is above the threshold {threshold_c}: cannot admit",
            )
    return Override(event_id, decision, reason, note, remeasured)

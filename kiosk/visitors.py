"""Visitor registration: validating the touch form, and deciding who is held for the guard.

Pure logic. The kiosk keeps the least it needs: phone number (for tracing contacts), where they
go, why, the risk-area answer and the health-code colour the guard saw; a name only if the guard
types one. Lists show phone numbers masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PHONE = re.compile(r"^1[3-9][0-9]{9}$")
PURPOSES = ("visit_family", "delivery", "repair", "housekeeping", "medical", "official", "other")
CODE_COLOURS = ("green", "yellow", "red")
NO_RISK_AREA = "none"


class FormError(ValueError):
    """A form field is wrong. ``field`` names it, the message says what is expected."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Visitor:
    phone: str
    building: str
    unit: str
    purpose: str
    risk_area: str  # NO_RISK_AREA or a name from the kiosk's list
    code_colour: str
    name: str | None

    @property
    def held_because(self) -> str | None:
        """Why the guard must decide before this visitor may enter, if at all."""
        if self.risk_area != NO_RISK_AREA:
            return "risk_area"
        if self.code_colour != "green":
            return f"code_{self.code_colour}"
        return None


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "****"


def _text(body: dict[str, Any], field: str, max_length: int) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise FormError(field, "required")
    value = value.strip()
    if len(value) > max_length:
        raise FormError(field, f"at most {max_length} characters")
    return value


def parse_visitor(
    body: dict[str, Any], *, places: dict[str, list[str]], risk_areas: list[str]
) -> Visitor:
    """Validate the visitor form against the kiosk's pick lists."""
    phone = _text(body, "phone", 11)
    if not PHONE.fullmatch(phone):
        raise FormError("phone", "a mainland mobile number: 11 digits starting with 13-19")
    building = _text(body, "building", 16)
    if building not in places:
        raise FormError("building", "pick a building from the list")
    unit = _text(body, "unit", 16)
    if unit not in places[building]:
        raise FormError("unit", "pick a unit of that building from the list")
    purpose = _text(body, "purpose", 32)
    if purpose not in PURPOSES:
        raise FormError("purpose", "pick a purpose from the list")
    risk_area = _text(body, "risk_area", 64)
    if risk_area != NO_RISK_AREA and risk_area not in risk_areas:
        raise FormError("risk_area", "pick 'none' or an area from the list")
    code_colour = _text(body, "code_colour", 8)
    if code_colour not in CODE_COLOURS:
        raise FormError("code_colour", "green, yellow or red, as the guard saw it")
    name = body.get("name")
    if name is not None and name != "":
        if not isinstance(name, str):
            raise FormError("name", "must be text")
        name = name.strip()
        if len(name) > 32 or re.search(r"[<>&\"'\x00-\x1f]", name):
            raise FormError("name", "at most 32 characters, without < > & or quotes")
    return Visitor(phone, building, unit, purpose, risk_area, code_colour, name or None)

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


# The name of each form field as the guard screen shows it: every error starts with it.
FIELD_NAMES = {
    "phone": "手机号",
    "building": "楼栋",
    "unit": "单元",
    "purpose": "事由",
    "risk_area": "风险地区",
    "code_colour": "健康码",
    "name": "姓名",
    "plate": "车牌",
    "direction": "方向",
    "event_id": "待处理记录",
    "decision": "处置",
    "reason": "原因",
    "note": "备注",
    "remeasured_c": "复测体温",
    "notice_id": "提醒",
    "pin": "PIN",
    "place": "场所",
    "agent": "消毒剂",
}


class FormError(ValueError):
    """A form field is wrong. ``field`` names it; the message, Chinese first, starts with the
    field's Chinese name and says what is expected."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        # A field without a Chinese name gets no prefix (its message names it): never the
        # field's code (a field trial read "place：场所：…").
        name = FIELD_NAMES.get(field)
        self.message = f"{name}：{message}" if name else message
        super().__init__(self.message)


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


# What a field takes, said when the value is not text at all (a number sent for the phone).
EXPECTED = {"phone": "请输入 11 位手机号（13–19 开头）11 digits starting with 13-19"}


def _text(body: dict[str, Any], field: str, max_length: int) -> str:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise FormError(field, EXPECTED.get(field, "须为文字 must be text"))
    if value is None or not value.strip():
        raise FormError(field, "必填 required")
    value = value.strip()
    if len(value) > max_length:
        raise FormError(field, f"最多 {max_length} 个字符 at most {max_length} characters")
    return value


def parse_visitor(
    body: dict[str, Any], *, places: dict[str, list[str]], risk_areas: list[str]
) -> Visitor:
    """Validate the visitor form against the kiosk's pick lists."""
    phone = _text(body, "phone", 11)
    if not PHONE.fullmatch(phone):
        raise FormError("phone", "请输入 11 位手机号（13–19 开头）11 digits starting with 13-19")
    building = _text(body, "building", 16)
    if building not in places:
        raise FormError("building", "请从列表中选择 pick a building from the list")
    unit = _text(body, "unit", 16)
    if unit not in places[building]:
        raise FormError("unit", "请选择该楼栋的单元 pick a unit of that building")
    purpose = _text(body, "purpose", 32)
    if purpose not in PURPOSES:
        raise FormError("purpose", "请从列表中选择 pick a purpose from the list")
    risk_area = _text(body, "risk_area", 64)
    if risk_area != NO_RISK_AREA and risk_area not in risk_areas:
        raise FormError("risk_area", "请选择“无”或列表中的地区 pick 'none' or an area")
    code_colour = _text(body, "code_colour", 8)
    if code_colour not in CODE_COLOURS:
        raise FormError("code_colour", "请选择绿码、黄码或红码 green, yellow or red")
    name = body.get("name")
    if name is not None and name != "":
        if not isinstance(name, str):
            raise FormError("name", "须为文字 must be text")
        name = name.strip()
        if len(name) > 32 or re.search(r"[<>&\"'\x00-\x1f]", name):
            raise FormError("name", "最多 32 个字符，不含 < > & 或引号 at most 32 characters")
    return Visitor(phone, building, unit, purpose, risk_area, code_colour, name or None)

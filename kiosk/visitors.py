"""Visitor registration: validating the touch form, and deciding who is held for the guard.

Pure logic. The kiosk keeps what the 外来人员登记 asks and no more: phone number (for tracing
contacts), the name (at the kiosk, which has no keyboard: surname and 先生/女士), where they go
(楼栋-单元-房号), why, the risk-area answer, the health-code colour the guard saw, and the ID
number if shown, which the desk keeps only masked and hashed (kiosk/visitor_ids.py). Lists show
phone numbers masked and no names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sync.contract import id_number_check

PHONE = re.compile(r"^1[3-9][0-9]{9}$")
PURPOSES = ("visit_family", "delivery", "repair", "housekeeping", "medical", "official", "other")
CODE_COLOURS = ("green", "yellow", "red")
NO_RISK_AREA = "none"
ROOM = re.compile(r"^[0-9A-Za-z]{1,6}$")
NAME_FORBIDDEN = re.compile(r"[<>&\"'\x00-\x1f\x7f]")
# The name pad of the guard screen (no keyboard at the kiosk): the commonest surnames, by how
# many people bear them, then 先生 / 女士.
SURNAMES = (
    *"王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁",
    *"任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武",
    *("欧阳", "上官", "司马", "诸葛"),
)
TITLES = ("先生", "女士")


# The name of each form field as the guard screen shows it: every error starts with it.
FIELD_NAMES = {
    "phone": "手机号",
    "building": "楼栋",
    "unit": "单元",
    "purpose": "事由",
    "risk_area": "风险地区",
    "code_colour": "健康码",
    "name": "姓名",
    "room": "房号",
    "id_number": "身份证号",
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
    room: str | None = None
    # Checked by GB 11643; the desk records it only masked and hashed, never in full.
    id_number: str | None = field(default=None, repr=False)

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


def parse_id_number(raw: Any) -> str | None:
    """An ID number as GB 11643 has it (18 characters, a real birth date, the check character
    right), or None when none is given; a FormError says what is wrong, in Chinese first."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise FormError("id_number", "须为文字 must be text")
    number = raw.strip().replace(" ", "").upper()
    if not number:
        return None
    if len(number) != 18 or not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise FormError(
            "id_number",
            f"应为 18 位（前 17 位数字，最后一位数字或 X），现为 {len(number)} 位"
            " 18 characters: 17 digits, then a digit or X",
        )
    if number[0] == "0":
        raise FormError("id_number", "第 1 位不能是 0，请核对 the region code cannot start with 0")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > date.today():
        raise FormError(
            "id_number",
            f"第 7–14 位出生日期 {number[6:14]} 不是有效日期，请核对"
            " the birth date (digits 7-14) is not a valid date",
        )
    check = id_number_check(number[:17])
    if check != number[17]:
        raise FormError(
            "id_number",
            "校验位不对（有数字输错），请逐位核对 the check character does not match",
        )
    return number


def parse_name(raw: Any) -> str:
    """姓名: required, at most 32 characters, no markup."""
    if raw is not None and not isinstance(raw, str):
        raise FormError("name", "须为文字 must be text")
    name = (raw or "").strip()
    if not name:
        raise FormError(
            "name", "必填：请点姓氏，再点先生或女士 required: tap the surname, then 先生/女士"
        )
    if len(name) > 32 or NAME_FORBIDDEN.search(name):
        raise FormError("name", "最多 32 个字符，不含 < > & 或引号 at most 32 characters")
    return name


def parse_visitor(
    body: dict[str, Any],
    *,
    places: dict[str, list[str]],
    risk_areas: list[str],
    rooms: dict[str, dict[str, list[str]]] | None = None,
) -> Visitor:
    """Validate the visitor form against the kiosk's pick lists (``rooms``: the rooms the
    roster knows, by building and unit; a unit it knows no rooms of takes any 1-6 letters or
    digits)."""
    phone = _text(body, "phone", 11)
    if not PHONE.fullmatch(phone):
        raise FormError("phone", "请输入 11 位手机号（13–19 开头）11 digits starting with 13-19")
    building = _text(body, "building", 16)
    if building not in places:
        raise FormError("building", "请从列表中选择 pick a building from the list")
    unit = _text(body, "unit", 16)
    if unit not in places[building]:
        raise FormError("unit", "请选择该楼栋的单元 pick a unit of that building")
    room = _text(body, "room", 16)
    known = (rooms or {}).get(building, {}).get(unit)
    if known:
        if room not in known:
            raise FormError(
                "room", f"请选择 {building} 栋 {unit} 单元的房号 pick a room of that unit"
            )
    elif not ROOM.fullmatch(room):
        raise FormError("room", "请输入 1–6 位数字或字母，如 301 1-6 digits or letters")
    name = parse_name(body.get("name"))
    purpose = _text(body, "purpose", 32)
    if purpose not in PURPOSES:
        raise FormError("purpose", "请从列表中选择 pick a purpose from the list")
    risk_area = _text(body, "risk_area", 64)
    if risk_area != NO_RISK_AREA and risk_area not in risk_areas:
        raise FormError("risk_area", "请选择“无”或列表中的地区 pick 'none' or an area")
    code_colour = _text(body, "code_colour", 8)
    if code_colour not in CODE_COLOURS:
        raise FormError("code_colour", "请选择绿码、黄码或红码 green, yellow or red")
    id_number = parse_id_number(body.get("id_number"))
    return Visitor(phone, building, unit, purpose, risk_area, code_colour, name, room, id_number)

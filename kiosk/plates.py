"""Mainland China licence plates: the formats the vehicle form accepts.

- Ordinary plates (GA 36-2018): province, issuing-office letter, then five letters or digits
  (no I or O); the last may be 挂 (trailer), 学 (learner), 警 (police), 港 or 澳.
- New-energy plates (8 characters, 2016 and the 2022 extension of the letter series):
  small vehicles: province, office letter, an energy letter (D A B C E for battery electric,
  F G H J K for others), a letter or digit, then four digits;
  large vehicles: province, office letter, five digits, then the energy letter.
"""

from __future__ import annotations

import re

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTER = "A-HJ-NP-Z"  # Latin letters without I and O
ENERGY = "DABCEFGHJK"

ORDINARY = re.compile(rf"^[{PROVINCES}][{LETTER}][{LETTER}0-9]{{4}}[{LETTER}0-9挂学警港澳]$")
NEW_ENERGY_SMALL = re.compile(rf"^[{PROVINCES}][{LETTER}][{ENERGY}][{LETTER}0-9][0-9]{{4}}$")
NEW_ENERGY_LARGE = re.compile(rf"^[{PROVINCES}][{LETTER}][0-9]{{5}}[{ENERGY}]$")


class PlateError(ValueError):
    """Not a valid mainland plate; the message says what is expected."""


def normalise_plate(raw: str) -> str:
    """Upper-case, without spaces, dots or dashes (as plates are often written: 京A·12345)."""
    return re.sub(r"[\s·.\-]", "", raw).upper()


def validate_plate(raw: str) -> str:
    plate = normalise_plate(raw)
    if not plate or len(plate) > 8:
        raise PlateError("车牌为 7 位，新能源车 8 位 7 characters, or 8 for a new-energy vehicle")
    if plate[0] not in PROVINCES:
        raise PlateError("车牌以省份简称开头，如 京 starts with the province, e.g. 京")
    if ORDINARY.fullmatch(plate) or NEW_ENERGY_SMALL.fullmatch(plate):
        return plate
    if NEW_ENERGY_LARGE.fullmatch(plate):
        return plate
    if "I" in plate or "O" in plate:
        raise PlateError("车牌不使用字母 I 或 O: plates never use I or O")
    raise PlateError("车牌格式不对，如 京A12345，新能源 京AD12345 (not a valid plate)")

"""The hub's own duty settings: how long a scheduled gate may be without anybody signed on
before it is 漏岗, and the working day over which disinfection rounds are due.

Declared like the settings a hub sends to kiosks (``sync.contract.Setting``), but used by the
hub alone. They are kept in the roster as kind ``hub_setting`` (the kiosks ignore that kind),
so every change has a version and a time, and each is in the audit log.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sync.contract import Setting, SettingValueError, checked_value
from sync.hub import roster_admin
from sync.hub.admins import audit
from sync.hub.store import HubStore

KIND = "hub_setting"
SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            "duty.grace_min",
            15,
            "A gate the schedule staffs may be without anybody signed on this many minutes (a"
            " change of shift) before it is 漏岗.",
            int,
            0,
            240,
        ),
        Setting(
            "disinfection.day_start_h",
            7,
            "Disinfection rounds are due evenly from this hour (local) …",
            int,
            0,
            23,
        ),
        Setting(
            "disinfection.day_end_h",
            21,
            "… to this hour (local; 24 is midnight).",
            int,
            1,
            24,
        ),
    )
}
LABELS = {
    "duty.grace_min": "漏岗宽限（分钟）",
    "disinfection.day_start_h": "消毒应做时段：开始（时）",
    "disinfection.day_end_h": "消毒应做时段：结束（时）",
}


class DutySettingError(ValueError):
    """A value a duty setting cannot take (said in Chinese)."""


def current(store: HubStore) -> dict[str, Any]:
    """Every duty setting's value: the manager's, or the default."""
    values = {key: setting.default for key, setting in SETTINGS.items()}
    for key, data in roster_admin.current(store, KIND).items():
        if key in SETTINGS:
            # A value stored under an older rule: the default holds.
            with contextlib.suppress(SettingValueError):
                values[key] = checked_value(SETTINGS[key], data.get("value"))
    return values


def set_values(store: HubStore, raw: dict[str, str], username: str) -> dict[str, Any]:
    """Set the duty settings given in ``raw`` (key → the form's text); checks them all and
    stores nothing when one is wrong."""
    values = current(store)
    changed: dict[str, int] = {}
    for key, text in raw.items():
        if key not in SETTINGS:
            raise DutySettingError("无法识别的设置项：请从页面上的表单提交")
        setting = SETTINGS[key]
        try:
            value = checked_value(setting, int((text or "").strip()))
        except (ValueError, SettingValueError):
            raise DutySettingError(
                f"{LABELS[key]}须为 {setting.minimum:g}–{setting.maximum:g} 的整数：请修改后再保存"
            ) from None
        if value != values[key]:
            changed[key] = value
        values[key] = value
    if values["disinfection.day_start_h"] >= values["disinfection.day_end_h"]:
        raise DutySettingError("消毒应做时段的结束须晚于开始：请修改后再保存")
    for key, value in changed.items():
        store.roster_put(KIND, key, {"value": value})
    if changed:
        with store.transaction():
            audit(store, username, "hub_setting.set", changed)
    return values

"""The settings in force as the guard screen's 设备状态 says them: the threshold and where it
comes from, and the settings version the kiosk runs (the one it reports to the hub)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.config import Config

THRESHOLD = "screening.threshold_c"


def threshold_words(config: Config, hub_set: Mapping[str, Any]) -> str:
    """``38.0 °C，中心设置`` or ``37.3 °C，本机默认``. A value the hub sent that the kiosk
    refused (out of its range) is named, so that the guard does not take it for the one in force."""
    threshold = config.screening.threshold_c
    if THRESHOLD not in hub_set:
        return f"{threshold:.1f} °C，本机默认"
    sent = hub_set[THRESHOLD]
    if sent == threshold:
        return f"{threshold:.1f} °C，中心设置"
    return f"{threshold:.1f} °C，本机默认（中心所设 {sent} 无效，未采用）"


def version_words(sync: Mapping[str, Any]) -> str:
    """The settings version from the sync client's state (``GuardDesk._sync``)."""
    if not sync.get("configured"):
        return "未连接中心：只用本机设置"
    version = sync.get("settings_version")
    if version is None:
        return "尚未从中心取得（等候同步）"
    if version == 0:
        return "版本 0（中心未下发设置，用本机设置）"
    return f"版本 {version}"

"""Describing a reading for a technician (the ``sensor`` and ``calibrate`` commands; the
thermometer itself comes from ``kiosk.hardware.open_thermometer``)."""

from __future__ import annotations

from drivers import Reading
from drivers.presence import thermal_presence
from kiosk.config import Config
from kiosk.screening import Rules, decide, estimate_core_c
from kiosk.words import word


def describe_estimate(config: Config) -> str:
    """The line that says how a reading becomes the temperature the gate judges."""
    rules = Rules.from_config(config)
    site = "额头 forehead" if rules.site == "forehead" else "手腕 wrist"
    parts = f"{site} {rules.site_compensation_c:+.1f}"
    if rules.site_offset_c:
        parts += f"，现场校准 site offset {rules.site_offset_c:+.1f}"
    if rules.model == "ambient":
        parts += f"，环境修正 ambient × {rules.ambient_coeff}"
    return (
        f"物体温度（皮肤）→ 补偿（{parts} °C）→ 体温估计，高于 {rules.threshold_c:.1f} °C 拦截"
        "（object → compensation → estimate; docs/screening.md）"
    )


def describe_reading(reading: Reading, config: Config) -> str:
    """One line: object, ambient, raw words, and for a person the compensation, the estimate and
    the verdict a single sample would get."""
    line = (
        f"物体 object {reading.object_c:6.2f} °C  环境 ambient {reading.ambient_c:6.2f} °C"
        f"  raw 0x{reading.object_raw:04X}/0x{reading.ambient_raw:04X}"
    )
    if not thermal_presence(reading, config.screening.presence_delta_c):
        return line + "  无人 nobody in front"
    rules = Rules.from_config(config)
    decision = decide([(reading.object_c, reading.ambient_c)], rules)
    compensation = estimate_core_c(reading.object_c, reading.ambient_c, rules) - reading.object_c
    shown = f"{decision.estimate_c:.1f} °C " if decision.estimate_c is not None else ""
    reason = f" ({decision.reason})" if decision.reason else ""
    return (
        line + f"  → 补偿 {compensation:+.1f} → 估计 person: {shown}"
        f"{word(str(decision.verdict))}{reason}"
    )

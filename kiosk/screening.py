"""The screening rule: from a handful of sensor samples to a verdict. Pure logic, no I/O.

The estimate is rounded to 0.1 °C (half up) and that rounded value is both shown and judged, so the
screen can never say 37.3 while the kiosk blocked on 37.34.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    ADMITTED = "admitted"
    BLOCKED = "blocked"  # fever: alarm, guard called
    RETRY = "retry"  # no trustworthy reading: measure again, never admitted
    FAULT = "fault"  # the sensor failed: never admitted, guard called


class Reason(StrEnum):
    FEVER = "fever"
    TOO_COLD = "too_cold"
    TOO_HOT = "too_hot"
    UNSTABLE = "unstable"
    LEFT = "left"
    STILL = "still"  # not one fresh word from the chip during the whole measurement
    SENSOR = "sensor"


@dataclass(frozen=True)
class Rules:
    """The part of the configuration the decision depends on."""

    threshold_c: float = 37.3
    site: str = "forehead"
    site_compensation_c: float = 2.6  # the forehead or wrist offset in force
    site_offset_c: float = 0.0
    model: str = "offset"
    ambient_coeff: float = 0.1
    reference_ambient_c: float = 24.0
    plausible_min_c: float = 34.0
    plausible_max_c: float = 43.0
    max_spread_c: float = 0.5

    @classmethod
    def from_config(cls, config: Any) -> Rules:
        s = config.screening
        compensation = s.forehead_offset_c if s.site == "forehead" else s.wrist_offset_c
        return cls(
            threshold_c=s.threshold_c,
            site=s.site,
            site_compensation_c=compensation,
            site_offset_c=s.site_offset_c,
            model=s.model,
            ambient_coeff=s.ambient_coeff,
            reference_ambient_c=s.reference_ambient_c,
            plausible_min_c=s.plausible_min_c,
            plausible_max_c=s.plausible_max_c,
            max_spread_c=s.max_spread_c,
        )


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: Reason | None
    estimate_c: float | None  # rounded to 0.1; what the screen shows
    object_c: float | None  # median raw object temperature
    ambient_c: float | None
    spread_c: float | None
    threshold_c: float

    @property
    def admits(self) -> bool:
        return self.verdict is Verdict.ADMITTED


def tenth(value: float) -> Decimal:
    """Round to 0.1 half up, as a person rounds (36.65 -> 36.7), free of float artefacts."""
    return Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def estimate_core_c(object_c: float, ambient_c: float, rules: Rules) -> float:
    """Core temperature estimated from skin (object) temperature; see docs/screening.md."""
    estimate = object_c + rules.site_compensation_c + rules.site_offset_c
    if rules.model == "ambient":
        estimate += rules.ambient_coeff * (rules.reference_ambient_c - ambient_c)
    return estimate


def decide(samples: Sequence[tuple[float, float]], rules: Rules) -> Decision:
    """Judge (object °C, ambient °C) samples taken while one person stood still in front."""
    if not samples:
        raise ValueError("decide() needs at least one sample")
    objects = [s[0] for s in samples]
    object_c = round(statistics.median(objects), 2)
    ambient_c = round(statistics.median(s[1] for s in samples), 2)
    spread_c = round(max(objects) - min(objects), 2)

    def verdict(v: Verdict, reason: Reason | None, estimate: float | None = None) -> Decision:
        return Decision(v, reason, estimate, object_c, ambient_c, spread_c, rules.threshold_c)

    if spread_c > rules.max_spread_c:
        return verdict(Verdict.RETRY, Reason.UNSTABLE)
    shown = tenth(estimate_core_c(object_c, ambient_c, rules))
    if shown < tenth(rules.plausible_min_c):
        return verdict(Verdict.RETRY, Reason.TOO_COLD)
    if shown > tenth(rules.plausible_max_c):
        return verdict(Verdict.RETRY, Reason.TOO_HOT)
    if shown > tenth(rules.threshold_c):
        return verdict(Verdict.BLOCKED, Reason.FEVER, float(shown))
    return verdict(Verdict.ADMITTED, None, float(shown))


def no_reading(
    reason: Reason, rules: Rules, partial: Sequence[tuple[float, float]] = ()
) -> Decision:
    """A decision without a trustworthy reading: the person left, or the sensor failed."""
    verdict = Verdict.FAULT if reason is Reason.SENSOR else Verdict.RETRY
    object_c = round(statistics.median(s[0] for s in partial), 2) if partial else None
    ambient_c = round(statistics.median(s[1] for s in partial), 2) if partial else None
    return Decision(verdict, reason, None, object_c, ambient_c, None, rules.threshold_c)

"""Calibrating the site offset on the spot against a reference thermometer."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from drivers import Thermometer
from kiosk.config import Config
from kiosk.measurement import Measurer, Timing
from kiosk.screening import Rules, Verdict, estimate_core_c


@dataclass(frozen=True)
class Calibration:
    uncorrected_c: float  # the kiosk's estimate with the site offset at zero
    site_offset_c: float  # what screening.site_offset_c should be


def site_offset_for(uncorrected_c: float, reference_c: float) -> float:
    """The offset that makes the kiosk agree with the reference, rounded to 0.1 °C."""
    offset = round(reference_c - uncorrected_c, 1) + 0.0  # + 0.0: never "-0.0" in the config
    if not -3.0 <= offset <= 3.0:
        raise ValueError(
            f"门岗与参考体温计相差 {offset:+.1f} °C，超过 ±3 °C：请检查传感器的位置、"
            "被测人是否站稳，以及参考体温计 (the kiosk and the reference differ by more than ±3 °C)"
        )
    return offset


def calibrate_site_offset(
    thermometer: Thermometer, config: Config, reference_c: float, *, wait_s: float = 10.0
) -> Calibration:
    """Wait for the person to step up, then measure them as the gate would (with the site
    offset at zero)."""
    rules = replace(
        Rules.from_config(config),
        site_offset_c=0.0,
        plausible_min_c=20.0,
        plausible_max_c=50.0,
        threshold_c=49.0,
    )
    timing = Timing.from_config(config)
    measurer = Measurer(thermometer, rules, timing)
    deadline = time.monotonic() + wait_s
    while not measurer.present(thermometer.read()):
        if time.monotonic() >= deadline:
            raise ValueError(
                f"{wait_s:g} 秒内传感器前没有人：请被测人站到传感器前，再运行一次"
                " (nobody in front of the sensor)"
            )
        time.sleep(timing.poll_interval_s)
    measurement = measurer.measure()
    decision = measurement.decision
    if decision.verdict is not Verdict.ADMITTED or decision.object_c is None:
        raise ValueError(
            f"读数不稳（{decision.reason}）：请被测人站稳，再运行一次 (no steady reading)"
        )
    uncorrected = estimate_core_c(decision.object_c, decision.ambient_c or 0.0, rules)
    return Calibration(round(uncorrected, 2), site_offset_for(uncorrected, reference_c))

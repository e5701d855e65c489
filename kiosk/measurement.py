"""One measurement of one person: settle, sample, judge. Talks to the driver, nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers import Reading, SensorError, Thermometer
from drivers.presence import DistanceWindow, thermal_presence
from kiosk.screening import Decision, Reason, Rules, decide, no_reading


@dataclass(frozen=True)
class Timing:
    settle_s: float = 0.5
    samples: int = 5
    sample_interval_s: float = 0.05
    presence_delta_c: float = 3.0
    poll_interval_s: float = 0.1

    @classmethod
    def from_config(cls, config: Any) -> Timing:
        s = config.screening
        return cls(
            settle_s=s.settle_s,
            samples=s.samples,
            sample_interval_s=s.sample_interval_s,
            presence_delta_c=s.presence_delta_c,
            poll_interval_s=s.poll_interval_s,
        )


@dataclass(frozen=True)
class Measurement:
    decision: Decision
    samples: tuple[Reading, ...]
    error: str | None = None  # the sensor error, for a FAULT


class Measurer:
    """Detects presence and measures one person with the real driver underneath."""

    def __init__(
        self,
        thermometer: Thermometer,
        rules: Rules,
        timing: Timing,
        *,
        distance: DistanceWindow | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.thermometer = thermometer
        self.rules = rules
        self.timing = timing
        self.distance = distance
        self._sleep = sleep

    def present(self, reading: Reading) -> bool:
        if not thermal_presence(reading, self.timing.presence_delta_c):
            return False
        return self.distance is None or self.distance.in_range()

    def measure(self) -> Measurement:
        """Measure the person who was just seen present. Never raises for sensor trouble."""
        self._sleep(self.timing.settle_s)
        samples: list[Reading] = []
        for index in range(self.timing.samples):
            if index:
                self._sleep(self.timing.sample_interval_s)
            try:
                reading = self.thermometer.read()
            except SensorError as exc:
                decision = no_reading(Reason.SENSOR, self.rules, _pairs(samples))
                return Measurement(decision, tuple(samples), str(exc))
            if not self.present(reading):
                decision = no_reading(Reason.LEFT, self.rules, _pairs(samples))
                return Measurement(decision, (*samples, reading))
            samples.append(reading)
        return Measurement(decide(_pairs(samples), self.rules), tuple(samples))


def _pairs(samples: list[Reading]) -> list[tuple[float, float]]:
    return [(r.object_c, r.ambient_c) for r in samples]

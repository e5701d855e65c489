"""One measurement of one person: settle, sample, judge. Talks to the driver, nothing else.

The settle (docs/screening.md, "Adaptive settle"): a face stepping up takes the chip's filtered
object reading from the background to the skin along an exponential (the MLX90614's IIR/FIR
filter, τ about 0.03-0.06 s in its default setting: settled in 0.1-0.25 s). Rather than a fixed
wait long enough for the slowest case, the samples are read from presence on, ``samples`` at a
time, and judged as soon as the reading has stayed flat for SETTLED_SPAN_S: the samples of that
span within ``settled_c`` of each other and the newest within half of it of the oldest (a curve
still rising shows as drift; over 0.15 s that bounds what is left of it to a few hundredths of a
degree for τ up to 0.1 s). The median of the last ``samples`` is judged. The
fixed wait stays as the upper bound: a reading that never settles is judged, as before, on the
samples after ``settle_s``, where the spread rule asks to measure again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers import Reading, SensorError, Thermometer
from drivers.presence import DistanceWindow, thermal_presence
from kiosk.screening import Decision, Reason, Rules, decide, no_reading

SETTLED_SPAN_S = 0.15  # how long the reading must stay flat to count as settled


@dataclass(frozen=True)
class Timing:
    settle_s: float = 0.5
    samples: int = 5
    sample_interval_s: float = 0.05
    presence_delta_c: float = 3.0
    poll_interval_s: float = 0.1
    adaptive_settle: bool = False
    settled_c: float = 0.1

    @classmethod
    def from_config(cls, config: Any) -> Timing:
        s = config.screening
        return cls(
            settle_s=s.settle_s,
            samples=s.samples,
            sample_interval_s=s.sample_interval_s,
            presence_delta_c=s.presence_delta_c,
            poll_interval_s=s.poll_interval_s,
            adaptive_settle=s.adaptive_settle,
            settled_c=s.settled_c,
        )

    @property
    def reads_at_most(self) -> int:
        """How many reads a measurement takes at most: the fixed settle's, read through."""
        return self.samples + math.ceil(self.settle_s / self._interval)

    @property
    def settled_reads(self) -> int:
        """How many of the last reads must lie flat: SETTLED_SPAN_S, and ``samples`` at least."""
        return max(self.samples, math.ceil(SETTLED_SPAN_S / self._interval) + 1)

    @property
    def _interval(self) -> float:
        return max(self.sample_interval_s, 0.001)


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
        timing = self.timing
        window = timing.samples
        samples: list[Reading] = []
        for index in range(timing.reads_at_most):  # read from presence on, either way
            if index:
                self._sleep(timing.sample_interval_s)
            try:
                reading = self.thermometer.read()
            except SensorError as exc:
                decision = no_reading(Reason.SENSOR, self.rules, _pairs(samples[-window:]))
                return Measurement(decision, tuple(samples[-window:]), str(exc))
            if not self.present(reading):
                decision = no_reading(Reason.LEFT, self.rules, _pairs(samples[-window:]))
                return Measurement(decision, (*samples[-window:], reading))
            samples.append(reading)
            span = timing.settled_reads
            if timing.adaptive_settle and settled(samples[-span:], span, timing.settled_c):
                break
        last = samples[-window:]
        if frozen_on_the_way(samples, window, timing.settled_c):
            # The samples judged are one repeated word, not known to be settled: the chip may
            # have frozen on its way to the skin (field trial: frozen 0.06-0.14 s after a
            # 39.0 °C person stepped up, five identical samples admitted 36.6). Nothing is
            # judged on them; measure again (which needs fresh words: a frozen chip then
            # measures nobody, and is called a fault after sensor.frozen_after_s).
            return Measurement(no_reading(Reason.STILL, self.rules, _pairs(last)), tuple(last))
        return Measurement(decide(_pairs(last), self.rules), tuple(last))


def moving(samples: list[Reading]) -> bool:
    """Do the samples hold at least two different words? A live chip's word carries noise; a
    frozen one repeats itself."""
    return len(samples) < 2 or len({r.object_raw for r in samples}) > 1


def frozen_on_the_way(reads: list[Reading], size: int, within_c: float) -> bool:
    """The samples to be judged (the last ``size``) are one repeated word, and nothing says the
    reading had settled there: no fresh word at all in the measurement, or one of the three
    reads before that run more than ``within_c`` away (the chip stopped while the reading was
    still moving to the skin). A quiet live chip repeats a word now and then once settled; its
    reads before the run then lie within ``within_c`` of it, and it is judged as usual."""
    if len(reads) < 2 or moving(reads[-size:]):
        return False
    final = reads[-1]
    run = 0
    while run < len(reads) and reads[-1 - run].object_raw == final.object_raw:
        run += 1
    before = reads[: len(reads) - run][-3:]
    return not before or any(abs(r.object_c - final.object_c) > within_c for r in before)


def settled(window: list[Reading], size: int, within_c: float) -> bool:
    """The last ``size`` samples have flattened out: spread within ``within_c`` and the newest
    within half of it of the oldest (the filter's curve still rising shows as drift). Words that
    never move are no sign of a settled reading (a live chip's word carries several LSB of
    noise; a frozen one does not): those wait for the fixed settle's bound, as before."""
    if len(window) < size or not moving(window):
        return False
    objects = [r.object_c for r in window]
    return max(objects) - min(objects) <= within_c and abs(objects[-1] - objects[0]) <= within_c / 2


def _pairs(samples: list[Reading]) -> list[tuple[float, float]]:
    return [(r.object_c, r.ambient_c) for r in samples]

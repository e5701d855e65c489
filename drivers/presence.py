"""Is somebody in front of the sensor?

From the thermometer alone: a person raises the object temperature well above ambient. Where an
HC-SR04 distance sensor is fitted, the person must also stand inside a distance window, which keeps
passers-by and a hot wall in summer from starting a measurement.
"""

from __future__ import annotations

from typing import Protocol

from drivers.thermometer import Reading


def thermal_presence(reading: Reading, delta_c: float) -> bool:
    """True when the object reads at least ``delta_c`` above ambient."""
    return reading.object_c - reading.ambient_c >= delta_c


class DistanceSource(Protocol):
    distance: float  # metres, as gpiozero's DistanceSensor reports it


class DistanceWindow:
    """Wraps a gpiozero ``DistanceSensor``: in range when ``min_m <= distance <= max_m``."""

    def __init__(self, sensor: DistanceSource, min_m: float, max_m: float) -> None:
        if not 0 <= min_m < max_m:
            raise ValueError("the distance window needs 0 <= min < max")
        self.sensor = sensor
        self.min_m = min_m
        self.max_m = max_m

    def in_range(self) -> bool:
        return self.min_m <= self.sensor.distance <= self.max_m

    def close(self) -> None:
        close = getattr(self.sensor, "close", None)
        if close is not None:
            close()

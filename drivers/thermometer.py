"""What the kiosk needs from a thermometer, whatever chip sits behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Reading:
    """One read of the sensor: object and ambient temperatures in °C, and the raw words."""

    object_c: float
    ambient_c: float
    object_raw: int
    ambient_raw: int


class Thermometer(Protocol):
    """A non-contact thermometer. ``read`` raises :class:`drivers.SensorError` on any failure."""

    def read(self) -> Reading: ...

    def close(self) -> None: ...

from __future__ import annotations

import pytest
from gpiozero import DistanceSensor
from gpiozero.exc import PWMSoftwareFallback
from gpiozero.pins.mock import MockTriggerPin

from drivers import Reading
from drivers.presence import DistanceWindow, thermal_presence
from tests.gate_helpers import wait_until


def reading(object_c: float, ambient_c: float) -> Reading:
    return Reading(object_c, ambient_c, 0, 0)


@pytest.mark.parametrize(
    ("object_c", "ambient_c", "present"),
    [
        (24.0, 24.0, False),
        (26.9, 24.0, False),
        (27.0, 24.0, True),
        (34.0, 24.0, True),
        (33.0, 33.5, False),
    ],
)
def test_thermal_presence(object_c, ambient_c, present):
    assert thermal_presence(reading(object_c, ambient_c), delta_c=3.0) is present


@pytest.mark.parametrize(("distance_m", "inside"), [(0.08, True), (0.5, False)])
def test_distance_window_with_a_mock_hc_sr04(mock_factory, distance_m, inside):
    echo = mock_factory.pin(17)
    mock_factory.pin(4, pin_class=MockTriggerPin, echo_pin=echo, echo_time=2 * distance_m / 343.26)
    with pytest.warns(PWMSoftwareFallback):
        sensor = DistanceSensor(echo=17, trigger=4, max_distance=1, pin_factory=mock_factory)
    window = DistanceWindow(sensor, 0.03, 0.15)
    try:
        wait_until(lambda: sensor.distance < 1, timeout=2, interval=0.05, what="an echo")
        assert window.in_range() is inside
    finally:
        window.close()


def test_distance_window_must_be_ordered():
    with pytest.raises(ValueError):
        DistanceWindow(object(), 0.2, 0.1)  # type: ignore[arg-type]

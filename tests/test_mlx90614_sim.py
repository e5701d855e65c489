"""The simulated chip itself: the scene and the fault injection that the other tests rely on."""

from __future__ import annotations

import pytest

from drivers.mlx90614 import MLX90614
from drivers.mlx90614_sim import Scene, SimulatedMLX90614


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_person_arrives_settles_and_leaves():
    clock = FakeClock()
    scene = Scene(noise_c=0.0, clock=clock, tau_s=0.1)
    scene.person(38.2)
    assert scene.temperatures()[0] == pytest.approx(24.0)
    clock.now += 0.1
    halfway = scene.temperatures()[0]
    assert 24.0 < halfway < 35.6
    clock.now += 1.0
    assert scene.temperatures()[0] == pytest.approx(38.2 - 2.6, abs=0.01)
    scene.leave()
    assert not scene.occupied
    clock.now += 1.0
    assert scene.temperatures()[0] == pytest.approx(24.0, abs=0.01)


def test_ambient_drift():
    clock = FakeClock()
    scene = Scene(noise_c=0.0, clock=clock)
    scene.set_ambient(10.0, drift_c_per_min=1.5)
    clock.now += 120
    assert scene.temperatures()[1] == pytest.approx(13.0)


def test_noise_is_bounded_and_seeded():
    a = [Scene(noise_c=0.05, seed=7).temperatures()[0] for _ in range(3)]
    b = [Scene(noise_c=0.05, seed=7).temperatures()[0] for _ in range(3)]
    assert a == b
    assert all(abs(v - 24.0) <= 0.05 for v in a)


def test_stuck_value_freezes_the_registers():
    clock = FakeClock()
    bus = SimulatedMLX90614(Scene(noise_c=0.0, clock=clock), clock=clock)
    sensor = MLX90614(bus)
    bus.inject("stuck")
    first = sensor.read()
    bus.scene.person(39.0)
    clock.now += 5
    assert sensor.read() == first
    bus.clear_faults()
    assert sensor.read().object_c > first.object_c + 10


def test_counted_faults_expire():
    bus = SimulatedMLX90614()
    bus.inject("eio", count=2)
    assert bus.active_faults == ["eio"]
    sensor = MLX90614(bus, retry_delay_s=0)
    sensor.read()
    assert bus.active_faults == []


def test_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="unknown fault"):
        SimulatedMLX90614().inject("smoke")  # type: ignore[arg-type]

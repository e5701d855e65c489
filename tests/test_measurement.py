"""One measurement, with the real driver on the simulated chip."""

from __future__ import annotations

import threading

import pytest

from drivers.mlx90614 import MLX90614
from drivers.mlx90614_sim import Scene
from kiosk.measurement import Measurer, Timing
from kiosk.screening import Reason, Rules, Verdict
from tests.gate_helpers import wait_until

TIMING = Timing(settle_s=0.3, samples=5, sample_interval_s=0.02)


@pytest.fixture
def scene() -> Scene:
    """A live chip's words carry noise (identical samples are taken for a frozen chip)."""
    return Scene(noise_c=0.03, seed=5)


class _Present(Measurer):
    """Measures as the gate does: only once the person is seen present (watched on the scene,
    so that no fault injected for the measurement is used up before it)."""

    scene: Scene

    def measure(self):  # type: ignore[override]
        def present() -> bool:
            object_c, ambient_c = self.scene.temperatures()
            return object_c - ambient_c >= self.timing.presence_delta_c

        wait_until(present, 5, 0.005, "presence")
        return super().measure()


def measurer_for(sensor: MLX90614) -> Measurer:
    measurer = _Present(sensor, Rules(), TIMING)
    measurer.scene = sensor.bus.scene
    return measurer


def test_a_person_at_36_6_is_admitted(sensor, scene):
    scene.person(36.6)
    measurement = measurer_for(sensor).measure()
    assert measurement.decision.verdict is Verdict.ADMITTED
    assert measurement.decision.estimate_c == 36.6
    assert len(measurement.samples) == 5


def test_a_person_at_38_2_is_blocked(sensor, scene):
    scene.person(38.2)
    decision = measurer_for(sensor).measure().decision
    assert (decision.verdict, decision.estimate_c) == (Verdict.BLOCKED, 38.2)


def test_a_person_who_leaves_mid_measurement(sensor, scene):
    scene.person(36.6)
    slow = measurer_for(sensor)
    slow.timing = Timing(settle_s=0.3, samples=5, sample_interval_s=0.2)
    threading.Timer(0.5, scene.leave).start()
    measurement = slow.measure()
    assert (measurement.decision.verdict, measurement.decision.reason) == (
        Verdict.RETRY,
        Reason.LEFT,
    )


def test_a_sensor_fault_mid_measurement_never_admits(sensor, scene, sim_bus):
    scene.person(36.6)
    sim_bus.inject("unplugged")
    measurement = measurer_for(sensor).measure()
    assert measurement.decision.verdict is Verdict.FAULT
    assert "no acknowledge" in (measurement.error or "")


def test_error_flag_mid_measurement_is_a_fault(sensor, scene, sim_bus):
    scene.person(36.6)
    sim_bus.inject("error_flag", count=1)
    assert measurer_for(sensor).measure().decision.verdict is Verdict.FAULT


def test_a_transient_glitch_is_absorbed_by_the_driver(sensor, scene, sim_bus):
    scene.person(36.6)
    sim_bus.inject("bad_pec", count=2)
    assert measurer_for(sensor).measure().decision.verdict is Verdict.ADMITTED


def test_nobody_is_not_present(sensor):
    assert not measurer_for(sensor).present(sensor.read())

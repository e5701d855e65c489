"""One measurement, with the real driver on the simulated chip."""

from __future__ import annotations

import threading

from drivers.mlx90614 import MLX90614
from kiosk.measurement import Measurer, Timing
from kiosk.screening import Reason, Rules, Verdict

TIMING = Timing(settle_s=0.3, samples=5, sample_interval_s=0.02)


def measurer_for(sensor: MLX90614) -> Measurer:
    return Measurer(sensor, Rules(), TIMING)


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
    slow = Measurer(sensor, Rules(), Timing(settle_s=0.3, samples=5, sample_interval_s=0.2))
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

"""A chip that stops measuring is a sensor fault: never admits, recorded once, recovers by itself.
A healthy noisy chip is never flagged. All on a fake clock: nothing here sleeps."""

from __future__ import annotations

import random

import pytest

from bench.gate_sim import sim_gate, simulate_gate
from drivers import Reading
from drivers.mlx90614 import celsius_to_raw
from kiosk.liveness import AMBIENT_JUMP, AMBIENT_RANGE, FROZEN, Liveness, LivenessRules


def reading(object_c: float, ambient_c: float = 24.0) -> Reading:
    return Reading(object_c, ambient_c, celsius_to_raw(object_c), celsius_to_raw(ambient_c))


# -- the rule on its own -------------------------------------------------------------------


def test_the_same_object_word_for_frozen_after_s_is_frozen():
    live = Liveness(LivenessRules(frozen_after_s=3.0), now=0.0)
    t = 0.0
    while t < 2.9:
        assert live.observe(reading(24.0), t) is None
        t += 0.1
    assert live.observe(reading(24.0), 3.05) == FROZEN
    assert not live.changed_since(0.0)


def test_a_frozen_chip_recovers_after_fresh_words():
    live = Liveness(LivenessRules(frozen_after_s=3.0, recover_changes=3), now=0.0)
    assert live.observe(reading(24.0), 3.5) == FROZEN
    assert live.observe(reading(24.02), 3.6) == FROZEN
    assert live.observe(reading(24.04), 3.7) == FROZEN
    assert live.observe(reading(24.02), 3.8) is None
    assert live.ok_at == 3.8
    assert live.changed_since(3.65) and not live.changed_since(3.75)


def test_one_changed_word_may_predate_the_moment_two_cannot():
    """The chip refreshes its RAM between reads: the first changed word read after "measure
    again" may have been converted before it, just before the chip froze on the last person (a
    field case the simulator found under load: 36.6 °C admitted while 38.5 °C stood there)."""
    live = Liveness(LivenessRules(), now=0.0)
    live.observe(reading(36.60), 0.1)
    live.observe(reading(36.62), 0.2)
    # "measure again" at 0.25; the chip had converted 36.64 at 0.24 and froze on it
    live.observe(reading(36.64), 0.3)
    assert not live.changed_since(0.25)
    live.observe(reading(36.64), 0.4)
    assert not live.changed_since(0.25)
    live.observe(reading(36.66), 0.5)  # a live chip: its next conversion moves the word again
    assert live.changed_since(0.25)


def test_a_chip_back_from_a_bus_fault_gets_the_full_window_but_no_free_change():
    live = Liveness(LivenessRules(frozen_after_s=3.0), now=0.0)
    assert live.observe(reading(24.0), 0.1) is None
    live.reset(20.0)  # 20 s of bus errors
    assert live.observe(reading(24.0), 20.1) is None  # not called frozen at once
    assert not live.changed_since(0.2)  # and a word read after the outage is not "fresh"
    assert live.observe(reading(24.0), 23.2) == FROZEN


def test_ambient_outside_any_room_or_jumping_is_a_problem():
    live = Liveness(LivenessRules(), now=0.0)
    assert live.observe(reading(24.0, 80.0), 0.1) == AMBIENT_RANGE
    live = Liveness(LivenessRules(), now=0.0)
    assert live.observe(reading(24.0, 24.0), 0.1) is None
    assert live.observe(reading(24.02, 29.0), 0.2) == AMBIENT_JUMP
    # a slow drift is a room warming up
    live = Liveness(LivenessRules(), now=0.0)
    for step in range(600):
        object_c = 24.0 + (0.02 if step % 2 else 0.0) + step * 0.01
        assert live.observe(reading(object_c, 24.0 + step * 0.01), step * 0.1) is None


# -- at the gate ---------------------------------------------------------------------------


@pytest.fixture
def gate(make_config):
    def make(**overrides):
        return sim_gate(make_config(**overrides))

    return make


@pytest.mark.parametrize("next_core_c", [36.6, 38.5, 35.0])
def test_a_chip_frozen_on_one_person_never_admits_the_next(gate, next_core_c):
    g = gate()
    g.scene.person(36.6)
    g.run(1.0)  # admitted, the verdict still up (after its hold whoever stands there is measured)
    assert [e["verdict"] for e in g.events("screening")] == ["admitted"]
    assert g.relay.pulses == 1
    g.sim.inject("stuck")  # frozen while the first person still stands there
    g.run(0.2)
    g.scene.leave()
    g.run(1.0)
    g.scene.person(next_core_c)
    g.gate.measure_again()  # the next person touches "measure again"
    g.run(30.0)
    assert g.relay.pulses == 1
    assert [e["verdict"] for e in g.events("screening")] == ["admitted"]
    assert g.screen() == "sensor_fault"
    [fault] = g.events("sensor_fault")
    assert fault["reason"] == FROZEN


def test_a_chip_frozen_on_one_person_never_admits_them_again(gate):
    g = gate()
    g.scene.person(36.6)
    g.run(1.0)
    g.sim.inject("stuck")
    for _ in range(5):  # they keep touching "measure again"
        g.gate.measure_again()
        g.run(0.5)
    g.run(10.0)
    assert g.relay.pulses == 1
    assert len(g.events("screening")) == 1
    assert len(g.events("sensor_fault")) == 1
    assert g.screen() == "sensor_fault"


def test_a_chip_frozen_from_idle_admits_nobody_and_comes_back(gate):
    g = gate()
    g.run(1.0)
    g.sim.inject("stuck")
    g.run(1.0)
    g.scene.person(36.6)
    g.run(60.0)
    assert g.relay.pulses == 0
    assert g.events("screening") == []
    assert len(g.events("sensor_fault")) == 1  # recorded once, not once a poll
    assert g.screen() == "sensor_fault"
    assert g.gate.status()["sensor_fault"]
    g.sim.clear_faults()  # the chip measures again
    g.run(1.2)
    assert [e["kind"] for e in g.events()][-2:] == ["sensor_recovered", "screening"]
    assert g.events("screening")[0]["verdict"] == "admitted"
    assert g.relay.pulses == 1
    assert g.gate.status()["sensor_ok_s_ago"] < 0.5


def test_a_bus_fault_then_a_frozen_chip_is_one_fault_until_it_measures(gate):
    g = gate()
    g.run(1.0)
    g.sim.inject("unplugged", count=20)
    g.run(10.0)
    assert [e["kind"] for e in g.events()] == ["sensor_fault", "sensor_recovered"]
    g.sim.inject("stuck")
    g.run(15.0)
    kinds = [e["kind"] for e in g.events()]
    assert kinds == ["sensor_fault", "sensor_recovered", "sensor_fault"]
    assert g.events()[-1]["reason"] == FROZEN
    assert g.screen() == "sensor_fault"


def test_sensor_ok_at_follows_live_reads(gate):
    g = gate()
    assert g.gate.status()["sensor_ok_s_ago"] is None
    g.run(1.0)
    assert g.gate.status()["sensor_ok_s_ago"] <= 0.1


@pytest.mark.parametrize(
    ("noise_c", "people_per_hour"),
    [(0.03, 0), (0.03, 240), (0.015, 240)],
    ids=["idle", "busy", "busy-quiet-chip"],
)
def test_a_healthy_noisy_chip_is_never_flagged(make_config, noise_c, people_per_hour):
    g = sim_gate(make_config(**{"screening.poll_interval_s": 0.1}), noise_c=noise_c, seed=7)
    simulate_gate(g, 0.5, people_per_hour, random.Random(3))
    assert g.events("sensor_fault") == []
    verdicts = {e["verdict"] for e in g.events("screening")}
    assert "fault" not in verdicts
    if people_per_hour:
        assert len(g.events("screening")) > 60

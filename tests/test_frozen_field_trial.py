"""Field-trial findings on a frozen chip (issue 10, second pass), at the gate on a fake clock:
the guard's re-measure needs a fresh word from the chip, and a verdict never outlives
kiosk.result_hold_s on a chip that stopped measuring."""

from __future__ import annotations

from bench.gate_sim import sim_gate
from kiosk.guard_desk import GuardDesk

WANG = {"guard_id": "wang", "name": "王师傅"}


def test_the_guards_remeasure_on_a_chip_frozen_since_the_block_admits_nobody(make_config):
    g = sim_gate(make_config())
    desk = GuardDesk(g.gate)
    g.scene.person(38.2)
    g.run(2.0)
    [block] = g.events("screening")
    assert block["verdict"] == "blocked"
    g.scene.leave()
    g.run(2.0)
    g.scene.person(36.6)  # not measured: the lane waits for the guard
    g.run(2.0)
    g.sim.inject("stuck")  # the chip freezes on 36.6
    g.run(0.5)
    g.scene.leave()
    g.run(1.0)
    g.scene.person(38.2)
    g.run(1.0)
    desk.remeasure(block["id"], WANG)  # within 10 s of the freeze
    g.run(30.0)
    assert g.relay.pulses == 0
    assert [e["verdict"] for e in g.events("screening")] == ["blocked"]
    assert [e["reason"] for e in g.events("sensor_fault")] == ["frozen"]
    assert g.screen() == "sensor_fault"


def test_a_remeasure_requested_between_two_loop_passes_still_needs_a_fresh_word(make_config):
    """The request lands before the loop sees its wake-up: no stale word may be used."""
    g = sim_gate(make_config())
    g.scene.person(38.2)
    g.run(2.0)
    [block] = g.events("screening")
    g.sim.inject("stuck")
    g.run(0.5)
    g.scene.person(36.6)
    g.gate.remeasure_for_guard(block["id"], "wang")  # before the loop's next pass
    g.run(30.0)
    assert [e["verdict"] for e in g.events("screening")] == ["blocked"]
    assert g.relay.pulses == 0


def test_the_guards_remeasure_on_a_live_chip_still_works(make_config):
    g = sim_gate(make_config())
    g.scene.person(38.2)
    g.run(2.0)
    [block] = g.events("screening")
    GuardDesk(g.gate).remeasure(block["id"], WANG)
    g.scene.leave()
    g.run(0.5)
    g.scene.person(36.7)
    g.run(1.0)
    again = g.events("screening")[1]
    assert (again["verdict"], again["links_to"]) == ("admitted", block["id"])
    assert g.relay.pulses == 1


def test_a_green_verdict_leaves_after_result_hold_when_the_chip_freezes(make_config):
    g = sim_gate(make_config(kiosk__result_hold_s=2.0, sensor__frozen_after_s=10.0))
    g.scene.person(36.6)
    g.run(1.0)
    assert g.screen() == "admitted"
    g.sim.inject("stuck")  # the chip freezes with the person in front
    g.scene.leave()
    g.scene.person(38.4)  # the next, feverish person
    seen = []
    for _ in range(int(9.0 / 0.1)):
        g.run(0.1)
        seen.append((round(g.clock() - 1000.0, 1), g.screen()))
    green_after_hold = [t for t, screen in seen if screen == "admitted" and t > 1.0 + 2.0 + 0.2]
    assert green_after_hold == []
    after_hold = [screen for t, screen in seen if t > 1.0 + 2.0 + 0.2]
    # the instruction (never green) until the chip is called frozen
    assert set(after_hold) <= {"idle", "sensor_fault"}
    assert after_hold[0] == "idle"
    g.run(3.0)
    assert g.screen() == "sensor_fault"
    assert g.relay.pulses == 1


def test_a_live_chip_keeps_the_verdict_while_the_person_stands(make_config):
    g = sim_gate(make_config(kiosk__result_hold_s=1.0))
    g.scene.person(36.6)
    g.run(6.0)
    assert g.screen() == "admitted"
    g.scene.leave()
    g.run(2.0)
    assert g.screen() == "idle"

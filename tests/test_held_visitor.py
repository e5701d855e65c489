"""A held visitor (risk area, yellow or red code) is the guard's to let in: a resident with a
valid pass is screened as the resident, and while the held visitor waits no screening without a
pass opens the gate. At the gate on a fake clock."""

from __future__ import annotations

import pytest

from bench.gate_sim import sim_gate
from kiosk.guard_desk import GuardDesk
from kiosk.overrides import parse_override
from kiosk.passes import upsert
from kiosk.visitors import parse_visitor
from tests.gate_helpers import resident_pass

WANG = {"guard_id": "wang", "name": "王师傅"}
YELLOW = {
    "phone": "13812345678",
    "building": "3",
    "unit": "2",
    "purpose": "delivery",
    "risk_area": "none",
    "code_colour": "yellow",
    "name": "王先生",
    "room": "301",
}


def held_visitor(g):
    visitor = parse_visitor(YELLOW, places={"3": ["2"]}, risk_areas=[])
    assert visitor.held_because == "code_yellow"
    return GuardDesk(g.gate).register_visitor(visitor, WANG)


@pytest.fixture(params=["before", "after"])
def gate(request, make_config):
    g = sim_gate(make_config(kiosk__identify=request.param))
    upsert(g.ledger.connection(), [resident_pass("10010302")], source="test")
    return g


def person(g, core_c: float, seconds: float = 1.0) -> dict:
    """One person steps up, is judged, and leaves before the verdict's hold ends."""
    g.scene.person(core_c)
    g.run(seconds)
    record = g.events("screening")[-1]
    g.scene.leave()
    g.run(2.0)
    return record


def test_a_resident_with_a_pass_is_not_taken_for_the_held_visitor(gate):
    g = gate
    visitor = held_visitor(g)
    g.gate.present_pass("10010302")  # the resident shows the pass first
    resident = person(g, 36.6)
    assert resident["links_to"] is None  # the resident's own screening
    assert resident["verdict"] == "admitted"
    if g.gate.config.kiosk.identify == "before":
        assert resident["pass_code"] == "10010302"
        assert g.relay.pulses == 1
    # the visitor steps up: normal temperature, still held for the guard
    pulses = g.relay.pulses
    g.scene.person(36.6)
    g.run(1.0)
    assert g.screen() == "held"
    later = g.events("screening")[-1]
    assert later["links_to"] == visitor["id"]
    g.scene.leave()
    g.run(2.0)
    assert g.relay.pulses == pulses
    assert [p["id"] for p in GuardDesk(g.gate).pending()] == [visitor["id"]]


def test_no_screening_without_a_pass_opens_the_gate_while_a_held_visitor_waits(gate):
    g = gate
    visitor = held_visitor(g)
    for _ in range(3):  # the visitor, and others without a pass
        record = person(g, 36.6)
        assert record["links_to"] == visitor["id"]
    # a pass shown after a held screening does not open the gate either
    g.scene.person(36.6)
    g.run(1.0)
    assert g.screen() == "held"
    g.gate.present_pass("10010302")
    g.scene.leave()
    g.run(2.0)
    assert g.relay.pulses == 0
    # the guard decides: the lane is back to normal
    form = parse_override(
        {"event_id": visitor["id"], "decision": "deny", "reason": "health_code"},
        threshold_c=37.3,
    )
    GuardDesk(g.gate).override(form, WANG)
    after = person(g, 36.6)
    assert after["links_to"] is None
    if g.gate.config.kiosk.identify == "before":
        assert g.relay.pulses == 1


def test_a_held_visitor_item_that_expires_frees_the_lane(make_config):
    g = sim_gate(make_config(guard__pending_expire_s=300))
    held_visitor(g)
    assert g.gate.active_context().held
    g.clock.advance(301)
    assert g.gate.active_context() is None
    assert person(g, 36.6)["links_to"] is None
    assert g.relay.pulses == 1

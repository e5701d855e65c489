"""A fever block is the guard's to clear: nothing the resident can do opens the relay; the
guard's re-measure is a new screening linked to the block. On a fake clock."""

from __future__ import annotations

import json

import pytest

from bench.gate_sim import sim_gate
from kiosk.gate import AwaitingGuard
from kiosk.guard_accounts import add_guard
from kiosk.guard_desk import GuardDesk
from kiosk.passes import upsert
from kiosk.web import create_app
from tests.gate_helpers import resident_pass

WANG = {"guard_id": "wang", "name": "王师傅"}


@pytest.fixture
def blocked(make_config):
    g = sim_gate(make_config(kiosk__identify="after"))
    upsert(g.ledger.connection(), [resident_pass("F6001")], source="test")
    g.scene.person(38.4)
    g.run(2.0)
    [block] = g.events("screening")
    assert block["verdict"] == "blocked"
    # After the verdict's hold the next person is told to wait, not shown this fever.
    assert g.screen() == "awaiting_guard"
    return g


def test_nothing_on_the_resident_screen_opens_the_relay_after_a_block(blocked):
    g = blocked
    client = create_app(g.gate).test_client()
    g.scene.person(36.8)  # cooled down, still standing there
    response = client.post("/api/measure-again", json={})
    assert response.status_code == 409
    assert "门卫" in response.get_json()["message"]
    with pytest.raises(AwaitingGuard):
        g.gate.measure_again()
    assert client.post("/api/pass", json={"code": "F6001"}).status_code == 200
    # walks away and comes back, again and again
    for _ in range(3):
        g.scene.leave()
        g.run(3.0)
        g.scene.person(36.8)
        g.run(5.0)
    g.run(120.0)
    assert g.relay.pulses == 0
    assert [e["verdict"] for e in g.events("screening")] == ["blocked"]
    state = g.gate.screen.snapshot()
    assert state["screen"] == "awaiting_guard" and "estimate_c" not in state


def test_the_guards_remeasure_is_a_new_screening_linked_to_the_block(blocked):
    g = blocked
    desk = GuardDesk(g.gate)
    [block] = g.events("screening")
    assert [p["id"] for p in desk.pending()] == [block["id"]]
    desk.remeasure(block["id"], WANG)
    assert g.screen() == "guard_remeasure"
    g.scene.leave()  # whoever stood at the sensor steps away…
    g.run(0.5)
    g.scene.person(36.8)  # …and the blocked person steps up
    g.run(1.0)
    first, again = g.events("screening")
    assert first["id"] == block["id"]
    assert (again["verdict"], again["estimate_c"], again["links_to"]) == (
        "admitted",
        36.8,
        block["id"],
    )
    detail = json.loads(again["detail"])
    assert (detail["remeasure_of"], detail["guard_id"]) == (block["id"], "wang")
    assert g.relay.pulses == 1
    assert desk.pending() == []
    assert g.gate.awaiting_guard is None
    # the lane is open again: the next person is measured as usual
    g.scene.leave()
    g.run(2.0)
    g.scene.person(36.5)
    g.run(1.0)
    assert [e["verdict"] for e in g.events("screening")] == ["blocked", "admitted", "admitted"]


def test_a_remeasure_that_is_still_a_fever_waits_for_the_guard_again(blocked):
    g = blocked
    desk = GuardDesk(g.gate)
    [block] = g.events("screening")
    desk.remeasure(block["id"], WANG)
    g.scene.leave()
    g.run(0.5)
    g.scene.person(38.4)
    g.run(1.0)
    again = g.events("screening")[-1]
    assert (again["verdict"], again["links_to"]) == ("blocked", block["id"])
    assert [p["id"] for p in desk.pending()] == [again["id"]]
    assert g.gate.awaiting_guard["id"] == again["id"]
    assert g.relay.pulses == 0


def test_a_guard_override_opens_the_lane(blocked):
    from kiosk.overrides import parse_override

    g = blocked
    desk = GuardDesk(g.gate)
    [block] = g.events("screening")
    form = parse_override(
        {"event_id": block["id"], "decision": "deny", "reason": "fever_confirmed"},
        threshold_c=37.3,
    )
    desk.override(form, WANG)
    assert g.gate.awaiting_guard is None
    g.scene.leave()
    g.run(2.0)
    g.scene.person(36.5)
    g.run(3.0)
    assert g.events("screening")[-1]["verdict"] == "admitted"


def test_a_restart_keeps_waiting_for_the_guard(blocked, make_config):
    g = blocked
    again = sim_gate(make_config(kiosk__identify="after"), ledger=g.ledger)
    assert again.gate.awaiting_guard["id"] == g.events("screening")[0]["id"]
    assert again.screen() == "awaiting_guard"
    again.scene.person(36.6)
    again.run(10.0)
    assert again.relay.pulses == 0


def test_only_a_waiting_block_can_be_remeasured(blocked):
    from kiosk.visitors import FormError

    g = blocked
    conn = g.ledger.connection()
    add_guard(conn, "wang", "王师傅", "483190")
    desk = GuardDesk(g.gate)
    with pytest.raises(FormError) as error:
        desk.remeasure("00000000-0000-0000-0000-000000000000", WANG)
    assert error.value.field == "event_id"


def test_the_guards_remeasure_never_takes_the_next_resident_standing_there(blocked):
    """Field trial: a 38.6 °C person was blocked, the next resident (36.3) stepped straight in
    and was told to wait; the guard tapped 复测 and the resident at the sensor was admitted as
    the re-measure of the fever block. The fever person was never measured again."""
    g = blocked
    desk = GuardDesk(g.gate)
    [block] = g.events("screening")
    g.scene.person(36.3)  # the next resident, at the sensor, waiting
    g.run(2.0)
    desk.remeasure(block["id"], WANG)
    g.run(5.0)  # they stay: not measured as the re-measure
    assert [e["id"] for e in g.events("screening")] == [block["id"]]
    assert g.gate.screen.snapshot().get("clearing") is True
    assert g.relay.pulses == 0
    g.scene.leave()
    g.run(0.5)
    g.scene.person(38.4)  # the blocked person, back at the sensor
    g.run(1.0)
    again = g.events("screening")[-1]
    assert (again["verdict"], again["links_to"]) == ("blocked", block["id"])

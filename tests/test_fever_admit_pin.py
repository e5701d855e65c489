"""Admitting over a fever block is the guard's alone: the confirm step needs the guard's PIN again,
so an unlocked guard screen left unattended cannot be used to clear oneself."""

from __future__ import annotations

import pytest

from bench.gate_sim import sim_gate
from kiosk.guard_accounts import add_guard
from kiosk.web import create_app

PIN = "246813"


@pytest.fixture
def blocked(make_config):
    g = sim_gate(make_config())
    add_guard(g.ledger.connection(), "wang", "王师傅", PIN)
    g.scene.person(38.4)
    g.run(2.0)
    [block] = g.events("screening")
    assert block["verdict"] == "blocked"
    client = create_app(g.gate).test_client()
    response = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": PIN})
    headers = {"X-CSRF-Token": response.get_json()["csrf"]}
    return g, client, headers, block


def admit(client, headers, block, **extra):
    body = {"event_id": block["id"], "decision": "admit", "reason": "emergency", **extra}
    return client.post("/api/guard/override", json=body, headers=headers)


@pytest.mark.parametrize("pin", [None, "", "000000", "abc"])
def test_admitting_over_a_fever_without_the_pin_is_refused(blocked, pin):
    g, client, headers, block = blocked
    extra = {} if pin is None else {"pin": pin}
    response = admit(client, headers, block, **extra)
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "pin"
    assert body["message"].startswith("PIN")
    assert g.relay.pulses == 0
    assert g.events("override") == []
    assert g.gate.awaiting_guard is not None
    # the screen stays unlocked for a guard who mistyped
    assert client.get("/api/guard/state").status_code == 200


def test_admitting_over_a_fever_with_the_pin_opens_the_gate(blocked):
    g, client, headers, block = blocked
    response = admit(client, headers, block, pin=PIN)
    assert response.status_code == 200, response.get_json()
    assert g.relay.pulses == 1
    [override] = g.events("override")
    assert (override["verdict"], override["links_to"]) == ("admitted", block["id"])


def test_denying_a_fever_needs_no_pin_again(blocked):
    g, client, headers, block = blocked
    body = {"event_id": block["id"], "decision": "deny", "reason": "fever_confirmed"}
    assert client.post("/api/guard/override", json=body, headers=headers).status_code == 200
    assert g.relay.pulses == 0


def test_the_state_tells_the_page_which_items_need_the_pin(blocked):
    _g, client, _headers, _block = blocked
    [item] = client.get("/api/guard/state").get_json()["pending"]
    assert item["admit_needs_pin"] is True

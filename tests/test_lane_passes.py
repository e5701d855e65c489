"""Passes in the lane (identify = before, not required), on a fake clock: the latest pass shown
counts for the next screening, a refused one cancels an accepted one and is not waved through as
if none were shown, and a pass belongs to the one screening it was shown for."""

from __future__ import annotations

import json

import pytest

from bench.gate_sim import sim_gate
from kiosk.guard_desk import GuardDesk
from kiosk.overrides import parse_override
from kiosk.passes import upsert
from tests.gate_helpers import resident_pass

WANG = {"guard_id": "wang", "name": "王师傅"}


@pytest.fixture
def g(make_config):
    g = sim_gate(make_config(kiosk__identify="before", kiosk__identify_required=False))
    upsert(g.ledger.connection(), [resident_pass(c) for c in ("20010501", "20010502")], source="t")
    return g


def test_the_latest_pass_wins_and_belongs_to_one_screening(g):
    g.gate.present_pass("20010501")
    g.gate.present_pass("20010502")
    assert g.person_passes()["pass_code"] == "20010502"
    assert g.person_passes()["pass_code"] is None  # the next person showed nothing
    assert g.relay.pulses == 2


def test_a_refused_pass_cancels_an_accepted_one_and_holds_the_person_for_the_guard(g):
    """Field trial: quarantined pass accepted, an unknown code refused, then a 38.2 °C person:
    the block carried the accepted pass (a fever put on the wrong household)."""
    g.gate.present_pass("20010501")
    g.gate.present_pass("99999999")  # unknown
    held = g.person_passes()
    assert held["pass_code"] is None
    assert json.loads(held["detail"])["pass_refused"]["reason"] == "unknown"
    assert g.relay.pulses == 0  # not waved through as if no pass had been shown
    [notice] = [n for n in g.gate.guard_notices if n["kind"] == "pass_refused"]
    assert notice["id"] == held["id"] and notice["reason"] == "unknown"
    desk = GuardDesk(g.gate)
    [item] = desk.pending()
    assert (item["id"], item["pass_refused"]) == (held["id"], "unknown")
    form = parse_override(
        {"event_id": held["id"], "decision": "admit", "reason": "other", "note": "住户本人"},
        threshold_c=37.3,
    )
    desk.override(form, WANG)
    assert g.relay.pulses == 1 and desk.pending() == []


def test_a_refused_pass_before_a_fever_leaves_the_fever_a_plain_block(g):
    g.gate.present_pass("20010501")
    g.gate.present_pass("99999999")
    g.scene.person(38.2)
    g.run(0.8)
    [block] = g.events("screening")
    assert (block["verdict"], block["pass_code"]) == ("blocked", None)
    assert g.screen() == "blocked"

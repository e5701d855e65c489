"""A fever block at a gate where no guard can act: the next person is told so, the hub is told
(an ``alarm`` ``unattended`` linked to the block, sent first), and an admin ends the wait from the
hub with a reason (audited). The kiosk records the clearance once, as an override that admits
nobody, and its lane goes on. Real gate loop, simulated chip, a real hub on SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import pytest

from kiosk.sync_worker import SyncWorker
from sync.hub import gate_blocks
from tests.gate_helpers import pin_went_high, wait_for_screen, wait_until
from tests.sync_fixtures import drain, enrolled_client


def test_an_admin_ends_the_wait_at_a_gate_with_no_guard(start_kiosk, hub, mock_factory):
    kiosk = start_kiosk(kiosk__result_hold_s=1.0)
    scene = kiosk.hardware.simulator.scene
    scene.person(38.6)
    wait_for_screen(kiosk.gate, "blocked")
    scene.person(36.5)  # the next resident
    state = wait_for_screen(kiosk.gate, "awaiting_guard")
    assert state["unattended"] is True
    [block] = [e for e in kiosk.ledger.events() if e["kind"] == "screening"]
    alarms = [e for e in kiosk.ledger.events() if e["kind"] == "alarm"]
    assert [(a["verdict"], a["links_to"]) for a in alarms] == [
        ("sounding", block["id"]),
        ("unattended", block["id"]),
    ]
    running = hub.start()
    worker = SyncWorker.__new__(SyncWorker)  # the worker's roster step, without its thread
    worker.gate, worker.ledger = kiosk.gate, kiosk.ledger
    client = enrolled_client(running, kiosk.ledger, on_roster=worker._apply_roster)
    drain(client)
    [waiting] = gate_blocks.waiting_blocks(hub.store)
    assert (waiting["id"], waiting["unattended"], waiting["estimate_c"]) == (
        block["id"],
        True,
        38.6,
    )
    with pytest.raises(gate_blocks.BlockError, match="原因"):
        gate_blocks.clear_block(hub.store, block["id"], "  ", "boss")
    gate_blocks.clear_block(
        hub.store, block["id"], "门卫不在岗，已电话确认发热者离开并上报", "boss"
    )
    with pytest.raises(gate_blocks.BlockError, match="已解除"):
        gate_blocks.clear_block(hub.store, block["id"], "again", "boss")
    assert gate_blocks.waiting_blocks(hub.store) == []
    mock_factory.pin(23).clear_states()
    drain(client)  # the kiosk pulls the roster: the clearance
    [override] = [e for e in kiosk.ledger.events() if e["kind"] == "override"]
    assert (override["verdict"], override["reason"], override["links_to"]) == (
        "denied",
        "hub_cleared",
        block["id"],
    )
    assert json.loads(override["detail"])["by"] == "boss"
    assert kiosk.gate.awaiting_guard is None
    assert not pin_went_high(mock_factory.pin(23))  # nobody is let in by a clearance
    # Applied again (a crash before the cursor moved): recorded once.
    worker._apply_roster([{"kind": "block_clearance", "key": block["id"], "data": {"by": "boss"}}])
    assert len([e for e in kiosk.ledger.events() if e["kind"] == "override"]) == 1
    # The lane goes on: whoever comes after a gap is measured; nobody was let in by it.
    scene.leave()
    wait_until(lambda: kiosk.gate.armed, what="the lane seen empty")
    scene.person(36.5)
    wait_until(
        lambda: len([e for e in kiosk.ledger.events() if e["kind"] == "screening"]) == 2,
        what="the next resident measured",
    )
    rows = hub.store.fetch_all("SELECT action FROM audit WHERE action = 'gate.clear_block'")
    assert len(rows) == 1

"""Staff duty at the kiosk, with the real gate loop, the simulated MLX90614 and mock pins: the
sign-on measurement by the residents' rules, the household question, sign-off, disinfection
rounds; the records reach the hub."""

from __future__ import annotations

import json

import pytest

from kiosk.guard_accounts import add_guard
from kiosk.guard_desk import GuardDesk
from kiosk.roster import apply_changes
from kiosk.visitors import FormError
from sync.hub import disinfection, duty
from sync.localtime import local_today, zone
from tests.gate_helpers import pin_went_high, wait_until
from tests.sync_fixtures import drain, enrolled_client

WANG = {"guard_id": "wang", "name": "王师傅"}


@pytest.fixture
def kiosk(start_kiosk):
    k = start_kiosk(kiosk__result_hold_s=1.0)
    add_guard(k.ledger.connection(), "wang", "王师傅", "483190")
    return k


def shifts(kiosk) -> list[dict]:
    return [e for e in kiosk.ledger.events() if e["kind"] == "shift"]


def test_a_staff_fever_at_sign_on_blocks_the_shift_and_reaches_the_dashboard(
    kiosk, hub, mock_factory
):
    desk = GuardDesk(kiosk.gate)
    desk.sign_on(WANG, visitors_at_home=True)
    kiosk.hardware.simulator.scene.person(38.4)
    result = wait_until(lambda: (r := kiosk.gate.staff_result) and r["state"] == "blocked" and r)
    assert result["estimate_c"] == 38.4
    [blocked] = shifts(kiosk)
    assert (blocked["verdict"], blocked["reason"], blocked["estimate_c"]) == (
        "blocked",
        "fever",
        38.4,
    )
    detail = json.loads(blocked["detail"])
    assert (detail["guard_id"], detail["visitors_at_home"]) == ("wang", True)
    assert desk.duty_state(WANG)["on_duty"] is False
    # A fever in front of the sensor is a fever at the gate, whoever it is (a field trial had a
    # resident step up during the sign-on: recorded as the guard's, with no block and no alarm).
    # The gate's fever block, its alarm and its 发热人员处置记录 follow; the gate stays shut.
    [screening] = [e for e in kiosk.ledger.events() if e["kind"] == "screening"]
    assert (screening["verdict"], screening["reason"]) == ("blocked", "fever")
    assert kiosk.gate.awaiting_guard["id"] == screening["id"]
    # The alarm follows the block's record (the guard screen's result comes first): wait for it.
    alarms = wait_until(
        lambda: [e["links_to"] for e in kiosk.ledger.events() if e["kind"] == "alarm"],
        what="the fever alarm recorded",
    )
    assert alarms == [screening["id"]]
    assert kiosk.gate.screen.snapshot()["screen"] == "blocked"
    assert not pin_went_high(mock_factory.pin(23))
    drain(enrolled_client(hub.start(), kiosk.ledger))
    [fever] = duty.staff_fevers(hub.store)
    assert (fever["detail_"]["name"], fever["estimate_c"]) == ("王师傅", 38.4)


def test_sign_on_normal_then_rounds_and_sign_off_reach_the_hub(kiosk, hub):
    desk = GuardDesk(kiosk.gate)
    disinfection.set_place(hub.store, "电梯轿厢", 2, "boss")
    disinfection.set_place(hub.store, "垃圾箱", 3, "boss")
    client = enrolled_client(
        hub.start(), kiosk.ledger, on_roster=lambda changes: apply_changes(kiosk.ledger, changes)
    )
    drain(client)
    assert desk.duty_state(WANG)["places"] == ["垃圾箱", "电梯轿厢"]
    desk.sign_on(WANG, visitors_at_home=False)
    kiosk.hardware.simulator.scene.person(36.6)
    wait_until(lambda: desk.duty_state(WANG)["on_duty"])
    with pytest.raises(FormError, match="您已在岗"):
        desk.sign_on(WANG, visitors_at_home=False)
    desk.log_round(WANG, "电梯轿厢", "含氯消毒液")
    desk.log_round(WANG, "垃圾箱", "75%酒精")
    with pytest.raises(FormError, match="请从列表中选择消毒场所"):
        desk.log_round(WANG, "月球", "含氯消毒液")
    with pytest.raises(FormError, match="消毒剂"):
        desk.log_round(WANG, "垃圾箱", "水")
    desk.sign_off(WANG)
    with pytest.raises(FormError, match="尚未上岗"):
        desk.sign_off(WANG)
    drain(client)
    tz = zone("Asia/Shanghai")
    rounds = disinfection.rounds_of_day(hub.store, local_today(tz), tz)
    assert [(r["place"], r["agent"], r["by"]) for r in rounds] == [
        ("电梯轿厢", "含氯消毒液", "王师傅"),
        ("垃圾箱", "75%酒精", "王师傅"),
    ]
    events = duty.shift_events(hub.store, "2000", "9999")
    assert [e["verdict"] for e in events] == ["on", "off"]
    assert events[0]["detail_"]["visitors_at_home"] is False
    assert duty.signed_on(events) == {}

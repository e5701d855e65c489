"""Staff duty at the kiosk, with the real gate loop, the simulated MLX90614 and mock pins: the
sign-on measurement by the residents' rules, the household question, sign-off, disinfection
rounds; the records reach the hub."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from datetime import time as clock_time

import pytest

from kiosk import duty as kiosk_duty
from kiosk import gate as gate_module
from kiosk.guard_accounts import add_guard
from kiosk.guard_desk import GuardDesk
from kiosk.roster import apply_changes
from kiosk.visitors import FormError
from kiosk.web import create_app
from sync.hub import disinfection, duty
from sync.localtime import local_today, zone
from tests.gate_helpers import pin_went_high, sign_in, wait_for_screen, wait_until
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
    # A sign-on fever bars that guard, not the resident lane: it is a staff health record, not
    # a resident's fever block (a field trial had the lane blocked at a one-guard gate with
    # nobody able to clear it). A resident who stood there instead is measured in their own
    # right once the hold ends.
    assert [e for e in kiosk.ledger.events() if e["kind"] == "screening"] == []
    assert kiosk.gate.awaiting_guard is None
    assert kiosk.gate.screen.snapshot()["screen"] == "staff_blocked"
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
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "confirm")
    desk.confirm_sign_on(WANG, own=True)
    assert desk.duty_state(WANG)["on_duty"]
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


def test_a_guard_barred_by_a_fever_at_sign_on_cannot_unlock_until_the_manager_clears_it(kiosk, hub):
    """Field trial: a guard refused for a fever could still unlock and use the guard screen."""
    client = create_app(kiosk.gate).test_client()
    headers = sign_in(client)
    on = client.post("/api/guard/shift/on", json={"visitors_at_home": "no"}, headers=headers)
    assert on.status_code == 200, on.get_json()
    kiosk.hardware.simulator.scene.person(38.4)
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "blocked")
    [block] = shifts(kiosk)
    # The session open during their own sign-on ends at the next request, saying why.
    barred = client.get("/api/guard/state", headers=headers)
    assert barred.status_code == 403
    assert barred.get_json()["reason"] == "fever_blocked"
    assert client.get("/api/guard/state").status_code == 401
    assert [e["verdict"] for e in shifts(kiosk)] == ["blocked"]  # not a retry
    # Their PIN no longer opens the guard screen: a clear message, and the retry is recorded.
    again = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "483190"})
    assert again.status_code == 403
    body = again.get_json()
    assert body["reason"] == "fever_blocked" and "csrf" not in body
    assert "38.4 °C" in body["message"] and "物业经理" in body["message"]
    assert "今天不能上岗" in body["message"]
    retry = shifts(kiosk)[-1]
    assert (retry["verdict"], retry["reason"], retry["links_to"]) == (
        "refused",
        "fever_today",
        block["id"],
    )
    # A wrong PIN says nothing of the bar (a stranger learns nothing) and is no retry.
    wrong = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "000000"})
    assert (wrong.status_code, wrong.get_json()["reason"]) == (401, "wrong_pin")
    assert len(shifts(kiosk)) == 2
    # Another guard still works the gate (and decides the gate's fever block).
    add_guard(kiosk.ledger.connection(), "li", "李师傅", "572904")
    other = client.post("/api/guard/unlock", json={"guard_id": "li", "pin": "572904"})
    assert other.status_code == 200
    client.post("/api/guard/lock")
    # The hub's dashboard shows the manager the block and the retry.
    running = hub.start()
    sync = enrolled_client(
        running, kiosk.ledger, on_roster=lambda changes: apply_changes(kiosk.ledger, changes)
    )
    drain(sync)
    [fever] = duty.staff_fevers(hub.store)
    assert fever["id"] == block["id"]
    assert [r["verdict"] for r in fever["retries"]] == ["refused"]
    # The manager clears it on the hub (after checking); the roster brings it to the kiosk.
    duty.clear_fever(hub.store, block["id"], "boss")
    with pytest.raises(duty.DutyError, match="已解除"):
        duty.clear_fever(hub.store, block["id"], "boss")
    assert duty.staff_fevers(hub.store) == []
    drain(sync)
    assert (
        client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "483190"}).status_code
        == 200
    )


def test_a_fever_bar_ends_with_the_local_day(kiosk):
    desk = GuardDesk(kiosk.gate)
    desk.sign_on(WANG, visitors_at_home=False)
    kiosk.hardware.simulator.scene.person(38.6)
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "blocked")
    conn, tz = kiosk.ledger.connection(), zone("Asia/Shanghai")
    [block] = shifts(kiosk)
    at = datetime.fromisoformat(block["wall_time"])
    assert kiosk_duty.fever_block(conn, "wang", tz, at)["id"] == block["id"]
    assert kiosk_duty.fever_block(conn, "li", tz, at) is None
    # Beijing's next midnight, whatever the UTC hour the suite runs at.
    midnight = datetime.combine(at.astimezone(tz).date() + timedelta(days=1), clock_time(), tz)
    assert kiosk_duty.fever_block(conn, "wang", tz, midnight - timedelta(seconds=1))
    assert kiosk_duty.fever_block(conn, "wang", tz, midnight) is None


def test_a_resident_who_steps_up_during_a_sign_on_does_not_sign_the_guard_on(kiosk):
    """Field trial: a resident stepping up during a sign-on signed the guard on with the
    resident's temperature. The reading now waits for the guard's 本人确认."""
    desk = GuardDesk(kiosk.gate)
    scene = kiosk.hardware.simulator.scene
    desk.sign_on(WANG, visitors_at_home=False)
    scene.person(36.9)  # a resident steps up instead of the guard
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "confirm")
    assert kiosk.gate.staff_result["estimate_c"] == 36.9
    assert shifts(kiosk) == []  # nothing is the guard's before they confirm
    assert kiosk.gate.screen.snapshot()["screen"] == "staff_confirm"
    assert desk.confirm_sign_on(WANG, own=False) is None  # 不是我，重测
    assert shifts(kiosk) == [] and desk.duty_state(WANG)["on_duty"] is False
    # The next reading waits until the resident has left: their standing there is not re-read.
    assert kiosk.gate.staff_result["state"] == "measuring"
    assert not kiosk.gate.armed
    scene.leave()
    wait_until(lambda: kiosk.gate.armed, what="the lane seen empty")
    scene.person(36.4)  # the guard
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "confirm")
    assert kiosk.gate.staff_result["estimate_c"] == 36.4
    record = desk.confirm_sign_on(WANG, own=True)
    [on] = shifts(kiosk)
    assert (on["id"], on["verdict"], on["estimate_c"]) == (record["id"], "on", 36.4)
    assert json.loads(on["detail"])["confirmed_own"] is True
    with pytest.raises(FormError, match="已失效"):
        desk.confirm_sign_on(WANG, own=True)


def test_a_sign_on_is_refused_while_a_residents_verdict_is_up(kiosk):
    desk = GuardDesk(kiosk.gate)
    scene = kiosk.hardware.simulator.scene
    scene.person(36.7)  # a resident, screened as one
    wait_for_screen(kiosk.gate, "admitted")
    with pytest.raises(FormError, match="住户正在测温"):
        desk.sign_on(WANG, visitors_at_home=False)
    assert kiosk.gate.staff_result is None
    scene.leave()
    wait_until(lambda: kiosk.gate.screen.snapshot()["screen"] == "idle")
    desk.sign_on(WANG, visitors_at_home=False)  # the lane is clear: the guard's turn


def test_an_unconfirmed_sign_on_reading_expires(kiosk, monkeypatch):
    monkeypatch.setattr(gate_module, "STAFF_CONFIRM_S", 0.5)
    desk = GuardDesk(kiosk.gate)
    desk.sign_on(WANG, visitors_at_home=False)
    kiosk.hardware.simulator.scene.person(36.6)
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "expired")
    with pytest.raises(FormError, match="已失效"):
        desk.confirm_sign_on(WANG, own=True)
    assert shifts(kiosk) == []


def test_a_sign_on_left_unmeasured_lapses_and_the_next_person_is_a_resident(kiosk, monkeypatch):
    """Field trial: a guard tapped 上岗测温 and walked away; a resident stepped up 45 s later and
    was offered 是本人，上岗 for the absent guard. The sign-on window is the guard's time to
    step to the sensor beside the screen, no more."""
    monkeypatch.setattr(gate_module, "STAFF_MEASURE_S", 0.5)
    desk = GuardDesk(kiosk.gate)
    desk.sign_on(WANG, visitors_at_home=False)
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "expired")
    kiosk.hardware.simulator.scene.person(36.9)
    wait_for_screen(kiosk.gate, "admitted")  # screened as a resident
    assert (kiosk.gate.staff_result or {}).get("state") == "expired"
    with pytest.raises(FormError, match="已失效"):
        desk.confirm_sign_on(WANG, own=True)
    assert shifts(kiosk) == []


def test_the_sign_on_windows_are_short():
    """The guard is at the kiosk for both steps: tap, face the sensor beside it, confirm."""
    assert gate_module.STAFF_MEASURE_S <= 20
    assert gate_module.STAFF_CONFIRM_S <= 15


@pytest.mark.parametrize("fault", ["unplugged", "nack"])
def test_a_sign_on_with_a_faulty_sensor_fails_at_once(start_kiosk, fault):
    """Field trial: a frozen or unplugged sensor failed a sign-on only after a 60 s timeout."""
    kiosk = start_kiosk(kiosk__result_hold_s=1.0)
    add_guard(kiosk.ledger.connection(), "wang", "王师傅", "483190")
    desk = GuardDesk(kiosk.gate)
    sim = kiosk.hardware.simulator
    sim.inject(fault)  # known faulty before the guard starts
    wait_until(lambda: kiosk.gate.status()["sensor_fault"], what="the sensor fault")
    started = time.monotonic()
    with pytest.raises(FormError, match="测温设备故障"):
        desk.sign_on(WANG, visitors_at_home=False)
    assert time.monotonic() - started < 1.0
    assert kiosk.gate.staff_result is None
    # A sensor failing during a sign-on ends it at the next read, with the fault's words.
    sim.clear_faults()
    wait_until(lambda: kiosk.gate.status()["sensor_fault"] is None, what="the recovery")
    desk.sign_on(WANG, visitors_at_home=False)
    sim.inject(fault)
    result = wait_until(
        lambda: (r := kiosk.gate.staff_result) and r["state"] == "sensor_fault" and r,
        timeout=5.0,
    )
    assert result["message"]
    sim.scene.person(36.6)
    assert shifts(kiosk) == []
    with pytest.raises(FormError, match="已失效"):
        desk.confirm_sign_on(WANG, own=True)


def test_a_chip_frozen_during_a_sign_on_ends_it_within_the_frozen_time(start_kiosk):
    kiosk = start_kiosk(kiosk__result_hold_s=1.0, sensor__frozen_after_s=2.0)
    desk = GuardDesk(kiosk.gate)
    sim = kiosk.hardware.simulator
    sim.inject("stuck")
    desk.sign_on(WANG, visitors_at_home=False)
    sim.scene.person(36.6)  # a frozen chip never shows them: no reading may count
    result = wait_until(
        lambda: (r := kiosk.gate.staff_result) and r["state"] != "measuring" and r, timeout=8.0
    )
    assert result["state"] == "sensor_fault"
    assert shifts(kiosk) == []


def test_no_places_error_names_the_field_in_chinese(kiosk):
    """Field trial: the no-places error read "place：场所：…" (the field's code first)."""
    desk = GuardDesk(kiosk.gate)
    with pytest.raises(FormError) as caught:
        desk.log_round(WANG, "电梯轿厢", "含氯消毒液")
    assert caught.value.message == "场所：本机还没有消毒场所，请管理员在中心添加后同步"
    with pytest.raises(FormError) as caught:
        desk.sign_off(WANG)
    assert caught.value.message == "下岗：您尚未上岗"


def test_a_sign_on_left_half_done_ends_when_another_guard_unlocks(kiosk):
    """Field trial: a stale sign-on message stayed after a new guard logged in. Worse, the
    walked-away guard's sign-on still waited for the next person at the sensor."""
    add_guard(kiosk.ledger.connection(), "li", "李师傅", "572904")
    client = create_app(kiosk.gate).test_client()
    headers = sign_in(client)
    client.post("/api/guard/shift/on", json={"visitors_at_home": "no"}, headers=headers)
    assert kiosk.gate.staff_result["state"] == "measuring"
    # 王 walks away without locking; 李 unlocks the screen.
    other = client.post("/api/guard/unlock", json={"guard_id": "li", "pin": "572904"})
    assert other.status_code == 200
    li = {"X-CSRF-Token": other.get_json()["csrf"]}
    assert kiosk.gate.staff_result is None
    assert client.get("/api/guard/state", headers=li).get_json()["duty"]["sign_on"] is None
    kiosk.hardware.simulator.scene.person(36.6)  # 李 (or anyone) at the sensor: not 王's
    wait_for_screen(kiosk.gate, "admitted")  # screened as a resident
    assert kiosk.gate.staff_result is None and shifts(kiosk) == []
    # Locking ends one's own half-done sign-on too.
    kiosk.hardware.simulator.scene.leave()
    wait_for_screen(kiosk.gate, "idle")
    client.post("/api/guard/shift/on", json={"visitors_at_home": "no"}, headers=li)
    assert kiosk.gate.staff_result["state"] == "measuring"
    client.post("/api/guard/lock", headers=li)
    assert kiosk.gate.staff_result is None
    assert kiosk.gate.screen.snapshot()["screen"] == "idle"

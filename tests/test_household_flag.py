"""家里是否有外来人员 at sign-on: answered 有, it flags the guard screen (a notice while that
person is on duty) and the hub's duty page, where the manager decides.

Regression (field trial): answered 有, it changed nothing and warned nobody."""

from __future__ import annotations

import pytest

from kiosk.guard_accounts import add_guard
from kiosk.guard_desk import GuardDesk
from kiosk.web import create_app
from sync.hub import duty_household
from sync.hub.admins import audit_log, create_admin
from sync.hub.app import create_hub
from tests.gate_helpers import sign_in, wait_until
from tests.hub_helpers import PASSWORD, signed_in
from tests.sync_fixtures import drain, enrolled_client

WANG = {"guard_id": "wang", "name": "王师傅"}
LI = {"guard_id": "li", "name": "李阿姨"}


@pytest.fixture
def kiosk(start_kiosk):
    k = start_kiosk(kiosk__result_hold_s=1.0)
    add_guard(k.ledger.connection(), "wang", "王师傅", "483190")
    add_guard(k.ledger.connection(), "li", "李阿姨", "592617")
    return k


def sign_on(kiosk, who, *, visitors_at_home):
    desk = GuardDesk(kiosk.gate)
    desk.sign_on(who, visitors_at_home=visitors_at_home)
    kiosk.hardware.simulator.scene.person(36.6)
    wait_until(lambda: (kiosk.gate.staff_result or {}).get("state") == "confirm")
    desk.confirm_sign_on(who, own=True)
    kiosk.hardware.simulator.scene.leave()
    wait_until(lambda: kiosk.gate.status()["screen"] == "idle", what="the lane idle again")
    return desk


def test_an_answer_of_yes_puts_a_notice_on_the_guard_screen_while_on_duty(kiosk):
    desk = sign_on(kiosk, WANG, visitors_at_home=True)
    sign_on(kiosk, LI, visitors_at_home=False)
    # Every guard at this screen sees it, not only the one who answered.
    for who in (WANG, LI):
        [flag] = desk.duty_state(who)["household"]
        assert (flag["guard_id"], flag["name"]) == ("wang", "王师傅")
        assert len(flag["since"]) == 5  # local HH:MM
    client = create_app(kiosk.gate).test_client()
    state = client.get("/api/guard/state", headers=sign_in(client)).get_json()
    assert [f["name"] for f in state["duty"]["household"]] == ["王师傅"]
    desk.sign_off(WANG)
    assert desk.duty_state(LI)["household"] == []


def test_an_answer_of_no_flags_nothing(kiosk):
    desk = sign_on(kiosk, WANG, visitors_at_home=False)
    assert desk.duty_state(WANG)["household"] == []


def test_the_hub_duty_page_flags_it_and_the_manager_decides(kiosk, hub):
    sign_on(kiosk, WANG, visitors_at_home=True)
    sign_on(kiosk, LI, visitors_at_home=False)
    drain(enrolled_client(hub.start(), kiosk.ledger))
    [flag] = duty_household.open_flags(hub.store)
    assert flag["detail_"]["name"] == "王师傅"
    create_admin(hub.store, "admin-user", PASSWORD, "admin")
    create_admin(hub.store, "viewer-user", PASSWORD, "viewer")
    app = create_hub(hub.store)
    viewer, _ = signed_in(app, "viewer")
    page = viewer.get("/admin/duty").get_data(as_text=True)
    assert "王师傅 · " in page and "家中有外来人员" in page and "待物业经理决定" in page
    assert "李阿姨" not in page.split('id="household"')[1].split("</ul>")[0]
    admin, csrf = signed_in(app, "admin")
    page = admin.get("/admin/duty").get_data(as_text=True)
    assert 'value="stay_on"' in page and 'value="relieve"' in page
    path = f"/admin/duty/household/{flag['id']}"
    assert viewer.post(path, data={"outcome": "relieve"}).status_code == 403
    bad = admin.post(path, data={"csrf": csrf, "outcome": "fire"})
    assert bad.status_code == 400 and "安排换岗" in bad.get_data(as_text=True)
    assert admin.post(path, data={"csrf": csrf, "outcome": "relieve"}).status_code == 302
    assert duty_household.open_flags(hub.store) == []
    page = admin.get("/admin/duty").get_data(as_text=True)
    assert "已处理：安排换岗" in page
    again = admin.post(path, data={"csrf": csrf, "outcome": "stay_on"})
    assert again.status_code == 400 and "已处理" in again.get_data(as_text=True)
    entry = audit_log(hub.store)[0]
    assert entry["action"] == "duty.household"
    assert entry["detail"]["outcome"] == "relieve" and entry["detail"]["guard_id"] == "wang"
    audit_page = admin.get("/admin/audit").get_data(as_text=True)
    assert "处理上岗人员家中有外来人员" in audit_page and "结果：安排换岗" in audit_page

"""What the guard screen is told: notices with the unit that can be dismissed, pending items that
expire (recorded), health in words and local time, Chinese errors naming the field."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from bench.gate_sim import sim_gate
from kiosk import clock
from kiosk.guard_accounts import add_guard
from kiosk.guard_desk import GuardDesk
from kiosk.passes import upsert
from kiosk.visitors import FIELD_NAMES, parse_visitor
from kiosk.web import create_app
from tests.gate_helpers import resident_pass, sign_in

WANG = {"guard_id": "wang", "name": "王师傅"}


@pytest.fixture
def g(make_config):
    g = sim_gate(make_config(kiosk__identify="before"))
    conn = g.ledger.connection()
    add_guard(conn, "wang", "王师傅", "483190")
    upsert(conn, [{**resident_pass("Q7001"), "quarantine_until": "2099-01-01"}], source="test")
    return g


def test_a_quarantine_notice_shows_the_unit_and_can_be_dismissed(g):
    client = create_app(g.gate).test_client()
    g.gate.present_pass("Q7001")
    headers = sign_in(client)
    [notice] = client.get("/api/guard/state").get_json()["notices"]
    assert (notice["pass_code"], notice["place"]) == ("Q7001", "3-2-301")
    assert re.fullmatch(r"\d\d:\d\d", notice["time"])
    response = client.post(
        "/api/guard/notice/dismiss", json={"notice_id": notice["id"]}, headers=headers
    )
    assert response.status_code == 200
    assert client.get("/api/guard/state").get_json()["notices"] == []
    again = client.post(
        "/api/guard/notice/dismiss", json={"notice_id": notice["id"]}, headers=headers
    )
    assert again.status_code == 400
    assert again.get_json()["message"].startswith("提醒：")


def test_pending_items_expire_and_are_recorded_but_a_fever_block_never(g):
    later = {"s": 0.0}

    def facts():
        now = clock.now()
        return dataclasses.replace(now, boottime_ns=now.boottime_ns + int(later["s"] * 1e9))

    desk = GuardDesk(g.gate, clock_facts=facts)
    g.scene.person(38.4)
    g.run(2.0)
    # a measurement that failed (the chip flagged an error mid-way), as the gate records it
    g.gate.record("screening", verdict="fault", reason="sensor", threshold_c=37.3)
    verdicts = [e["verdict"] for e in g.events("screening")]
    assert verdicts[0] == "blocked" and "fault" in verdicts
    assert {p["verdict"] for p in desk.pending()} == {"blocked", "fault"}
    later["s"] = g.gate.config.guard.pending_expire_s + 1
    assert [p["verdict"] for p in desk.pending()] == ["blocked"]
    [expired] = [e for e in g.events("override") if e["verdict"] == "expired"]
    fault = next(e for e in g.events("screening") if e["verdict"] == "fault")
    assert (expired["links_to"], expired["reason"]) == (fault["id"], "not_decided")
    later["s"] *= 100
    assert [p["verdict"] for p in desk.pending()] == ["blocked"]
    assert len([e for e in g.events("override") if e["verdict"] == "expired"]) == 1


def test_health_is_in_words_and_local_time(g):
    desk = GuardDesk(g.gate)
    g.run(1.0)
    health = {row["label"]: row["value"] for row in desk.health()}
    assert re.fullmatch(r"正常，最近读数 \d\d:\d\d:\d\d", health["测温设备"])
    shown = datetime.strptime(health["测温设备"].split(" ")[1], "%H:%M:%S")
    local = datetime.now(UTC).astimezone(g.gate.config.tz)
    assert abs((local.hour * 60 + local.minute) - (shown.hour * 60 + shown.minute)) in (0, 1, 1439)
    assert health["门岗屏幕"] == "空闲，等候测温"
    g.sim.inject("stuck")
    g.run(g.gate.config.sensor.frozen_after_s + 2)
    health = {row["label"]: row["value"] for row in desk.health()}
    assert health["测温设备"].startswith("故障：测温探头读数冻结")
    assert health["门岗屏幕"] == "测温设备故障"


def test_times_on_the_guard_screen_are_local(g):
    desk = GuardDesk(g.gate)
    g.scene.person(36.6)
    g.run(1.0)
    [event] = desk.today()
    stored = g.events("screening")[0]["wall_time"]
    local = datetime.fromisoformat(stored).astimezone(g.gate.config.tz).strftime("%H:%M:%S")
    assert event["time"] == local


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({"phone": "13812345678", "building": "9"}, "building"),
        ({"phone": "13812345678", "building": "3", "unit": "2"}, "room"),
        ({"phone": "13812345678", "building": "3", "unit": "2", "room": "301"}, "name"),
        (
            {"phone": "13812345678", "building": "3", "unit": "2", "room": "301", "name": "王先生"}
            | {"purpose": "x"},
            "purpose",
        ),
    ],
)
def test_form_errors_are_chinese_and_name_the_field(body, field):
    from kiosk.visitors import FormError

    with pytest.raises(FormError) as error:
        parse_visitor(body, places={"3": ["2"]}, risk_areas=[])
    assert error.value.field == field
    assert error.value.message.startswith(FIELD_NAMES[field] + "：")
    assert re.search(r"[\u4e00-\u9fff]", error.value.message.split("：", 1)[1])

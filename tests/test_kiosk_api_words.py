"""Bad Unicode and the errors Werkzeug raises itself: a 400 with a Chinese message from the one
place the kiosk's JSON is parsed, and Chinese-first JSON for 404/413/500 on the kiosk API."""

from __future__ import annotations

import re

import pytest

from bench.gate_sim import sim_gate
from kiosk.guard_accounts import add_guard
from kiosk.web import create_app

PIN = "246813"
CHINESE = re.compile(r"^[\u4e00-\u9fff]")


@pytest.fixture
def app_and_gate(make_config):
    g = sim_gate(make_config())
    add_guard(g.ledger.connection(), "wang", "王师傅", PIN)
    return create_app(g.gate), g


@pytest.fixture
def client(app_and_gate):
    return app_and_gate[0].test_client()


def sign_in(client) -> dict[str, str]:
    response = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": PIN})
    return {"X-CSRF-Token": response.get_json()["csrf"]}


def raw_json(client, path: str, text: str, headers=None):
    return client.post(
        path, data=text.encode(), content_type="application/json", headers=headers or {}
    )


@pytest.mark.parametrize("bad", ["\\ud800", "a\\u0000b", "\\u001b[31m", "\\udfff\\ud800"])
def test_bad_unicode_is_refused_with_a_400_everywhere(client, app_and_gate, bad):
    _app, g = app_and_gate
    before = len(g.events())
    response = raw_json(client, "/api/guard/unlock", f'{{"guard_id": "{bad}", "pin": "1"}}')
    assert response.status_code == 400
    assert CHINESE.match(response.get_json()["message"])
    headers = sign_in(client)
    for path, field in [("/api/guard/visitor", "name"), ("/api/guard/override", "note")]:
        body = f'{{"{field}": "{bad}", "phone": "13812345678", "event_id": "x"}}'
        response = raw_json(client, path, body, headers)
        assert response.status_code == 400, path
        assert CHINESE.match(response.get_json()["message"]), path
    assert len(g.events()) == before  # nothing recorded, nothing lost


def test_werkzeug_errors_on_the_api_are_chinese_json(client, app_and_gate):
    app, _g = app_and_gate
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert CHINESE.match(response.get_json()["message"])
    response = client.post("/api/pass", json={"code": "x" * 9000})
    assert response.status_code == 413
    assert CHINESE.match(response.get_json()["message"])
    response = client.get("/api/state?after=x")
    assert response.status_code == 400
    assert CHINESE.match(response.get_json()["message"])
    response = client.get("/api/guard/state")
    assert response.status_code == 401
    assert CHINESE.match(response.get_json()["message"])

    headers = sign_in(client)

    def boom():
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    app.extensions["guard_desk"].today = boom
    response = client.get("/api/guard/today", headers=headers)
    assert response.status_code == 500
    body = response.get_json()
    assert CHINESE.match(body["message"]) and "surrogates" not in body["message"]


def test_a_phone_sent_as_a_number_says_it_must_be_11_digits(client):
    headers = sign_in(client)
    body = {
        "phone": 13812345678,
        "building": "3",
        "unit": "2",
        "purpose": "delivery",
        "risk_area": "none",
        "code_colour": "green",
    }
    response = client.post("/api/guard/visitor", json=body, headers=headers)
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert message.startswith("手机号：") and "11 位" in message


def test_a_plate_error_is_chinese_first(client):
    headers = sign_in(client)
    response = client.post(
        "/api/guard/vehicle", json={"plate": 7, "direction": "in"}, headers=headers
    )
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("车牌：请输入车牌")


def test_a_driver_fault_is_recorded_in_chinese_with_the_technical_text_beside(make_config):
    import json

    g = sim_gate(make_config())
    g.run(0.5)
    g.sim.inject("unplugged", count=5)
    g.run(3.0)
    [fault] = g.events("sensor_fault")
    detail = json.loads(fault["detail"])
    assert CHINESE.match(detail["error"]), detail
    assert detail["technical"]  # the driver's own words, for the engineer

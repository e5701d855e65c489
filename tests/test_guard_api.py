"""The guard screen's API: the session, CSRF, lockout, and bad input on every form."""

from __future__ import annotations

import time

import pytest

from kiosk.guard_accounts import add_guard
from kiosk.passes import upsert
from kiosk.web import create_app
from tests.gate_helpers import (
    pin_went_high,
    resident_pass,
    sign_in,
    wait_for_screen,
    wait_until,
)

GUARD_POSTS = [
    (
        "/api/guard/override",
        {
            "event_id": "0b0c2f7e-6d3e-4c53-9a5e-6f1f3b2a9c10",
            "decision": "deny",
            "reason": "fever_confirmed",
        },
    ),
    ("/api/guard/silence", {}),
    ("/api/guard/direction", {"direction": "out"}),
    ("/api/guard/visitor", {"phone": "13812345678"}),
    ("/api/guard/vehicle", {"plate": "京A12345", "direction": "in"}),
    ("/api/guard/vehicle/done", {}),
]
GUARD_GETS = ["/api/guard/state", "/api/guard/options", "/api/guard/today"]


@pytest.fixture
def kiosk(start_kiosk):
    k = start_kiosk()
    conn = k.ledger.connection()
    add_guard(conn, "wang", "王师傅", "483190")
    upsert(conn, [resident_pass("E5001")], source="test")
    return k


@pytest.fixture
def client(kiosk):
    return create_app(kiosk.gate).test_client()


@pytest.mark.parametrize("path", GUARD_GETS)
def test_reads_need_a_guard_session(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert "locked" in response.get_json()["message"]


@pytest.mark.parametrize(("path", "body"), GUARD_POSTS)
def test_changes_need_a_session_and_the_csrf_token(client, kiosk, path, body):
    before = kiosk.ledger.count()
    assert client.post(path, json=body).status_code == 401
    sign_in(client)
    assert client.post(path, json=body).status_code == 403  # no token
    assert client.post(path, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    # Regression: a non-ASCII token made compare_digest raise (a 500), now a plain mismatch.
    assert client.post(path, json=body, headers={"X-CSRF-Token": "forgé"}).status_code == 403
    assert kiosk.ledger.count() == before


def test_a_forged_cookie_is_not_a_session(client):
    client.set_cookie("menwei_guard", "eyJndWFyZCI6eyJndWFyZF9pZCI6IndhbmcifX0.forged.sig")
    assert client.get("/api/guard/state").status_code == 401


def test_wrong_pin_five_times_locks_out(client):
    codes = [
        client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "000000"}).status_code
        for _ in range(5)
    ]
    assert codes == [401, 401, 401, 401, 423]  # the next try waits 5 s (not a lockout)
    response = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "483190"})
    assert response.status_code == 423
    assert response.get_json()["reason"] == "locked"


def test_the_session_locks_itself_after_inactivity(kiosk, make_config):
    config = kiosk.config.replace(guard__auto_lock_s=15)
    kiosk.gate.reconfigure(config)
    client = create_app(kiosk.gate).test_client()
    sign_in(client)
    assert client.get("/api/guard/state").status_code == 200
    sessions = client.application.extensions["guard_sessions"]
    for info in sessions._live.values():
        info["seen"] = time.monotonic() - 16
    assert client.get("/api/guard/state").status_code == 401


def test_lock_ends_the_session(client):
    sign_in(client)
    client.post("/api/guard/lock", json={})
    assert client.get("/api/guard/state").status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/guard/visitor", {"phone": "<script>"}, "phone"),
        (
            "/api/guard/visitor",
            {
                "phone": "13812345678",
                "building": "3",
                "unit": "2",
                "purpose": "delivery",
                "risk_area": "none",
                "code_colour": "green",
                "room": "301",
                "name": "<b>x</b>",
            },
            "name",
        ),
        ("/api/guard/vehicle", {"plate": "京I12345", "direction": "in"}, "plate"),
        ("/api/guard/vehicle", {"plate": 12345, "direction": "in"}, "plate"),
        ("/api/guard/override", {"event_id": "x", "decision": "admit"}, "event_id"),
        (
            "/api/guard/override",
            {
                "event_id": "0b0c2f7e-6d3e-4c53-9a5e-6f1f3b2a9c10",
                "decision": "deny",
                "reason": "fever_confirmed",
            },
            "event_id",
        ),
    ],
)
def test_bad_forms_name_the_field_and_store_nothing(client, kiosk, path, body, field):
    headers = sign_in(client)
    before = kiosk.ledger.count()
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert kiosk.ledger.count() == before


def test_an_invalid_direction_is_refused(client):
    headers = sign_in(client)
    response = client.post("/api/guard/direction", json={"direction": "up"}, headers=headers)
    assert response.status_code == 400


def test_override_of_a_blocked_person(client, kiosk, mock_factory):
    headers = sign_in(client)
    kiosk.hardware.simulator.scene.person(38.2)
    wait_for_screen(kiosk.gate, "blocked")
    [pending] = client.get("/api/guard/state").get_json()["pending"]
    assert pending["verdict"] == "blocked" and pending["estimate_c"] == 38.2
    mock_factory.pin(23).clear_states()
    response = client.post(
        "/api/guard/override",
        json={
            "event_id": pending["id"],
            "decision": "admit",
            "reason": "remeasured_normal",
            "remeasured_c": 36.9,
            "pin": "483190",  # admitting over a fever needs the PIN again
        },
        headers=headers,
    )
    assert response.status_code == 200
    override = kiosk.ledger.get(response.get_json()["id"])
    assert (override["kind"], override["verdict"]) == ("override", "admitted")
    assert (override["links_to"], override["estimate_c"]) == (pending["id"], 36.9)
    assert kiosk.ledger.get(pending["id"])["verdict"] == "blocked"  # the original is unchanged
    assert kiosk.ledger.verify_chain().ok
    assert client.get("/api/guard/state").get_json()["pending"] == []
    # Deciding twice is refused.
    again = client.post(
        "/api/guard/override",
        json={"event_id": pending["id"], "decision": "deny", "reason": "fever_confirmed"},
        headers=headers,
    )
    assert again.status_code == 400
    wait_until(lambda: pin_went_high(mock_factory.pin(23)), what="the relay")


def test_silence_is_recorded(client, kiosk):
    headers = sign_in(client)
    kiosk.hardware.simulator.scene.person(38.2)
    wait_for_screen(kiosk.gate, "blocked")
    wait_until(lambda: kiosk.hardware.buzzer.playing == "fever", what="the fever alarm")
    response = client.post("/api/guard/silence", json={}, headers=headers)
    assert response.get_json()["was_sounding"] is True
    assert kiosk.hardware.buzzer.playing is None
    assert kiosk.ledger.events()[-1]["verdict"] == "silenced"


def test_quarantine_notice_reaches_the_guard_only(client, kiosk):
    upsert(
        kiosk.ledger.connection(),
        [{**resident_pass("Q7001"), "quarantine_until": "2099-01-01"}],
        source="test",
    )
    kiosk.gate.reconfigure(kiosk.config.replace(kiosk__identify="before"))
    resident = client.post("/api/pass", json={"code": "Q7001"})
    assert resident.get_json() == {"ok": True, "reason": "ok"}
    assert "quarantine" not in str(client.get("/api/state").get_json())
    sign_in(client)
    notices = client.get("/api/guard/state").get_json()["notices"]
    assert [(n["kind"], n["pass_code"]) for n in notices] == [("quarantine", "Q7001")]


def fake_guard_clock(monkeypatch):
    """The guard sessions' clock, moved by the test."""
    import kiosk.web.guard as guard_web

    class Clock:
        t = time.time()

        @classmethod
        def time(cls) -> float:
            return cls.t

        monotonic = time

    monkeypatch.setattr(guard_web, "time", Clock)
    return Clock


def test_polling_the_state_does_not_keep_the_session_alive(kiosk, monkeypatch):
    """A guard page left open polls /api/guard/state every 2 s: the session still ends after
    guard.auto_lock_s without a real touch (the poll says how long ago the screen was touched)."""
    clock = fake_guard_clock(monkeypatch)
    client = create_app(kiosk.gate).test_client()
    kiosk.gate.reconfigure(kiosk.gate.config.replace(guard__auto_lock_s=15))
    sign_in(client)
    touched = clock.t
    for _ in range(10):  # 20 s of polls, nobody touches the screen
        clock.t += 2
        response = client.get(f"/api/guard/state?touched_ago_s={clock.t - touched}")
    assert response.status_code == 401
    for query in ("", "?touched_ago_s=nan", "?touched_ago_s=-5"):  # no proof of a touch
        assert client.get("/api/guard/state" + query).status_code == 401


def test_a_guard_touching_the_screen_stays_signed_in_while_it_polls(kiosk, monkeypatch):
    clock = fake_guard_clock(monkeypatch)
    client = create_app(kiosk.gate).test_client()
    kiosk.gate.reconfigure(kiosk.gate.config.replace(guard__auto_lock_s=15))
    sign_in(client)
    for _ in range(30):  # a minute of polls; the guard touches the screen every few seconds
        clock.t += 2
        assert client.get("/api/guard/state?touched_ago_s=1.5").status_code == 200


def test_a_stranger_typing_wrong_pins_does_not_lock_the_guard_out(client, kiosk, monkeypatch):
    """The guard list is on the screen: anyone may pick 王师傅 and type PINs. The real guard waits
    guard.lockout_s at most, then signs in."""
    import kiosk.guard_accounts as guards_module

    class Clock:
        t = time.time()

        @classmethod
        def time(cls) -> float:
            return cls.t

    monkeypatch.setattr(guards_module, "time", Clock)
    for _ in range(8):
        response = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "000000"})
        assert response.status_code in (401, 423)
        Clock.t += 1
    assert response.get_json()["retry_after_s"] <= kiosk.config.guard.lockout_s + 1
    Clock.t += kiosk.config.guard.lockout_s + 1
    response = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "483190"})
    assert response.status_code == 200, response.get_json()

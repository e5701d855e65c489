"""Bad input on every touchscreen endpoint: a clear message, and nothing wrong stored."""

from __future__ import annotations

import pytest

from kiosk.passes import upsert
from tests.gate_helpers import resident_pass


@pytest.fixture
def kiosk(make_config, mock_factory):
    from kiosk.server import start_in_background

    k = start_in_background(make_config(kiosk__identify="before"), pin_factory=mock_factory)
    upsert(k.ledger.connection(), [resident_pass("D4001")], source="test")
    yield k
    k.stop()


@pytest.fixture
def client(kiosk):
    from kiosk.web import create_app

    return create_app(kiosk.gate).test_client()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"code": "x" * 65}, 400, "longer than 64"),
        ({"code": 12345}, 400, "'code' must be text"),
        ({"code": ["D4001"]}, 400, "'code' must be text"),
        ({"code": "   "}, 400, "must not be empty"),
        ({}, 400, "'code' must be text"),
        ([1, 2], 400, "must be a JSON object"),
    ],
)
def test_pass_rejects_malformed_bodies(client, kiosk, body, status, message):
    before = kiosk.ledger.count()
    response = client.post("/api/pass", json=body)
    assert response.status_code == status
    assert message in response.get_json()["message"]
    assert kiosk.ledger.count() == before


@pytest.mark.parametrize("code", ["<script>alert(1)</script>", "'; DROP TABLE events;--", "ZZZZ9"])
def test_hostile_or_unknown_codes_are_refused_and_recorded_as_refusals(client, kiosk, code):
    response = client.post("/api/pass", json={"code": code})
    assert response.status_code == 422
    assert response.get_json() == {
        "ok": False,
        "reason": "format" if not code.isalnum() else "unknown",
    }
    event = kiosk.ledger.events()[-1]
    assert event["kind"] == "identify" and event["verdict"] == "refused"
    assert event["pass_code"] in (None, "ZZZZ9")  # a malformed code is never stored
    assert kiosk.ledger.verify_chain().ok


def test_a_valid_pass_reveals_nothing_about_the_resident(client):
    response = client.post("/api/pass", json={"code": "D4001"})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "reason": "ok"}


def test_form_posts_and_other_origins_are_refused(client):
    assert client.post("/api/pass", data={"code": "D4001"}).status_code == 415
    response = client.post(
        "/api/pass", json={"code": "D4001"}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403


def test_invalid_json(client):
    response = client.post("/api/pass", data="{", content_type="application/json")
    assert response.status_code == 400


def test_oversized_body(client):
    response = client.post("/api/pass", data="x" * 10000, content_type="application/json")
    assert response.status_code == 413
    assert response.is_json


@pytest.mark.parametrize("after", ["-1", "abc", "1" * 20, "1.5"])
def test_state_rejects_a_bad_version(client, after):
    response = client.get(f"/api/state?after={after}")
    assert response.status_code == 400
    assert "version number" in response.get_json()["message"]


def test_state_long_poll_returns_at_once_when_newer(client):
    state = client.get("/api/state?after=0").get_json()
    assert state["version"] >= 1 and state["screen"] == "idle"


def test_unknown_api_path_answers_json(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_wrong_method(client):
    assert client.get("/api/pass").status_code == 405


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/sim/person", {"core_c": "hot"}, "must be a number"),
        ("/api/sim/person", {"core_c": 99}, "between 20 and 45"),
        ("/api/sim/person", {"core_c": True}, "must be a number"),
        ("/api/sim/fault", {"fault": "fire"}, "must be one of"),
        ("/api/sim/ambient", {"ambient_c": None}, "must be a number"),
    ],
)
def test_demo_panel_validates_too(client, path, body, message):
    response = client.post(path, json=body)
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_pages_do_not_load_anything_from_the_internet(client):
    page = client.get("/").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_screen_only_gate_refuses_passes(make_config, mock_factory):
    from kiosk.server import start_in_background
    from kiosk.web import create_app

    k = start_in_background(make_config(kiosk__identify="off"), pin_factory=mock_factory)
    try:
        response = create_app(k.gate).test_client().post("/api/pass", json={"code": "D4001"})
        assert response.status_code == 409
        assert k.ledger.count() == 0
    finally:
        k.stop()


def test_demo_panel_does_not_exist_on_real_hardware(make_config):
    # The demo blueprint is only registered with a simulator.
    from kiosk.web.app import create_app

    class FakeGate:
        ledger = None

        class hardware:
            simulator = None

        config = make_config()

    app = create_app(FakeGate())  # type: ignore[arg-type]
    assert "demo.panel" not in app.view_functions


def test_a_pass_shown_while_the_disk_is_full_is_a_clear_error(client, kiosk, monkeypatch):
    from kiosk.ledger import LedgerError

    def full(*args, **kwargs):
        raise LedgerError("database or disk is full")

    monkeypatch.setattr(kiosk.ledger, "append", full)
    response = client.post("/api/pass", json={"code": "D4001"})
    assert response.status_code == 503
    assert "disk is full" in response.get_json()["message"]


def test_privacy_notice_says_what_is_kept_and_for_how_long(client, kiosk):
    page = client.get("/privacy").get_data(as_text=True)
    assert "28" in page and "不收集" in page
    assert "http://" not in page and "https://" not in page

"""The dashboard: counts per gate today, 14 days drawn on the server, fever follow-up."""

from __future__ import annotations

from datetime import datetime
from unittest import mock

import pytest

from kiosk import clock
from kiosk.ledger import Ledger
from sync.hub import dashboard
from sync.hub.admins import audit_log, create_admin
from sync.hub.app import create_hub
from tests.hub_helpers import PASSWORD, signed_in
from tests.sync_fixtures import drain, enrolled_client


@pytest.fixture
def app(hub_store):
    for role in ("admin", "viewer", "health"):
        create_admin(hub_store, f"{role}-user", PASSWORD, role)
    return create_hub(hub_store)


@pytest.fixture
def fevers(hub, tmp_path):
    ledger = Ledger(tmp_path / "k.sqlite3", "east-gate")
    for _ in range(5):
        ledger.append("screening", verdict="admitted", estimate_c=36.6)
    ids = [ledger.append("screening", verdict="blocked", estimate_c=38.4)["id"] for _ in range(2)]
    ledger.append("vehicle", verdict="in", detail={"plate": "京A12345"})
    with mock.patch.object(
        clock, "now", lambda: clock.ClockFacts("2026-01-01T00:00:00+00:00", False, "b", 1)
    ):
        ledger.append("screening", verdict="admitted", estimate_c=36.5)  # long ago
    drain(enrolled_client(hub.start(), ledger))
    return ids


def test_today_counts_per_gate(hub, fevers):
    [gate] = dashboard.counts_for_day(hub.store, dashboard.today())
    assert (gate.kiosk_id, gate.entries, gate.blocks, gate.vehicles) == ("east-gate", 5, 2, 1)


def test_local_days_start_at_midnight_china_time():
    start, end = dashboard.day_bounds(datetime(2026, 11, 28).date())
    assert (start, end) == ("2026-11-27T16:00:00+00:00", "2026-11-28T16:00:00+00:00")


def test_the_chart_is_drawn_on_the_server(hub, fevers):
    series = dashboard.last_days(hub.store)
    assert len(series) == 14 and series[-1][1:] == (5, 2)
    svg = dashboard.chart_svg(series)
    assert (
        svg.startswith("<svg")
        and svg.count("<rect") == 28
        and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    )


def test_fever_follow_up_through_the_page(app, hub, fevers):
    client, csrf = signed_in(app, "health")
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert fevers[0] in page and "38.4" in page
    event = fevers[0]
    for state in ("acknowledged", "reported"):
        response = client.post(f"/admin/fever/{event}", data={"csrf": csrf, "state": state})
        assert response.status_code == 302
    missing = client.post(f"/admin/fever/{event}", data={"csrf": csrf, "state": "closed"})
    assert missing.status_code == 400  # an outcome is needed
    client.post(
        f"/admin/fever/{event}",
        data={"csrf": csrf, "state": "closed", "outcome": "negative", "note": "复测正常"},
    )
    [row] = [f for f in dashboard.fever_events(hub.store) if f["id"] == event]
    assert (row["state"], row["outcome"], row["note"], row["updated_by"]) == (
        "closed",
        "negative",
        "复测正常",
        "health-user",
    )
    assert row["reported_at"] is not None
    actions = [e["action"] for e in audit_log(hub.store)]
    assert actions[:3] == ["fever.closed", "fever.reported", "fever.acknowledged"]


def test_viewers_cannot_follow_up(app, fevers):
    client, csrf = signed_in(app, "viewer")
    response = client.post(
        f"/admin/fever/{fevers[0]}", data={"csrf": csrf, "state": "acknowledged"}
    )
    assert response.status_code == 403


def test_follow_up_of_something_that_is_not_a_fever_event(app, hub):
    hub.start()
    client, csrf = signed_in(app, "admin")
    response = client.post(
        "/admin/fever/not-an-event", data={"csrf": csrf, "state": "acknowledged"}
    )
    # Not found, as another compound's fever event is (tests/test_tenancy.py).
    assert response.status_code == 404


def test_kiosk_health_for_admins(app, fevers):
    client, _ = signed_in(app, "admin")
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert 'id="health"' in page and "east-gate" in page
    assert "未同步 NOT synced" in page  # the last record came with an unsynchronised clock
    viewer, _ = signed_in(app, "viewer")
    assert 'id="health"' not in viewer.get("/admin/dashboard").get_data(as_text=True)


def test_daily_report_per_gate(app, fevers):
    client, _ = signed_in(app, "viewer")
    page = client.get(f"/admin/summary?day={dashboard.today()}").get_data(as_text=True)
    assert "east-gate" in page and "38.4" in page
    assert client.get("/admin/summary?day=yesterday").status_code == 400


def test_chart_for_one_gate(hub, fevers):
    assert dashboard.last_days(hub.store, kiosk="east-gate")[-1][1:] == (5, 2)
    assert dashboard.last_days(hub.store, kiosk="west-gate")[-1][1:] == (0, 0)


def test_quarantine_register_is_for_health_officers_only(app):
    admin_client, _ = signed_in(app, "admin")
    assert admin_client.get("/admin/quarantine").status_code == 403
    health, _ = signed_in(app, "health")
    assert health.get("/admin/quarantine").status_code == 200


def test_api_tokens_do_not_cross_roles(hub, tmp_path):
    import requests

    hub.start()
    kiosk_token = hub.store.enrol(hub.store.create_enrol_code("gate-1"))[1]
    reader_token = hub.store.create_reader("street-office")

    def get(path, token):
        return requests.get(
            f"{hub.url}/api/v1/{path}", timeout=5, headers={"Authorization": f"Bearer {token}"}
        ).status_code

    assert get("ledger", kiosk_token) == 401  # a kiosk cannot read every kiosk's ledger
    assert get("checkpoint", reader_token) == 401  # a reader is not a kiosk
    assert get("roster", reader_token) == 401
    assert get("ledger", reader_token) == 200 and get("checkpoint", kiosk_token) == 200


def test_the_unsent_queue_shown_is_what_the_kiosk_still_holds(hub, fevers):
    [kiosk] = hub.store.kiosks()
    assert kiosk["queue_reported"] == 0  # everything was sent and acknowledged

"""The touchscreen answers only under the kiosk's own address (attack trial: Origin
evil.example:8320 with a matching Host passed)."""

from __future__ import annotations

import pytest

from kiosk.web import create_app
from kiosk.web.app import foreign_request


@pytest.mark.parametrize(
    ("host", "origin", "method"),
    [
        ("127.0.0.1:8080", None, "GET"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080", "POST"),
        ("localhost:8080", "http://localhost:8080", "POST"),
        ("[::1]:8080", "http://[::1]:8080", "POST"),
        ("192.168.1.20:8080", "http://192.168.1.20:8080", "POST"),
        ("localhost", None, "GET"),
    ],
)
def test_the_kiosks_own_requests_pass(host, origin, method):
    assert foreign_request(host, origin, method) is None


@pytest.mark.parametrize(
    ("host", "origin", "method"),
    [
        ("evil.example:8320", "http://evil.example:8320", "POST"),  # DNS rebinding
        ("evil.example:8080", None, "GET"),
        ("127.0.0.1:8080", "http://evil.example", "POST"),  # another site's page
        ("127.0.0.1:8080", "http://127.0.0.1:9999", "POST"),  # another port's page
        ("127.0.0.1:8080", "null", "POST"),  # a sandboxed frame or a file
    ],
)
def test_foreign_requests_are_refused(host, origin, method):
    assert foreign_request(host, origin, method)


def test_the_app_refuses_them_before_anything_runs(start_kiosk):
    client = create_app(start_kiosk().gate).test_client()
    headers = {"Host": "evil.example:8320", "Origin": "http://evil.example:8320"}
    response = client.post("/api/measure-again", json={}, headers=headers)
    assert response.status_code == 403 and "拒绝访问" in response.get_json()["message"]
    assert client.get("/api/state", headers={"Host": "evil.example"}).status_code == 403
    assert client.get("/api/state").status_code == 200

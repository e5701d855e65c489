"""Helpers for the hub's page tests: admins of each role signed in through the real login."""

from __future__ import annotations

import re
import threading

PASSWORD = "correct horse battery"


def login_csrf(client) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def log_in(client, username: str, password: str, source: str = "127.0.0.1"):
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf": login_csrf(client)},
        environ_base={"REMOTE_ADDR": source},
    )


def signed_in(app, role: str):
    client = app.test_client()
    response = log_in(client, f"{role}-user", PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/admin/dashboard").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client, csrf


def admin_routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint in (
            "admin.login",
            "admin.login_post",
            "admin.static",  # the stylesheets
        ):
            continue
        view = app.view_functions[rule.endpoint]
        path = rule.rule.replace("<fmt>", "csv")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path, view.allowed_roles


def finished_job(client, started, timeout: float = 60.0) -> dict:
    """Follow a page's background job (the answer that started it redirects to the job's page)
    until it has finished; its JSON state. Waits on the state, never a fixed time."""
    from tests.gate_helpers import wait_until

    assert started.status_code == 302, started.get_data(as_text=True)
    url = started.headers["Location"] + ".json"

    def finished() -> dict | None:
        state = client.get(url).get_json()
        return state if state["finished"] else None

    return wait_until(finished, timeout=timeout, interval=0.02, what=f"the job {url}")


def job_file(client, started, timeout: float = 60.0) -> bytes:
    """The file a background job made (a PDF, an XLSX), once it is made."""
    state = finished_job(client, started, timeout)
    assert state["state"] == "done" and state["download"], state
    response = client.get(state["download"])
    try:
        assert response.status_code == 200
        return response.get_data()
    finally:
        response.close()  # the file it was sent from


def homes(count: int) -> bytes:
    """Buildings 1-3, units 1-2: ``count`` residents, one a room."""
    return (
        "building,unit,room,name,role\n"
        + "".join(f"{1 + i % 3},{1 + i // 3 % 2},{101 + i},住户{i},owner\n" for i in range(count))
    ).encode()


class Gate:
    """Holds a job after its first chunk until the test opens it."""

    def __init__(self, monkeypatch, after: int = 1) -> None:
        from sync.hub import residents

        monkeypatch.setattr(residents, "ISSUE_CHUNK", 100)
        monkeypatch.setattr(residents, "FIRST_CHUNK", 100)
        self.open = threading.Event()
        self.calls = 0
        original = residents._issue_chunk

        def held(*args, **kwargs):
            done = original(*args, **kwargs)
            self.calls += 1
            if self.calls == after:
                assert self.open.wait(60), "the test never opened the gate"
            return done

        monkeypatch.setattr(residents, "_issue_chunk", held)

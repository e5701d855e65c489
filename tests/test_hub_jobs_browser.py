"""The job page in real headless Chromium: issuing passes shows its progress within a second of
the click and follows the job to its end without a reload (job.js polls the job's state)."""

from __future__ import annotations

import time

import pytest

from sync.hub import residents
from sync.hub.admins import create_admin
from tests.hub_helpers import Gate, homes
from tests.sync_fixtures import Faults, RunningHub, free_port

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture
def running(hub_store, monkeypatch):
    create_admin(hub_store, "manager", PASSWORD, "admin")
    residents.import_residents(hub_store, "a.csv", homes(300), "manager")
    gate = Gate(monkeypatch)  # the job waits after its first 100 until the test lets it go
    hub = RunningHub(hub_store, free_port(), Faults()).start()
    yield hub, gate
    gate.open.set()
    hub.stop()


def test_the_progress_page_follows_the_job_without_a_reload(running, browser, tmp_path):
    hub, gate = running
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    try:
        page.goto(hub.url + "/admin/login")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", PASSWORD)
        page.click("button")
        page.wait_for_url("**/admin/dashboard")
        page.goto(hub.url + "/admin/residents")
        clicked = time.monotonic()
        page.click("#issue")
        page.wait_for_selector("#job-line:has-text('已完成 100 / 300')", timeout=5000)
        # The job is held after its first chunk: the page shows it while the job runs. The
        # figure (under 0.1 s) is bench/jobs_bench.py's; here 2 s leaves room for a loaded
        # machine (load average 5 on 2 cores while this was written).
        shown = time.monotonic() - clicked
        assert shown < 2.0, f"progress shown {shown:.2f} s after the click"
        assert page.inner_text("#job-state") == "进行中"
        page.screenshot(path=str(tmp_path / "job-running.png"))
        page.evaluate("window.notReloaded = true")  # gone if the page were loaded again
        gate.open.set()
        page.wait_for_selector("#job-state:has-text('已完成')", timeout=30000)
        assert page.inner_text("#job-line") == "已为 300 位住户发放通行证，各门岗下次同步后生效"
        assert page.evaluate("window.notReloaded") is True
        assert page.eval_on_selector("#job-progress", "p => p.value") == 100
        page.screenshot(path=str(tmp_path / "job-done.png"))
    finally:
        page.close()

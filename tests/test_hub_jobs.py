"""The hub without waiting: issuing passes, the pass PDF and the ledger's XLSX run as background
jobs whose progress the page shows at once (SQLite and PostgreSQL). A job is paused between
its chunks by a gate the test opens, so that its progress is seen while it runs; every wait is
on a condition, with a timeout."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from sync.hub import compounds, jobs, residents
from sync.hub.admins import audit_log, create_admin
from sync.hub.app import create_hub
from tests.gate_helpers import wait_until
from tests.hub_helpers import (
    PASSWORD,
    Gate,
    finished_job,
    homes,
    job_file,
    log_in,
    signed_in,
)
from tests.scan import decode_png, pdf_pages_png, pdf_text
from tests.sync_fixtures import make_ledger

RESIDENTS = 450


@pytest.fixture
def app(hub_store):
    compounds.update(hub_store, "默认小区", "光明苑小区", "和平街道")
    for role in ("admin", "viewer", "health"):
        create_admin(hub_store, f"{role}-user", PASSWORD, role)
    create_admin(hub_store, "admin-two", PASSWORD, "admin")
    app = create_hub(hub_store)
    yield app
    assert app.extensions["hub_jobs"].wait_idle(60)
    app.extensions["hub_jobs"].close()


@pytest.fixture
def gate(app, monkeypatch):
    """A job held after its first chunk of 100; opened at the end whatever happened."""
    held = Gate(monkeypatch)
    yield held
    held.open.set()


def status(client, started) -> str:
    return started.headers["Location"] + ".json"


def test_issuing_shows_progress_while_it_runs_and_ends_with_the_counts(app, hub_store, gate):
    residents.import_residents(hub_store, "a.csv", homes(RESIDENTS), "manager")
    client, csrf = signed_in(app, "admin")
    started = client.post("/admin/passes/issue", data={"csrf": csrf, "days": "30"})
    assert started.status_code == 302 and "/admin/jobs/" in started.headers["Location"]
    url = status(client, started)

    # Held after its first chunk: the page says so, and the chunk is committed (no write
    # transaction held across the job: another writer goes on meanwhile).
    def first_chunk():
        state = client.get(url).get_json()
        return state if state["done"] == 100 else None

    state = wait_until(first_chunk, timeout=30, what="the first chunk's progress")
    assert state["state"] == "running" and state["state_words"] == "进行中"
    assert state["total"] == RESIDENTS and state["percent"] == 22
    assert state["line"] == f"已完成 100 / {RESIDENTS}（22%）"
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "发放通行证" in page and "已完成 100 / 450" in page and "admin-user" in page
    assert hub_store.fetch_one("SELECT count(*) FROM passes")[0] == 100
    with hub_store.transaction():  # a writer is not blocked by the job
        hub_store.execute(
            "INSERT INTO audit (at, username, action, detail) VALUES ('x', 'y', 'z', '{}')"
        )
    gate.open.set()

    done = finished_job(client, started)
    assert done["state"] == "done" and done["done"] == RESIDENTS
    assert done["line"] == f"已为 {RESIDENTS} 位住户发放通行证，各门岗下次同步后生效"
    assert done["started_at"][:4] == str(datetime.now().year)  # Beijing time, as a person reads
    assert sum(1 for p in residents.residents(hub_store) if p["code"]) == RESIDENTS
    roster = hub_store.roster_since(0, 10_000)
    assert len([c for c in roster if c["kind"] == "pass"]) == RESIDENTS
    [entry] = [e for e in audit_log(hub_store) if e["action"] == "passes.issue"]
    assert entry["username"] == "admin-user" and entry["detail"]["issued"] == RESIDENTS
    # Again: nobody is missing a pass any more.
    again = finished_job(client, client.post("/admin/passes/issue", data={"csrf": csrf}))
    assert again["line"] == "所有住户都已有有效通行证，这次没有发放"


def test_other_writers_get_in_while_passes_are_issued(app, hub_store, monkeypatch):
    """Every page view writes (its session): on SQLite, back-to-back chunks kept them out until
    the job's end (found by the benchmark: the job's page showed nothing until it was over)."""
    residents.import_residents(hub_store, "a.csv", homes(3000), "manager")
    monkeypatch.setattr(residents, "ISSUE_CHUNK", 100)
    client, csrf = signed_in(app, "admin")
    started = client.post("/admin/passes/issue", data={"csrf": csrf})
    url = status(client, started)
    wait_until(lambda: client.get(url).get_json()["done"] > 0, timeout=30, what="a first chunk")
    state = client.get(url).get_json()  # a page view (a write) while the job goes on
    assert state["state"] == "running" and 0 < state["done"] < 3000, state
    with hub_store.transaction():  # and any other writer
        hub_store.execute(
            "INSERT INTO audit (at, username, action, detail) VALUES ('x', 'y', 'z', '{}')"
        )
    assert client.get(url).get_json()["state"] == "running"
    assert finished_job(client, started)["done"] == 3000


def test_a_second_job_of_the_kind_is_refused_while_one_runs(app, hub_store, gate):
    residents.import_residents(hub_store, "a.csv", homes(300), "manager")
    client, csrf = signed_in(app, "admin")
    started = client.post("/admin/passes/issue", data={"csrf": csrf})
    wait_until(lambda: client.get(status(client, started)).get_json()["done"] == 100, timeout=30)
    other, other_csrf = signed_in(app, "admin")  # another admin of the compound
    refused = other.post("/admin/passes/issue", data={"csrf": other_csrf})
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "已有一项“发放通行证”正在进行" in text and "admin-user" in text
    assert "请等它完成后再开始" in text
    # Another kind goes ahead meanwhile.
    pdf = other.post("/admin/passes/sheet.pdf", data={"csrf": other_csrf})
    assert pdf.status_code == 302
    gate.open.set()
    assert finished_job(client, started)["done"] == 300
    assert finished_job(other, pdf)["state"] == "done"
    assert other.post("/admin/passes/issue", data={"csrf": other_csrf}).status_code == 302


def test_a_failing_job_says_so_in_chinese_and_keeps_what_it_did(app, hub_store, monkeypatch):
    residents.import_residents(hub_store, "a.csv", homes(250), "manager")
    monkeypatch.setattr(residents, "ISSUE_CHUNK", 100)
    monkeypatch.setattr(residents, "FIRST_CHUNK", 100)
    original = residents._issue_chunk
    calls = []

    def breaks(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(residents, "_issue_chunk", breaks)
    client, csrf = signed_in(app, "admin")
    state = finished_job(client, client.post("/admin/passes/issue", data={"csrf": csrf}))
    assert state["state"] == "failed" and state["state_words"] == "失败"
    assert state["line"].startswith("出错了（OSError）") and "请稍后重新开始" in state["line"]
    assert state["done"] == 100  # the first chunk stays issued
    [entry] = [e for e in audit_log(hub_store) if e["action"] == "passes.issue"]
    assert entry["detail"]["issued"] == 100 and entry["detail"]["wanted"] == 250
    # A PDF of nothing fails with what to do.
    empty = client.post("/admin/passes/sheet.pdf", data={"csrf": csrf, "building": "9"})
    state = finished_job(client, empty)
    assert state["state"] == "failed" and "没有符合条件（9 号楼）的有效通行证" in state["line"]
    # The rest is issued by the next run.
    monkeypatch.setattr(residents, "_issue_chunk", original)
    state = finished_job(client, client.post("/admin/passes/issue", data={"csrf": csrf}))
    assert state["done"] == 150 and state["state"] == "done"


def test_a_job_lost_to_a_restart_says_interrupted(app, hub_store):
    client, csrf = signed_in(app, "admin")
    runner = app.extensions["hub_jobs"]
    now = datetime.now(UTC)
    with hub_store.transaction():
        for job_id, who, beat in (
            ("lost-here", runner.runner_id, now),  # this process started it; no thread now
            ("lost-before", "a-process-gone", now - timedelta(seconds=jobs.STALE_S + 5)),
        ):
            hub_store.execute(
                "INSERT INTO hub_jobs (job_id, compound_id, kind, state, done, total, started_at,"
                " started_by, heartbeat_at, runner, params) VALUES (?, 1, ?, 'running', 3, 10,"
                " ?, 'admin-user', ?, ?, '{}')",
                (
                    job_id,
                    "passes.issue" if job_id == "lost-here" else "ledger.xlsx",
                    now.isoformat(),
                    beat.isoformat(),
                    who,
                ),
            )
    for job_id in ("lost-here", "lost-before"):
        state = client.get(f"/admin/jobs/{job_id}.json").get_json()
        assert state["state"] == "interrupted" and state["finished"]
        assert state["state_words"] == "中断，请重新开始"
        page = client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
        assert "中断，请重新开始" in page
    # A new job of the kind starts (the lost one no longer counts as running).
    assert client.post("/admin/passes/issue", data={"csrf": csrf}).status_code == 302


def test_the_pdf_by_building_unit_and_issued_since_with_the_compounds_name(
    app, hub_store, tmp_path
):
    residents.import_residents(hub_store, "a.csv", homes(24), "manager")
    residents.issue_passes(hub_store, "manager", days=30)
    # Passes issued before: the early ones on 2026-12-01 Beijing time (16:30 UTC the day
    # before is 00:30 in Beijing: the 1st), the rest on 2026-11-30.
    people = sorted(residents.residents(hub_store), key=lambda p: p["name"])
    with hub_store.transaction():
        for index, person in enumerate(people):
            stamp = "2026-11-30T16:30:00+00:00" if index < 4 else "2026-11-30T15:59:00+00:00"
            hub_store.execute(
                "UPDATE passes SET issued_at = ? WHERE code = ?", (stamp, person["code"])
            )
    select = residents.PassSelection
    cards = residents.pass_cards(hub_store, select(building="2"))
    assert len(cards) == 8 and {c["building"] for c in cards} == {"2"}
    cards = residents.pass_cards(hub_store, select(building="2", unit="1"))
    assert len(cards) == 4 and {(c["building"], c["unit"]) for c in cards} == {("2", "1")}
    since = datetime(2026, 12, 1).date()
    recent = residents.pass_cards(hub_store, select(issued_since=since))
    assert sorted(c["code"] for c in recent) == sorted(p["code"] for p in people[:4])

    client, csrf = signed_in(app, "admin")
    started = client.post(
        "/admin/passes/sheet.pdf", data={"csrf": csrf, "building": "2", "unit": "1"}
    )
    state = finished_job(client, started)
    assert state["line"] == "共 4 张通行证，1 页（2 号楼 1 单元）"
    pdf = job_file(client, started)
    text = pdf_text(pdf, tmp_path)
    assert text.count("光明苑小区 · 通行证") == 4  # the compound's name on every card
    chosen = [p for p in people if (p["building"], p["unit"]) == ("2", "1")]
    assert all(f"2-1-{p['room']}" in text for p in chosen)
    assert "1-1-" not in text and "2-2-" not in text
    [page] = pdf_pages_png(pdf, tmp_path)
    assert sorted(decode_png(page)) == sorted(p["code"] for p in chosen)  # they still scan
    entry = audit_log(hub_store)[0]
    assert entry["action"] == "passes.print_pdf" and entry["username"] == "admin-user"
    assert entry["detail"] == {"cards": 4, "building": "2", "unit": "1"}

    recent_pdf = job_file(
        client,
        client.post("/admin/passes/sheet.pdf", data={"csrf": csrf, "issued_since": "2026-12-01"}),
    )
    (tmp_path / "recent").mkdir()
    [page] = pdf_pages_png(recent_pdf, tmp_path / "recent")
    assert sorted(decode_png(page)) == sorted(p["code"] for p in people[:4])
    # The choice is checked: a unit without a building, a date that is not one.
    for form in ({"unit": "1"}, {"issued_since": "12/01"}, {"building": "<b>"}):
        assert (
            client.post("/admin/passes/sheet.pdf", data={"csrf": csrf, **form}).status_code == 400
        )
    # The printable sheet takes the same choice and names the compound too.
    sheet = client.get("/admin/passes/sheet?building=2&unit=1").get_data(as_text=True)
    assert sheet.count('class="card"') == 4 and "光明苑小区 · 通行证" in sheet


def test_the_ledger_xlsx_is_made_in_the_background_for_its_starter(app, hub_store, tmp_path):
    from openpyxl import load_workbook

    hub_store.enrol(hub_store.create_enrol_code("gate-1"))
    ledger = make_ledger(tmp_path / "k.sqlite3")
    records = [
        ledger.append("screening", verdict="admitted", estimate_c=36.5, threshold_c=37.3)
        for _ in range(25)
    ]
    records.append(
        ledger.append("visitor", verdict="registered", detail={"name": '=HYPERLINK("x")'})
    )
    ledger.close()
    assert all(a["status"] == "stored" for a in hub_store.ingest("gate-1", records, 0))
    viewer, csrf = signed_in(app, "viewer")
    started = viewer.post("/admin/ledger/export.xlsx", data={"csrf": csrf, "kind": "screening"})
    data = job_file(viewer, started)
    state = finished_job(viewer, started)
    assert state["line"] == "共 25 条记录" and state["choice"] == "类别：测温"  # in words
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("光明苑小区 门岗台账") and len(rows) == 2 + 25
    entry = audit_log(hub_store)[0]
    assert (entry["action"], entry["username"]) == ("export.xlsx", "viewer-user")
    assert entry["detail"] == {"kind": "screening"}
    # Everything, with the visitor's text as text, never a formula.
    whole = load_workbook(
        io.BytesIO(job_file(viewer, viewer.post("/admin/ledger/export.xlsx", data={"csrf": csrf})))
    ).active
    assert not [c for row in whole.iter_rows() for c in row if c.data_type == "f"]
    # Another account of the compound sees the job's progress, not its file.
    admin, admin_csrf = signed_in(app, "admin")
    state = admin.get(status(admin, started)).get_json()
    assert (
        state["download"] is None
        and state["download_note"]
        == "文件已不在（只保留本类最新一份，最多 24 小时；中心重启后清空）：请重新生成"
    )
    latest = viewer.post("/admin/ledger/export.xlsx", data={"csrf": csrf})
    finished_job(viewer, latest)
    assert admin.get(latest.headers["Location"] + "/file").status_code == 404
    assert admin.get(status(admin, latest)).get_json()["download_note"] == "文件只供发起人下载"
    # A pass job is not a viewer's to see (the same answer as an unknown job).
    issued = admin.post("/admin/passes/issue", data={"csrf": admin_csrf})
    finished_job(admin, issued)
    assert viewer.get(issued.headers["Location"]).status_code == 404
    assert viewer.get(status(viewer, issued)).status_code == 404


def test_one_compounds_jobs_and_files_are_never_anothers(hub_store, tmp_path):
    """Compound A's job (page, state, file) is 404 to B's admin, as an unknown id is; B's own
    issue runs beside A's."""
    a = compounds.update(hub_store, "默认小区", "光明苑小区", "和平街道")
    b = compounds.create(hub_store, "幸福里小区", "和平街道")
    create_admin(hub_store, "admin-a", PASSWORD, "admin", ["光明苑小区"])
    create_admin(hub_store, "admin-b", PASSWORD, "admin", ["幸福里小区"])
    residents.import_residents(hub_store.scoped(a.compound_id), "a.csv", homes(12), "manager")
    residents.import_residents(hub_store.scoped(b.compound_id), "b.csv", homes(5), "manager")
    app = create_hub(hub_store)
    try:

        def client_of(name):
            client = app.test_client()
            assert log_in(client, name, PASSWORD).status_code == 302
            page = client.get("/admin/residents").get_data(as_text=True)
            return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)

        a_client, a_csrf = client_of("admin-a")
        b_client, b_csrf = client_of("admin-b")
        a_job = a_client.post("/admin/passes/sheet.pdf", data={"csrf": a_csrf})
        finished_job(a_client, a_job)
        url = a_job.headers["Location"]
        for path in (url, url + ".json", url + "/file"):
            answer = b_client.get(path)
            assert answer.status_code == 404, path
            assert "光明苑" not in answer.get_data(as_text=True)
        assert b_client.get("/admin/jobs/no-such-job").status_code == 404
        # The same kind runs in B while A's is running: one a kind *per compound*.
        b_issue = b_client.post("/admin/passes/issue", data={"csrf": b_csrf})
        a_issue = a_client.post("/admin/passes/issue", data={"csrf": a_csrf})
        assert a_issue.status_code == 302 and b_issue.status_code == 302
        assert finished_job(b_client, b_issue)["done"] == 5
        assert finished_job(a_client, a_issue)["done"] == 12
        b_pdf = job_file(b_client, b_client.post("/admin/passes/sheet.pdf", data={"csrf": b_csrf}))
        text = pdf_text(b_pdf, tmp_path)
        assert "幸福里小区" in text and "光明苑" not in text
    finally:
        assert app.extensions["hub_jobs"].wait_idle(60)
        app.extensions["hub_jobs"].close()

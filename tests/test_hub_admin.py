"""The admins' pages: roles on every route, CSRF, lockout, audit, and exports that re-read as
the database's rows."""

from __future__ import annotations

import csv
import io
import re
import time
from types import SimpleNamespace

import pytest

from sync.hub import admins
from sync.hub.admins import audit_log, create_admin
from sync.hub.app import create_hub
from tests.hub_helpers import PASSWORD, admin_routes, log_in, signed_in
from tests.sync_fixtures import drain, enrolled_client, make_ledger

ROLES = ("admin", "viewer", "health")


@pytest.fixture
def app(hub_store):
    for role in ROLES:
        create_admin(hub_store, f"{role}-user", PASSWORD, role)
    return create_hub(hub_store)


def test_every_admin_route_refuses_no_session_and_the_wrong_role(app):
    routes = list(admin_routes(app))
    assert len(routes) >= 8
    anonymous = app.test_client()
    for endpoint, method, path, _allowed in routes:
        response = anonymous.open(path, method=method)
        assert response.status_code == 302 and "/admin/login" in response.location, endpoint
    for role in ROLES:
        client, csrf = signed_in(app, role)
        for endpoint, method, path, allowed in routes:
            if endpoint == "admin.logout":
                continue
            data = {"csrf": csrf, "kiosk_id": "nope"} if method == "POST" else None
            response = client.open(path, method=method, data=data)
            if role in allowed:
                assert response.status_code != 403, (role, endpoint)
            else:
                assert response.status_code == 403, (role, endpoint)


def test_forms_need_the_csrf_token(app, hub_store):
    client, csrf = signed_in(app, "admin")
    assert client.post("/admin/kiosks/enrol-code", data={"kiosk_id": "gate-9"}).status_code == 403
    forged = client.post("/admin/kiosks/enrol-code", data={"kiosk_id": "gate-9", "csrf": "x"})
    assert forged.status_code == 403
    ok = client.post("/admin/kiosks/enrol-code", data={"kiosk_id": "gate-9", "csrf": csrf})
    assert ok.status_code == 200
    code = re.search(r'id="enrol-code">([^<]+)<', ok.get_data(as_text=True)).group(1)
    assert hub_store.enrol(code)[0] == "gate-9"


def test_after_five_wrong_passwords_the_next_try_waits(app, monkeypatch):
    # The clock stands still: the wait after the fifth failure is 1 s, and on a loaded machine
    # the five hashings can take longer than that (the sixth try then found the wait over).
    frozen = time.time()
    monkeypatch.setattr(admins, "time", SimpleNamespace(time=lambda: frozen))
    client = app.test_client()
    codes = [log_in(client, "viewer-user", "nope").status_code for _ in range(5)]
    assert codes == [401] * 5
    response = log_in(client, "viewer-user", PASSWORD)
    assert response.status_code == 429 and "wait" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "2"


def test_the_login_form_needs_its_csrf_token(app):
    client = app.test_client()
    client.get("/admin/login")
    forged = client.post("/admin/login", data={"username": "admin-user", "password": PASSWORD})
    assert forged.status_code == 400 and "sid" not in str(client.get_cookie("menwei_admin"))


def test_unknown_user_and_wrong_password_look_the_same(app):
    client = app.test_client()
    a = log_in(client, "ghost", "x")
    b = log_in(client, "admin-user", "x")
    assert a.status_code == b.status_code == 401
    assert a.get_data() == b.get_data()


@pytest.fixture
def stored_ledger(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=0)
    for index in range(30):
        verdict = "blocked" if index % 7 == 0 else "admitted"
        ledger.append(
            "screening",
            verdict=verdict,
            estimate_c=38.2 if verdict == "blocked" else 36.5,
            threshold_c=37.3,
            pass_code=f"P{index:04d}",
        )
    ledger.append("vehicle", verdict="in", detail={"plate": "京AD12345", "guard_id": "wang"})
    ledger.append("visitor", verdict="registered", detail={"phone": "13812345678"})
    drain(enrolled_client(hub.start(), ledger))
    return ledger


def db_rows(store):
    return [(e["ingest_seq"], e["record"]["id"]) for e in store.events_since(0, 1000)]


def test_csv_export_re_reads_as_the_database(app, hub_store, stored_ledger):
    client, _ = signed_in(app, "viewer")
    response = client.get("/admin/ledger.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not twice
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "序号 No." and "车牌 Plate" in header
    assert [(int(r[0]), r[header.index("记录 Record id")]) for r in body] == db_rows(hub_store)
    plates = [r[header.index("车牌 Plate")] for r in body if r[header.index("车牌 Plate")]]
    assert plates == ["京AD12345"]
    phones = [
        r[header.index("访客电话 Visitor phone")]
        for r in body
        if r[header.index("访客电话 Visitor phone")]
    ]
    assert phones == ["138****5678"]  # masked in exports too
    assert audit_log(hub_store)[0]["action"] == "export.csv"


def test_xlsx_export_re_reads_as_the_database(app, hub_store, stored_ledger):
    from openpyxl import load_workbook

    client, _ = signed_in(app, "admin")
    response = client.get("/admin/ledger.xlsx?kind=screening")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    title, header, body = rows[0], rows[1], rows[2:]
    # Whose ledger, which gate and days, in which time (found in a field trial: "门岗台账" only).
    assert title[0] == "默认小区 门岗台账 · 全部门岗 · 全部日期 · 时间为 Asia/Shanghai 当地时间"
    assert sheet.freeze_panes == "A3"
    expected = [
        (seq, rid)
        for seq, rid in db_rows(hub_store)
        if hub_store.events_since(seq - 1, 1)[0]["record"]["kind"] == "screening"
    ]
    assert [(r[0], r[header.index("记录 Record id")]) for r in body] == expected
    assert len(body) == 30
    entry = audit_log(hub_store)[0]
    assert entry["action"] == "export.xlsx" and entry["detail"] == {"kind": "screening"}


def test_health_officers_see_fever_events_only(app, stored_ledger):
    client, _ = signed_in(app, "health")
    text = client.get("/admin/ledger.csv").get_data(as_text=True).lstrip("\ufeff")
    body = list(csv.reader(io.StringIO(text)))[1:]
    assert body and all(row[6] == "拦截" for row in body)


def test_bad_filters_are_a_clear_error(app):
    client, _ = signed_in(app, "viewer")
    response = client.get("/admin/ledger?day_from=yesterday")
    assert response.status_code == 400
    assert "2026-11-28" in response.get_data(as_text=True)

"""The tenancy matrix (issue 15): every route of the hub, called by the accounts of compound A
(admin, viewer, health officer) with A's own ids and with B's, returns nothing of B and changes
nothing of B; the district account reads both; a district account of another district reads
neither. A route added later without a case here makes the test fail."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from sync.hub import seal
from sync.hub.app import create_hub
from sync.hub.store import CompoundError, HubStore
from tests.hub_helpers import PASSWORD, log_in
from tests.tenancy_fixtures import TZ, Tenant, body_text, two_compounds

UNGUARDED = {"static", "admin.static", "admin.login", "admin.login_post"}  # no account's data
OK, REFUSED, NOT_FOUND, ANY = "ok", "refused", "not found", "any answer"


@pytest.fixture
def world(hub_store, tmp_path) -> tuple[HubStore, Tenant, Tenant]:
    a, b = two_compounds(hub_store, tmp_path)
    return hub_store, a, b


def account_client(app, username: str) -> tuple[Any, str]:
    client = app.test_client()
    response = log_in(client, username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/admin/seal").get_data(as_text=True)
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def admin_cases(store: HubStore, a: Tenant, b: Tenant) -> dict[str, list[tuple]]:
    """endpoint → (method, path, form, expected when the role may use the route). Ids of B
    in paths and query strings are 404; in forms, the same 400 as an id that does not exist."""
    b_seal = seal.seal_for_day(store.scoped(b.compound_id), b.kiosk, datetime.now(TZ).date(), TZ)
    assert b_seal is not None
    a_job, b_job = finished_jobs(store, a, b)
    return {
        "admin.home": [("GET", "/admin/", None, OK)],
        "admin.compound_pick": [
            ("POST", "/admin/compound", {"compound": str(b.compound_id)}, NOT_FOUND),
            ("POST", "/admin/compound", {"compound": str(a.compound_id)}, OK),
        ],
        "admin.daily_summary": [("GET", "/admin/summary", None, OK)],
        "admin.dashboard_page": [
            ("GET", "/admin/dashboard", None, OK),
            ("GET", f"/admin/dashboard?kiosk={b.kiosk}", None, OK),
        ],
        "admin.fever_follow_up": [
            ("POST", f"/admin/fever/{b.fever_id}", {"state": "reported"}, NOT_FOUND),
            ("POST", f"/admin/fever/{a.fever_id}", {"state": "reported"}, OK),
        ],
        "admin.ledger": [
            ("GET", "/admin/ledger", None, OK),
            ("GET", f"/admin/ledger?kiosk={b.kiosk}", None, OK),
            ("GET", f"/admin/ledger?text={b.fever_id[:8]}", None, OK),
        ],
        "admin.export": [
            ("GET", "/admin/ledger.csv", None, OK),
            ("GET", "/admin/ledger.xlsx", None, OK),
            ("GET", f"/admin/ledger.csv?kiosk={b.kiosk}", None, OK),
        ],
        "admin.kiosks": [("GET", "/admin/kiosks", None, OK)],
        "admin.enrol_code": [
            ("POST", "/admin/kiosks/enrol-code", {"kiosk_id": b.kiosk}, REFUSED),
            ("POST", "/admin/kiosks/enrol-code", {"kiosk_id": "gate-a2"}, OK),
        ],
        "admin.revoke": [("POST", "/admin/kiosks/revoke", {"kiosk_id": b.kiosk}, REFUSED)],
        "admin.audit_page": [("GET", "/admin/audit", None, OK)],
        "admin.residents_page": [("GET", "/admin/residents", None, OK)],
        "admin.residents_import": [
            ("POST", "/admin/residents/import", {"file": "2,1,202,孙阿丙,,业主\n"}, OK),
        ],
        "admin.passes_issue": [("POST", "/admin/passes/issue", {"days": "180"}, OK)],
        "admin.passes_revoke": [
            ("POST", f"/admin/passes/{b.pass_codes[0]}/revoke", {}, NOT_FOUND),
        ],
        "admin.passes_sheet": [("GET", "/admin/passes/sheet", None, OK)],
        "admin.passes_sheet_pdf": [("POST", "/admin/passes/sheet.pdf", {"building": "1"}, OK)],
        # Background jobs (issue "the hub without waiting"): B's job is not found, A's export
        # is seen by A's accounts; its file is its starter's only (and this app's runner did
        # not make it: 文件已不在), so any answer, checked for leaks all the same.
        "admin.export_job": [
            # Three accounts in a row: the one before may still be exporting (409, busy).
            ("POST", "/admin/ledger/export.xlsx", {}, ANY),
            ("POST", "/admin/ledger/export.xlsx", {"kiosk": b.kiosk}, ANY),
        ],
        "admin.job_page": [
            ("GET", f"/admin/jobs/{a_job}", None, OK),
            ("GET", f"/admin/jobs/{b_job}", None, NOT_FOUND),
        ],
        "admin.job_status": [
            ("GET", f"/admin/jobs/{a_job}.json", None, OK),
            ("GET", f"/admin/jobs/{b_job}.json", None, NOT_FOUND),
        ],
        "admin.job_file": [
            ("GET", f"/admin/jobs/{a_job}/file", None, ANY),
            ("GET", f"/admin/jobs/{b_job}/file", None, NOT_FOUND),
        ],
        "admin.quarantine_page": [("GET", "/admin/quarantine", None, OK)],
        "admin.quarantine_add": [
            (
                "POST",
                "/admin/quarantine",
                {
                    "resident_id": b.resident_ids[0],
                    "starts_on": "2026-12-01",
                    "ends_on": "2026-12-05",
                },
                REFUSED,
            )
        ],
        "admin.phone_reveal": [
            ("POST", f"/admin/residents/{b.resident_ids[0]}/phone", {}, NOT_FOUND),
        ],
        "admin.resident_by_id": [
            ("POST", "/admin/residents/by-id", {"id_number": b.id_number}, REFUSED),
        ],
        "admin.settings_page": [("GET", "/admin/settings", None, OK)],
        "admin.settings_change": [
            # A's own guard, whose id B's guard has too: removing it touches only A's, and a
            # refusal that lists the guard's shifts lists A's only.
            (
                "POST",
                "/admin/settings",
                {"action": "remove", "kind": "guard", "key": a.guard_id},
                ANY,
            ),
            (
                "POST",
                "/admin/settings",
                {"action": "remove", "kind": "risk_area", "key": b.risk_area},
                REFUSED,
            ),
            (
                "POST",
                "/admin/settings",
                {"action": "setting", "key": "screening.threshold_c", "value": "37.3"},
                OK,
            ),
            # A guard of A put on B's gate: refused, as a shift on it is (attacker trial).
            (
                "POST",
                "/admin/settings",
                {
                    "action": "guard",
                    "guard_id": "zhao",
                    "name": "赵师傅",
                    "pin": "583920",
                    "gates": b.kiosk,
                },
                REFUSED,
            ),
        ],
        "admin.district_page": [("GET", "/admin/district", None, OK)],
        "admin.district_csv": [("GET", "/admin/district.csv", None, OK)],
        "admin.duty_page": [("GET", "/admin/duty", None, OK)],
        "admin.duty_change": [
            ("POST", "/admin/duty", {"action": "remove", "sid": str(b.shift_id)}, REFUSED),
            (
                "POST",
                "/admin/duty",
                {
                    "person": b.guard_id,
                    "gate": b.kiosk,
                    "starts": "2026-12-01 08:00",
                    "ends": "2026-12-01 16:00",
                },
                REFUSED,
            ),
        ],
        "admin.duty_fever_clear": [  # issue 16: a manager clears a staff fever at sign-on
            ("POST", f"/admin/duty/fever/{b.staff_fever_id}/clear", {}, NOT_FOUND),
            ("POST", f"/admin/duty/fever/{a.staff_fever_id}/clear", {}, OK),
        ],
        "admin.gate_block_clear": [  # B's fever block is not A's to end
            ("POST", f"/admin/gate-block/{b.fever_id}/clear", {"reason": "测试"}, REFUSED),
        ],
        "admin.duty_household_decide": [  # B's sign-on is not A's to decide on
            ("POST", f"/admin/duty/household/{b.staff_fever_id}", {"outcome": "stay_on"}, REFUSED),
        ],
        "admin.visitors_by_id": [
            ("POST", "/admin/visitors/by-id", {"id_number": b.id_number}, REFUSED),
        ],
        "admin.disinfection_page": [("GET", "/admin/disinfection", None, OK)],
        "admin.disinfection_change": [
            ("POST", "/admin/disinfection", {"action": "remove", "name": b.place}, REFUSED),
            (
                "POST",
                "/admin/disinfection",
                {
                    "action": "round",
                    "place": b.place,
                    "agent": "84消毒液",
                    "done_at": datetime.now(TZ).strftime("%Y-%m-%d %H:%M"),
                },
                REFUSED,
            ),
        ],
        "admin.supplies_page": [("GET", "/admin/supplies", None, OK)],
        "admin.supplies_change": [
            (
                "POST",
                "/admin/supplies",
                {"action": "move", "item": b.supply, "direction": "issue", "quantity": "1"},
                REFUSED,
            ),
        ],
        "admin.registers_page": [
            ("GET", f"/admin/registers?kiosk={a.kiosk}", None, OK),
            ("GET", f"/admin/registers?kiosk={b.kiosk}", None, NOT_FOUND),
        ],
        "admin.registers_export": [
            ("GET", f"/admin/registers.csv?kiosk={a.kiosk}&register=fevers", None, OK),
            ("GET", f"/admin/registers.xlsx?kiosk={a.kiosk}&register=fevers", None, OK),
            ("GET", f"/admin/registers.csv?kiosk={b.kiosk}", None, NOT_FOUND),
            ("GET", f"/admin/registers.xlsx?kiosk={b.kiosk}", None, NOT_FOUND),
            ("GET", f"/admin/registers.pdf?kiosk={b.kiosk}", None, NOT_FOUND),
        ],
        "admin.seal_page": [("GET", "/admin/seal", None, OK)],
        "admin.seal_check": [("POST", "/admin/seal", {"seal": b_seal.text()}, OK)],
        "admin.logout": [("POST", "/admin/logout", {}, OK)],  # last: it ends the session
    }


def finished_jobs(store: HubStore, a: Tenant, b: Tenant) -> tuple[str, str]:
    """A finished ledger export of each compound, started by its admin."""
    from sync.hub.jobs import JobRunner

    runner = JobRunner()
    ids = [
        runner.start(
            store.scoped(t.compound_id),
            "ledger.xlsx",
            t.accounts[0],
            {},
            lambda _store, _progress: (0, "共 0 条记录"),
        )
        for t in (a, b)
    ]
    assert runner.wait_idle(30)
    runner.close()
    return ids[0], ids[1]


API_CASES = {  # tested in test_kiosk_and_reader_tokens_stay_in_their_compound
    "hub_api.openapi",
    "hub_api.enrol",
    "hub_api.ingest",
    "hub_api.held",
    "hub_api.checkpoint",
    "hub_api.roster",
    "hub_api.ledger",
}


def _send(client, csrf: str, method: str, path: str, form: dict | None) -> Any:
    if method == "GET":
        return client.get(path)
    data: dict[str, Any] = {"csrf": csrf, **(form or {})}
    if "file" in data:  # an upload
        import io

        text = "楼栋,单元,房号,姓名,电话,身份\n" + data.pop("file")
        data["file"] = (io.BytesIO(text.encode()), "住户.csv")
    return client.post(path, data=data)


def snapshot(store: HubStore, tenant: Tenant) -> dict[str, Any]:
    """Every row of the tenant's own, read as the whole hub."""
    c = tenant.compound_id
    tables = {
        "kiosks": f"SELECT kiosk_id, revoked_at, token_hash FROM kiosks WHERE compound_id = {c}",
        "residents": f"SELECT * FROM residents WHERE compound_id = {c} ORDER BY resident_id",
        "passes": "SELECT p.* FROM passes p JOIN residents r ON r.resident_id = p.resident_id"
        f" WHERE r.compound_id = {c} ORDER BY p.code",
        "quarantine": "SELECT q.* FROM quarantine_register q JOIN residents r"
        f" ON r.resident_id = q.resident_id WHERE r.compound_id = {c} ORDER BY q.qid",
        "roster": f"SELECT * FROM roster WHERE compound_id = {c} ORDER BY version",
        "duty": f"SELECT * FROM duty_shifts WHERE compound_id = {c} ORDER BY sid",
        "rounds": f"SELECT * FROM disinfection_rounds WHERE compound_id = {c} ORDER BY rid",
        "supplies": f"SELECT * FROM supplies WHERE compound_id = {c} ORDER BY item",
        "moves": f"SELECT * FROM supply_moves WHERE compound_id = {c} ORDER BY mid",
        "followups": "SELECT event_id, state, note FROM followups ORDER BY event_id",
        "events": "SELECT id, chain_ok FROM events WHERE kiosk_id IN"
        f" (SELECT kiosk_id FROM kiosks WHERE compound_id = {c}) ORDER BY id",
        "codes": f"SELECT code_hash FROM enrol_codes WHERE compound_id = {c} ORDER BY code_hash",
    }
    state = {name: [tuple(row) for row in store.fetch_all(sql)] for name, sql in tables.items()}
    state["followups"] = [f for f in state["followups"] if f[0] in tenant.event_ids]
    return state


def leaked(text: str, markers: list[str], request_text: str) -> list[str]:
    """The markers a response shows that the request did not itself carry (a filter or a
    seal typed in is shown back to whoever typed it)."""
    return [m for m in markers if m in text and m not in request_text]


def test_every_route_of_the_hub_has_a_tenancy_case(world):
    store, a, b = world
    app = create_hub(store)
    cases = admin_cases(store, a, b)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - set(cases) - API_CASES - UNGUARDED
    assert not missing, f"routes without a tenancy case (add them to admin_cases): {missing}"
    assert not (set(cases) | API_CASES) - endpoints, "cases for routes that are gone"


def _request_text(path: str, form: dict | None) -> str:
    return path + " " + " ".join(str(v) for v in (form or {}).values())


def test_accounts_of_a_get_nothing_of_b(world):
    """First every call that names nothing of B, checked strictly; then the calls that carry
    B's ids, where a response may show back only what A's accounts typed themselves (their
    own audit entries keep the filter they tried)."""
    store, a, b = world
    app = create_hub(store)
    before = snapshot(store, b)
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    calls = [
        (endpoint, *call)
        for endpoint, endpoint_calls in admin_cases(store, a, b).items()
        if endpoint in routes
        for call in endpoint_calls
    ]
    naming_b = [c for c in calls if any(m in _request_text(c[2], c[3]) for m in b.markers())]
    plain = [c for c in calls if c not in naming_b and c[0] != "admin.logout"]
    last = [c for c in calls if c[0] == "admin.logout"]
    typed = ""
    reads = [c for c in plain if c[1] == "GET"]  # read again after B's ids were tried
    for batch in (plain, naming_b + reads + last):
        for username in a.accounts:
            client, csrf = account_client(app, username)
            role = username.split("-")[0]
            for endpoint, method, path, form, expected in batch:
                allowed = app.view_functions[endpoint].allowed_roles
                typed += _request_text(path, form)
                response = _send(client, csrf, method, path, form)
                where = (username, method, path, form, response.status_code)
                if role not in allowed:
                    assert response.status_code == 403, where
                elif expected == OK:
                    assert response.status_code in (200, 302), where
                elif expected == ANY:
                    pass
                elif expected == NOT_FOUND:
                    assert response.status_code == 404, where
                else:
                    assert response.status_code in (400, 404), where
                shown = body_text(response)
                assert not leaked(shown, b.markers(), typed), (
                    where,
                    leaked(shown, b.markers(), typed),
                )
                if endpoint == "admin.seal_check" and role in allowed:
                    assert "相符" not in shown.replace("不符", ""), where
    assert snapshot(store, b) == before  # nothing of B changed
    # What A's admin did went to A: the imported resident.
    names = store.fetch_all("SELECT name FROM residents WHERE compound_id = ?", (a.compound_id,))
    assert "孙阿丙" in {row[0] for row in names}


def test_the_notice_of_a_change_in_b_says_nothing_on_as_page(world):
    """The settings page's notice names a roster row; B's rows (B's guard has an id A's guard
    has too) are no change of A's, whoever types their address."""
    from sync.hub import roster_admin

    store, a, b = world
    b_store = store.scoped(b.compound_id)
    marks = [
        roster_admin.saved_mark(b_store, "guard", b.guard_id),
        roster_admin.saved_mark(b_store, "risk_area", b.risk_area),
    ]
    assert all(marks)
    client, _ = account_client(create_hub(store), a.accounts[0])
    for mark in marks:
        page = client.get("/admin/settings", query_string={"saved": mark})
        assert page.status_code == 200 and 'role="status"' not in page.get_data(as_text=True)


def test_the_same_home_in_two_compounds_is_no_duplicate(world):
    """Importing B's resident into A is a new resident of A: the import's duplicate count must
    not tell A's admin who lives in B."""
    from sync.hub import residents

    store, a, b = world
    view = store.scoped(a.compound_id)
    rows = f"楼栋,单元,房号,姓名,身份\n1,1,101,{b.residents[0]},业主\n"
    report = residents.import_residents(view, "住户.csv", rows.encode(), "admin-a")
    assert (report.imported, report.duplicates) == (1, 0)
    again = residents.import_residents(view, "住户.csv", rows.encode(), "admin-a")
    assert (again.imported, again.duplicates) == (0, 1)


def test_the_district_account_reads_both_and_writes_nothing(world):
    store, a, b = world
    app = create_hub(store)
    client, csrf = account_client(app, "district-h")
    first = client.get("/admin/dashboard").get_data(as_text=True)
    assert a.kiosk in first and b.kiosk not in first  # the first compound, picked by default
    assert a.name in first and b.name in first  # both in the picker
    assert (
        client.post(
            "/admin/compound",
            data={"csrf": csrf, "compound": str(b.compound_id), "next": "/admin/ledger"},
        ).status_code
        == 302
    )
    ledger = client.get("/admin/ledger").get_data(as_text=True)
    assert b.kiosk in ledger and a.kiosk not in ledger
    export = client.get("/admin/ledger.csv").get_data().decode("utf-8-sig")
    assert set(b.event_ids) <= set(re.findall(r"[0-9a-f-]{36}", export))
    assert not set(a.event_ids) & set(re.findall(r"[0-9a-f-]{36}", export))
    report = client.get("/admin/district").get_data(as_text=True)
    assert a.name in report and b.name in report and "远方小区" not in report
    csv_text = client.get("/admin/district.csv").get_data().decode("utf-8-sig")
    lines = [line.split(",") for line in csv_text.strip().splitlines()]
    assert lines[0][:6] == ["街道/社区", "小区", "日期", "通行", "拦截", "发热"]
    by_name = {line[1]: line for line in lines[1:]}
    assert set(by_name) == {a.name, b.name}
    for name in (a.name, b.name):
        # 3 entries, 1 fever blocked, acknowledged; the duty shift is on now, nobody signed on
        assert by_name[name][3:10] == ["3", "1", "1", "0", "1", "0", "0"], by_name[name]
    # Read-only: every change is refused.
    for path, form in (
        ("/admin/settings", {"action": "setting", "key": "screening.threshold_c", "value": "37.5"}),
        (f"/admin/fever/{b.fever_id}", {"state": "closed", "outcome": "negative"}),
        ("/admin/kiosks/enrol-code", {"kiosk_id": "gate-x"}),
        ("/admin/duty", {"action": "remove", "sid": str(b.shift_id)}),
    ):
        assert client.post(path, data={"csrf": csrf, **form}).status_code == 403, path
    for path in ("/admin/residents", "/admin/audit", "/admin/kiosks", "/admin/registers"):
        assert client.get(path).status_code == 403, path


def test_a_district_account_of_another_district_sees_neither(world):
    store, a, b = world
    app = create_hub(store)
    client, csrf = account_client(app, "district-y")
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    report = client.get("/admin/district.csv").get_data().decode("utf-8-sig")
    assert "远方小区" in report and a.name not in report and b.name not in report
    assert client.get("/admin/dashboard").status_code == 200  # its own compound's pages
    for endpoint, calls in admin_cases(store, a, b).items():
        if endpoint not in routes:
            continue
        for method, path, form, _ in calls:
            response = _send(client, csrf, method, path, form)
            shown = body_text(response)
            asked = path + " " + " ".join(str(v) for v in (form or {}).values())
            for tenant in (a, b):
                assert not leaked(shown, tenant.markers(), asked), (endpoint, path)


def test_a_compound_cannot_be_picked_by_a_stranger_nor_without_the_form_token(world):
    store, a, b = world
    app = create_hub(store)
    client, csrf = account_client(app, "admin-a")
    assert client.post("/admin/compound", data={"compound": str(a.compound_id)}).status_code == 403
    wrong = client.post("/admin/compound", data={"csrf": csrf, "compound": str(b.compound_id)})
    assert wrong.status_code == 404
    assert b.name not in wrong.get_data(as_text=True)
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert a.kiosk in page and b.kiosk not in page


def test_an_account_of_two_compounds_picks_one_at_a_time(world):
    from sync.hub.admins import create_admin

    store, a, b = world
    create_admin(store, "admin-ab", PASSWORD, "admin", [a.name, b.name])
    app = create_hub(store)
    client, csrf = account_client(app, "admin-ab")
    page = client.get("/admin/residents").get_data(as_text=True)
    assert a.residents[0] in page and b.residents[0] not in page
    assert 'class="compound-picker"' in page
    client.post("/admin/compound", data={"csrf": csrf, "compound": str(b.compound_id)})
    page = client.get("/admin/residents").get_data(as_text=True)
    assert b.residents[0] in page and a.residents[0] not in page


def test_a_form_of_a_page_shown_for_one_compound_is_not_saved_into_another(world):
    """Field trial: with 光明苑小区's settings page open in one tab and 幸福里小区 picked in a
    second, the threshold typed in the first went to 幸福里小区's gates."""
    from sync.hub import roster_admin
    from sync.hub.admins import create_admin

    store, a, b = world
    create_admin(store, "admin-ab", PASSWORD, "admin", [a.name, b.name])
    client, first_tab = account_client(create_hub(store), "admin-ab")  # a page of A
    second_tab = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/seal").text)[1]
    switched = client.post("/admin/compound", data={"csrf": second_tab, "compound": b.compound_id})
    assert switched.status_code == 302
    threshold = {"action": "setting", "key": "screening.threshold_c", "value": "38.5"}
    stale = client.post("/admin/settings", data={"csrf": first_tab, **threshold})
    assert stale.status_code == 409
    assert f"打开时显示的是“{a.name}”，现在已切换到“{b.name}”" in stale.text

    def threshold_of(compound):
        settings = roster_admin.current(store.scoped(compound.compound_id), "setting")
        return settings.get("screening.threshold_c", {}).get("value")

    assert threshold_of(a) != 38.5 and threshold_of(b) != 38.5  # nothing saved, in either
    # Switching back and signing out work from any page; a page of B saves into B.
    fresh = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/settings").text)[1]
    saved = client.post("/admin/settings", data={"csrf": fresh, **threshold})
    assert saved.status_code == 302
    assert threshold_of(b) == 38.5 and threshold_of(a) != 38.5
    # The notice names the compound the change went to (the account has two).
    assert f"{b.name} · 已保存：发热阈值" in client.get(saved.headers["Location"]).text
    back = client.post("/admin/compound", data={"csrf": first_tab, "compound": a.compound_id})
    assert back.status_code == 302
    assert client.post("/admin/logout", data={"csrf": fresh}).status_code == 302


def test_the_header_forms_of_an_error_page_work(world):
    """Review: the 409 page's own 切换 and 退出 were refused (its header carried the bare
    token), and so were those of a 404 page."""
    from sync.hub.admins import create_admin

    store, a, b = world
    create_admin(store, "admin-ab", PASSWORD, "admin", [a.name, b.name])
    app = create_hub(store)
    client, stale = account_client(app, "admin-ab")
    fresh = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/seal").text)[1]
    client.post("/admin/compound", data={"csrf": fresh, "compound": b.compound_id})
    threshold = {"action": "setting", "key": "screening.threshold_c", "value": "37.5"}
    conflict = client.post("/admin/settings", data={"csrf": stale, **threshold})
    assert conflict.status_code == 409 and "页面已过期" in conflict.text
    on_409 = re.search(r'name="csrf" value="([^"]+)"', conflict.text)[1]
    back = client.post("/admin/compound", data={"csrf": on_409, "compound": a.compound_id})
    assert back.status_code == 302
    missing = client.get("/admin/no-such-page")
    assert missing.status_code == 404
    on_404 = re.search(r'name="csrf" value="([^"]+)"', missing.text)[1]
    assert client.post("/admin/settings", data={"csrf": on_404, **threshold}).status_code == 403
    assert client.post("/admin/logout", data={"csrf": on_404}).status_code == 302
    assert client.get("/admin/settings").status_code == 302  # signed out: to the login page


def test_an_account_left_without_a_compound_can_still_sign_out(world):
    store, _, _ = world
    client, csrf = account_client(create_hub(store), "admin-a")
    store.execute("DELETE FROM account_compounds WHERE username = 'admin-a'")
    assert client.get("/admin/settings").status_code == 403
    assert client.post("/admin/logout", data={"csrf": csrf}).status_code == 302


def test_kiosk_and_reader_tokens_stay_in_their_compound(world):
    store, a, b = world
    app = create_hub(store)
    api = app.test_client()

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    roster = api.get("/api/v1/roster?since=0", headers=auth(a.kiosk_token)).get_data(as_text=True)
    assert a.guard_name in roster and a.place in roster and a.pass_codes[0] in roster
    assert not leaked(roster, b.markers(), "")
    held = api.post("/api/v1/held", json={"ids": b.event_ids}, headers=auth(a.kiosk_token))
    assert held.get_json() == {"held": []}
    point = api.get("/api/v1/checkpoint", headers=auth(a.kiosk_token)).get_json()
    assert point["kiosk_id"] == a.kiosk and sum(e["count"] for e in point["epochs"]) == 5
    ledger = api.get("/api/v1/ledger?since=0", headers=auth(a.reader_token)).get_json()
    assert {e["record"]["id"] for e in ledger["events"]} == set(a.event_ids)
    assert not leaked(str(ledger), b.markers(), "")
    # A record of B's gate sent with A's token is refused, and B's records are untouched.
    before = snapshot(store, b)
    forged = store.fetch_one("SELECT record FROM events WHERE id = ?", (b.event_ids[0],))[0]
    import json

    sent = api.post(
        "/api/v1/events", json={"records": [json.loads(forged)]}, headers=auth(a.kiosk_token)
    )
    assert sent.get_json()["results"][0]["status"] == "quarantined"
    assert snapshot(store, b) == before
    assert not leaked(api.get("/api/v1/openapi.json").get_data(as_text=True), b.markers(), "")
    # An enrolment code of A for B's gate cannot be made: B's gate and history stay B's.
    with pytest.raises(CompoundError, match="已有记录"):
        store.create_enrol_code(b.kiosk, compound=a.compound_id)
    # A gate id that B is installing (its code waits) cannot be taken from A's pages either.
    store.scoped(b.compound_id).create_enrol_code("gate-b8")
    with pytest.raises(CompoundError, match="其他小区"):
        store.scoped(a.compound_id).create_enrol_code("gate-b8")
    bad = api.post("/api/v1/enrol", json={"code": "AAAAAA-BBBBBB-CCCCCC"})
    assert bad.status_code == 403


def test_the_pass_sheets_hold_only_the_compounds_passes(world, tmp_path):
    """The PDF's text (pdftotext) and the printable sheet hold A's passes and nothing of B;
    the audit entry says how many cards."""
    from sync.hub.admins import audit_log
    from tests.hub_helpers import job_file
    from tests.scan import pdf_text

    store, a, b = world
    app = create_hub(store)
    client, csrf = account_client(app, "admin-a")
    sheet = client.get("/admin/passes/sheet").get_data(as_text=True)
    assert all(code in sheet for code in a.pass_codes)
    assert not leaked(sheet, b.markers(), "")
    pdf = job_file(client, client.post("/admin/passes/sheet.pdf", data={"csrf": csrf}))
    text = pdf_text(pdf, tmp_path)
    assert a.name in text and all(name in text for name in a.residents)
    assert not leaked(text, b.markers(), "")
    entries = audit_log(store.scoped(a.compound_id))
    printed = [e for e in entries if e["action"] == "passes.print_pdf"]
    assert printed[0]["detail"] == {"cards": len(a.pass_codes)}
    assert not [
        e for e in audit_log(store.scoped(b.compound_id)) if e["action"].startswith("passes.print")
    ]


def test_the_first_compound_takes_the_place_of_the_untouched_default(hub_store):
    from sync.hub import compounds

    [default] = compounds.all_compounds(hub_store)
    made = compounds.create(hub_store, "光明苑小区", "和平街道")
    assert made.compound_id == default.compound_id
    assert compounds.all_compounds(hub_store) == [made]
    compounds.create(hub_store, "幸福里小区")
    assert len(compounds.all_compounds(hub_store)) == 2


def test_a_default_compound_with_anything_in_it_stays(hub_store):
    from sync.hub import compounds

    hub_store.create_enrol_code("gate-1")
    compounds.create(hub_store, "光明苑小区")
    assert [c.name for c in compounds.all_compounds(hub_store)] == ["默认小区", "光明苑小区"]


def test_retention_keeps_each_compounds_latest_roster_row(hub_store):
    """Another compound's newer row of the same key (a setting both set) is not a newer
    version of this compound's: the purge of superseded roster rows must keep it."""
    from sync.hub import compounds
    from sync.hub.retention import purge

    a = compounds.by_name(hub_store, "默认小区").compound_id
    hub_store.scoped(a).roster_put("setting", "screening.threshold_c", {"value": 37.2})
    b = compounds.create(hub_store, "光明苑小区").compound_id
    hub_store.scoped(b).roster_put("setting", "screening.threshold_c", {"value": 37.4})
    with hub_store.transaction():
        hub_store.execute("UPDATE roster SET changed_at = '2020-01-01T00:00:00+00:00'")
    purge(hub_store, 28)
    kept = {int(r[0]): r[1] for r in hub_store.fetch_all("SELECT compound_id, data FROM roster")}
    assert kept == {a: '{"value": 37.2}', b: '{"value": 37.4}'}

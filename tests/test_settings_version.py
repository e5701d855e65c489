"""The kiosk reports the settings version it runs; the hub compares it, per gate, with its
compound's current one (docs/sync-protocol.md, 设置版本).

Field trial: the hub set 发热阈值 38.0, then 恢复门岗默认, and nobody could tell from the hub
whether a gate had taken the change. Every hub test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import re

import pytest
import requests

from kiosk.background_server import BackgroundServer
from kiosk.roster import apply_changes
from sync.hub import compounds, roster_admin
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from sync.hub.settings_version import gate_settings, judge, version_at
from sync.localtime import zone
from tests.hub_helpers import PASSWORD, signed_in
from tests.sync_fixtures import (
    Faults,
    RunningHub,
    add_records,
    drain,
    enrolled_client,
    free_port,
    make_ledger,
)

BEIJING = zone("Asia/Shanghai")
THRESHOLD = "screening.threshold_c"


def kiosk_row(store, kiosk_id="gate-1"):
    return store.fetch_one(
        "SELECT settings_version, settings_reported_at FROM kiosks WHERE kiosk_id = ?",
        (kiosk_id,),
    )


def state_of(store, kiosk_id="gate-1"):
    return gate_settings(store, BEIJING)[kiosk_id]


@pytest.fixture
def kiosk(hub, tmp_path):
    """An enrolled kiosk whose roster changes are applied to its ledger, as the worker does."""
    ledger = make_ledger(tmp_path / "k.sqlite3")
    client = enrolled_client(hub.start(), ledger, on_roster=lambda c: apply_changes(ledger, c))
    return client


def test_the_hub_sees_each_gate_take_a_setting_and_its_reset(hub, kiosk):
    store = hub.store
    drain(kiosk)
    assert kiosk.state.settings_version == 0  # the hub never sent a setting
    assert (state_of(store).state, state_of(store).runs) == ("current", 0)
    assert "设置已生效（版本 0" in state_of(store).words

    store.roster_put("pass", "H1", {"code": "H1", "revoked": 0})  # not a setting
    set_at = store.roster_put("setting", THRESHOLD, {"value": 38.0})
    behind = state_of(store)
    assert (behind.state, behind.runs, behind.current) == ("behind", 0, set_at)
    assert behind.words.startswith(f"设置待生效：门岗仍在用版本 0，本小区当前为版本 {set_at}")

    kiosk.cycle()  # one round: the page is applied and the new version reported at once
    assert kiosk.state.settings_version == set_at
    assert kiosk_row(store)[0] == set_at
    assert state_of(store).state == "current"
    assert state_of(store).words.startswith(f"设置已生效（版本 {set_at}，")

    store.roster_put("pass", "H2", {"code": "H2", "revoked": 0})
    reset_at = store.roster_put("setting", THRESHOLD, None)  # 恢复门岗默认
    assert state_of(store).state == "behind"
    kiosk.cycle()
    assert kiosk.state.settings_version == reset_at > set_at
    assert (state_of(store).state, state_of(store).runs) == ("current", reset_at)
    # A later change that is not a setting leaves the settings version where it is.
    store.roster_put("pass", "H3", {"code": "H3", "revoked": 0})
    kiosk.cycle()
    assert kiosk.state.settings_version == reset_at
    assert state_of(store).state == "current"


def test_every_batch_carries_the_version_too(hub, kiosk):
    store = hub.store
    set_at = store.roster_put("setting", THRESHOLD, {"value": 37.6})
    drain(kiosk)
    with store.transaction():
        store.execute("UPDATE kiosks SET settings_version = NULL, settings_reported_at = NULL")
    add_records(kiosk.outbox, 3)  # type: ignore[arg-type]
    assert kiosk.push_batch() is False  # a batch alone, no roster pull
    version, reported_at = kiosk_row(store)
    assert version == set_at and reported_at is not None


def test_the_version_outlives_a_restart_of_the_kiosk(hub, kiosk):
    store = hub.store
    set_at = store.roster_put("setting", THRESHOLD, {"value": 37.6})
    drain(kiosk)
    again = type(kiosk)(kiosk.outbox, kiosk.hub_url, "unused")
    assert again.state.settings_version == set_at


def token_for(store, kiosk_id="gate-9"):
    enrolled = store.enrol(store.create_enrol_code(kiosk_id))
    return {"Authorization": f"Bearer {enrolled[1]}"}


def test_a_kiosk_from_before_the_report_is_unknown_never_current(hub):
    """An old kiosk sends neither field: its gate says 设置版本未知, even with no setting to
    run (it might still apply a reset setting of old: the very bug of the field trial)."""
    store = hub.start().store
    headers = token_for(store)
    url = f"{hub.url}/api/v1"
    answer = requests.get(f"{url}/roster", params={"since": 0}, headers=headers, timeout=5)
    assert answer.status_code == 200 and answer.json()["settings_version"] == 0
    posted = requests.post(f"{url}/events", json={"records": []}, headers=headers, timeout=5)
    assert posted.status_code == 200
    gate = state_of(store, "gate-9")
    assert (gate.state, gate.runs) == ("unknown", None)
    assert gate.words.startswith("设置版本未知：该门岗未报告所用设置")
    assert kiosk_row(store, "gate-9") == (None, None)
    # A report, then an old-style request (or null): what was reported stays, not erased.
    requests.get(
        f"{url}/roster", params={"since": 0, "settings_version": 0}, headers=headers, timeout=5
    )
    requests.post(
        f"{url}/events", json={"records": [], "settings_version": None}, headers=headers, timeout=5
    )
    requests.get(f"{url}/roster", params={"since": 0}, headers=headers, timeout=5)
    assert state_of(store, "gate-9").state == "current"


@pytest.mark.parametrize("bad", [-1, "3", True, 1.5, 2**63])
def test_a_version_that_is_no_version_is_refused(hub, bad):
    store = hub.start().store
    headers = token_for(store)
    url = f"{hub.url}/api/v1"
    posted = requests.post(
        f"{url}/events", json={"records": [], "settings_version": bad}, headers=headers, timeout=5
    )
    assert posted.status_code == 400
    if not isinstance(bad, str):
        pulled = requests.get(
            f"{url}/roster",
            params={"since": 0, "settings_version": bad},
            headers=headers,
            timeout=5,
        )
        assert pulled.status_code == 400
    assert kiosk_row(store, "gate-9") == (None, None)


def test_the_version_at_a_roster_version_is_the_newest_setting_change_up_to_it(hub):
    store = hub.store
    token_for(store, "gate-1")
    first = store.roster_put("setting", THRESHOLD, {"value": 37.5})
    pass_at = store.roster_put("pass", "H1", {"code": "H1", "revoked": 0})
    second = store.roster_put("setting", "kiosk.identify", {"value": "off"})
    assert version_at(store, "gate-1", 0) == 0
    assert version_at(store, "gate-1", first) == first
    assert version_at(store, "gate-1", pass_at) == first
    assert version_at(store, "gate-1", second + 10) == second
    # Another compound's settings are not this gate's.
    other = compounds.create(store, "光明苑小区")
    b = store.scoped(other.compound_id)
    b.enrol(b.create_enrol_code("gate-b"))
    later = b.roster_put("setting", THRESHOLD, {"value": 38.0})
    assert version_at(store, "gate-1", later) == second
    assert version_at(store, "gate-b", later) == later
    assert version_at(store, "gate-b", second) == 0


def test_a_gate_is_judged_against_its_own_compound(hub, tmp_path):
    store = hub.store
    token_for(store, "gate-1")
    first = store.roster_put("setting", THRESHOLD, {"value": 37.5})
    with store.transaction():
        store.execute("UPDATE kiosks SET settings_version = ?", (first,))
    other = compounds.create(store, "光明苑小区")
    b = store.scoped(other.compound_id)
    b.enrol(b.create_enrol_code("gate-b"))
    b.roster_put("setting", THRESHOLD, {"value": 38.0})
    a = store.scoped(compounds.by_name(store, "默认小区").compound_id)
    assert set(gate_settings(a, BEIJING)) == {"gate-1"}
    assert gate_settings(a, BEIJING)["gate-1"].state == "current"
    assert gate_settings(b, BEIJING)["gate-b"].state == "unknown"


def test_the_words_say_the_version_and_the_time_in_beijing():
    at = "2026-12-06T08:00:05+00:00"
    current = judge("g", 12, 12, at, at, BEIJING)
    assert current.words == "设置已生效（版本 12，2026-12-06 16:00:05）"
    behind = judge("g", 9, 12, at, at, BEIJING)
    assert behind.state == "behind"
    assert behind.words == (
        "设置待生效：门岗仍在用版本 9，本小区当前为版本 12；"
        "门岗最近报告于 2026-12-06 16:00:05，下次同步后生效"
    )
    ahead = judge("g", 14, 12, at, at, BEIJING)
    assert ahead.state == "behind" and "比本小区当前版本 12 新" in ahead.words
    unknown = judge("g", None, 12, None, None, BEIJING)
    assert unknown.state == "unknown" and unknown.words.endswith("最近联系 从未联系")
    assert not re.search(r"[A-Za-z_]{4,}", current.words + behind.words + unknown.words)


@pytest.fixture
def admin_app(hub_store):
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    return create_hub(hub_store)


def test_the_gates_page_shows_each_gate_current_or_behind(admin_app, hub_store):
    client, _ = signed_in(admin_app, "admin")
    for gate in ("gate-1", "gate-2", "gate-3"):
        token_for(hub_store, gate)
    set_at = hub_store.roster_put("setting", THRESHOLD, {"value": 38.0})
    with hub_store.transaction():
        hub_store.execute(
            "UPDATE kiosks SET settings_version = ?, settings_reported_at = ?, last_seen = ?"
            " WHERE kiosk_id = 'gate-1'",
            (set_at, "2026-12-06T02:30:00+00:00", "2026-12-06T02:30:00+00:00"),
        )
        hub_store.execute(
            "UPDATE kiosks SET settings_version = 0, settings_reported_at = ?, last_seen = ?"
            " WHERE kiosk_id = 'gate-2'",
            ("2026-12-05T23:00:00+00:00", "2026-12-05T23:00:00+00:00"),
        )
    page = client.get("/admin/kiosks").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-gate="([^"]+)">(.*?)</tr>', page, re.S))
    assert f"设置已生效（版本 {set_at}，2026-12-06 10:30:00）" in rows["gate-1"]
    assert "设置待生效：门岗仍在用版本 0" in rows["gate-2"]
    assert "门岗最近报告于 2026-12-06 07:00:00" in rows["gate-2"]
    assert "设置版本未知" in rows["gate-3"]
    assert f"本小区当前设置版本 Settings version: <strong>{set_at}</strong>" in page


def pass_rule_after(admin_app, client, csrf, key=None, value=None):
    if key is not None:
        answer = client.post(
            "/admin/settings",
            data={"csrf": csrf, "action": "setting", "key": key, "value": value},
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)
    page = client.get("/admin/settings").get_data(as_text=True)
    return re.search(r'<p id="pass-rule"><strong>([^<]+)</strong>', page).group(1)


def test_the_settings_page_says_plainly_when_passes_are_not_required(admin_app, hub_store):
    client, csrf = signed_in(admin_app, "admin")
    line = pass_rule_after(admin_app, client, csrf)
    assert line.startswith("本小区门岗不要求出示通行码：未出示者只测温放行")
    assert "门岗默认值" in line  # neither set by the hub: the kiosks' own files may differ
    line = pass_rule_after(admin_app, client, csrf, "kiosk.identify", "先测温后验码")
    assert line.startswith("本小区门岗不要求出示通行码：未出示者只测温放行")
    line = pass_rule_after(admin_app, client, csrf, "kiosk.identify_required", "否")
    assert line == "本小区门岗不要求出示通行码：未出示者只测温放行（有通行码的住户可出示）"
    line = pass_rule_after(admin_app, client, csrf, "kiosk.identify", "不验码，只测温")
    assert line == "本小区门岗不收通行码：所有人只测温，体温正常即放行"
    line = pass_rule_after(admin_app, client, csrf, "kiosk.identify", "先验码后测温")
    line = pass_rule_after(admin_app, client, csrf, "kiosk.identify_required", "是")
    assert line.startswith("本小区门岗要求出示通行码：没有有效通行码者不放行")
    assert roster_admin.pass_rule(hub_store) == line


class OldHub:
    """The hub as it was before the settings version: its roster answer says none. Notes the
    query of every roster pull."""

    def __init__(self, app) -> None:
        self.app = app
        self.pulls: list[str] = []

    def __call__(self, environ, start_response):
        if not environ["PATH_INFO"].endswith("/roster"):
            return self.app(environ, start_response)
        self.pulls.append(environ.get("QUERY_STRING", ""))
        answered: list = []
        body = b"".join(self.app(environ, lambda *given: answered.extend(given)))
        answer = json.loads(body)
        answer.pop("settings_version", None)
        body = json.dumps(answer).encode()
        headers = [(k, v) for k, v in answered[1] if k.lower() != "content-length"]
        start_response(answered[0], [*headers, ("Content-Length", str(len(body)))])
        return [body]


def test_with_a_hub_from_before_the_version_the_kiosk_says_none(hub_store, tmp_path):
    old = OldHub(create_hub(hub_store))
    port = free_port()
    server = BackgroundServer(old, host="127.0.0.1", port=port, threads=2).start()
    try:
        hub = RunningHub(hub_store, port, Faults())
        hub_store.roster_put("setting", THRESHOLD, {"value": 37.6})
        ledger = make_ledger(tmp_path / "k.sqlite3", records=2)
        client = enrolled_client(hub, ledger, on_roster=lambda c: apply_changes(ledger, c))
        drain(client)
        drain(client)
    finally:
        server.stop()
    assert client.state.settings_version is None
    assert old.pulls and not any("settings_version" in query for query in old.pulls)
    assert kiosk_row(hub_store) == (None, None)
    assert apply_changes(ledger, []) == {THRESHOLD: 37.6}  # the settings themselves arrived

"""Local time on the hub: the ledger, its filters and exports, the dashboard's today and the
follow-ups are in the hub's zone (Asia/Shanghai by default), formatted for people; codes are
words; error pages are in Chinese."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from unittest import mock

import pytest

from kiosk import clock
from kiosk.ledger import Ledger
from sync.hub import labels
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from tests.hub_helpers import PASSWORD, signed_in
from tests.sync_fixtures import drain, enrolled_client

NIGHT_UTC = "2026-11-28T17:30:00.000000+00:00"  # 2026-11-29 01:30 in Beijing


def at(stamp: str):
    return mock.patch.object(clock, "now", lambda: clock.ClockFacts(stamp, True, "b", 1))


@pytest.fixture
def night(hub, tmp_path):
    ledger = Ledger(tmp_path / "k.sqlite3", "east-gate")
    with at(NIGHT_UTC):
        ledger.append("screening", verdict="blocked", reason="fever", estimate_c=38.4)
    with at("2026-11-28T15:59:59.000000+00:00"):  # 23:59:59 on the 28th in Beijing
        ledger.append("screening", verdict="admitted", estimate_c=36.5)
    ledger.append("screening", verdict="admitted", estimate_c=36.6)  # now
    drain(enrolled_client(hub.start(), ledger))
    return ledger


def admin_client(hub_store, **kwargs):
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    return signed_in(create_hub(hub_store, **kwargs), "admin")[0]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_a_night_event_is_on_the_beijing_day_in_page_and_exports(hub_store, night):
    client = admin_client(hub_store)
    page = client.get("/admin/ledger?day_from=2026-11-29&day_to=2026-11-29").get_data(True)
    assert (
        "2026-11-29" in page and "01:30:00" in page and "17:30:00" not in page
    )  # (the night event in UTC; "now" may be 17:30 too)
    assert "拦截" in page and "体温异常" in page  # words, not "blocked" / "fever"
    rows = csv_rows(client.get("/admin/ledger.csv?day_from=2026-11-29&day_to=2026-11-29"))
    assert ("2026-11-29", "01:30:00", "拦截") in [(r[2], r[3], r[6]) for r in rows[1:]]
    assert {r[2] for r in rows[1:]} == {"2026-11-29"}
    previous = csv_rows(client.get("/admin/ledger.csv?day_from=2026-11-28&day_to=2026-11-28"))
    assert [(r[2], r[3]) for r in previous[1:]] == [("2026-11-28", "23:59:59")]
    from openpyxl import load_workbook

    xlsx = client.get("/admin/ledger.xlsx?day_from=2026-11-29&day_to=2026-11-29").get_data()
    values = list(load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True))
    assert ("2026-11-29", "01:30:00") in [(r[2], r[3]) for r in values[2:]]
    assert {r[2] for r in values[2:]} == {"2026-11-29"}


def test_the_hub_zone_is_a_setting(hub_store, night):
    client = admin_client(hub_store, timezone="UTC")
    rows = csv_rows(client.get("/admin/ledger.csv?day_from=2026-11-28&day_to=2026-11-28"))
    assert ("2026-11-28", "17:30:00") in [(r[2], r[3]) for r in rows[1:]]
    with pytest.raises(ValueError, match="未知的时区"):
        create_hub(hub_store, timezone="Mars/Olympus")


def test_the_hub_commands_print_in_the_hubs_zone(hub_store, night, monkeypatch):
    from click.testing import CliRunner

    from sync.hub.cli import main

    runner = CliRunner()
    beijing = runner.invoke(main, ["tail", "--db", hub_store.url, "--last", "3"])
    assert beijing.exit_code == 0, beijing.output
    assert "2026-11-29 01:30:00" in beijing.output and "17:30:00" not in beijing.output
    monkeypatch.setenv("MENWEI_HUB_TZ", "UTC")  # the same setting `hub serve` reads
    utc = runner.invoke(main, ["tail", "--db", hub_store.url, "--last", "3"])
    assert "2026-11-28 17:30:00" in utc.output and "01:30:00" not in utc.output
    hub_store.create_reader("street-office")
    listed = runner.invoke(main, ["readers", "--db", hub_store.url, "--timezone", "UTC"])
    made = hub_store.readers()[0]["created_at"]  # stored in UTC: printed as it is in UTC
    assert made[:16].replace("T", " ") in listed.output, listed.output
    wrong = runner.invoke(main, ["readers", "--db", hub_store.url, "--timezone", "Mars/Olympus"])
    assert wrong.exit_code != 0 and "未知的时区" in wrong.output


def test_the_dashboards_today_finds_todays_events_in_the_ledger(hub_store, night):
    client = admin_client(hub_store)
    dashboard = client.get("/admin/dashboard").get_data(as_text=True)
    today = datetime.now(UTC).astimezone(labels_zone()).date().isoformat()
    assert f'<span id="today-date">{today}</span>' in dashboard
    link = dashboard.split('id="today-ledger" href="')[1].split('"')[0].replace("&amp;", "&")
    rows = csv_rows(client.get(link.replace("/admin/ledger?", "/admin/ledger.csv?")))
    dates = [r[2] for r in rows[1:]]
    assert today in dates and set(dates) == {today}  # the event recorded now, and only today's
    assert "2026-11-29 01:30:00" in dashboard  # the fever list, local, formatted for people
    assert "T17:30" not in dashboard and "(UTC)" not in dashboard


def labels_zone():
    from sync.localtime import zone

    return zone("Asia/Shanghai")


@pytest.mark.parametrize(("typed", "code"), [("拦截", "blocked"), ("拦截 blocked", "blocked")])
def test_the_result_filter_takes_the_words(hub_store, night, typed, code):
    client = admin_client(hub_store)
    rows = csv_rows(client.get(f"/admin/ledger.csv?verdict={typed}"))
    assert [r[6] for r in rows[1:]] == ["拦截"]  # only the fever, of three events
    assert labels.code_for(typed) == code


def test_a_bad_filter_is_explained_in_chinese(hub_store, night):
    client = admin_client(hub_store)
    response = client.get("/admin/ledger?day_from=29.11.2026")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "请按 2026-11-28 的格式填写" in text and "Bad Request" not in text
    response = client.get("/admin/ledger?verdict=whatever")
    assert response.status_code == 400 and "请选用" in response.get_data(as_text=True)
    missing = client.get("/admin/nothing-here")
    assert missing.status_code == 404 and "找不到" in missing.get_data(as_text=True)


def test_every_label_is_chinese():
    for code, word in labels.LABELS.items():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in word), code
    assert labels.zh("home_isolation") == "居家隔离" and labels.zh("not-a-code") == "not-a-code"


def test_every_reason_a_kiosk_records_has_a_word():
    """Field trial: the hub's ledger showed 上下岗 | 通行码无效 | fever_today for a barred guard's
    retry, and SensorNotRespondingError / frozen for sensor faults."""
    import drivers.errors
    from kiosk import liveness

    errors = [
        name
        for name, value in vars(drivers.errors).items()
        if isinstance(value, type)
        and issubclass(value, drivers.errors.SensorError)
        and value is not drivers.errors.SensorError
    ]
    problems = [liveness.FROZEN, liveness.AMBIENT_RANGE, liveness.AMBIENT_JUMP]
    for code in [*errors, *problems, "fever_today"]:
        assert code in labels.LABELS, code
    assert labels.zh("refused", "shift") == "拒绝上岗"
    assert labels.zh("blocked", "shift") == "体温异常，不能上岗"
    assert labels.zh("refused", "identify") == "通行码无效"  # a pass keeps its word


def test_the_audit_names_registers_in_words():
    from sync.hub import audit_words
    from sync.localtime import zone

    words = audit_words.detail_words({"register": "staff_health"}, zone("Asia/Shanghai"))
    assert words == "登记表：员工健康登记表"
    assert "全部登记表" in audit_words.detail_words({"register": "all"}, zone("Asia/Shanghai"))


def test_a_refused_form_is_a_chinese_page_that_says_what_to_do(hub_store, night):
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    client, csrf = signed_in(create_hub(hub_store), "admin")
    response = client.post("/admin/fever/nope", data={"csrf": csrf, "state": "acknowledged"})
    text = response.get_data(as_text=True)
    assert response.status_code == 404 and "中心没有这条发热记录：请刷新概览页面" in text
    assert "找不到页面" in text and "Not Found" not in text
    days = client.post("/admin/passes/issue", data={"csrf": csrf, "days": "9999"})
    text = days.get_data(as_text=True)
    assert days.status_code == 400 and "1 到 730" in text
    assert "填写有误" in text and "Bad Request" not in text


def test_records_keep_utc_and_the_gates_offset(hub, hub_store, tmp_path):
    """The record's time stays UTC; the kiosk's offset at that moment travels with it, in the
    chain, and the ledger export says what the gate's clock showed."""
    from sync.localtime import zone

    beijing = Ledger(tmp_path / "b.sqlite3", "east-gate", zone("Asia/Shanghai"))
    with at(NIGHT_UTC):
        event = beijing.append("screening", verdict="admitted", estimate_c=36.5)
    assert event["wall_time"] == NIGHT_UTC and event["utc_offset_min"] == 480
    drain(enrolled_client(hub.start(), beijing))
    client = admin_client(hub_store)
    rows = csv_rows(client.get("/admin/ledger.csv?day_from=2026-11-29&day_to=2026-11-29"))
    assert rows[0][-1] == "门岗时区 Gate's zone"
    assert [(r[3], r[-1]) for r in rows[1:]] == [("01:30:00", "UTC+08:00")]
    [stored] = hub_store.fetch_all("SELECT record FROM events")
    assert '"utc_offset_min": 480' in stored[0] or '"utc_offset_min":480' in stored[0]
    # A gate keeping UTC (the setting kiosk.timezone) says so.
    utc_gate = Ledger(tmp_path / "u.sqlite3", "west-gate", zone("UTC"))
    assert utc_gate.append("screening", verdict="admitted")["utc_offset_min"] == 0


def test_the_audit_log_reads_in_words_and_local_time(hub_store, night):
    """Found in a field trial: the audit page showed duty.add {'ends_at': '…+00:00'}."""
    from sync.hub.admins import audit

    client = admin_client(hub_store)
    client.get("/admin/ledger.csv?day_from=2026-11-29&day_to=2026-11-29")
    with hub_store.transaction():
        audit(
            hub_store,
            "admin",
            "duty.add",
            {"person": "g1", "gate": "east-gate", "ends_at": "2026-11-29T15:00:00+00:00"},
        )
        audit(hub_store, None, "sign_in.bad_password", {"source": "127.0.0.1"})
        audit(hub_store, "admin", "some.new_action", {"role": "admin"})
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "导出台账（CSV）" in page and "起始日期：2026-11-29" in page
    assert "排班" in page and "结束：2026-11-29 23:00:00" in page and "+00:00" not in page
    assert "登录失败（" in page
    assert "some.new_action" in page  # a code without words is shown, never hidden
    assert "duty.add" not in page and "export.csv" not in page and "{&#39;" not in page


def test_a_retention_run_and_a_guard_read_in_words_in_the_audit(hub_store):
    """Seen in the demo's `hub audit`: a retention run listed audit_days, cutoff, events … and a
    guard its gates, as codes."""
    from sync.hub import retention, roster_admin

    hub_store.create_enrol_code("east-gate")
    roster_admin.set_guard(hub_store, "g1", "张三", "246813", "boss", ["east-gate"])
    retention.purge(hub_store, 28, audit_days=180)
    client = admin_client(hub_store)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "门岗：east-gate" in page and "审计保留天数：180" in page and "清理截止：" in page
    for code in ("audit_days", "cutoff", "roster_history", "quarantine_register", "gates："):
        assert code not in page, code


def test_every_setting_a_hub_sends_has_chinese_words():
    """The settings page showed ``screening.threshold_c = 37.2``: a code, not a word."""
    from sync.contract import HUB_SETTINGS

    assert set(labels.SETTING_NAMES) == set(HUB_SETTINGS)
    for key, setting in HUB_SETTINGS.items():
        for choice in setting.choices or ():
            assert (key, choice) in labels.SETTING_CHOICES, (key, choice)
            word = labels.SETTING_CHOICES[(key, choice)]
            assert labels.setting_code(key, word) == choice
        assert labels.setting_allowed(key)
    assert labels.setting_value("kiosk.identify", "off") == "不验码，只测温 off"
    assert labels.setting_allowed("kiosk.retention_days") == "1 至 365 的整数"

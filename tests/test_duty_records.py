"""Duty records on the hub: the schedule and 漏岗, disinfection against the plan, supplies and
the reserve rule; bad input is refused in Chinese and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from kiosk import clock
from kiosk.ledger import Ledger
from sync.hub import disinfection, duty, roster_admin, supplies
from sync.localtime import zone
from tests.sync_fixtures import drain, enrolled_client

CHINA = zone("Asia/Shanghai")


def at(stamp: str):
    """The kiosk's clock at a UTC time (not synchronised: the hub accepts a past time)."""
    return mock.patch.object(clock, "now", lambda: clock.ClockFacts(stamp, False, "b", 1))


def sign(ledger: Ledger, stamp: str, verdict: str, guard_id: str = "g1", **extra) -> None:
    with at(stamp):
        ledger.append(
            "shift",
            verdict=verdict,
            detail={"guard_id": guard_id, "name": "张三", **extra},
            **({"estimate_c": 36.6, "threshold_c": 37.3} if verdict != "off" else {}),
        )


@pytest.fixture
def staff(hub_store):
    for gate in ("east-gate", "west-gate"):
        hub_store.create_enrol_code(gate)  # gates being installed: shifts may be put on them
    roster_admin.set_guard(hub_store, "g1", "张三", "246813", "boss", ["east-gate"])
    roster_admin.set_guard(hub_store, "g2", "李四", "135792", "boss", ["east-gate"])
    return hub_store


def count(store, table: str) -> int:
    return int(store.fetch_one(f"SELECT count(*) FROM {table}")[0])


# -- the schedule and 漏岗 -----------------------------------------------------------------


def test_a_shift_is_entered_in_local_time_and_kept_in_utc(staff):
    duty.add_shift(staff, "g1", "east-gate", "2026-11-30 08:00", "2026-11-30 16:00", CHINA, "boss")
    [shift] = duty.shifts_between(staff, "2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00")
    assert (shift.name, shift.starts_at, shift.ends_at) == (
        "张三",
        "2026-11-30T00:00:00+00:00",
        "2026-11-30T08:00:00+00:00",
    )
    days = duty.week(staff, datetime(2026, 11, 30).date(), CHINA)
    assert len(days) == 7 and [len(shifts) for _, shifts in days] == [1, 0, 0, 0, 0, 0, 0]


def test_a_shift_overlapping_the_same_persons_shift_is_refused_and_nothing_stored(staff):
    duty.add_shift(staff, "g1", "east-gate", "2026-11-30 08:00", "2026-11-30 16:00", CHINA, "boss")
    with pytest.raises(duty.DutyError, match="同一人的班次不能重叠") as caught:
        duty.add_shift(staff, "g1", "west-gate", "2026-11-30 15:00", "2026-11-30 20:00", CHINA, "b")
    assert "11-30 08:00–11-30 16:00" in str(caught.value)
    assert count(staff, "duty_shifts") == 1
    # Back to back is not an overlap, and another person may share the hours.
    duty.add_shift(staff, "g1", "east-gate", "2026-11-30 16:00", "2026-11-30 23:00", CHINA, "boss")
    duty.add_shift(staff, "g2", "east-gate", "2026-11-30 08:00", "2026-11-30 16:00", CHINA, "boss")
    assert count(staff, "duty_shifts") == 3


@pytest.mark.parametrize(
    ("person", "starts", "ends", "words"),
    [
        ("nobody", "2026-11-30 08:00", "2026-11-30 16:00", "请先在“设置”里添加"),
        ("g1", "2026-11-30 16:00", "2026-11-30 08:00", "结束时间须晚于开始时间"),
        ("g1", "30/11/2026", "2026-11-30 08:00", "请按 2026-11-29 08:00 的格式填写"),
        ("g1", "2026-11-30 08:00", "2026-12-02 08:00", "最长 24 小时"),
        ("g1", "0001-01-01 01:00", "0001-01-01 08:00", "超出范围"),  # found in a field trial
        ("g1", "9999-12-31 08:00", "9999-12-31 16:00", "超出范围"),
    ],
)
def test_bad_shifts_get_a_chinese_error_and_store_nothing(staff, person, starts, ends, words):
    with pytest.raises(duty.DutyError, match=words):
        duty.add_shift(staff, person, "east-gate", starts, ends, CHINA, "boss")
    assert count(staff, "duty_shifts") == 0


def test_a_staffed_gate_with_nobody_on_past_the_grace_period_is_flagged(staff, hub, tmp_path):
    # Scheduled 08:00–16:00 Beijing = 00:00–08:00 UTC. 张三 signs on at 08:02, off at 11:00.
    duty.add_shift(staff, "g1", "east-gate", "2026-11-20 08:00", "2026-11-20 16:00", CHINA, "boss")
    ledger = Ledger(tmp_path / "k.sqlite3", "east-gate")
    sign(ledger, "2026-11-20T00:02:00+00:00", "on")
    sign(ledger, "2026-11-20T03:00:00+00:00", "off")
    drain(enrolled_client(hub.start(), ledger))

    def findings(utc: str) -> list[duty.Unmanned]:
        return duty.unmanned(staff, datetime.fromisoformat(utc), grace_min=15)

    assert findings("2026-11-20T00:10:00+00:00") == []  # on duty
    assert findings("2026-11-20T03:14:00+00:00") == []  # 14 minutes: a change of shift
    [found] = findings("2026-11-20T03:16:00+00:00")
    assert (found.gate, found.since, found.minutes, found.scheduled) == (
        "east-gate",
        "2026-11-20T03:00:00+00:00",
        16,
        ["张三"],
    )
    assert findings("2026-11-20T08:30:00+00:00") == []  # the schedule has nobody there now


def test_a_gate_nobody_signed_on_to_is_flagged_from_the_shifts_start(staff):
    duty.add_shift(staff, "g1", "east-gate", "2026-11-20 08:00", "2026-11-20 16:00", CHINA, "boss")
    [found] = duty.unmanned(staff, datetime(2026, 11, 20, 0, 30, tzinfo=UTC))
    assert (found.since, found.minutes) == ("2026-11-20T00:00:00+00:00", 30)


def test_a_staff_fever_at_sign_on_does_not_staff_the_gate_and_is_listed(staff, hub, tmp_path):
    duty.add_shift(staff, "g1", "east-gate", "2026-11-20 08:00", "2026-11-20 16:00", CHINA, "boss")
    ledger = Ledger(tmp_path / "k.sqlite3", "east-gate")
    now = datetime.now(UTC) - timedelta(minutes=5)
    sign(ledger, now.isoformat(), "blocked")
    drain(enrolled_client(hub.start(), ledger))
    [fever] = duty.staff_fevers(staff)
    assert (fever["kiosk_id"], fever["detail_"]["name"], fever["verdict"]) == (
        "east-gate",
        "张三",
        "blocked",
    )
    assert duty.signed_on(duty.shift_events(staff, "2000", "9999")) == {}


# -- disinfection --------------------------------------------------------------------------


def test_overdue_rounds_are_flagged_at_the_right_local_time(staff):
    disinfection.set_place(staff, "电梯轿厢", 2, "boss")  # due by 14:00 and 21:00 Beijing
    disinfection.set_place(staff, "地库", 1, "boss")  # due by 21:00

    def status(utc: str) -> dict[str, disinfection.PlaceStatus]:
        now = datetime.fromisoformat(utc)
        return {s.name: s for s in disinfection.plan_status(staff, CHINA, now)}

    # 13:59 Beijing is 05:59 UTC: nothing due yet (UTC would already say the day is half gone).
    assert not status("2026-11-20T05:59:00+00:00")["电梯轿厢"].overdue
    late = status("2026-11-20T06:01:00+00:00")
    assert late["电梯轿厢"].overdue and not late["地库"].overdue
    assert late["电梯轿厢"].next_due == datetime(2026, 11, 20, 14, 0, tzinfo=CHINA)
    disinfection.log_round(
        staff,
        "电梯轿厢",
        "含氯消毒液",
        "2026-11-20 14:05",
        CHINA,
        "boss",
        now=datetime(2026, 11, 20, 6, 10, tzinfo=UTC),
    )
    done = status("2026-11-20T06:10:00+00:00")["电梯轿厢"]
    assert (done.done, done.overdue) == (1, False)
    assert done.next_due == datetime(2026, 11, 20, 21, 0, tzinfo=CHINA)
    # The next local day starts at 00:00 Beijing, 16:00 UTC: its count starts again.
    assert status("2026-11-20T16:01:00+00:00")["电梯轿厢"].done == 0


def test_a_round_from_the_kiosk_counts_with_the_gate_and_the_person(staff, hub, tmp_path):
    disinfection.set_place(staff, "垃圾箱", 3, "boss")
    ledger = Ledger(tmp_path / "k.sqlite3", "east-gate")
    with at("2026-11-20T01:30:00+00:00"):
        detail = {"place": "垃圾箱", "agent": "75%酒精", "guard_id": "g1", "name": "张三"}
        ledger.append("disinfection", verdict="done", detail=detail)
    drain(enrolled_client(hub.start(), ledger))
    [entry] = disinfection.rounds_of_day(staff, datetime(2026, 11, 20).date(), CHINA)
    assert (entry["place"], entry["agent"], entry["by"], entry["where"]) == (
        "垃圾箱",
        "75%酒精",
        "张三",
        "east-gate",
    )


@pytest.mark.parametrize(
    ("place", "done_at", "words"),
    [
        ("月球", "2026-11-20 09:00", "没有名为“月球”的消毒场所"),
        ("电梯轿厢", "2026-11-20 15:00", "不能晚于现在"),
    ],
)
def test_bad_rounds_get_a_chinese_error_and_store_nothing(staff, place, done_at, words):
    disinfection.set_place(staff, "电梯轿厢", 2, "boss")
    now = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 14:00 Beijing
    with pytest.raises(disinfection.DisinfectionError, match=words):
        disinfection.log_round(staff, place, "含氯消毒液", done_at, CHINA, "boss", now=now)
    assert count(staff, "disinfection_rounds") == 0


def test_places_reach_the_roster(staff):
    disinfection.set_place(staff, "消防通道", 2, "boss")
    assert roster_admin.current(staff, "place") == {
        "消防通道": {"name": "消防通道", "rounds_per_day": 2}
    }
    with pytest.raises(disinfection.DisinfectionError, match="1–24 的整数"):
        disinfection.set_place(staff, "地库", "0", "boss")


# -- supplies ------------------------------------------------------------------------------


def test_days_of_cover_and_reorder_match_a_hand_computed_example(staff):
    """70 masks issued over the last 14 days: 5 a day. Reserve 7 days + 10 %: 5 × 7 × 1.1 =
    38.5, so 39. Stock 20: 4 days of cover, reorder 19. An issue 15 days ago is outside."""
    now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    supplies.set_item(staff, "口罩", "只", "王五", 7, 10, "boss")
    supplies.move(staff, "口罩", "receipt", 100, "", "boss", at=now - timedelta(days=20))
    supplies.move(staff, "口罩", "issue", 10, "", "boss", at=now - timedelta(days=15))
    for days_ago in range(1, 8):
        supplies.move(
            staff, "口罩", "issue", 10, "员工每日", "boss", at=now - timedelta(days=days_ago)
        )
    [mask] = supplies.supplies(staff, now=now)
    assert (mask.stock, mask.used_in_window, mask.daily_use) == (20, 70, 5.0)
    assert mask.days_of_cover == 4.0
    assert (mask.reserve, mask.below_reserve, mask.reorder) == (39, True, 19)
    supplies.move(staff, "口罩", "receipt", 19, "补货", "boss", at=now)
    [mask] = supplies.supplies(staff, now=now)
    assert (mask.stock, mask.below_reserve, mask.reorder) == (39, False, 0)


def test_the_reserve_rule_is_set_per_item(staff):
    now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    supplies.set_item(staff, "消毒液", "瓶", "王五", 5, 20, "boss")
    supplies.move(staff, "消毒液", "receipt", 10, "", "boss", at=now - timedelta(days=3))
    supplies.move(staff, "消毒液", "issue", 7, "", "boss", at=now - timedelta(days=2))
    [item] = supplies.supplies(staff, now=now)
    # 7 / 14 = 0.5 a day; 0.5 × 5 × 1.2 = 3: stock 3 holds the reserve exactly.
    assert (item.reserve, item.below_reserve, item.days_of_cover) == (3, False, 6.0)


@pytest.mark.parametrize(
    ("direction", "quantity", "words"),
    [
        ("receipt", "-5", "不能小于 1"),
        ("issue", "11", "库存不能为负数"),
        ("receipt", "abc", "须为整数"),
        ("transfer", "1", "请选择“入库”或“领用”"),
    ],
)
def test_bad_moves_get_a_chinese_error_and_store_nothing(staff, direction, quantity, words):
    supplies.set_item(staff, "口罩", "只", "王五", 7, 10, "boss")
    supplies.move(staff, "口罩", "receipt", 10, "", "boss")
    with pytest.raises(supplies.SupplyError, match=words):
        supplies.move(staff, "口罩", direction, quantity, "", "boss")
    assert count(staff, "supply_moves") == 1
    assert supplies.supplies(staff)[0].stock == 10


def test_an_unknown_item_is_refused(staff):
    with pytest.raises(supplies.SupplyError, match="请先添加该物资"):
        supplies.move(staff, "口罩", "receipt", 1, "", "boss")
    assert count(staff, "supply_moves") == 0


# -- the pages -----------------------------------------------------------------------------


@pytest.fixture
def app(staff):
    from sync.hub.admins import create_admin
    from sync.hub.app import create_hub
    from tests.hub_helpers import PASSWORD

    for role in ("admin", "viewer"):
        create_admin(staff, f"{role}-user", PASSWORD, role)
    return create_hub(staff)


def test_the_manager_edits_and_bad_input_shows_what_to_do(app, staff):
    from tests.hub_helpers import signed_in

    client, csrf = signed_in(app, "admin")
    ok = client.post(
        "/admin/duty",
        data={
            "csrf": csrf,
            "person": "g1",
            "gate": "east-gate",
            "starts": "2026-11-30T08:00",
            "ends": "2026-11-30T16:00",
        },
    )
    assert ok.status_code == 302
    page = client.get("/admin/duty?week=2026-12-02").get_data(as_text=True)
    assert "2026-11-30 08:00:00–2026-11-30 16:00:00 · east-gate · 张三" in page
    bad = client.post(
        "/admin/supplies",
        data={"csrf": csrf, "action": "item", "item": "口罩", "unit": "只", "keeper": "王五",
              "reserve_days": "7", "margin_pct": "-3"},
    )  # fmt: skip
    assert bad.status_code == 400 and "预留比例（%）不能小于 0" in bad.get_data(as_text=True)
    assert count(staff, "supplies") == 0
    bad = client.post(
        "/admin/disinfection",
        data={"csrf": csrf, "action": "round", "place": "月球", "agent": "酒精",
              "done_at": "2026-11-20T09:00"},
    )  # fmt: skip
    assert bad.status_code == 400 and "没有名为“月球”的消毒场所" in bad.get_data(as_text=True)


def test_a_viewer_reads_but_may_not_edit(app, staff):
    from tests.hub_helpers import signed_in

    client, csrf = signed_in(app, "viewer")
    for path in ("/admin/duty", "/admin/disinfection", "/admin/supplies"):
        page = client.get(path)
        assert page.status_code == 200 and '<form method="post" class="filters"' not in (
            page.get_data(as_text=True)
        )
    refused = client.post(
        "/admin/disinfection", data={"csrf": csrf, "action": "place", "name": "地库", "rounds": "2"}
    )
    assert refused.status_code == 403 and disinfection.places(staff) == {}


def test_a_staff_fever_at_sign_on_shows_on_the_dashboard(app, staff, hub, tmp_path):
    from tests.hub_helpers import signed_in

    ledger = Ledger(tmp_path / "k.sqlite3", "east-gate")
    sign(ledger, (datetime.now(UTC) - timedelta(minutes=3)).isoformat(), "blocked")
    drain(enrolled_client(hub.start(), ledger))
    client, _ = signed_in(app, "viewer")
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert "员工上岗体温异常，当日禁止上岗（门卫屏对其关闭）：张三 · east-gate" in page


# -- registers -----------------------------------------------------------------------------


def test_staff_health_duty_and_disinfection_registers_and_the_duty_line(staff, hub, tmp_path):
    from sync.hub import registers

    disinfection.set_place(staff, "地库", 1, "boss")
    ledger = Ledger(tmp_path / "k.sqlite3", "east-gate")
    # 08:01 Beijing 张三 on (36.6, nobody at home); 08:03 李四 blocked (38.1, visitors at
    # home); 10:00 a round; 16:00 张三 off; 李四 (no sign-on) registers a vehicle at 17:00.
    sign(ledger, "2026-11-20T00:01:00+00:00", "on", visitors_at_home=False)
    with at("2026-11-20T00:03:00+00:00"):
        detail = {"guard_id": "g2", "name": "李四", "visitors_at_home": True}
        ledger.append("shift", verdict="blocked", reason="fever", estimate_c=38.1, detail=detail)
    with at("2026-11-20T02:00:00+00:00"):
        detail = {"place": "地库", "agent": "含氯消毒液", "guard_id": "g1", "name": "张三"}
        ledger.append("disinfection", verdict="done", detail=detail)
    sign(ledger, "2026-11-20T08:00:00+00:00", "off")
    with at("2026-11-20T09:00:00+00:00"):
        ledger.append("vehicle", verdict="in", detail={"plate": "京A12345", "guard_id": "g2"})
    client = enrolled_client(hub.start(), ledger)
    drain(client)
    evening = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 20:00 Beijing
    disinfection.log_round(staff, "地库", "75%酒精", "2026-11-20 18:30", CHINA, "boss", now=evening)

    day = registers.build_day(staff, "east-gate", datetime(2026, 11, 20).date(), CHINA)
    assert day.register("staff_health").rows == [
        ["2026-11-20 08:01:00", "张三（g1）", 36.6, "无", "正常，上岗"],
        ["2026-11-20 08:03:00", "李四（g2）", 38.1, "有", "体温异常，未能上岗"],
    ]
    assert day.register("duty").rows == [
        ["张三（g1）", "2026-11-20 08:01:00", "2026-11-20 16:00:00", 36.6, ""],
        ["李四（g2）", "2026-11-20 08:03:00", "", 38.1, "体温异常，未能上岗"],
    ]
    assert day.register("disinfection").rows == [
        ["2026-11-20 10:00:00", "地库", "含氯消毒液", "张三", "east-gate"],
        ["2026-11-20 18:30:00", "地库", "75%酒精", "boss", "中心"],
    ]
    # 李四's refused sign-on is not a sign-on; his vehicle at 17:00 is an action without one.
    assert day.on_duty == ["张三（g1）", "李四（g2）（未签到）"]
    with at("2026-11-20T09:30:00+00:00"):
        ledger.append("shift", verdict="on", estimate_c=36.4, detail={"guard_id": "g2"})
    drain(client)
    day = registers.build_day(staff, "east-gate", datetime(2026, 11, 20).date(), CHINA)
    assert day.on_duty == ["张三（g1）", "李四（g2）"]


# -- found in the field trial ------------------------------------------------------------------


def test_a_shift_at_a_gate_that_does_not_exist_is_refused(staff):
    """A posted gate=north-gate was stored and raised 漏岗 for ever."""
    with pytest.raises(duty.DutyError, match="没有门岗 north-gate"):
        duty.add_shift(
            staff, "g1", "north-gate", "2026-11-30 08:00", "2026-11-30 16:00", CHINA, "boss"
        )
    assert count(staff, "duty_shifts") == 0


def test_back_to_back_shifts_flag_the_gate_from_the_first_ones_start(staff):
    """张三 08–16 then 16–20, 李四 12–23, nobody signed on: empty since 08:00, not 12:00."""
    for person, starts, ends in (
        ("g1", "2026-11-20 08:00", "2026-11-20 16:00"),
        ("g1", "2026-11-20 16:00", "2026-11-20 20:00"),
        ("g2", "2026-11-20 12:00", "2026-11-20 23:00"),
    ):
        duty.add_shift(staff, person, "east-gate", starts, ends, CHINA, "boss")
    [found] = duty.unmanned(staff, datetime(2026, 11, 20, 8, 10, tzinfo=UTC))  # 16:10 Beijing
    assert found.since == "2026-11-20T00:00:00+00:00" and found.minutes == 8 * 60 + 10


def test_an_empty_item_is_never_called_sufficient(staff):
    supplies.set_item(staff, "防护服", "件", "王五", 7, 10, "boss")
    [item] = supplies.supplies(staff)
    assert item.stock == 0 and item.below_reserve and item.status.startswith("无库存")


def test_a_round_logged_twice_or_long_ago_is_refused(staff):
    disinfection.set_place(staff, "垃圾箱", 2, "boss")
    now = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 14:00 Beijing
    disinfection.log_round(
        staff, "垃圾箱", "含氯消毒液", "2026-11-20 13:30", CHINA, "boss", now=now
    )
    with pytest.raises(disinfection.DisinfectionError, match="已经登记过"):
        disinfection.log_round(
            staff, "垃圾箱", "含氯消毒液", "2026-11-20 13:30", CHINA, "boss", now=now
        )
    with pytest.raises(disinfection.DisinfectionError, match="最近 7 天"):
        disinfection.log_round(
            staff, "垃圾箱", "含氯消毒液", "2020-01-01 09:00", CHINA, "boss", now=now
        )
    assert count(staff, "disinfection_rounds") == 1


def test_a_week_far_away_is_a_chinese_error_not_a_500(app, staff):
    from tests.hub_helpers import signed_in

    client = signed_in(app, "admin")[0]
    for week in ("9999-12-27", "0001-01-01"):
        page = client.get(f"/admin/duty?week={week}")
        assert page.status_code == 400 and "日期超出范围" in page.get_data(as_text=True)

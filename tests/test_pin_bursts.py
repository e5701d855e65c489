"""Wrong guard PINs leave a record: one per burst (at the lockout, at each doubling, and the rest
when the right PIN ends it), with the guard, the count and the times, never the digits; the
records reach the hub and its audit page says them in words.

Regression (field trial): ten wrong PINs in a row left nothing in the ledger."""

from __future__ import annotations

import json

import pytest

from kiosk.guard_accounts import add_guard, unlock
from kiosk.ledger import Ledger
from kiosk.pin_bursts import KIND, locked_milestone
from kiosk.web import create_app
from sync.contract import EVENT_KINDS
from sync.hub import labels
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from tests.hub_helpers import PASSWORD, signed_in
from tests.sync_fixtures import drain, enrolled_client, make_ledger

GOOD, BAD = "483190", "000000"


@pytest.fixture
def conn(tmp_path):
    conn = Ledger(tmp_path / "l.sqlite3", "gate-1").connection()
    add_guard(conn, "wang", "王师傅", GOOD)
    return conn


def _try(conn, pin, now):
    return unlock(conn, "wang", pin, max_failures=5, max_wait_s=30, now=now)


def _run(conn, pins, start=1_000_000.0):
    """Type the PINs one after another, each as soon as the back-off allows; the bursts."""
    now, bursts = start, []
    for pin in pins:
        result = _try(conn, pin, now)
        assert result.reason != "locked" or result.burst is not None or result.retry_after_s
        if result.burst is not None:
            bursts.append(result.burst)
        now += max(result.retry_after_s, 1)
    return bursts


def test_the_kind_is_declared_in_the_contract_and_has_words():
    assert KIND in EVENT_KINDS
    assert labels.zh(KIND) == "门卫 PIN 错误"
    assert labels.zh("locked", KIND) and labels.zh("wrong", KIND)


@pytest.mark.parametrize(
    ("in_a_row", "recorded"),
    [
        (1, False),
        (4, False),
        (5, True),
        (6, False),
        (10, True),
        (15, False),
        (20, True),
        (40, True),
    ],
)
def test_a_burst_is_recorded_at_the_lockout_and_at_each_doubling(in_a_row, recorded):
    assert locked_milestone(in_a_row, 5) is recorded


def test_ten_wrong_pins_leave_two_records_not_ten(conn):
    bursts = _run(conn, [BAD] * 10)
    assert [(b.verdict, b.failures, b.in_a_row) for b in bursts] == [
        ("locked", 5, 5),
        ("locked", 5, 10),
    ]
    assert all(b.guard_id == "wang" and b.name == "王师傅" for b in bursts)
    assert bursts[0].first_at is not None and bursts[0].first_at < bursts[0].last_at
    assert bursts[1].first_at == bursts[0].first_at  # the same run
    # The right PIN afterwards has nothing left to record: every wrong try is covered.
    assert _run(conn, [GOOD], start=2_000_000.0) == []


def test_a_typo_is_recorded_when_the_right_pin_ends_the_burst(conn):
    bursts = _run(conn, [BAD, BAD, GOOD])
    assert [(b.verdict, b.failures, b.in_a_row) for b in bursts] == [("wrong", 2, 2)]


def test_the_rest_of_a_burst_after_its_lockout_record_is_recorded_with_the_right_pin(conn):
    bursts = _run(conn, [BAD] * 7 + [GOOD])
    assert [(b.verdict, b.failures, b.in_a_row) for b in bursts] == [
        ("locked", 5, 5),
        ("wrong", 2, 7),
    ]
    # A new run starts from nothing.
    assert [(b.verdict, b.failures) for b in _run(conn, [BAD, GOOD], 3_000_000.0)] == [("wrong", 1)]


def test_a_new_pin_from_the_hub_or_cli_starts_a_clean_run(conn):
    _run(conn, [BAD] * 6)
    add_guard(conn, "wang", "王师傅", "592617")
    bursts = _run(conn, [BAD] * 5, start=4_000_000.0)
    assert [(b.verdict, b.failures, b.in_a_row) for b in bursts] == [("locked", 5, 5)]


@pytest.fixture
def kiosk(start_kiosk):
    k = start_kiosk()
    add_guard(k.ledger.connection(), "wang", "王师傅", GOOD)
    return k


def _pin_records(kiosk):
    rows = kiosk.ledger.connection().execute(
        "SELECT verdict, detail FROM events WHERE kind = ? ORDER BY seq", (KIND,)
    )
    return [(row[0], json.loads(row[1])) for row in rows]


def test_wrong_pins_at_the_kiosk_are_in_its_ledger_without_the_digits(kiosk):
    client = create_app(kiosk.gate).test_client()
    for _ in range(5):
        client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "918273"})
    records = _pin_records(kiosk)
    assert [(verdict, d["failures"], d["in_a_row"]) for verdict, d in records] == [("locked", 5, 5)]
    detail = records[0][1]
    assert detail["guard_id"] == "wang" and detail["name"] == "王师傅"
    assert detail["where"] == "sign_in"
    assert detail["first_at"] <= detail["last_at"]
    everything = "".join(
        str(row) for row in kiosk.ledger.connection().execute("SELECT * FROM events")
    )
    assert "918273" not in everything


def test_a_guard_who_mistypes_once_leaves_one_record(kiosk):
    client = create_app(kiosk.gate).test_client()
    assert (
        client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": BAD}).status_code == 401
    )
    assert _pin_records(kiosk) == []  # not yet: the burst is still open
    assert (
        client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": GOOD}).status_code == 200
    )
    assert [(v, d["failures"]) for v, d in _pin_records(kiosk)] == [("wrong", 1)]


def test_an_unknown_guard_id_leaves_no_record(kiosk):
    client = create_app(kiosk.gate).test_client()
    for _ in range(6):
        client.post("/api/guard/unlock", json={"guard_id": "nobody", "pin": BAD})
    assert _pin_records(kiosk) == []


def test_the_bursts_reach_the_hub_and_its_audit_page_says_them_in_words(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", kiosk_id="east-gate")
    conn = ledger.connection()
    add_guard(conn, "wang", "王师傅", GOOD)
    for burst in _run(conn, [BAD] * 7 + [GOOD]):
        ledger.append(KIND, verdict=burst.verdict, detail=burst.detail("sign_in"))
    drain(enrolled_client(hub.start(), ledger))
    create_admin(hub.store, "admin-user", PASSWORD, "admin")
    client, _ = signed_in(create_hub(hub.store), "admin")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "门岗 PIN 输错" in page
    assert "门岗 east-gate · 王师傅（wang） · 连续输错 PIN 5 次，暂停输入 · 登录门卫屏" in page
    assert "输错 PIN 2 次后输对" in page
    assert "000000" not in page
    # Times are Beijing's: the first try at 1,000,000 s after the epoch is 1970-01-12 21:46:40.
    assert "01-12 21:46:40" in page


def test_a_ledger_that_cannot_take_the_record_does_not_keep_the_guard_out(kiosk, monkeypatch):
    from kiosk.ledger import LedgerError

    client = create_app(kiosk.gate).test_client()
    client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": BAD})

    def full(kind, **fields):
        raise LedgerError("disk full")

    monkeypatch.setattr(kiosk.gate, "record", full)
    response = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": GOOD})
    assert response.status_code == 200

from __future__ import annotations

import pytest

from kiosk.guards import GuardError, add_guard, hash_pin, list_guards, pin_matches, unlock
from kiosk.ledger import Ledger


@pytest.fixture
def conn(tmp_path):
    return Ledger(tmp_path / "l.sqlite3", "gate-1").connection()


def test_pins_are_stored_hashed(conn):
    add_guard(conn, "wang", "王师傅", "4831")
    stored = conn.execute("SELECT pin_hash FROM guards").fetchone()[0]
    assert "4831" not in stored and stored.startswith("scrypt$")
    assert pin_matches("4831", stored) and not pin_matches("4832", stored)
    assert hash_pin("4831") != hash_pin("4831")  # salted
    assert list_guards(conn) == [{"guard_id": "wang", "name": "王师傅"}]


@pytest.mark.parametrize(
    ("guard_id", "name", "pin", "message"),
    [
        ("Wang!", "王", "4831", "guard id"),
        ("wang", "", "4831", "name"),
        ("wang", "<b>", "4831", "name"),
        ("wang", "王", "123", "4 to 8 digits"),
        ("wang", "王", "12a4", "4 to 8 digits"),
        ("wang", "王", "1111", "too easy"),
        ("wang", "王", "1234", "too easy"),
    ],
)
def test_bad_guards_are_refused(conn, guard_id, name, pin, message):
    with pytest.raises(GuardError, match=message):
        add_guard(conn, guard_id, name, pin)


def test_five_wrong_pins_lock_the_guard_out(conn):
    add_guard(conn, "wang", "王师傅", "4831")
    results = [
        unlock(conn, "wang", "0000", max_failures=5, lockout_s=300, now=1000.0) for _ in range(5)
    ]
    assert [r.reason for r in results] == ["wrong_pin"] * 4 + ["locked"]
    assert results[3].attempts_left == 1
    # Even the right PIN is refused while locked out.
    locked = unlock(conn, "wang", "4831", max_failures=5, lockout_s=300, now=1100.0)
    assert (locked.ok, locked.reason, locked.retry_after_s) == (False, "locked", 201)
    assert unlock(conn, "wang", "4831", max_failures=5, lockout_s=300, now=1301.0).ok


def test_a_success_resets_the_count(conn):
    add_guard(conn, "wang", "王师傅", "4831")
    for _ in range(4):
        unlock(conn, "wang", "0000", max_failures=5, lockout_s=300)
    assert unlock(conn, "wang", "4831", max_failures=5, lockout_s=300).ok
    assert unlock(conn, "wang", "0000", max_failures=5, lockout_s=300).attempts_left == 4


def test_lockout_survives_a_restart(tmp_path):
    path = tmp_path / "l.sqlite3"
    conn = Ledger(path, "gate-1").connection()
    add_guard(conn, "wang", "王师傅", "4831")
    for _ in range(5):
        unlock(conn, "wang", "0000", max_failures=5, lockout_s=300)
    again = Ledger(path, "gate-1").connection()
    assert unlock(again, "wang", "4831", max_failures=5, lockout_s=300).reason == "locked"


def test_unknown_guard(conn):
    assert unlock(conn, "nobody", "4831", max_failures=5, lockout_s=300).reason == "unknown"

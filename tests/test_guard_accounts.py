from __future__ import annotations

import pytest

from kiosk.guard_accounts import add_guard, hash_pin, list_guards, pin_matches, unlock
from kiosk.ledger import Ledger
from sync.contract import GuardError


@pytest.fixture
def conn(tmp_path):
    return Ledger(tmp_path / "l.sqlite3", "gate-1").connection()


def test_pins_are_stored_hashed(conn):
    add_guard(conn, "wang", "王师傅", "483190")
    stored = conn.execute("SELECT pin_hash FROM guards").fetchone()[0]
    assert "483190" not in stored and stored.startswith("scrypt$")
    assert pin_matches("483190", stored) and not pin_matches("483191", stored)
    assert hash_pin("483190") != hash_pin("483190")  # salted
    assert list_guards(conn) == [{"guard_id": "wang", "name": "王师傅"}]


@pytest.mark.parametrize(
    ("guard_id", "name", "pin", "message"),
    [
        ("Wang!", "王", "483190", "guard id"),
        ("wang", "", "483190", "name"),
        ("wang", "<b>", "483190", "name"),
        ("wang", "王", "4831", "6 to 8 digits"),
        ("wang", "王", "12a456", "6 to 8 digits"),
        ("wang", "王", "111111", "too easy"),
        ("wang", "王", "123456", "too easy"),
    ],
)
def test_bad_guards_are_refused(conn, guard_id, name, pin, message):
    with pytest.raises(GuardError, match=message):
        add_guard(conn, guard_id, name, pin)


def _try(conn, pin, now):
    return unlock(conn, "wang", pin, max_failures=5, max_wait_s=30, now=now)


def test_wrong_pins_make_the_next_try_wait_but_never_lock_the_guard_out(conn):
    add_guard(conn, "wang", "王师傅", "483190")
    results = [_try(conn, "000000", 1000.0) for _ in range(5)]
    assert [r.reason for r in results] == ["wrong_pin"] * 4 + ["locked"]
    assert results[3].attempts_left == 1 and results[4].retry_after_s == 5
    # Even the right PIN waits its turn ...
    waiting = _try(conn, "483190", 1002.0)
    assert (waiting.ok, waiting.reason, waiting.retry_after_s) == (False, "locked", 4)
    # ... and a stranger typing on for an hour keeps the guard waiting 30 s at most.
    now = 1005.0
    for _ in range(200):
        result = _try(conn, "000000", now)
        assert result.retry_after_s <= 30
        now += result.retry_after_s
    assert _try(conn, "483190", now).ok


def test_a_success_resets_the_count(conn):
    add_guard(conn, "wang", "王师傅", "483190")
    for _ in range(4):
        _try(conn, "000000", 1000.0)
    assert _try(conn, "483190", 1000.0).ok
    assert _try(conn, "000000", 1000.0).attempts_left == 4


def test_the_wait_survives_a_restart(tmp_path):
    path = tmp_path / "l.sqlite3"
    conn = Ledger(path, "gate-1").connection()
    add_guard(conn, "wang", "王师傅", "483190")
    for _ in range(5):
        _try(conn, "000000", 1000.0)
    again = Ledger(path, "gate-1").connection()
    assert _try(again, "483190", 1001.0).reason == "locked"
    assert _try(again, "483190", 1006.0).ok


def test_unknown_guard(conn):
    assert _try(conn, "483190", 1000.0).reason == "unknown"


def test_an_old_pin_hash_is_upgraded_on_the_next_good_pin(conn):
    from sync.auth import LEGACY_SCRYPT, SCRYPT, needs_rehash

    add_guard(conn, "wang", "王师傅", "483190")
    salt = b"s" * 16
    import hashlib

    legacy = hashlib.scrypt(b"483190", salt=salt, dklen=32, **LEGACY_SCRYPT).hex()
    conn.execute("UPDATE guards SET pin_hash = ?", (f"scrypt${salt.hex()}${legacy}",))
    assert _try(conn, "483190", 1000.0).ok
    stored = conn.execute("SELECT pin_hash FROM guards").fetchone()[0]
    assert not needs_rehash(stored) and f"n={SCRYPT['n']}" in stored
    assert _try(conn, "483190", 1000.0).ok

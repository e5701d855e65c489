"""The one auth module (sync/auth.py) used by the guard screen and the hub: back-off, CSRF,
sessions that lock when idle."""

from __future__ import annotations

import pytest

from sync.auth import IdleSessions, csrf_ok, new_session, session_digest, wait_after


def test_the_back_off_doubles_from_the_first_wait_up_to_the_cap():
    waits = [wait_after(n, free_tries=3, first_wait_s=5.0, max_wait_s=30.0) for n in range(8)]
    assert waits == [0, 0, 0, 5, 10, 20, 30, 30]
    assert wait_after(10**6, free_tries=5, first_wait_s=1.0, max_wait_s=900.0) == 900.0


@pytest.mark.parametrize("given", [None, "", 42, "wrong", "令牌", "\ud800"])
def test_a_wrong_csrf_token_is_a_mismatch_never_an_error(given):
    assert csrf_ok(given, "the-token") is False


def test_the_right_csrf_token_matches_and_an_empty_expectation_never_does():
    assert csrf_ok("the-token", "the-token")
    assert not csrf_ok("", "")
    assert not csrf_ok("x", None)


def test_session_ids_are_fresh_and_only_their_digest_is_kept():
    (a, csrf_a), (b, csrf_b) = new_session(), new_session()
    assert len({a, b, csrf_a, csrf_b}) == 4 and len(a) >= 40
    assert session_digest(a) != a and len(session_digest(a)) == 64


def test_a_session_locks_after_idle_and_a_touch_keeps_it():
    now = [100.0]
    sessions = IdleSessions(clock=lambda: now[0])
    sid, csrf = sessions.start(guard_id="wang", name="王师傅")
    assert sessions.get(sid, idle_s=15)["csrf"] == csrf
    now[0] = 110.0
    sessions.touch(sid, 110.0)
    now[0] = 124.0
    assert sessions.get(sid, idle_s=15)["guard_id"] == "wang"  # 14 s since the touch
    now[0] = 126.0
    assert sessions.get(sid, idle_s=15) is None
    sessions.touch(sid, 126.0)  # a touch after it ended does not bring it back
    assert sessions.get(sid, idle_s=15) is None


def test_an_ended_session_opens_nothing():
    sessions = IdleSessions()
    sid, _ = sessions.start(guard_id="wang", name="王师傅")
    sessions.end(sid)
    assert sessions.get(sid, idle_s=600) is None

"""Helpers for tests that run a whole kiosk with the simulated sensor and mock pins: waiting on a
condition (never a fixed sleep), a resident's pass, the guard signed in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kiosk.gate import Gate


def wait_until(
    condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something true (returned), or fail after ``timeout``
    seconds saying ``what`` was awaited. Generous by default: the machine may be loaded."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s in vain for {what or condition}")
        time.sleep(interval)


def wait_for_screen(gate: Gate, *screens: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state = gate.screen.snapshot()
    while state["screen"] not in screens:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"screen stayed {state['screen']!r}, expected {screens}")
        state = gate.screen.wait(state["version"], remaining)
    return state


def wait_for_loop_past(gate: Gate, seconds: float = 0.0, timeout: float = 10.0) -> None:
    """Wait until the gate loop has finished a whole pass that began ``seconds`` (gate clock)
    from now: whatever the gate would do by then is done. For checking that something did *not*
    happen (nobody measured twice, the relay left shut), without a fixed sleep."""
    until = gate.clock() + seconds
    [started] = wait_until(
        lambda: [gate.heartbeat] if gate.heartbeat >= until else None,
        timeout + seconds,
        what=f"a pass of the gate loop {seconds:g} s on",
    )
    # The pass that began at ``started`` is over once a later one has begun.
    wait_until(lambda: gate.heartbeat > started, timeout, what="the next pass of the gate loop")


def pin_went_high(pin) -> bool:
    return any(change.state for change in pin.states[1:])


def resident_pass(code: str) -> dict:
    """A valid pass for a resident of building 3, unit 2."""
    return {
        "code": code,
        "resident_id": None,
        "name": None,
        "building": "3",
        "unit": "2",
        "room": "301",
        "expires_on": None,
        "revoked": 0,
        "quarantine_until": None,
    }


def sign_in(client) -> dict[str, str]:
    response = client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "483190"})
    assert response.status_code == 200, response.get_json()
    return {"X-CSRF-Token": response.get_json()["csrf"]}

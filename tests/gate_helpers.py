"""Helpers for tests that run a whole kiosk with the simulated sensor and mock pins."""

from __future__ import annotations

import time
from typing import Any

from kiosk.gate import Gate


def wait_for_screen(gate: Gate, *screens: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state = gate.screen.snapshot()
    while state["screen"] not in screens:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"screen stayed {state['screen']!r}, expected {screens}")
        state = gate.screen.wait(state["version"], remaining)
    return state


def pin_went_high(pin) -> bool:
    return any(change.state for change in pin.states[1:])

"""The state the touchscreen shows, published by the gate loop and long-polled by the page.

Only what the person at the gate may see goes in here: never a name, never a quarantine flag.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class ScreenState:
    """A versioned snapshot of the screen; ``wait`` blocks until a newer version exists."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # the gate's clock: how old the screen is, in its time
        self._cond = threading.Condition()
        self._version = 0
        self._state: dict[str, Any] = {"screen": "starting", "version": 0}

    def publish(self, screen: str, **fields: Any) -> dict[str, Any]:
        with self._cond:
            self._version += 1
            self._state = {
                "screen": screen,
                "version": self._version,
                "published_at": self._clock(),
                **fields,
            }
            self._cond.notify_all()
            return self._state

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return dict(self._state)

    def wait(self, after_version: int, timeout: float) -> dict[str, Any]:
        """The current state once its version is past ``after_version``, or after ``timeout``."""
        with self._cond:
            self._cond.wait_for(lambda: self._version > after_version, timeout)
            return dict(self._state)

"""systemd notification: READY when serving, and watchdog pings only while the gate loop runs.

Speaks the sd_notify datagram protocol directly (a few lines; no extra package). Outside systemd
(no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half of the unit's WatchdogSec, as systemd recommends; None when there is no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


class Watchdog:
    """Pings systemd's watchdog while ``alive()`` says the gate loop has run recently; a hung
    loop stops the pings and systemd restarts the kiosk."""

    def __init__(self, alive: Callable[[float], bool]) -> None:
        self.alive = alive
        self.interval = watchdog_interval_s()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        if self.interval is not None:
            self._thread.start()

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            if self.alive(self.interval * 2):
                notify("WATCHDOG=1")
            else:
                log.error(
                    "the gate loop has not run for %.0f s: no watchdog ping", self.interval * 2
                )

    def stop(self) -> None:
        self._stop.set()

"""The buzzer, the gate relay and the status LEDs, through gpiozero.

Each device takes its pin number and a pin factory, so tests pass gpiozero's ``MockFactory`` and
assert on the pins. Buzzer patterns are data, so that the docs and the tests name the same thing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from gpiozero import LED, Buzzer, DigitalOutputDevice
from gpiozero.pins import Factory


@dataclass(frozen=True)
class Pattern:
    """A buzzer pattern: ``steps`` of (on seconds, off seconds), played ``repeat`` times
    (``None``: until silenced or ``timeout_s`` runs out)."""

    name: str
    steps: tuple[tuple[float, float], ...]
    repeat: int | None = 1


PASS_CHIRP = Pattern("pass", ((0.08, 0.0),))
FEVER_ALARM = Pattern("fever", ((0.4, 0.2),), repeat=None)
FAULT_PATTERN = Pattern("fault", ((0.1, 0.1), (0.1, 0.1), (0.1, 0.7)), repeat=3)
PATTERNS = {p.name: p for p in (PASS_CHIRP, FEVER_ALARM, FAULT_PATTERN)}


class BuzzerSignals:
    """Plays one pattern at a time on an active buzzer; a new pattern replaces the old."""

    def __init__(self, pin: int, *, pin_factory: Factory | None = None) -> None:
        self.buzzer = Buzzer(pin, pin_factory=pin_factory)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.playing: str | None = None

    def play(self, pattern: Pattern, *, timeout_s: float = 60.0) -> None:
        with self._lock:
            self._halt()
            self._stop = threading.Event()
            self.playing = pattern.name
            self._thread = threading.Thread(
                target=self._run,
                args=(pattern, timeout_s, self._stop),
                name=f"buzzer-{pattern.name}",
                daemon=True,
            )
            self._thread.start()

    def silence(self) -> None:
        with self._lock:
            self._halt()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the current pattern to end (for tests and the ``buzzer`` command)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)
        self._thread = None
        self.playing = None
        self.buzzer.off()

    def _run(self, pattern: Pattern, timeout_s: float, stop: threading.Event) -> None:
        deadline = time.monotonic() + timeout_s
        played = 0
        try:
            while pattern.repeat is None or played < pattern.repeat:
                for on_s, off_s in pattern.steps:
                    if stop.is_set() or time.monotonic() >= deadline:
                        return
                    self.buzzer.on()
                    if stop.wait(on_s):
                        return
                    self.buzzer.off()
                    if off_s and stop.wait(off_s):
                        return
                played += 1
        finally:
            self.buzzer.off()
            if not stop.is_set():
                self.playing = None

    def close(self) -> None:
        self.silence()
        self.buzzer.close()


class GateRelay:
    """A gate-release relay, pulsed on admission and never left energised.

    ``active_high`` follows the relay module: many cheap modules switch on a low input.
    """

    def __init__(
        self,
        pin: int,
        *,
        active_high: bool = True,
        pulse_s: float = 1.0,
        pin_factory: Factory | None = None,
    ) -> None:
        if not 0.1 <= pulse_s <= 10:
            raise ValueError("relay pulse must be between 0.1 and 10 seconds")
        self.device = DigitalOutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )
        self.pulse_s = pulse_s

    def pulse(self) -> None:
        """Release the gate for ``pulse_s`` seconds, in the background."""
        self.device.blink(on_time=self.pulse_s, off_time=0, n=1, background=True)

    def close(self) -> None:
        self.device.off()
        self.device.close()


class StatusLeds:
    """Optional green (admitted) and red (blocked or fault) LEDs."""

    def __init__(
        self, green: int | None, red: int | None, *, pin_factory: Factory | None = None
    ) -> None:
        self.green = LED(green, pin_factory=pin_factory) if green is not None else None
        self.red = LED(red, pin_factory=pin_factory) if red is not None else None

    def show(self, state: str, hold_s: float = 3.0) -> None:
        """``state`` is 'pass', 'block' or 'idle'."""
        for led, wanted in ((self.green, "pass"), (self.red, "block")):
            if led is None:
                continue
            if state == wanted:
                led.blink(on_time=hold_s, off_time=0, n=1, background=True)
            else:
                led.off()

    def close(self) -> None:
        for led in (self.green, self.red):
            if led is not None:
                led.close()

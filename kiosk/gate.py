"""The gate loop: watch the sensor, measure whoever steps up, record, signal, show.

Order matters here: a verdict reaches the screen, the buzzer and the relay only after its ledger
record is committed. If the record cannot be written, nobody is admitted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers import SensorError
from drivers.signals import FAULT_PATTERN, FEVER_ALARM, PASS_CHIRP
from kiosk import passes
from kiosk.config import Config
from kiosk.hardware import Hardware
from kiosk.ledger import Ledger, LedgerError
from kiosk.screen import ScreenState
from kiosk.screening import Decision, Rules, Verdict
from kiosk.session import Measurement, Measurer, Timing

log = logging.getLogger(__name__)

PASS_VALID_FOR_S = 30.0
RETRY_PAUSE_S = 1.5
FAULT_POLL_S = 1.0


class PassesNotTaken(RuntimeError):
    """A pass was shown at a gate configured to screen only."""


@dataclass
class _PendingPass:
    code: str
    until: float


@dataclass(frozen=True)
class Context:
    """What the next screenings belong to: a registered visitor (one person) or a vehicle (its
    occupants, until the guard ends it). A held visitor is not let in by a normal reading."""

    kind: str  # "visitor" or "vehicle"
    event_id: str
    until: float
    held: bool = False


class Gate:
    """Runs the screening loop in a background thread and exposes the few actions the
    touchscreen offers (show a pass, measure again)."""

    def __init__(
        self,
        config: Config,
        hardware: Hardware,
        ledger: Ledger,
        *,
        on_recorded: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.hardware = hardware
        self.ledger = ledger
        self.rules = Rules.from_config(config)
        self.timing = Timing.from_config(config)
        self.measurer = Measurer(
            hardware.thermometer, self.rules, self.timing, distance=hardware.distance
        )
        self.screen = ScreenState()
        self.on_recorded = on_recorded
        self._stop = threading.Event()
        self._rearm = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending_pass: _PendingPass | None = None
        self._last_screening: dict[str, Any] | None = None
        self._last_screening_at = 0.0
        self._sensor_fault: str | None = None
        self.sensor_ok_at: float | None = None
        self.heartbeat = time.monotonic()  # each pass of the loop; the watchdog checks it
        self.direction = "in"
        self.sync_state: Any = None  # the sync client's state, when a hub is configured
        self.sync_wake: threading.Event | None = None  # set after each record: sync it soon
        self.context: Context | None = None
        # Notices for the guard's eyes only (a quarantined resident's pass was used).
        self.guard_notices: deque[dict[str, Any]] = deque(maxlen=20)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._show_idle()
        self._thread = threading.Thread(target=self._run, name="gate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._rearm.set()
        if self._thread is not None:
            self._thread.join(5)
        self.screen.publish("stopped")

    # -- actions from the touchscreen --------------------------------------------------------

    def measure_again(self) -> None:
        """The 'measure again' button: the person in front is measured anew."""
        self._rearm.set()

    def present_pass(self, raw: str) -> passes.PassCheck:
        """A resident shows a pass (keypad or QR scanner). Recorded either way."""
        if self.config.kiosk.identify == "off":
            raise PassesNotTaken("this gate screens only; it does not take passes")
        check = passes.lookup(self.ledger.connection(), raw)
        with self._lock:
            links_to = None
            last = self._last_screening
            if (
                self.config.kiosk.identify == "after"
                and last is not None
                and time.monotonic() - self._last_screening_at < PASS_VALID_FOR_S
            ):
                links_to = last["id"]
            self._record(
                "identify",
                verdict="accepted" if check.ok else "refused",
                reason=check.reason,
                pass_code=check.code,
                links_to=links_to,
            )
            if check.quarantined:
                self.guard_notices.append(
                    {"kind": "quarantine", "pass_code": check.code, "at": time.time()}
                )
            if check.ok and check.code is not None:
                self._pending_pass = _PendingPass(check.code, time.monotonic() + PASS_VALID_FOR_S)
                if links_to and last is not None and last["verdict"] == Verdict.ADMITTED:
                    self.open_gate()
        return check

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        armed = True  # the next presence starts a measurement
        rearm_at: float | None = None  # after "measure again", re-arm even if still present
        hold_until: float | None = None  # the verdict stays on screen until then
        while not self._stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                reading = self.hardware.thermometer.read()
            except SensorError as exc:
                self._on_sensor_fault(exc)
                armed, hold_until = True, None
                self._stop.wait(FAULT_POLL_S)
                continue
            if self._sensor_fault is not None:
                self._on_sensor_recovered()
            now = time.monotonic()
            if self._rearm.is_set() or (rearm_at is not None and now >= rearm_at):
                self._rearm.clear()
                armed, rearm_at = True, None
            present = self.measurer.present(reading)
            if not present:
                armed = True  # whoever was measured has stepped away
            if present and armed:
                if self._waiting_for_pass():
                    self._show_if_changed("need_pass")
                else:
                    verdict = self._screen_person()
                    armed = False
                    if verdict is Verdict.RETRY:
                        rearm_at = time.monotonic() + RETRY_PAUSE_S
                    hold_until = time.monotonic() + self.config.kiosk.result_hold_s
                    continue
            elif hold_until is None or now >= hold_until:
                hold_until = None
                if not present or self.screen.snapshot()["screen"] == "need_pass":
                    self._show_if_changed("idle")
            self._stop.wait(self.timing.poll_interval_s)

    def _waiting_for_pass(self) -> bool:
        kiosk = self.config.kiosk
        return kiosk.identify == "before" and kiosk.identify_required and self._valid_pass() is None

    def _valid_pass(self) -> str | None:
        pending = self._pending_pass
        if pending is None or pending.until < time.monotonic():
            return None
        return pending.code

    def _screen_person(self) -> Verdict:
        self.screen.publish("measuring")
        measurement = self.measurer.measure()
        decision = measurement.decision
        pass_code = self._valid_pass() if self.config.kiosk.identify == "before" else None
        context = self.active_context()
        try:
            with self._lock:
                record = self._record_screening(measurement, pass_code, context)
                self._last_screening = record
                self._last_screening_at = time.monotonic()
                self._pending_pass = None
                if context is not None and context.kind == "visitor":
                    self.context = None  # a visitor is one person
        except LedgerError as exc:
            log.error("not recorded, nobody admitted: %s", exc)
            self.screen.publish("not_recorded")
            self._play(FAULT_PATTERN)
            return Verdict.FAULT
        held = context is not None and context.held and decision.admits
        self._show_verdict(decision, record, held=held)
        self._signal(decision, record, held=held)
        return decision.verdict

    def _record_screening(
        self, measurement: Measurement, pass_code: str | None, context: Context | None
    ) -> dict[str, Any]:
        decision = measurement.decision
        detail: dict[str, Any] = {
            "direction": self.direction,
            "samples": [[r.object_c, r.ambient_c] for r in measurement.samples],
            "raw": [[r.object_raw, r.ambient_raw] for r in measurement.samples],
            "spread_c": decision.spread_c,
            "rules": {
                "site": self.rules.site,
                "model": self.rules.model,
                "site_compensation_c": self.rules.site_compensation_c,
                "site_offset_c": self.rules.site_offset_c,
                "ambient_coeff": self.rules.ambient_coeff,
                "reference_ambient_c": self.rules.reference_ambient_c,
                "plausible_c": [self.rules.plausible_min_c, self.rules.plausible_max_c],
                "max_spread_c": self.rules.max_spread_c,
            },
        }
        if measurement.error:
            detail["error"] = measurement.error
        temperatures = self.config.kiosk.store_temperatures
        if not temperatures:
            # Pass/fail only: the verdict and the threshold are kept, no temperature at all.
            detail = {k: v for k, v in detail.items() if k not in ("samples", "raw", "spread_c")}
        return self._record(
            "screening",
            verdict=decision.verdict.value,
            reason=decision.reason.value if decision.reason else None,
            estimate_c=decision.estimate_c if temperatures else None,
            threshold_c=decision.threshold_c,
            object_c=decision.object_c if temperatures else None,
            ambient_c=decision.ambient_c if temperatures else None,
            pass_code=pass_code,
            links_to=context.event_id if context is not None else None,
            detail=detail,
        )

    def _record(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = self.ledger.append(kind, **fields)
        if self.on_recorded is not None:
            self.on_recorded(record)
        if self.sync_wake is not None:
            self.sync_wake.set()
        return record

    def _show_verdict(self, decision: Decision, record: dict[str, Any], *, held: bool) -> None:
        self.screen.publish(
            "held" if held else decision.verdict.value,
            reason=decision.reason.value if decision.reason else None,
            estimate_c=decision.estimate_c,
            threshold_c=decision.threshold_c,
            recorded=True,
            seq=record["seq"],
            need_pass=self._pass_needed_after(decision),
        )

    def _pass_needed_after(self, decision: Decision) -> bool:
        kiosk = self.config.kiosk
        return decision.admits and kiosk.identify == "after" and kiosk.identify_required

    def _signal(self, decision: Decision, record: dict[str, Any], *, held: bool) -> None:
        leds = self.hardware.leds
        if decision.verdict is Verdict.ADMITTED:
            self._play(PASS_CHIRP)
            if not held and not self._pass_needed_after(decision):
                self.open_gate()
            if leds:
                leds.show("pass", self.config.kiosk.result_hold_s)
        elif decision.verdict is Verdict.BLOCKED:
            self._play(FEVER_ALARM)
            if leds:
                leds.show("block", self.config.gpio.alarm_timeout_s)
            try:
                with self._lock:
                    self._record(
                        "alarm",
                        verdict="sounding",
                        links_to=record["id"],
                        detail={"pattern": FEVER_ALARM.name},
                    )
            except LedgerError as exc:
                log.error("alarm not recorded: %s", exc)
        elif decision.verdict is Verdict.FAULT:
            self._play(FAULT_PATTERN)
            if leds:
                leds.show("block", self.config.kiosk.result_hold_s)

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Settings from the hub (threshold, compensation, identification) take effect for the
        next person. A value the kiosk would refuse at start is refused here too."""
        if not settings:
            return
        try:
            config = self.config.replace(
                **{k.replace(".", "__", 1): v for k, v in settings.items()}
            )
        except ValueError as exc:
            log.error("hub settings not applied: %s", exc)
            return
        self.config = config
        self.rules = Rules.from_config(config)
        self.measurer.rules = self.rules

    def open_gate(self) -> None:
        if self.hardware.relay is not None:
            self.hardware.relay.pulse()

    def active_context(self) -> Context | None:
        context = self.context
        if context is not None and context.until < time.monotonic():
            self.context = None
            return None
        return context

    def show(self, screen: str, **fields: Any) -> None:
        """Put a screen up from outside the loop (the guard's decisions)."""
        self.screen.publish(screen, **fields)

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append an event under the gate's lock (the guard's actions use this)."""
        with self._lock:
            return self._record(kind, **fields)

    def _play(self, pattern: Any) -> None:
        if self.hardware.buzzer is not None:
            self.hardware.buzzer.play(pattern, timeout_s=self.config.gpio.alarm_timeout_s)

    def silence(self) -> bool:
        """Stop the buzzer; True if an alarm was sounding."""
        buzzer = self.hardware.buzzer
        if buzzer is None:
            return False
        was = buzzer.playing == FEVER_ALARM.name
        buzzer.silence()
        return was

    def _on_sensor_fault(self, exc: SensorError) -> None:
        message = str(exc)
        if self._sensor_fault is None:
            log.error("sensor fault: %s", message)
            self._play(FAULT_PATTERN)
            try:
                with self._lock:
                    self._record(
                        "sensor_fault",
                        verdict="fault",
                        reason=type(exc).__name__,
                        detail={"error": message},
                    )
            except LedgerError as error:
                log.error("sensor fault not recorded: %s", error)
        self._sensor_fault = message
        if self.screen.snapshot()["screen"] != "sensor_fault":
            self.screen.publish("sensor_fault")

    def _on_sensor_recovered(self) -> None:
        log.info("测温设备已恢复（sensor recovered）")
        try:
            with self._lock:
                self._record("sensor_recovered", detail={"after": self._sensor_fault})
        except LedgerError as error:
            log.error("sensor recovery not recorded: %s", error)
        self._sensor_fault = None
        self._show_idle()

    def _show_idle(self) -> None:
        self.screen.publish("idle", identify=self.config.kiosk.identify)

    def _show_if_changed(self, screen: str) -> None:
        if self.screen.snapshot()["screen"] != screen:
            if screen == "idle":
                self._show_idle()
            else:
                self.screen.publish(screen)

    def alive(self, within_s: float) -> bool:
        """Has the loop run in the last ``within_s`` seconds?"""
        return time.monotonic() - self.heartbeat < within_s

    def status(self) -> dict[str, Any]:
        ok_at = self.sensor_ok_at
        return {
            "sensor_fault": self._sensor_fault,
            "sensor_ok_s_ago": None if ok_at is None else round(time.monotonic() - ok_at, 1),
            "screen": self.screen.snapshot()["screen"],
            "events": self.ledger.count(),
            "unsynced": self.ledger.unsynced_count(),
            "direction": self.direction,
        }

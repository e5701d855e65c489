"""The gate loop: watch the sensor, measure whoever steps up, record, signal, show.

Order matters here: a verdict reaches the screen, the buzzer and the relay only after its ledger
record is committed. If the record cannot be written, nobody is admitted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from drivers import Reading, SensorError
from drivers.signals import FAULT_PATTERN, FEVER_ALARM, PASS_CHIRP
from kiosk import passes
from kiosk.config import Config, in_force
from kiosk.hardware import Hardware
from kiosk.ledger import Ledger, LedgerError
from kiosk.liveness import PROBLEMS_ZH, Liveness, LivenessRules
from kiosk.measurement import Measurement, Measurer, Timing
from kiosk.screen_state import ScreenState
from kiosk.screening import Decision, Reason, Rules, Verdict, no_reading
from kiosk.words import sensor_error_words

log = logging.getLogger(__name__)

PASS_VALID_FOR_S = 30.0
RETRY_PAUSE_S = 1.5
FAULT_POLL_S = 1.0


class PassesNotTaken(RuntimeError):
    """A pass was shown at a gate configured to screen only."""


class AwaitingGuard(RuntimeError):
    """A fever block is waiting for the guard: nothing on the resident screen clears it."""


class LaneBusy(RuntimeError):
    """A resident is being measured or still stands at the sensor: a staff sign-on now would
    take their reading for the guard's."""


class SensorFaulty(RuntimeError):
    """The sensor is known faulty: nothing can be measured (the message says why, in Chinese)."""


class StaffReadingGone(RuntimeError):
    """No sign-on reading waits for this guard's confirmation (expired, discarded, or none)."""


# A sign-on is the guard's own reading only while the guard is at the kiosk: the reading comes
# within STAFF_MEASURE_S of the tap on 上岗测温 (the sensor is beside the screen) and is confirmed
# within STAFF_CONFIRM_S. A guard who taps and walks away leaves nothing for the next person at
# the sensor to claim (field trial: a resident stepped up 45 s later, was shown 是本人，上岗, and
# signed the absent guard on with the resident's temperature).
STAFF_MEASURE_S = 20.0
STAFF_CONFIRM_S = 15.0


def _staff_result(staff: StaffSignOn, decision: Decision) -> dict[str, Any]:
    """What the guard screen shows of a sign-on measurement, before its state is added."""
    return {
        "guard_id": staff.guard_id,
        "estimate_c": decision.estimate_c,
        "threshold_c": decision.threshold_c,
        "reason": decision.reason.value if decision.reason else None,
    }


class _WatchedThermometer:
    """The thermometer as the gate reads it: every read (idle polls and measurement samples)
    goes through the liveness check."""

    def __init__(self, thermometer: Any, liveness: Liveness, clock: Callable[[], float]) -> None:
        self.thermometer = thermometer
        self.liveness = liveness
        self._clock = clock

    def read(self) -> Reading:
        try:
            reading = self.thermometer.read()
        except SensorError:
            self.liveness.reset(self._clock())
            raise
        self.liveness.observe(reading, self._clock())
        return reading

    def close(self) -> None:
        self.thermometer.close()


@dataclass(frozen=True)
class Remeasure:
    """The guard asked for the person of a fever block to be measured again."""

    block_id: str
    guard_id: str
    until: float
    requested_at: float  # the measurement needs a fresh word from the chip after this


@dataclass(frozen=True)
class StaffSignOn:
    """A staff member signs on at the guard screen: the next measurement is theirs, judged by
    the same rules, and recorded as a ``shift`` event (``on``, or ``blocked`` by a fever)."""

    guard_id: str
    name: str
    visitors_at_home: bool  # the household question: someone from outside stays at home
    until: float
    requested_at: float


@dataclass(frozen=True)
class StaffReading:
    """A normal sign-on reading waiting for the guard's 本人确认: it is recorded as theirs only
    when they confirm it (a resident may have stepped up instead)."""

    staff: StaffSignOn
    measurement: Measurement
    until: float


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
        listeners: Iterable[Callable[[dict[str, Any]], None]] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._file_config = config  # the kiosk's file: the hub's set goes on top of it
        self._hub_settings: dict[str, Any] = {}
        self._config = config  # derived: see _derive_config
        self.hardware = hardware
        self.ledger = ledger
        # The clock seam: tests pass a fake clock (and a sleep that advances it) and drive the
        # loop with step(), so the timing rules are tested without waiting for them.
        self._clock = clock
        self.rules = Rules.from_config(config)
        self.timing = Timing.from_config(config)
        self.liveness = Liveness(LivenessRules.from_config(config), clock())
        self.thermometer = _WatchedThermometer(hardware.thermometer, self.liveness, clock)
        self.measurer = Measurer(
            self.thermometer, self.rules, self.timing, distance=hardware.distance, sleep=sleep
        )
        self.screen = ScreenState()
        self._listeners = list(listeners)
        self._stop = threading.Event()
        self._rearm = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending_pass: _PendingPass | None = None
        self._last_screening: dict[str, Any] | None = None
        self._last_screening_at = 0.0
        self._last_held = False  # the last screening was held for the guard (a held visitor)
        self._sensor_fault: str | None = None
        self.heartbeat = clock()  # each pass of the loop; the watchdog checks it
        # The loop's state between steps.
        self._armed = True  # the next presence starts a measurement
        self._armed_at = clock()  # a measurement needs a fresh word from the chip after this
        self._rearm_at: float | None = None  # after a retry, re-arm even if still present
        self._hold_until: float | None = None  # the verdict stays on screen until then
        # The fever block waiting for the guard (its record), and the guard's re-measure request.
        self.awaiting_guard: dict[str, Any] | None = last_undecided_block(ledger)
        self._remeasure: Remeasure | None = None
        # A staff member's sign-on measurement, and how the last one went (for the guard page).
        self._staff: StaffSignOn | None = None
        self._staff_reading: StaffReading | None = None
        self._measuring = False  # a measurement (resident or staff) is being taken now
        self.staff_result: dict[str, Any] | None = None
        self._direction = "in"
        self._sync_status: Callable[[], Any] | None = None
        self._context: Context | None = None
        # Notices for the guard's eyes only (a quarantined resident's pass was used).
        self.guard_notices: deque[dict[str, Any]] = deque(maxlen=20)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.show_first_screen()
        self._thread = threading.Thread(target=self._run, name="gate", daemon=True)
        self._thread.start()

    def show_first_screen(self) -> None:
        """Idle, or the fever block still waiting for the guard (after a restart)."""
        if self.awaiting_guard is not None:
            self._show_awaiting_guard()
        else:
            self._show_idle()

    def stop(self) -> None:
        self._stop.set()
        self._rearm.set()
        if self._thread is not None:
            self._thread.join(5)
        self.screen.publish("stopped")

    @property
    def clock(self) -> Callable[[], float]:
        """The gate's clock (seconds), as given to the constructor; only the constructor sets
        it (tests give a fake clock there and advance that)."""
        return self._clock

    @property
    def direction(self) -> str:
        """Which way the gate is taking people: "in" or "out" (the guard screen sets it)."""
        return self._direction

    def set_direction(self, direction: str) -> None:
        if direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
        with self._lock:
            self._direction = direction

    # -- actions from the touchscreen --------------------------------------------------------

    @property
    def sensor_ok_at(self) -> float | None:
        """When the chip last gave a read that passed the liveness check (gate clock)."""
        return self.liveness.ok_at

    @property
    def armed(self) -> bool:
        """The next presence starts a measurement: the lane was seen empty (or re-armed) since
        the last one. After a verdict or a sign-on reading it is False until the person left."""
        return self._armed

    def measure_again(self) -> None:
        """The 'measure again' button: the person in front is measured anew. Not after a fever
        block: that is the guard's to clear (see :meth:`remeasure_for_guard`)."""
        if self.awaiting_guard is not None:
            raise AwaitingGuard("a fever block is waiting for the guard")
        self._rearm.set()

    def remeasure_for_guard(self, block_id: str, guard_id: str, within_s: float = 60.0) -> None:
        """The guard's re-measure of a blocked person: the next measurement is a new screening
        linked to the block, and it ends the wait for the guard."""
        now = self._clock()
        self._remeasure = Remeasure(block_id, guard_id, now + within_s, requested_at=now)
        self.screen.publish("guard_remeasure")
        self._rearm.set()

    def measure_staff(
        self, guard_id: str, name: str, *, visitors_at_home: bool, within_s: float | None = None
    ) -> None:
        """Sign a staff member on: the next measurement is theirs (not a resident's), within
        ``within_s``. Not while a fever block or a guard's re-measure waits, not while the
        sensor is known faulty (:class:`SensorFaulty`, at once: no 60 s wait), and not while a
        resident is being measured or still stands at the sensor after their verdict
        (:class:`LaneBusy`): their reading must never become the guard's."""
        with self._lock:
            if self.awaiting_guard is not None or self._remeasure is not None:
                raise AwaitingGuard("a fever block is waiting for the guard")
            if self._sensor_fault is not None:
                raise SensorFaulty(self._sensor_fault)
            if self._resident_busy():
                raise LaneBusy("a resident is at the sensor")
            now = self._clock()
            window = STAFF_MEASURE_S if within_s is None else within_s
            self._staff = StaffSignOn(guard_id, name, visitors_at_home, now + window, now)
            self._staff_reading = None
            self.staff_result = {"guard_id": guard_id, "state": "measuring"}
        self.screen.publish("staff_measuring")
        self._rearm.set()

    def _resident_busy(self) -> bool:
        """A resident's measurement is under way, their verdict is on the screen, or they are
        still in front of the sensor after it (the lane is not re-armed until they leave)."""
        if self._staff is not None or self._staff_reading is not None:
            return False  # a sign-on already holds the lane
        if self._measuring or self._hold_until is not None or not self._armed:
            return True
        return self._context is not None or self._valid_pass() is not None

    def cancel_staff(self, *, keep: str | None = None) -> None:
        """End a sign-on waiting for a measurement or a confirmation, and forget how the last
        one went, unless it is ``keep``'s: a guard who walked away mid sign-on must not be
        signed on by whoever the sensor sees next, and the next guard at the screen must not
        read their words (the guard screen calls this when someone unlocks or locks it)."""
        with self._lock:
            pending = self._staff
            if pending is None and self._staff_reading is not None:
                pending = self._staff_reading.staff
            result = self.staff_result
            if pending is not None and pending.guard_id != keep:
                self._staff = None
                self._staff_reading = None
            else:
                pending = None
            if result is not None and result.get("guard_id") != keep:
                self.staff_result = None
        if pending is not None:
            self._show_idle() if self.awaiting_guard is None else self._show_awaiting_guard()

    def confirm_staff(self, guard_id: str, *, own: bool) -> dict[str, Any] | None:
        """The guard's answer to 本人确认 on their sign-on reading. ``own``: it is recorded as
        their sign-on (a ``shift`` event ``on``), returned. Not theirs: the reading is dropped
        (nothing recorded) and the kiosk measures again, once whoever stood there has left."""
        with self._lock:
            pending = self._staff_reading
            if pending is None or pending.staff.guard_id != guard_id:
                raise StaffReadingGone("no sign-on reading waits for this guard")
            self._staff_reading = None
            if pending.until < self._clock() or self._sensor_fault is not None:
                self.staff_result = {"guard_id": guard_id, "state": "expired"}
                raise StaffReadingGone("the sign-on reading expired")
            if not own:
                now = self._clock()
                staff = pending.staff
                self._staff = StaffSignOn(
                    staff.guard_id, staff.name, staff.visitors_at_home, now + STAFF_MEASURE_S, now
                )
                self.staff_result = {"guard_id": guard_id, "state": "measuring", "again": True}
        if not own:
            self.screen.publish("staff_measuring")
            return None
        return self._record_sign_on(pending.measurement, pending.staff)

    def guard_decided(self, event_id: str) -> None:
        """The guard decided on ``event_id``; if it was the block being waited on, the lane is
        open again."""
        block = self.awaiting_guard
        if block is not None and block["id"] == event_id:
            self.awaiting_guard = None
            self._remeasure = None

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
                and self._clock() - self._last_screening_at < PASS_VALID_FOR_S
            ):
                links_to = last["id"]
            record = self._record(
                "identify",
                verdict="accepted" if check.ok else "refused",
                reason=check.reason,
                pass_code=check.code,
                links_to=links_to,
            )
            if check.quarantined:
                self.guard_notices.append(self._quarantine_notice(check.code, record))
            if check.ok and check.code is not None:
                self._pending_pass = _PendingPass(check.code, self._clock() + PASS_VALID_FOR_S)
                if (
                    links_to
                    and last is not None
                    and last["verdict"] == Verdict.ADMITTED
                    and not self._last_held  # a held visitor's: the guard decides
                    and self.awaiting_guard is None
                ):
                    self.open_gate()
        return check

    def _quarantine_notice(self, code: str | None, record: dict[str, Any]) -> dict[str, Any]:
        row = (
            self.ledger.connection()
            .execute("SELECT building, unit, room FROM passes WHERE code = ?", (code,))
            .fetchone()
        )
        place = "-".join(str(part) for part in row if part) if row else ""
        return {
            "id": record["id"],
            "kind": "quarantine",
            "pass_code": code,
            "place": place,
            "wall_time": record["wall_time"],
        }

    def dismiss_notice(self, notice_id: str) -> bool:
        """The guard has seen a notice: it leaves the guard screen (the identify record stays)."""
        for notice in list(self.guard_notices):
            if notice["id"] == notice_id:
                self.guard_notices.remove(notice)
                return True
        return False

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.step())

    def step(self) -> float:
        """One pass of the loop: read the chip, start a measurement or move the screen on.
        Returns the seconds to wait before the next pass."""
        now = self._clock()
        self.heartbeat = now
        poll = self.timing.poll_interval_s
        try:
            reading = self.thermometer.read()
        except SensorError as exc:
            self._on_sensor_fault(type(exc).__name__, sensor_error_words(exc), technical=str(exc))
            self._end_sign_on_for_fault()
            self._arm(now)
            return FAULT_POLL_S
        problem = self.liveness.problem
        if problem is not None:
            # The chip answers but does not measure: the same as no chip at all.
            self._on_sensor_fault(problem, PROBLEMS_ZH[problem])
            self._end_sign_on_for_fault()
            self._arm(now)
            return poll
        if self._sensor_fault is not None:
            self._on_sensor_recovered()
        if self._rearm.is_set() or (self._rearm_at is not None and now >= self._rearm_at):
            self._rearm.clear()
            self._arm(now)
        present = self.measurer.present(reading)
        if not present:
            self._arm(now)  # whoever was measured has stepped away
        remeasure = self._remeasure
        if remeasure is not None and remeasure.until < now:
            self._remeasure = remeasure = None
            self._show_awaiting_guard()
        staff = self._staff
        if staff is not None and staff.until < now:
            self._staff = None
            self.staff_result = {"guard_id": staff.guard_id, "state": "expired"}
            self._show_idle()
        waiting = self._staff_reading
        if waiting is not None and waiting.until < now:
            with self._lock:
                if self._staff_reading is waiting:
                    self._staff_reading = None
                    self.staff_result = {"guard_id": waiting.staff.guard_id, "state": "expired"}
            self._show_idle()
        if self._staff_reading is not None:
            # A sign-on reading waits for the guard's 本人确认: nobody else is measured now.
            return poll
        if self.awaiting_guard is not None and remeasure is None:
            # A fever block waits for the guard: nobody is measured and the verdict stays up.
            return poll
        if present and self._armed:
            if not self.liveness.changed_since(self._fresh_after(remeasure)):
                # Not one fresh word from the chip since the lane was last seen empty, "measure
                # again" was touched or the guard asked for a re-measure: it may have frozen on
                # the last person. Wait (a frozen chip is called a fault after
                # sensor.frozen_after_s).
                return poll
            if self._staff is None and self._waiting_for_pass():
                self._show_if_changed("need_pass")
                return poll
            verdict = self._screen_person()
            self._armed = False
            self._rearm_at = self._clock() + RETRY_PAUSE_S if verdict is Verdict.RETRY else None
            self._hold_until = self._clock() + self.config.kiosk.result_hold_s
            return 0.0
        if self._hold_until is None or now >= self._hold_until:
            self._hold_until = None
            lane_open = (
                self.awaiting_guard is None
                and self._remeasure is None
                and self._staff is None
                and self._staff_reading is None
            )
            # A verdict stays up after result_hold_s only while a fresh word from the chip says
            # somebody still stands there: a chip frozen on the last person must not keep their
            # green screen up for the next one.
            still_there = present and self.liveness.last_change_at > now - self._hold_s()
            if lane_open and (not still_there or self.screen.snapshot()["screen"] == "need_pass"):
                self._show_if_changed("idle")
        return poll

    def _hold_s(self) -> float:
        return self.config.kiosk.result_hold_s

    def _fresh_after(self, remeasure: Remeasure | None) -> float:
        """The moment after which the chip must give a fresh word before anyone is measured."""
        after = self._armed_at
        for request in (remeasure, self._staff):
            if request is not None:
                after = max(after, request.requested_at)
        return after

    def _arm(self, now: float) -> None:
        """Ready to measure whoever is (or comes) in front, with a fresh word after ``now``:
        called while the lane is empty, on "measure again" and on the guard's re-measure."""
        self._armed_at = now
        self._armed = True
        self._rearm_at = None

    def _waiting_for_pass(self) -> bool:
        kiosk = self.config.kiosk
        return kiosk.identify == "before" and kiosk.identify_required and self._valid_pass() is None

    def _valid_pass(self) -> str | None:
        pending = self._pending_pass
        if pending is None or pending.until < self._clock():
            return None
        return pending.code

    def _end_sign_on_for_fault(self) -> None:
        """The sensor is faulty: a sign-on waiting for a measurement or for its confirmation
        ends now (no faulty reading may count, and no guard waits for a timeout)."""
        with self._lock:
            pending = self._staff
            if pending is None and self._staff_reading is not None:
                pending = self._staff_reading.staff
            if pending is None:
                return
            self._staff = None
            self._staff_reading = None
            self.staff_result = {
                "guard_id": pending.guard_id,
                "state": "sensor_fault",
                "message": self._sensor_fault,
            }

    def _screen_person(self) -> Verdict:
        self._measuring = True
        try:
            return self._measure_and_judge()
        finally:
            self._measuring = False

    def _measure_and_judge(self) -> Verdict:
        self.screen.publish("measuring" if self._staff is None else "staff_measuring")
        measurement = self.measurer.measure()
        problem = self.liveness.problem
        if problem is not None and measurement.decision.verdict is not Verdict.FAULT:
            # The chip stopped measuring during the samples: they prove nothing.
            measurement = Measurement(
                no_reading(Reason.SENSOR, self.rules), measurement.samples, PROBLEMS_ZH[problem]
            )
        if self._staff is not None:
            return self._sign_on(measurement, self._staff)
        decision = measurement.decision
        resident_pass = self._valid_pass()
        pass_code = resident_pass if self.config.kiosk.identify == "before" else None
        remeasure = self._remeasure
        context = None if remeasure is not None else self.active_context()
        if context is not None and context.kind == "visitor" and resident_pass is not None:
            # A valid resident pass makes this the resident's screening, never the visitor's.
            context = None
        held = context is not None and context.held and decision.admits
        try:
            with self._lock:
                record = self._record_screening(measurement, pass_code, context, remeasure)
                self._last_screening = record
                self._last_screening_at = self._clock()
                self._last_held = context is not None and context.held
                self._pending_pass = None
                if context is not None and context.kind == "visitor" and not context.held:
                    # A visitor is one person. A held visitor stays until the guard decides
                    # (or the item expires): every screening without a pass meanwhile is held.
                    self._context = None
                if remeasure is not None and decision.verdict in (
                    Verdict.ADMITTED,
                    Verdict.BLOCKED,
                ):
                    self.guard_decided(remeasure.block_id)
                if decision.verdict is Verdict.BLOCKED:
                    self.awaiting_guard = record
        except LedgerError as exc:
            log.error("not recorded, nobody admitted: %s", exc)
            self.screen.publish("not_recorded")
            self._play(FAULT_PATTERN)
            return Verdict.FAULT
        visitor = context is not None and context.kind == "visitor"
        self._show_verdict(decision, record, held=held, visitor=visitor)
        self._signal(decision, record, held=held)
        return decision.verdict

    def _record_screening(
        self,
        measurement: Measurement,
        pass_code: str | None,
        context: Context | None,
        remeasure: Remeasure | None = None,
    ) -> dict[str, Any]:
        decision = measurement.decision
        detail: dict[str, Any] = {
            "direction": self._direction,
            **self._measurement_detail(measurement),
        }
        if remeasure is not None:
            detail["remeasure_of"] = remeasure.block_id
            detail["guard_id"] = remeasure.guard_id
        links_to = context.event_id if context is not None else None
        if remeasure is not None:
            links_to = remeasure.block_id
        temperatures = self.config.kiosk.store_temperatures
        return self._record(
            "screening",
            verdict=decision.verdict.value,
            reason=decision.reason.value if decision.reason else None,
            estimate_c=decision.estimate_c if temperatures else None,
            threshold_c=decision.threshold_c,
            object_c=decision.object_c if temperatures else None,
            ambient_c=decision.ambient_c if temperatures else None,
            pass_code=pass_code,
            links_to=links_to,
            detail=detail,
        )

    def _measurement_detail(self, measurement: Measurement) -> dict[str, Any]:
        """What a record keeps of a measurement: every sample, the spread, the rules in force
        (without the temperatures when ``kiosk.store_temperatures`` is off)."""
        decision = measurement.decision
        detail: dict[str, Any] = {
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
        if not self.config.kiosk.store_temperatures:
            # Pass/fail only: the verdict and the threshold are kept, no temperature at all.
            detail = {k: v for k, v in detail.items() if k not in ("samples", "raw", "spread_c")}
        return detail

    def _sign_on(self, measurement: Measurement, staff: StaffSignOn) -> Verdict:
        """A staff member's sign-on measurement, by the residents' rules. Normal: the reading
        waits for the guard's 本人确认 on the guard screen (:meth:`confirm_staff`) and only then
        becomes their ``shift`` event ``on``: a resident who stepped up instead must not sign
        the guard on. A fever blocks the shift at once (a ``shift`` event ``blocked``, sent to
        the hub first), with no confirmation to escape it, and is also the gate's fever block.
        A failed measurement records nothing and waits for the next one; a sensor fault ends
        the sign-on at once. The gate never opens for it."""
        decision = measurement.decision
        verdict = decision.verdict
        result = _staff_result(staff, decision)
        if verdict is Verdict.FAULT and decision.reason is Reason.SENSOR:
            with self._lock:
                self._staff = None
                self.staff_result = {
                    **result,
                    "state": "sensor_fault",
                    "message": measurement.error or self._sensor_fault,
                }
            self.screen.publish("fault", reason=result["reason"])
            self._play(FAULT_PATTERN)
            return Verdict.FAULT
        if verdict not in (Verdict.ADMITTED, Verdict.BLOCKED):
            self.staff_result = {**result, "state": "retry"}
            self.screen.publish("staff_retry", reason=result["reason"])
            return Verdict.RETRY
        if verdict is Verdict.ADMITTED:
            with self._lock:
                self._staff = None
                self._staff_reading = StaffReading(
                    staff, measurement, self._clock() + STAFF_CONFIRM_S
                )
                self.staff_result = {**result, "state": "confirm"}
            self.screen.publish(
                "staff_confirm", estimate_c=decision.estimate_c, threshold_c=decision.threshold_c
            )
            return verdict
        return verdict if self._record_sign_on(measurement, staff) else Verdict.FAULT

    def _record_sign_on(
        self, measurement: Measurement, staff: StaffSignOn
    ) -> dict[str, Any] | None:
        """Record a sign-on reading as the guard's: ``on`` (confirmed) or ``blocked``. Returns
        the record, or None when the ledger could not take it (nothing then counts)."""
        decision = measurement.decision
        verdict = decision.verdict
        result = _staff_result(staff, decision)
        temperatures = self.config.kiosk.store_temperatures
        detail = {
            "guard_id": staff.guard_id,
            "name": staff.name,
            "visitors_at_home": staff.visitors_at_home,
            **self._measurement_detail(measurement),
        }
        if verdict is Verdict.ADMITTED:
            detail["confirmed_own"] = True  # the guard touched 本人确认 on the guard screen
        block: dict[str, Any] | None = None
        try:
            with self._lock:
                record = self._record(
                    "shift",
                    verdict="on" if verdict is Verdict.ADMITTED else "blocked",
                    reason=result["reason"],
                    estimate_c=decision.estimate_c if temperatures else None,
                    threshold_c=decision.threshold_c,
                    object_c=decision.object_c if temperatures else None,
                    ambient_c=decision.ambient_c if temperatures else None,
                    detail=detail,
                )
                if verdict is Verdict.BLOCKED:
                    # A fever in front of the sensor is a fever at the gate, whoever it is: the
                    # one measured may be a resident who stepped up during the sign-on (found in
                    # a field trial). The gate's fever block, alarm and 发热人员处置记录 follow,
                    # as for anyone; the block is the guards' to clear.
                    block = self._record_screening(measurement, None, None)
                    self._last_screening = block
                    self._last_screening_at = self._clock()
                    self.awaiting_guard = block
        except LedgerError as exc:
            log.error("sign-on not recorded: %s", exc)
            self.staff_result = {**result, "state": "not_recorded"}
            self.screen.publish("not_recorded")
            self._play(FAULT_PATTERN)
            return None
        self._staff = None
        state = "on" if verdict is Verdict.ADMITTED else "blocked"
        self.staff_result = {**result, "state": state, "seq": record["seq"], "id": record["id"]}
        self.screen.publish(
            "staff_" + state,
            estimate_c=decision.estimate_c,
            threshold_c=decision.threshold_c,
            recorded=True,
            seq=record["seq"],
        )
        if block is not None:
            self._show_verdict(decision, block, held=False)
            self._signal(decision, block, held=False)
        else:
            self._play(PASS_CHIRP)
        return record

    def _record(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = self.ledger.append(kind, **fields)
        for listener in self._listeners:
            listener(record)
        return record

    def _show_verdict(
        self, decision: Decision, record: dict[str, Any], *, held: bool, visitor: bool = False
    ) -> None:
        self.screen.publish(
            "held" if held else decision.verdict.value,
            reason=decision.reason.value if decision.reason else None,
            estimate_c=decision.estimate_c,
            threshold_c=decision.threshold_c,
            recorded=True,
            seq=record["seq"],
            need_pass=self._pass_needed_after(decision),
            awaiting_guard=decision.verdict is Verdict.BLOCKED,
            visitor=visitor,  # a guard-registered visitor's: the display shows it to them
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
        """The hub's whole set of settings (threshold, compensation, identification), in force
        from the next person on. The settings in force are always derived: the kiosk's file with
        this set on top, so a setting the hub takes back returns to the file's value. A value
        the kiosk would refuse at start is refused here too, and only that value."""
        with self._lock:
            self._hub_settings = dict(settings)
        self._derive_config()

    @property
    def hub_settings(self) -> dict[str, Any]:
        """The hub's set as last applied (those of its values that the kiosk took)."""
        return dict(self._hub_settings)

    @property
    def config(self) -> Config:
        """The settings in force: the file's, with the hub's current set on top."""
        return self._config

    def reconfigure(self, config: Config) -> None:
        """The kiosk's own settings (the file's) are now ``config``; the hub's set stays on top."""
        with self._lock:
            self._file_config = config
        self._derive_config()

    def _derive_config(self) -> None:
        with self._lock:
            self._config = in_force(self._file_config, self._hub_settings)
            self.rules = Rules.from_config(self._config)
            self.measurer.rules = self.rules

    def open_gate(self) -> None:
        if self.hardware.relay is not None:
            self.hardware.relay.pulse()

    # -- what the gate offers the guard desk and the sync worker ------------------------------

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with every record once it is committed (the sync worker wakes)."""
        self._listeners.append(listener)

    def set_sync_status(self, provider: Callable[[], Any]) -> None:
        """Where the guard screen reads the sync state (the sync worker's, when a hub is set)."""
        self._sync_status = provider

    def sync_status(self) -> Any:
        """The sync client's state, or None when no hub is configured."""
        return None if self._sync_status is None else self._sync_status()

    def begin_context(
        self, kind: str, event_id: str, window_s: float, *, held: bool = False
    ) -> None:
        """The next screenings belong to this visitor or vehicle for ``window_s`` seconds."""
        with self._lock:
            self._context = Context(kind, event_id, self._clock() + window_s, held=held)

    def end_context(self, *, kind: str | None = None, event_id: str | None = None) -> None:
        """End the current context (only if it is of ``kind`` / for ``event_id``, when given)."""
        with self._lock:
            context = self._context
            if context is None:
                return
            if (kind is None or context.kind == kind) and (
                event_id is None or context.event_id == event_id
            ):
                self._context = None

    def active_context(self) -> Context | None:
        with self._lock:
            context = self._context
            if context is not None and context.until < self._clock():
                self._context = None
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

    def _on_sensor_fault(self, reason: str, message: str, *, technical: str | None = None) -> None:
        if self._sensor_fault is None:
            log.error("sensor fault: %s", message)
            self._play(FAULT_PATTERN)
            try:
                with self._lock:
                    self._record(
                        "sensor_fault",
                        verdict="fault",
                        reason=reason,
                        detail={"error": message} | ({"technical": technical} if technical else {}),
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
        if self.awaiting_guard is not None:
            self._show_awaiting_guard()
        else:
            self._show_idle()

    def _show_awaiting_guard(self) -> None:
        block = self.awaiting_guard
        if block is None:
            return
        self.screen.publish(
            "blocked",
            reason=Reason.FEVER.value,
            estimate_c=block["estimate_c"],
            threshold_c=block["threshold_c"],
            recorded=True,
            seq=block["seq"],
            awaiting_guard=True,
        )

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
        return self._clock() - self.heartbeat < within_s

    def status(self) -> dict[str, Any]:
        ok_at = self.sensor_ok_at
        return {
            "sensor_fault": self._sensor_fault,
            "sensor_ok_s_ago": None if ok_at is None else round(self._clock() - ok_at, 1),
            "awaiting_guard": self.awaiting_guard is not None,
            "screen": self.screen.snapshot()["screen"],
            "events": self.ledger.count(),
            "unsynced": self.ledger.unsynced_count(),
            "direction": self._direction,
        }


def last_undecided_block(ledger: Ledger) -> dict[str, Any] | None:
    """The latest fever block no guard has decided on (a kiosk restart keeps waiting for it)."""
    row = (
        ledger.connection()
        .execute(
            "SELECT * FROM events e WHERE e.kind = 'screening' AND e.verdict = 'blocked'"
            " AND e.seq = (SELECT max(seq) FROM events WHERE kind = 'screening')"
            " AND NOT EXISTS (SELECT 1 FROM events o WHERE o.links_to = e.id"
            "                 AND o.kind IN ('override', 'screening'))"
        )
        .fetchone()
    )
    return None if row is None else dict(row)

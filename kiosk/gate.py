"""The gate: drives the lane (``kiosk.lane``) with the hardware and the clock, and carries out its
effects on the screen, the buzzer, the relay and the ledger.

What happens when is the lane's transition table; this module only turns readings, timers and
the screens' actions into the lane's events, and the lane's effects into records and signals.
Order matters: a verdict reaches the screen, the buzzer and the relay only after its ledger
record is committed. If the record cannot be written, nobody is admitted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from drivers import Reading, SensorError
from drivers.signals import FAULT_PATTERN, FEVER_ALARM, PASS_CHIRP
from kiosk import duty, passes
from kiosk.config import Config, in_force
from kiosk.hardware import Hardware
from kiosk.lane import (
    DECIDED_HOLD_S,
    RETRY_PAUSE_S,
    Effect,
    Event,
    Outcome,
    Refusal,
    State,
    after,
    outcome,
)
from kiosk.lane_data import (
    PASS_VALID_FOR_S,
    REMEASURE_WITHIN_S,
    STAFF_CONFIRM_S,
    STAFF_MEASURE_S,
    Context,
    Remeasure,
    ShownPass,
    StaffReading,
    StaffSignOn,
    sign_on_summary,
)
from kiosk.lane_records import last_undecided_block, measurement_detail
from kiosk.ledger import Ledger, LedgerError
from kiosk.liveness import PROBLEMS_ZH, Liveness, LivenessRules
from kiosk.measurement import Measurement, Measurer, Timing
from kiosk.screen_state import ScreenState
from kiosk.screening import Decision, Reason, Rules, Verdict, no_reading
from kiosk.words import sensor_error_words

log = logging.getLogger(__name__)

FAULT_POLL_S = 1.0


class PassesNotTaken(RuntimeError):
    """A pass was shown at a gate configured to screen only."""


class AwaitingGuard(RuntimeError):
    """A fever block is waiting for the guard: nothing on the resident screen clears it."""


class LaneBusy(RuntimeError):
    """A resident is being measured or their verdict is on the screen: a staff sign-on now would
    take their reading for the guard's."""


class SensorFaulty(RuntimeError):
    """The sensor is known faulty: nothing can be measured (the message says why, in Chinese)."""


class StaffReadingGone(RuntimeError):
    """No sign-on reading waits for this guard's confirmation (expired, discarded, or none)."""


REFUSALS: dict[Refusal, type[RuntimeError]] = {
    Refusal.AWAITING_GUARD: AwaitingGuard,
    Refusal.LANE_BUSY: LaneBusy,
    Refusal.SENSOR_FAULTY: SensorFaulty,
    Refusal.NO_SIGN_ON_READING: StaffReadingGone,
}

MEASURING_STATES = (State.MEASURING, State.REMEASURING, State.STAFF_MEASURING)


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


class Gate:
    """Runs the lane in a background thread and offers the actions the touchscreen and the guard
    screen take (show a pass, measure again, the guard's decisions and sign-on)."""

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
        self.screen = ScreenState(clock)
        self._listeners = list(listeners)
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self.heartbeat = clock()  # each pass of the loop; the watchdog checks it
        # The lane's data; what it means at each moment is the lane's state (kiosk.lane).
        self.awaiting_guard: dict[str, Any] | None = last_undecided_block(ledger)
        self.state = State.AWAITING_GUARD if self.awaiting_guard is not None else State.IDLE
        self._armed_at = clock()  # a measurement needs fresh words from the chip after this
        self._hold_until = 0.0  # the verdict on screen is current until then
        self._shown_pass: ShownPass | None = None
        self._incoming_pass: ShownPass | None = None  # the one present_pass hands to the lane
        self._measuring_pass: ShownPass | None = None  # the pass of the measurement under way
        self._from = State.IDLE  # the state before the last transition (for its effect)
        self._context: Context | None = None
        self._remeasure: Remeasure | None = None
        self._staff: StaffSignOn | None = None
        self._staff_reading: StaffReading | None = None
        self.staff_result: dict[str, Any] | None = None  # how the last sign-on went
        self._sensor_fault: str | None = None
        self._fault: tuple[str, str, str | None] | None = None  # reason, words, technical
        self._last_screening: dict[str, Any] | None = None
        self._last_screening_at = 0.0
        self._last_held = False  # the last screening was held for the guard
        self._seen_empty = True  # the lane was empty since the last screening
        self._direction = "in"
        self._sync_status: Callable[[], Any] | None = None
        # Notices for the guard's eyes only (a quarantined resident's pass was used, a pass
        # refused where passes are not required).
        self.guard_notices: deque[dict[str, Any]] = deque(maxlen=20)
        self._effects: dict[Effect, Callable[[], object]] = {
            Effect.ARM: self._arm,
            Effect.READY: self._ready,
            Effect.ASK_PASS: lambda: self._show_if_changed("need_pass"),
            Effect.MEASURE: self._start_measuring,
            Effect.MEASURE_REMEASURE: lambda: self.screen.publish("measuring"),
            Effect.MEASURE_STAFF: lambda: self.screen.publish("staff_measuring"),
            Effect.HOLD: lambda: self._hold(self.config.kiosk.result_hold_s),
            Effect.HOLD_RETRY: lambda: self._hold(RETRY_PAUSE_S),
            Effect.SHOW_AWAITING: self._show_awaiting_guard,
            Effect.KEEP_PASS: self._keep_pass,
            Effect.START_REMEASURE: self._start_remeasure,
            Effect.REMEASURE_READY: self._remeasure_ready,
            Effect.QUIET: self._quiet,
            Effect.END_REMEASURE: self._end_remeasure,
            Effect.CLEAR_BLOCK: self._clear_block,
            Effect.START_SIGN_ON: self._start_sign_on,
            Effect.SIGN_ON_AGAIN: self._sign_on_again,
            Effect.END_SIGN_ON: self._end_sign_on,
            Effect.RECORD_FAULT: self._record_fault,
            Effect.RECOVER: self._recover,
            Effect.RESHOW: lambda: self._show_if_changed("idle", force=True),
        }

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

    # -- the lane ----------------------------------------------------------------------------

    def fire(self, event: Event, message: str = "") -> Outcome:
        """Feed ``event`` to the lane: move to the state the table declares and carry out its
        effect; a refusal is raised as the matching error (with ``message``)."""
        with self._lock:
            result = outcome(self.state, event)
            if result.refused is not None:
                raise REFUSALS[result.refused](message or result.refused.value)
            if result.ignored:
                return result
            self._from = self.state
            self.state = after(self.state, event, block_waits=self.awaiting_guard is not None)
            if result.effect is not None:
                self._effects[result.effect]()
            return result

    @property
    def armed(self) -> bool:
        """Whoever steps up with fresh words would be measured now."""
        return self.state in (
            State.IDLE,
            State.VERDICT_LEFT,
            State.GUARD_REMEASURE,
            State.STAFF_SIGN_ON,
        )

    def _arm(self) -> None:
        self._armed_at = self._clock()

    def _ready(self) -> None:
        """The lane is free. A pass shown while it was not (during a verdict, a fever block's
        wait) counts from now for the next person, not from when it was shown."""
        self._arm()
        shown = self._shown_pass
        if self._from is not State.IDLE and shown is not None and shown.until >= self._clock():
            self._shown_pass = replace(shown, until=self._clock() + PASS_VALID_FOR_S)
        self._show_if_changed("idle")

    def _start_measuring(self) -> None:
        """A resident's measurement begins: the pass shown so far is theirs; one shown from now
        on counts for the next person."""
        self._measuring_pass = self._valid_pass()
        self._shown_pass = None
        self.screen.publish("measuring")

    def _hold(self, seconds: float) -> None:
        self._hold_until = self._clock() + seconds

    # -- actions from the touchscreen --------------------------------------------------------

    @property
    def sensor_ok_at(self) -> float | None:
        """When the chip last gave a read that passed the liveness check (gate clock)."""
        return self.liveness.ok_at

    def measure_again(self) -> None:
        """The 'measure again' button: the person in front is measured anew. Not after a fever
        block: that is the guard's to clear (see :meth:`remeasure_for_guard`)."""
        self.fire(Event.MEASURE_AGAIN, "a fever block is waiting for the guard")

    def present_pass(self, raw: str) -> passes.PassCheck:
        """A resident shows a pass (keypad or QR scanner), heard in every state of the lane.
        Recorded either way; the latest pass shown counts for the next screening, and a refused
        one cancels an accepted one. With ``identify = after`` it identifies the verdict on
        screen instead."""
        kiosk = self.config.kiosk
        if kiosk.identify == "off":
            raise PassesNotTaken("this gate screens only; it does not take passes")
        check = passes.lookup(self.ledger.connection(), raw)
        with self._lock:
            now = self._clock()
            last = self._last_screening
            links_to = None
            if (
                kiosk.identify == "after"
                and last is not None
                and now - self._last_screening_at < PASS_VALID_FOR_S
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
                self.guard_notices.append(self._pass_notice("quarantine", check.code, record))
            self._incoming_pass = ShownPass(
                check.code if check.ok else None,
                now + PASS_VALID_FOR_S,
                refused=None if check.ok else (check.reason or "unknown"),
                identify_id=record["id"],
            )
            self.fire(Event.PASS_ACCEPTED if check.ok else Event.PASS_REFUSED)
            if (
                check.ok
                and links_to
                and last is not None
                and last["verdict"] == Verdict.ADMITTED
                and not self._last_held  # a held visitor's: the guard decides
                and self.awaiting_guard is None
            ):
                self.open_gate()
        return check

    def _keep_pass(self) -> None:
        """The latest pass shown counts for the next screening (a refused one cancels an
        accepted one): with ``identify = before`` the screening carries it; in either mode a
        valid pass makes the screening the resident's, never a registered visitor's."""
        self._shown_pass = self._incoming_pass

    def _pass_notice(
        self, kind: str, code: str | None, record: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        row = (
            self.ledger.connection()
            .execute("SELECT building, unit, room FROM passes WHERE code = ?", (code,))
            .fetchone()
        )
        place = "-".join(str(part) for part in row if part) if row else ""
        return {
            "id": record["id"],
            "kind": kind,
            "pass_code": code,
            "place": place,
            "wall_time": record["wall_time"],
            **extra,
        }

    def dismiss_notice(self, notice_id: str) -> bool:
        """The guard has seen a notice: it leaves the guard screen (the identify record stays)."""
        for notice in list(self.guard_notices):
            if notice["id"] == notice_id:
                self.guard_notices.remove(notice)
                return True
        return False

    def _valid_pass(self) -> ShownPass | None:
        shown = self._shown_pass
        if shown is None or shown.until < self._clock():
            return None
        return shown

    def _waiting_for_pass(self) -> bool:
        kiosk = self.config.kiosk
        if kiosk.identify != "before" or not kiosk.identify_required:
            return False
        shown = self._valid_pass()
        return shown is None or shown.code is None

    # -- actions from the guard screen -------------------------------------------------------

    def remeasure_for_guard(
        self, block_id: str, guard_id: str, within_s: float = REMEASURE_WITHIN_S
    ) -> None:
        """The guard's re-measure of a blocked person: the next measurement (with fresh words
        from the chip) is a new screening linked to the block, and it ends the wait."""
        with self._lock:
            self._remeasure = Remeasure(block_id, guard_id, self._clock() + within_s)
            try:
                self.fire(Event.REMEASURE_ASKED, "the lane is busy or the sensor faulty")
            except RuntimeError:
                self._remeasure = None
                raise

    def _start_remeasure(self) -> None:
        """门卫复测: whoever stands at the sensor steps away first (it may be the next resident,
        told to wait), then the blocked person steps up."""
        self._arm()
        self.screen.publish("guard_remeasure", clearing=True)

    def _remeasure_ready(self) -> None:
        self._arm()
        self.screen.publish("guard_remeasure")

    def _end_remeasure(self) -> None:
        self._remeasure = None
        self._show_awaiting_guard()

    def guard_decided(self, event_id: str) -> None:
        """The guard (or the hub's admin) decided on ``event_id``; if it was the fever block
        being waited on, the lane goes on. The decision's screen is the caller's
        (:meth:`show_decision`)."""
        with self._lock:
            block = self.awaiting_guard
            if block is not None and block["id"] == event_id:
                self.fire(Event.BLOCK_DECIDED)

    def hub_cleared(self, block_id: str, clearance: dict[str, Any]) -> dict[str, Any] | None:
        """An admin on the hub ended the wait on a fever block (no guard could act): recorded
        as an ``override`` ``denied`` (nobody is let in by it) linked to the block, once, and
        the lane goes on. A block a guard already decided on is left alone."""
        with self._lock:
            decided = self.ledger.connection().execute(
                "SELECT 1 FROM events WHERE links_to = ? AND kind IN ('override', 'screening')",
                (block_id,),
            )
            block = self.ledger.get(block_id)
            if decided.fetchone() is not None or block is None or block["verdict"] != "blocked":
                return None
            record = self._record(
                "override",
                verdict="denied",
                reason="hub_cleared",
                threshold_c=block["threshold_c"],
                pass_code=block["pass_code"],
                links_to=block_id,
                detail={
                    "by": str(clearance.get("by") or ""),
                    "note": str(clearance.get("reason") or "")[:200],
                    "at": str(clearance.get("at") or ""),
                    "original": {"kind": "screening", "verdict": "blocked", "seq": block["seq"]},
                },
            )
            self.silence()
            self.guard_decided(block_id)
            self._show_idle()  # no guard here to follow: the next person is simply measured
            return record

    def _clear_block(self) -> None:
        self.awaiting_guard = None
        self._remeasure = None
        self._hold(self.config.kiosk.result_hold_s)

    def _quiet(self) -> None:
        """The decision's hold is over: the instruction is back, but the one decided on, if
        still at the sensor, is measured only after DECIDED_HOLD_S in all."""
        self._show_idle()
        self._hold(max(0.0, DECIDED_HOLD_S - self.config.kiosk.result_hold_s))

    def show_decision(self, screen: str, **fields: Any) -> None:
        """Put the guard's decision on the resident screen (its own hold, like any verdict)."""
        with self._lock:
            self.screen.publish(screen, **fields)
            self.fire(Event.DECIDED)

    def measure_staff(
        self, guard_id: str, name: str, *, visitors_at_home: bool, within_s: float | None = None
    ) -> None:
        """Sign a staff member on: the next measurement is theirs (not a resident's), within
        ``within_s``. Refused (the error says why) while a fever block waits
        (:class:`AwaitingGuard`), while the sensor is known faulty (:class:`SensorFaulty`) and
        while a resident is measured or their verdict is on screen (:class:`LaneBusy`)."""
        with self._lock:
            previous = self._staff
            window = STAFF_MEASURE_S if within_s is None else within_s
            self._staff = StaffSignOn(guard_id, name, visitors_at_home, self._clock() + window)
            try:
                self.fire(Event.SIGN_ON_ASKED, self._sensor_fault or "")
            except RuntimeError:
                self._staff = previous
                raise

    def _start_sign_on(self) -> None:
        staff = self._staff
        assert staff is not None
        self._staff_reading = None
        self.staff_result = {"guard_id": staff.guard_id, "state": "measuring"}
        self._arm()
        self.screen.publish("staff_measuring")

    def _sign_on_again(self) -> None:
        pending = self._staff_reading
        assert pending is not None
        staff = pending.staff
        self._staff = StaffSignOn(
            staff.guard_id,
            staff.name,
            staff.visitors_at_home,
            self._clock() + STAFF_MEASURE_S,
        )
        self._staff_reading = None
        self.staff_result = {"guard_id": staff.guard_id, "state": "measuring", "again": True}
        self._arm()
        self.screen.publish("staff_measuring")

    def _end_sign_on(self) -> None:
        self._staff = None
        self._staff_reading = None
        self._show_idle()

    def cancel_staff(self, *, keep: str | None = None) -> None:
        """End a sign-on waiting for a measurement or a confirmation, and forget how the last
        one went, unless it is ``keep``'s: a guard who walked away mid sign-on must not be
        signed on by whoever the sensor sees next, and the next guard at the screen must not
        read their words (the guard screen calls this when someone unlocks or locks it)."""
        with self._lock:
            pending = self._pending_staff()
            if pending is not None and pending.guard_id != keep:
                self.fire(Event.SIGN_ON_ENDED)
            result = self.staff_result
            if result is not None and result.get("guard_id") != keep:
                self.staff_result = None

    def _pending_staff(self) -> StaffSignOn | None:
        """The sign-on waiting for a measurement or for its 本人确认."""
        if self._staff is not None:
            return self._staff
        return None if self._staff_reading is None else self._staff_reading.staff

    def confirm_staff(self, guard_id: str, *, own: bool) -> dict[str, Any] | None:
        """The guard's answer to 本人确认 on their sign-on reading. ``own``: it is recorded as
        their sign-on (a ``shift`` event ``on``), returned. Not theirs: the reading is dropped
        (nothing recorded) and the kiosk measures again, with fresh words."""
        with self._lock:
            pending = self._staff_reading
            if pending is None or pending.staff.guard_id != guard_id:
                raise StaffReadingGone("no sign-on reading waits for this guard")
            if pending.until < self._clock():
                self.fire(Event.SIGN_ON_ENDED)
                self.staff_result = {"guard_id": guard_id, "state": "expired"}
                raise StaffReadingGone("the sign-on reading expired")
            if not own:
                self.fire(Event.SIGN_ON_NOT_OWN)
                return None
            record = self._record_sign_on(pending.measurement, pending.staff)
            if record is None:
                self.fire(Event.SIGN_ON_ENDED)
                return None
            self._staff_reading = None
            self.fire(Event.SIGN_ON_CONFIRMED)
            return record

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.step())

    def step(self) -> float:
        """One pass of the loop: read the chip, turn what it says and what the clock says into
        the lane's events, and take a measurement when the lane says so. Returns the seconds
        to wait before the next pass."""
        now = self._clock()
        self.heartbeat = now
        try:
            reading = self.thermometer.read()
        except SensorError as exc:
            self._sensor_failed(type(exc).__name__, sensor_error_words(exc), str(exc))
            return FAULT_POLL_S
        problem = self.liveness.problem
        if problem is not None:
            # The chip answers but does not measure: the same as no chip at all.
            self._sensor_failed(problem, PROBLEMS_ZH[problem], None)
            return self.timing.poll_interval_s
        with self._lock:
            self.fire(Event.SENSOR_RECOVERED)
            self._timers(now)
            if not self.measurer.present(reading):
                self._seen_empty = True
                self.fire(Event.EMPTY)
            elif self.liveness.changed_since(self._armed_at):
                # Fresh words since the lane was armed: a frozen chip's last word (the last
                # person's) never starts a measurement.
                need_pass = self._waiting_for_pass()
                self.fire(Event.PRESENT_NO_PASS if need_pass else Event.PRESENT)
            state = self.state
        if state in MEASURING_STATES:
            self._measure(state)
            return 0.0
        return self.timing.poll_interval_s

    def _timers(self, now: float) -> None:
        """The lane's clock events: a verdict's hold, a lapsed re-measure or sign-on."""
        held = (State.VERDICT, State.VERDICT_LEFT, State.BLOCKED, State.DECIDED, State.DECIDED_WAIT)
        if self.state in held and now >= self._hold_until:
            self.fire(Event.HOLD_ELAPSED)
        remeasure = self._remeasure
        if remeasure is not None and remeasure.until < now:
            self.fire(Event.REMEASURE_LAPSED)
        staff = self._staff
        if (
            self.state in (State.STAFF_SIGN_ON, State.STAFF_CLEARING)
            and staff is not None
            and staff.until < now
        ):
            self.fire(Event.SIGN_ON_ENDED)
            self.staff_result = {"guard_id": staff.guard_id, "state": "expired"}
        waiting = self._staff_reading
        if self.state is State.STAFF_CONFIRM and waiting is not None and waiting.until < now:
            self.fire(Event.SIGN_ON_ENDED)
            self.staff_result = {"guard_id": waiting.staff.guard_id, "state": "expired"}

    def _sensor_failed(self, reason: str, words: str, technical: str | None) -> None:
        with self._lock:
            self._fault = (reason, words, technical)
            self.fire(Event.SENSOR_FAILED)
            self._sensor_fault = words
            if self.screen.snapshot()["screen"] != "sensor_fault":
                self.screen.publish("sensor_fault")

    def _record_fault(self) -> None:
        assert self._fault is not None
        reason, words, technical = self._fault
        log.error("sensor fault: %s", words)
        self._play(FAULT_PATTERN)
        staff = self._pending_staff()
        if staff is not None:
            # No faulty reading may count, and no guard waits for a timeout.
            self._staff = None
            self._staff_reading = None
            self.staff_result = {
                "guard_id": staff.guard_id,
                "state": "sensor_fault",
                "message": words,
            }
        self._remeasure = None
        try:
            self._record(
                "sensor_fault",
                verdict="fault",
                reason=reason,
                detail={"error": words} | ({"technical": technical} if technical else {}),
            )
        except LedgerError as error:
            log.error("sensor fault not recorded: %s", error)
        self._sensor_fault = words
        self._arm()
        self.screen.publish("sensor_fault")

    def _recover(self) -> None:
        log.info("测温设备已恢复（sensor recovered）")
        try:
            self._record("sensor_recovered", detail={"after": self._sensor_fault})
        except LedgerError as error:
            log.error("sensor recovery not recorded: %s", error)
        self._sensor_fault = None
        self._arm()
        self.show_first_screen()

    # -- measuring and judging ---------------------------------------------------------------

    def _measure(self, state: State) -> None:
        """Measure whoever the lane says (outside the lock: it takes a few tenths of a second),
        then record, show, signal and feed the outcome to the lane."""
        measurement = self.measurer.measure()
        problem = self.liveness.problem
        if problem is not None and measurement.decision.verdict is not Verdict.FAULT:
            # The chip stopped measuring during the samples: they prove nothing.
            measurement = Measurement(
                no_reading(Reason.SENSOR, self.rules), measurement.samples, PROBLEMS_ZH[problem]
            )
        with self._lock:
            if self.state is not state:
                return  # the sign-on was cancelled during the samples: they count for nothing
            if state is State.STAFF_MEASURING:
                event = self._judge_sign_on(measurement)
            else:
                event = self._judge_person(measurement, remeasure=state is State.REMEASURING)
            self._arm()
            self.fire(event)

    def _judge_person(self, measurement: Measurement, *, remeasure: bool) -> Event:
        decision = measurement.decision
        request = self._remeasure if remeasure else None
        shown = None if remeasure else self._measuring_pass
        context = None if request is not None else self.active_context()
        if context is not None and context.kind == "visitor" and shown and shown.code:
            context = None  # a valid resident pass makes this the resident's screening
        if self.config.kiosk.identify != "before":
            shown = None  # with ``after`` the pass comes after the screening, not on it
        refused_pass = shown.refused if shown is not None else None
        held = decision.admits and (
            (context is not None and context.held) or refused_pass is not None
        )
        try:
            record = self._record_screening(measurement, shown, context, request)
        except LedgerError as exc:
            log.error("not recorded, nobody admitted: %s", exc)
            self.screen.publish("not_recorded")
            self._play(FAULT_PATTERN)
            return Event.FAILED
        self._last_screening = record
        self._last_screening_at = self._clock()
        self._last_held = held
        self._seen_empty = False
        self._measuring_pass = None  # a pass belongs to the one screening it was shown for
        self._consume_context(context)
        if request is not None and decision.verdict in (Verdict.ADMITTED, Verdict.BLOCKED):
            self.awaiting_guard = None
            self._remeasure = None
        if decision.verdict is Verdict.BLOCKED:
            self.awaiting_guard = record
        if held and refused_pass is not None and shown is not None:
            self.guard_notices.append(
                self._pass_notice("pass_refused", None, record, reason=refused_pass)
            )
        visitor = context is not None and context.kind == "visitor"
        self._show_verdict(decision, record, held=held, visitor=visitor)
        self._signal(decision, record, held=held)
        return {
            Verdict.ADMITTED: Event.ADMITTED,
            Verdict.BLOCKED: Event.FEVER,
            Verdict.RETRY: Event.RETRY,
        }.get(decision.verdict, Event.FAILED)

    def _consume_context(self, context: Context | None) -> None:
        """A visitor is one person; a held visitor stays until the guard decides (every
        screening without a pass meanwhile is held); a vehicle's context takes as many
        screenings as the guard said were in it, within its window, so a pedestrian after them
        is never recorded as an occupant."""
        if context is None or context.held:
            return
        self._context = replace(context, people=context.people - 1) if context.people > 1 else None

    def _record_screening(
        self,
        measurement: Measurement,
        shown: ShownPass | None,
        context: Context | None,
        remeasure: Remeasure | None = None,
    ) -> dict[str, Any]:
        decision = measurement.decision
        detail: dict[str, Any] = {
            "direction": self._direction,
            **self._detail(measurement),
        }
        links_to = context.event_id if context is not None else None
        if remeasure is not None:
            detail["remeasure_of"] = remeasure.block_id
            detail["guard_id"] = remeasure.guard_id
            links_to = remeasure.block_id
        previous = self._last_screening
        if not self._seen_empty and previous is not None and remeasure is None:
            # Nobody was seen leaving since the last screening: the same person lingering, or
            # the next one stepping in between two polls. The chip cannot tell; the record says.
            detail["after_without_gap"] = previous["id"]
        if shown is not None and shown.refused is not None:
            detail["pass_refused"] = {"reason": shown.refused, "identify": shown.identify_id}
        temperatures = self.config.kiosk.store_temperatures
        return self._record(
            "screening",
            verdict=decision.verdict.value,
            reason=decision.reason.value if decision.reason else None,
            estimate_c=decision.estimate_c if temperatures else None,
            threshold_c=decision.threshold_c,
            object_c=decision.object_c if temperatures else None,
            ambient_c=decision.ambient_c if temperatures else None,
            pass_code=shown.code if shown is not None else None,
            links_to=links_to,
            detail=detail,
        )

    def _detail(self, measurement: Measurement) -> dict[str, Any]:
        return measurement_detail(
            measurement, self.rules, store_temperatures=self.config.kiosk.store_temperatures
        )

    def _judge_sign_on(self, measurement: Measurement) -> Event:
        """A staff member's sign-on measurement, by the residents' rules. Normal: the reading
        waits for the guard's 本人确认 (:meth:`confirm_staff`): a resident who stepped up
        instead must not sign the guard on. A fever bars that guard at once (a ``shift`` event
        ``blocked``, sent to the hub first), with no confirmation to escape it; it is a staff
        health record, not a resident block, so the resident lane goes on (a resident who stood
        there instead is measured in their own right once the hold ends). A failed measurement
        records nothing and waits for the next one; a sensor fault ends the sign-on. The gate
        never opens for it."""
        staff = self._staff
        assert staff is not None
        decision = measurement.decision
        verdict = decision.verdict
        result = sign_on_summary(staff, decision)
        if verdict is Verdict.FAULT and decision.reason is Reason.SENSOR:
            self.staff_result = {
                **result,
                "state": "sensor_fault",
                "message": measurement.error or self._sensor_fault,
            }
            self.screen.publish("fault", reason=result["reason"])
            self._play(FAULT_PATTERN)
            return Event.FAILED
        if verdict not in (Verdict.ADMITTED, Verdict.BLOCKED):
            self.staff_result = {**result, "state": "retry"}
            self.screen.publish("staff_retry", reason=result["reason"])
            return Event.RETRY
        if verdict is Verdict.ADMITTED:
            self._staff = None
            self._staff_reading = StaffReading(staff, measurement, self._clock() + STAFF_CONFIRM_S)
            self.staff_result = {**result, "state": "confirm"}
            self.screen.publish(
                "staff_confirm", estimate_c=decision.estimate_c, threshold_c=decision.threshold_c
            )
            return Event.ADMITTED
        self._staff = None
        if self._record_sign_on(measurement, staff) is None:
            return Event.FAILED
        self._play(FEVER_ALARM)
        return Event.FEVER

    def _record_sign_on(
        self, measurement: Measurement, staff: StaffSignOn
    ) -> dict[str, Any] | None:
        """Record a sign-on reading as the guard's: ``on`` (confirmed) or ``blocked``. Returns
        the record, or None when the ledger could not take it (nothing then counts)."""
        decision = measurement.decision
        verdict = decision.verdict
        result = sign_on_summary(staff, decision)
        temperatures = self.config.kiosk.store_temperatures
        detail = {
            "guard_id": staff.guard_id,
            "name": staff.name,
            "visitors_at_home": staff.visitors_at_home,
            **self._detail(measurement),
        }
        if verdict is Verdict.ADMITTED:
            detail["confirmed_own"] = True  # the guard touched 本人确认 on the guard screen
        try:
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
        except LedgerError as exc:
            log.error("sign-on not recorded: %s", exc)
            self.staff_result = {**result, "state": "not_recorded"}
            self.screen.publish("not_recorded")
            self._play(FAULT_PATTERN)
            return None
        state = "on" if verdict is Verdict.ADMITTED else "blocked"
        self.staff_result = {**result, "state": state, "seq": record["seq"], "id": record["id"]}
        self.screen.publish(
            "staff_" + state,
            estimate_c=decision.estimate_c,
            threshold_c=decision.threshold_c,
            recorded=True,
            seq=record["seq"],
        )
        if verdict is Verdict.ADMITTED:
            self._play(PASS_CHIRP)
        return record

    def _record(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = self.ledger.append(kind, **fields)
        for listener in self._listeners:
            listener(record)
        return record

    # -- screens and signals -----------------------------------------------------------------

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

    def _show_awaiting_guard(self) -> None:
        """The next person is told to wait, never shown the fever of the one before; the guard
        screen has the block. With no guard on duty the screen says so (the block's record has
        gone to the hub first, where an admin can decide on it)."""
        block = self.awaiting_guard
        if block is None:
            return
        unattended = not duty.on_duty(self.ledger.connection())
        if unattended and not self._said_unattended(block["id"]):
            # Tells the hub (sent first, with the fevers): an admin there can end the wait.
            try:
                self._record(
                    "alarm",
                    verdict="unattended",
                    links_to=block["id"],
                    detail={"reason": "no_guard"},
                )
            except LedgerError as exc:
                log.error("unattended block not recorded: %s", exc)
        self.screen.publish("awaiting_guard", unattended=unattended)

    def _said_unattended(self, block_id: str) -> bool:
        row = self.ledger.connection().execute(
            "SELECT 1 FROM events WHERE kind = 'alarm' AND verdict = 'unattended' AND links_to = ?",
            (block_id,),
        )
        return row.fetchone() is not None

    def _show_idle(self) -> None:
        self.screen.publish("idle", identify=self.config.kiosk.identify)

    def _show_if_changed(self, screen: str, *, force: bool = False) -> None:
        if force or self.screen.snapshot()["screen"] != screen:
            if screen == "idle":
                self._show_idle()
            else:
                self.screen.publish(screen)

    # -- settings ----------------------------------------------------------------------------

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
        """The hub's set as last applied."""
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
        self._config = in_force(self._file_config, self._hub_settings)
        self.rules = Rules.from_config(self._config)
        self.measurer.rules = self.rules
        self.fire(Event.SETTINGS_CHANGED)

    # -- relay, buzzer -----------------------------------------------------------------------

    def open_gate(self) -> None:
        if self.hardware.relay is not None:
            self.hardware.relay.pulse()

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

    # -- visitors and vehicles ---------------------------------------------------------------

    def begin_context(
        self, kind: str, event_id: str, window_s: float, *, held: bool = False, people: int = 1
    ) -> None:
        """The next ``people`` screenings belong to this visitor or vehicle, for ``window_s``
        seconds at most."""
        with self._lock:
            self._context = Context(kind, event_id, self._clock() + window_s, held, people)

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

    def show(self, screen: str, **fields: Any) -> None:
        """Put a screen up from outside the loop."""
        self.screen.publish(screen, **fields)

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append an event under the gate's lock (the guard's actions use this)."""
        with self._lock:
            return self._record(kind, **fields)

    def alive(self, within_s: float) -> bool:
        """Has the loop run in the last ``within_s`` seconds?"""
        return self._clock() - self.heartbeat < within_s

    def status(self) -> dict[str, Any]:
        ok_at = self.sensor_ok_at
        return {
            "sensor_fault": self._sensor_fault,
            "sensor_ok_s_ago": None if ok_at is None else round(self._clock() - ok_at, 1),
            "awaiting_guard": self.awaiting_guard is not None,
            "lane": self.state.value,
            "screen": self.screen.snapshot()["screen"],
            "events": self.ledger.count(),
            "unsynced": self.ledger.unsynced_count(),
            "direction": self._direction,
        }

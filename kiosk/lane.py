"""The lane as one state machine: who stands in front, what they were told, what waits for the
guard.

Pure declarations, no I/O. :class:`State` and :class:`Event` are enums and :data:`TRANSITIONS`
says, for every (state, event) pair, what happens: the next state and the effect that the driver
(:class:`kiosk.gate.Gate`) carries out, ``ignored``, or ``refused`` with the reason the caller is
given. A test checks that every pair is declared; ``docs/screening.md``'s chart is generated
from this table (``kiosk lane-doc``), so the two cannot drift.

The rules it encodes (docs/screening.md, "The lane"):

- A verdict belongs to one person. It is shown for ``kiosk.result_hold_s`` (a *measure again*
  verdict for :data:`RETRY_PAUSE_S`); then the lane is idle again and whoever stands in front
  with fresh words from the chip is measured. The chip cannot tell a person who lingers from the
  next one who stepped in between two polls (both stay far above ambient), so a lingerer gets a
  second screening, linked to the first.
- A fever block waits for a guard. After its hold the screen tells the next person that the one
  before is being dealt with (never shows them someone else's fever); nobody is measured until
  a guard (or the hub's admin) decides or asks for a re-measure.
- A staff sign-on takes the next fresh presence as the guard's; a normal reading waits for the
  guard's 本人确认, a fever bars that guard (not the resident lane).
- A sensor fault stops everything; recovery returns to the block that waits, else to idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RETRY_PAUSE_S = 1.5  # a *measure again* verdict is shown this long before the next try
DECIDED_HOLD_S = 15.0  # after a guard's decision, the one decided on is not measured again


class State(StrEnum):
    IDLE = "idle"  # ready: whoever steps up with fresh words is measured
    MEASURING = "measuring"  # a resident, visitor or vehicle occupant is being measured
    VERDICT = "verdict"  # a verdict is on screen, for its hold; its person stands there
    VERDICT_LEFT = "verdict_left"  # the verdict is still on screen; its person has left
    DECIDED = "decided"  # a guard (or the hub's admin) decided: the decision is on screen for
    # its hold; the person at the sensor is not measured again (whoever comes after a gap is)
    DECIDED_WAIT = "decided_wait"  # the instruction is back; the one decided on, still there,
    # is measured only after DECIDED_HOLD_S (or whoever comes after a gap, at once)
    BLOCKED = "blocked"  # a fever verdict is on screen; the block waits for a guard
    AWAITING_GUARD = "awaiting_guard"  # the block still waits; the next person is told to wait
    REMEASURE_CLEARING = "remeasure_clearing"  # the guard asked for a re-measure: whoever
    # stands at the sensor must leave first (it may be the next resident, not the blocked one)
    GUARD_REMEASURE = "guard_remeasure"  # the blocked person may step up now
    REMEASURING = "remeasuring"  # the blocked person is being measured again
    STAFF_SIGN_ON = "staff_sign_on"  # the next fresh presence is the signing-on guard's
    STAFF_CLEARING = "staff_clearing"  # not the guard's reading: whoever stood there must leave
    STAFF_MEASURING = "staff_measuring"  # the guard is being measured for their shift
    STAFF_CONFIRM = "staff_confirm"  # a normal sign-on reading waits for the guard's 本人确认
    SENSOR_FAULT = "sensor_fault"  # the chip cannot be read or does not measure


class Event(StrEnum):
    PRESENT = "present"  # someone in front, with fresh words since the lane was armed
    PRESENT_NO_PASS = "present_no_pass"  # the same, where a pass is required and none is held
    EMPTY = "empty"  # nobody in front
    ADMITTED = "admitted"  # the measurement's outcome: normal (held or not)
    FEVER = "fever"  # above the threshold
    RETRY = "retry"  # no valid reading (too cold, unstable, left, …)
    FAILED = "failed"  # the chip failed during the samples, or the ledger could not record
    HOLD_ELAPSED = "hold_elapsed"  # the verdict has been on screen long enough
    PASS_ACCEPTED = "pass_accepted"  # a valid pass was scanned or typed
    PASS_REFUSED = "pass_refused"  # an unknown, revoked or expired one
    MEASURE_AGAIN = "measure_again"  # the resident touched 重新测温
    REMEASURE_ASKED = "remeasure_asked"  # the guard's 复测 on the fever block
    REMEASURE_LAPSED = "remeasure_lapsed"  # nobody stepped up for the re-measure in time
    BLOCK_DECIDED = "block_decided"  # the guard (or the hub's admin) decided on the fever block
    DECIDED = "decided"  # the guard decided on someone else (a held visitor, a refused pass)
    SIGN_ON_ASKED = "sign_on_asked"  # a guard taps 上岗测温
    SIGN_ON_CONFIRMED = "sign_on_confirmed"  # 本人确认: the reading is the guard's
    SIGN_ON_NOT_OWN = "sign_on_not_own"  # not theirs: measure again
    SIGN_ON_ENDED = "sign_on_ended"  # expired, cancelled, or the guard screen was locked
    SENSOR_FAILED = "sensor_failed"
    SENSOR_RECOVERED = "sensor_recovered"
    SETTINGS_CHANGED = "settings_changed"  # the file's or the hub's settings changed


class Effect(StrEnum):
    """What the driver does on a transition (besides moving to the next state)."""

    ARM = "arm"  # fresh words are needed from now on
    READY = "ready"  # armed, and the idle instruction is shown
    ASK_PASS = "ask_pass"  # 请先出示通行码
    MEASURE = "measure"  # measure the person in front as a resident (visitor, occupant)
    MEASURE_REMEASURE = "measure_remeasure"  # measure the blocked person again
    MEASURE_STAFF = "measure_staff"  # measure the guard for their sign-on
    HOLD = "hold"  # keep the verdict up for kiosk.result_hold_s
    HOLD_RETRY = "hold_retry"  # keep a *measure again* verdict up for RETRY_PAUSE_S
    SHOW_AWAITING = "show_awaiting"  # 前一位正在由门卫处理，请稍候
    KEEP_PASS = "keep_pass"  # the latest pass shown counts for the next screening; a refused
    # one cancels an accepted one
    START_REMEASURE = "start_remeasure"  # 门卫复测: whoever stands there steps away first
    REMEASURE_READY = "remeasure_ready"  # the blocked person may step up (armed, the screen says)
    QUIET = "quiet"  # the instruction again, but the one decided on is not measured yet
    END_REMEASURE = "end_remeasure"
    CLEAR_BLOCK = "clear_block"
    START_SIGN_ON = "start_sign_on"
    SIGN_ON_AGAIN = "sign_on_again"
    END_SIGN_ON = "end_sign_on"
    RECORD_FAULT = "record_fault"
    RECOVER = "recover"
    RESHOW = "reshow"  # settings changed: the idle screen (which asks for a pass or not) again


class Refusal(StrEnum):
    """Why an action from a screen is refused now; the driver raises the matching error."""

    AWAITING_GUARD = "awaiting_guard"  # a fever block waits for the guard
    LANE_BUSY = "lane_busy"  # someone is being measured or their verdict is on screen
    SENSOR_FAULTY = "sensor_faulty"
    NO_SIGN_ON_READING = "no_sign_on_reading"  # nothing waits for 本人确认


@dataclass(frozen=True)
class Outcome:
    """What a (state, event) pair does. ``target`` None: the state stays (``effect`` may still
    run). ``resume``: back to the block that waits for a guard, else to idle."""

    target: State | None = None
    effect: Effect | None = None
    refused: Refusal | None = None
    resume: bool = False

    @property
    def ignored(self) -> bool:
        return self.target is None and self.effect is None and self.refused is None


IGNORED = Outcome()


def go(target: State, effect: Effect | None = None) -> Outcome:
    return Outcome(target, effect)


def stay(effect: Effect) -> Outcome:
    return Outcome(None, effect)


def refuse(reason: Refusal) -> Outcome:
    return Outcome(refused=reason)


S, E = State, Event

# The measurement's outcome, by the kind of measurement under way.
_RESIDENT_OUTCOMES = {
    E.ADMITTED: go(S.VERDICT, Effect.HOLD),
    E.FEVER: go(S.BLOCKED, Effect.HOLD),
    E.RETRY: go(S.VERDICT, Effect.HOLD_RETRY),
    E.FAILED: go(S.VERDICT, Effect.HOLD),
}
_REMEASURE_OUTCOMES = {
    E.ADMITTED: go(S.VERDICT, Effect.HOLD),  # the block is decided: the new screening says so
    E.FEVER: go(S.BLOCKED, Effect.HOLD),  # still a fever: a new block
    E.RETRY: go(S.GUARD_REMEASURE, Effect.REMEASURE_READY),  # the guard's request stands
    E.FAILED: go(S.GUARD_REMEASURE, Effect.REMEASURE_READY),
}
_STAFF_OUTCOMES = {
    E.ADMITTED: go(S.STAFF_CONFIRM),  # waits for 本人确认
    # A fever bars the guard (recorded): not a resident block, and the barred guard still at
    # the sensor is not taken for a resident either (DECIDED: only after a gap, or 15 s).
    E.FEVER: go(S.DECIDED, Effect.HOLD),
    E.RETRY: go(S.STAFF_SIGN_ON, Effect.ARM),
    E.FAILED: go(S.IDLE, Effect.END_SIGN_ON),
}
_NOT_MEASURING = {e: IGNORED for e in (E.ADMITTED, E.FEVER, E.RETRY, E.FAILED)}

# Events every state treats alike unless it says otherwise.
_COMMON: dict[Event, Outcome] = {
    E.PASS_ACCEPTED: stay(Effect.KEEP_PASS),
    E.PASS_REFUSED: stay(Effect.KEEP_PASS),
    E.DECIDED: IGNORED,
    E.SENSOR_FAILED: go(S.SENSOR_FAULT, Effect.RECORD_FAULT),
    E.SENSOR_RECOVERED: IGNORED,
    E.SETTINGS_CHANGED: IGNORED,  # in force from the next measurement on
    E.HOLD_ELAPSED: IGNORED,
    E.REMEASURE_LAPSED: IGNORED,
    E.SIGN_ON_CONFIRMED: refuse(Refusal.NO_SIGN_ON_READING),
    E.SIGN_ON_NOT_OWN: refuse(Refusal.NO_SIGN_ON_READING),
    E.SIGN_ON_ENDED: IGNORED,
    E.BLOCK_DECIDED: IGNORED,
    E.REMEASURE_ASKED: refuse(Refusal.LANE_BUSY),
    E.MEASURE_AGAIN: IGNORED,
    **_NOT_MEASURING,
}

# While a measurement runs (a few tenths of a second) only the measurement moves the lane.
_WHILE_MEASURING: dict[Event, Outcome] = {
    E.PRESENT: IGNORED,
    E.PRESENT_NO_PASS: IGNORED,
    E.EMPTY: IGNORED,
    E.SIGN_ON_ASKED: refuse(Refusal.LANE_BUSY),
}

_WAITING_FOR_GUARD: dict[Event, Outcome] = {
    E.PRESENT: IGNORED,  # nobody is measured while a fever block waits
    E.PRESENT_NO_PASS: IGNORED,
    E.EMPTY: IGNORED,
    E.MEASURE_AGAIN: refuse(Refusal.AWAITING_GUARD),
    E.REMEASURE_ASKED: go(S.REMEASURE_CLEARING, Effect.START_REMEASURE),
    E.BLOCK_DECIDED: go(S.DECIDED, Effect.CLEAR_BLOCK),
    E.SIGN_ON_ASKED: refuse(Refusal.AWAITING_GUARD),
}

_STATES: dict[State, dict[Event, Outcome]] = {
    S.IDLE: {
        E.PRESENT: go(S.MEASURING, Effect.MEASURE),
        E.PRESENT_NO_PASS: stay(Effect.ASK_PASS),
        E.EMPTY: stay(Effect.READY),
        E.SIGN_ON_ASKED: go(S.STAFF_SIGN_ON, Effect.START_SIGN_ON),
        E.REMEASURE_ASKED: go(S.REMEASURE_CLEARING, Effect.START_REMEASURE),
        E.SETTINGS_CHANGED: stay(Effect.RESHOW),
        E.DECIDED: go(S.DECIDED, Effect.HOLD),
    },
    S.MEASURING: {**_WHILE_MEASURING, **_RESIDENT_OUTCOMES},
    S.VERDICT: {
        E.PRESENT: IGNORED,  # the verdict is theirs for its hold
        E.PRESENT_NO_PASS: IGNORED,
        E.EMPTY: go(S.VERDICT_LEFT, Effect.ARM),
        E.HOLD_ELAPSED: go(S.IDLE, Effect.READY),
        E.MEASURE_AGAIN: go(S.IDLE, Effect.READY),
        E.DECIDED: go(S.DECIDED, Effect.HOLD),
        E.SIGN_ON_ASKED: refuse(Refusal.LANE_BUSY),
    },
    S.VERDICT_LEFT: {
        # Seen leaving: whoever steps up now (with fresh words) is somebody new.
        E.PRESENT: go(S.MEASURING, Effect.MEASURE),
        E.PRESENT_NO_PASS: stay(Effect.ASK_PASS),
        E.EMPTY: stay(Effect.ARM),
        E.HOLD_ELAPSED: go(S.IDLE, Effect.READY),
        E.MEASURE_AGAIN: go(S.IDLE, Effect.READY),
        E.DECIDED: go(S.DECIDED, Effect.HOLD),
        E.SIGN_ON_ASKED: go(S.STAFF_SIGN_ON, Effect.START_SIGN_ON),
        E.REMEASURE_ASKED: go(S.REMEASURE_CLEARING, Effect.START_REMEASURE),
    },
    S.DECIDED: {
        E.PRESENT: IGNORED,  # the person decided on is not measured again
        E.PRESENT_NO_PASS: IGNORED,
        E.EMPTY: go(S.VERDICT_LEFT, Effect.ARM),  # a gap: whoever comes next is measured
        E.HOLD_ELAPSED: go(S.DECIDED_WAIT, Effect.QUIET),
        E.DECIDED: stay(Effect.HOLD),
        E.SIGN_ON_ASKED: refuse(Refusal.LANE_BUSY),
        E.REMEASURE_ASKED: go(S.REMEASURE_CLEARING, Effect.START_REMEASURE),
    },
    S.DECIDED_WAIT: {
        E.PRESENT: IGNORED,
        E.PRESENT_NO_PASS: IGNORED,
        E.EMPTY: go(S.IDLE, Effect.READY),
        E.HOLD_ELAPSED: go(S.IDLE, Effect.READY),
        E.DECIDED: go(S.DECIDED, Effect.HOLD),
        E.SIGN_ON_ASKED: go(S.STAFF_SIGN_ON, Effect.START_SIGN_ON),
        E.REMEASURE_ASKED: go(S.REMEASURE_CLEARING, Effect.START_REMEASURE),
        E.SETTINGS_CHANGED: stay(Effect.RESHOW),
    },
    S.BLOCKED: {
        **_WAITING_FOR_GUARD,
        E.HOLD_ELAPSED: go(S.AWAITING_GUARD, Effect.SHOW_AWAITING),
    },
    S.AWAITING_GUARD: dict(_WAITING_FOR_GUARD),
    S.REMEASURE_CLEARING: {
        E.PRESENT: IGNORED,  # not this one: the one at the sensor may be the next resident
        E.PRESENT_NO_PASS: IGNORED,
        E.EMPTY: go(S.GUARD_REMEASURE, Effect.REMEASURE_READY),
        E.MEASURE_AGAIN: refuse(Refusal.AWAITING_GUARD),
        E.REMEASURE_ASKED: stay(Effect.START_REMEASURE),
        E.REMEASURE_LAPSED: go(S.AWAITING_GUARD, Effect.END_REMEASURE),
        E.BLOCK_DECIDED: go(S.DECIDED, Effect.CLEAR_BLOCK),
        E.SIGN_ON_ASKED: refuse(Refusal.AWAITING_GUARD),
    },
    S.GUARD_REMEASURE: {
        E.PRESENT: go(S.REMEASURING, Effect.MEASURE_REMEASURE),
        E.PRESENT_NO_PASS: go(S.REMEASURING, Effect.MEASURE_REMEASURE),
        E.EMPTY: stay(Effect.ARM),
        E.MEASURE_AGAIN: refuse(Refusal.AWAITING_GUARD),
        E.REMEASURE_ASKED: go(S.REMEASURE_CLEARING, Effect.START_REMEASURE),
        E.REMEASURE_LAPSED: go(S.AWAITING_GUARD, Effect.END_REMEASURE),
        E.BLOCK_DECIDED: go(S.DECIDED, Effect.CLEAR_BLOCK),
        E.SIGN_ON_ASKED: refuse(Refusal.AWAITING_GUARD),
    },
    S.REMEASURING: {
        **_WHILE_MEASURING,
        **_REMEASURE_OUTCOMES,
        E.BLOCK_DECIDED: stay(Effect.CLEAR_BLOCK),
        E.SIGN_ON_ASKED: refuse(Refusal.AWAITING_GUARD),
    },
    S.STAFF_SIGN_ON: {
        E.PRESENT: go(S.STAFF_MEASURING, Effect.MEASURE_STAFF),
        E.PRESENT_NO_PASS: go(S.STAFF_MEASURING, Effect.MEASURE_STAFF),
        E.EMPTY: stay(Effect.ARM),
        E.SIGN_ON_ASKED: stay(Effect.START_SIGN_ON),  # asked again (or by another guard)
        E.SIGN_ON_ENDED: go(S.IDLE, Effect.END_SIGN_ON),
    },
    S.STAFF_MEASURING: {
        **_WHILE_MEASURING,
        **_STAFF_OUTCOMES,
        E.SIGN_ON_ASKED: refuse(Refusal.LANE_BUSY),
        E.SIGN_ON_ENDED: go(S.IDLE, Effect.END_SIGN_ON),  # the samples then count for nothing
    },
    S.STAFF_CONFIRM: {
        E.PRESENT: IGNORED,  # nobody else is measured while the reading waits
        E.PRESENT_NO_PASS: IGNORED,
        E.EMPTY: IGNORED,
        E.SIGN_ON_ASKED: go(S.STAFF_SIGN_ON, Effect.START_SIGN_ON),
        E.SIGN_ON_CONFIRMED: go(S.VERDICT, Effect.HOLD),
        E.SIGN_ON_NOT_OWN: go(S.STAFF_CLEARING, Effect.SIGN_ON_AGAIN),
        E.SIGN_ON_ENDED: go(S.IDLE, Effect.END_SIGN_ON),
    },
    S.STAFF_CLEARING: {
        E.PRESENT: IGNORED,  # the one just measured is not re-read as the guard
        E.PRESENT_NO_PASS: IGNORED,
        E.EMPTY: go(S.STAFF_SIGN_ON, Effect.ARM),
        E.SIGN_ON_ASKED: go(S.STAFF_SIGN_ON, Effect.START_SIGN_ON),
        E.SIGN_ON_ENDED: go(S.IDLE, Effect.END_SIGN_ON),
    },
    S.SENSOR_FAULT: {
        E.PRESENT: IGNORED,
        E.PRESENT_NO_PASS: IGNORED,
        E.EMPTY: IGNORED,
        E.SENSOR_FAILED: IGNORED,  # recorded once, when it began
        E.SENSOR_RECOVERED: Outcome(effect=Effect.RECOVER, resume=True),
        E.MEASURE_AGAIN: IGNORED,
        E.BLOCK_DECIDED: stay(Effect.CLEAR_BLOCK),
        E.REMEASURE_ASKED: refuse(Refusal.SENSOR_FAULTY),
        E.SIGN_ON_ASKED: refuse(Refusal.SENSOR_FAULTY),
    },
}

TRANSITIONS: dict[tuple[State, Event], Outcome] = {
    (state, event): {**_COMMON, **_STATES[state]}[event] for state in State for event in Event
}


def outcome(state: State, event: Event) -> Outcome:
    """What ``event`` does in ``state`` (every pair is declared)."""
    return TRANSITIONS[(state, event)]


def after(state: State, event: Event, *, block_waits: bool) -> State:
    """The state after ``event`` (the same state when it is ignored or refused)."""
    result = TRANSITIONS[(state, event)]
    if result.resume:
        return State.AWAITING_GUARD if block_waits else State.IDLE
    return result.target if result.target is not None else state


# Who brings the lane back from each state when nothing else happens (docs and a test).
WAY_BACK: dict[State, str] = {
    S.IDLE: "—",
    S.MEASURING: "the measurement ends",
    S.VERDICT: "the hold elapses",
    S.VERDICT_LEFT: "the hold elapses, or the next person steps up",
    S.DECIDED: "the hold elapses, or the decided person leaves",
    S.DECIDED_WAIT: "the decided person leaves, or DECIDED_HOLD_S elapses",
    S.REMEASURE_CLEARING: "whoever stands at the sensor leaves, or the request lapses",
    S.BLOCKED: "a guard (or the hub's admin) decides, or asks for a re-measure",
    S.AWAITING_GUARD: "a guard (or the hub's admin) decides, or asks for a re-measure",
    S.GUARD_REMEASURE: "the person steps up, or the request lapses",
    S.REMEASURING: "the measurement ends",
    S.STAFF_SIGN_ON: "the guard steps up, or the sign-on lapses or is cancelled",
    S.STAFF_MEASURING: "the measurement ends",
    S.STAFF_CLEARING: "whoever stood there leaves, or the sign-on lapses or is cancelled",
    S.STAFF_CONFIRM: "the guard confirms or not, or the reading lapses",
    S.SENSOR_FAULT: "the chip measures again (fresh words)",
}


def mermaid() -> str:
    """The transition table as a Mermaid state chart (the ignored and refused pairs left out)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.IDLE.value}"]
    for (state, event), result in TRANSITIONS.items():
        if result.resume:
            for target in (State.AWAITING_GUARD, State.IDLE):
                lines.append(f"    {state.value} --> {target.value}: {event.value}")
            continue
        if result.target is None or result.target is state:
            continue
        label = event.value + (f" / {result.effect.value}" if result.effect else "")
        lines.append(f"    {state.value} --> {result.target.value}: {label}")
    return "\n".join(lines)


def table_markdown() -> str:
    """Every (state, event) pair in words: the chart's complete counterpart for the docs."""
    events = list(Event)
    rows = ["| state | " + " | ".join(e.value for e in events) + " |"]
    rows.append("|---" * (len(events) + 1) + "|")
    for state in State:
        cells = []
        for event in events:
            result = TRANSITIONS[(state, event)]
            if result.refused is not None:
                cells.append(f"refused: {result.refused.value}")
            elif result.ignored:
                cells.append("·")
            else:
                target = "resume" if result.resume else (result.target or state).value
                effect = f" ({result.effect.value})" if result.effect else ""
                cells.append(f"→ {target}{effect}")
        rows.append(f"| {state.value} | " + " | ".join(cells) + " |")
    return "\n".join(rows)

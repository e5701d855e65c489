"""What the lane holds between events: the guard's re-measure request, a staff sign-on and its
reading, the pass shown, the visitor or vehicle the next screenings belong to. Plain values; the
lane's state machine (``kiosk.lane``) says what each means when, ``kiosk.gate`` keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.measurement import Measurement
from kiosk.screening import Decision

PASS_VALID_FOR_S = 30.0  # a pass shown waits this long for its screening
REMEASURE_WITHIN_S = 60.0  # the guard's re-measure request lapses after this

# A sign-on is the guard's own reading only while the guard is at the kiosk: the reading comes
# within STAFF_MEASURE_S of the tap on 上岗测温 (the sensor is beside the screen) and is confirmed
# within STAFF_CONFIRM_S. A guard who taps and walks away leaves nothing for the next person at
# the sensor to claim.
STAFF_MEASURE_S = 20.0
STAFF_CONFIRM_S = 15.0


@dataclass(frozen=True)
class Remeasure:
    """The guard asked for the person of a fever block to be measured again."""

    block_id: str
    guard_id: str
    until: float


@dataclass(frozen=True)
class StaffSignOn:
    """A staff member signs on at the guard screen: the next measurement is theirs, judged by
    the same rules, and recorded as a ``shift`` event (``on``, or ``blocked`` by a fever)."""

    guard_id: str
    name: str
    visitors_at_home: bool  # the household question: someone from outside stays at home
    until: float


@dataclass(frozen=True)
class StaffReading:
    """A normal sign-on reading waiting for the guard's 本人确认: it is recorded as theirs only
    when they confirm it (a resident may have stepped up instead)."""

    staff: StaffSignOn
    measurement: Measurement
    until: float


@dataclass(frozen=True)
class ShownPass:
    """The latest pass shown, waiting for its screening: accepted (``code`` is the pass), or
    refused (``refused`` says why; where passes are not required, that screening is held for
    the guard instead of being waved through as if none were shown)."""

    code: str | None
    until: float
    refused: str | None = None
    identify_id: str | None = None  # the identify record


@dataclass(frozen=True)
class Context:
    """What the next screenings belong to: a registered visitor (one person) or a vehicle (its
    occupants, until the guard ends it or ``until``). A held visitor is not let in by a normal
    reading."""

    kind: str  # "visitor" or "vehicle"
    event_id: str
    until: float
    held: bool = False
    people: int = 1  # how many screenings it takes (a vehicle's occupants, as the guard said)


def sign_on_summary(staff: StaffSignOn, decision: Decision) -> dict[str, Any]:
    """What the guard screen shows of a sign-on measurement, before its state is added."""
    return {
        "guard_id": staff.guard_id,
        "estimate_c": decision.estimate_c,
        "threshold_c": decision.threshold_c,
        "reason": decision.reason.value if decision.reason else None,
    }

"""Random sequences at the lane, against the real gate on a fake clock (simulated chip under the
real driver, a real ledger): people arriving and leaving at random gaps (none included) with
random temperatures, passes accepted and refused, chip faults and recoveries, the guard's
actions, a sign-on, hub settings set and taken back. After every step:

- nobody with a fever, on a fault or on frozen words is admitted: an admitted screening's
  estimate is that of the person standing there, and below the threshold in force;
- a screening is taken only of somebody standing there (its samples are theirs);
- no verdict older than its hold (+0.5 s) is shown as current;
- a pass is attached only to the screening it was shown for (the latest shown since the
  screening before, within its validity);
- the lane's state is one the table knows, and a fever block on screen or waiting is the one
  the lane holds.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bench.gate_sim import sim_gate
from kiosk.config import load_config
from kiosk.gate import AwaitingGuard, LaneBusy, SensorFaulty
from kiosk.guard_desk import GuardDesk
from kiosk.lane import RETRY_PAUSE_S, State
from kiosk.lane_data import PASS_VALID_FOR_S
from kiosk.overrides import parse_override
from kiosk.passes import upsert
from tests.conftest import FAST_SCREENING
from tests.gate_helpers import resident_pass

HOLD_S = 1.0
VERDICTS = {
    "admitted",
    "blocked",
    "retry",
    "fault",
    "held",
    "guard_admitted",
    "guard_denied",
    "staff_on",
    "staff_blocked",
}
GOOD_PASSES = ("20010501", "20010502")
WANG = {"guard_id": "wang", "name": "王师傅"}


class Lane(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        config = load_config(
            None,
            {
                "kiosk.data_dir": str(Path(self._dir.name) / "data"),
                "kiosk.identify": "before",
                "kiosk.identify_required": False,
                "kiosk.result_hold_s": HOLD_S,
                "sensor.simulate": True,
                **FAST_SCREENING,
            },
        )
        self.g = sim_gate(config)
        upsert(
            self.g.ledger.connection(),
            [resident_pass(code) for code in GOOD_PASSES],
            source="test",
        )
        self.desk = GuardDesk(self.g.gate)
        self.truth: dict[str, dict[str, Any]] = {}  # screening id -> who stood there
        self.g.gate.add_listener(self._seen)
        # Scans and screenings in the order they happened: (kind, code or id, gate clock).
        self.timeline: list[tuple[str, str | None, float]] = []
        self.frozen = False

    def teardown(self) -> None:
        self.g.ledger.close()
        self._dir.cleanup()

    def _seen(self, record: dict[str, Any]) -> None:
        """The world at the moment a record is written: who stands in front, and whether the
        chip is frozen."""
        if record["kind"] != "screening":
            return
        subject = self.g.scene._subject
        standing = subject is not None and subject.left_at is None
        self.truth[record["id"]] = {
            "core_c": subject.core_c if standing and subject else None,
            "frozen": self.frozen,
        }
        self.timeline.append(("screening", record["id"], self.g.clock()))

    # -- the world ----------------------------------------------------------------------------

    @rule(core_c=st.sampled_from([36.2, 36.6, 37.0, 37.2, 37.4, 37.8, 38.5, 39.2]))
    def someone_steps_up(self, core_c: float) -> None:
        self.g.scene.person(core_c)  # replaces whoever stood there: no gap

    @rule()
    def they_leave(self) -> None:
        self.g.scene.leave()

    @rule(seconds=st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.6, 1.0, 1.6, 3.0]))
    def time_passes(self, seconds: float) -> None:
        self.g.run(seconds)

    @rule(code=st.sampled_from([*GOOD_PASSES, "99999999"]))
    def a_pass_is_shown(self, code: str) -> None:
        check = self.g.gate.present_pass(code)
        self.timeline.append(("scan", check.code if check.ok else None, self.g.clock()))

    @rule(fault=st.sampled_from(["nack", "stuck", "error_flag"]))
    def the_chip_fails(self, fault: str) -> None:
        self.g.sim.inject(fault)  # type: ignore[arg-type]
        self.frozen = self.frozen or fault == "stuck"

    @rule()
    def the_chip_recovers(self) -> None:
        self.g.sim.clear_faults()
        self.frozen = False

    @rule()
    def measure_again(self) -> None:
        with contextlib.suppress(AwaitingGuard):
            self.g.gate.measure_again()

    # -- the guard and the hub -----------------------------------------------------------------

    @rule(decision=st.sampled_from(["admit", "deny"]))
    def the_guard_decides(self, decision: str) -> None:
        pending = self.desk.pending()
        if not pending:
            return
        reason = "remeasured_normal" if decision == "admit" else "fever_confirmed"
        body: dict[str, Any] = {"event_id": pending[0]["id"], "decision": decision}
        body["reason"] = reason
        if decision == "admit":
            body["remeasured_c"] = 36.5
        form = parse_override(body, threshold_c=37.3)
        self.desk.override(form, WANG)

    @rule()
    def the_guard_remeasures(self) -> None:
        blocks = [p for p in self.desk.pending() if p["verdict"] == "blocked"]
        if blocks:
            with contextlib.suppress(Exception):
                self.desk.remeasure(blocks[0]["id"], WANG)

    @rule()
    def a_guard_signs_on(self) -> None:
        with contextlib.suppress(AwaitingGuard, LaneBusy, SensorFaulty):
            self.g.gate.measure_staff("wang", "王师傅", visitors_at_home=False)

    @rule(own=st.booleans())
    def the_guard_answers_the_sign_on(self, own: bool) -> None:
        with contextlib.suppress(Exception):
            self.g.gate.confirm_staff("wang", own=own)

    @rule()
    def the_guard_screen_locks(self) -> None:
        self.g.gate.cancel_staff()

    @rule(threshold=st.sampled_from([None, 37.0, 37.3, 38.0]))
    def the_hub_sets_or_resets(self, threshold: float | None) -> None:
        self.g.gate.apply_settings(
            {} if threshold is None else {"screening.threshold_c": threshold}
        )

    # -- what must always hold ---------------------------------------------------------------

    @invariant()
    def nobody_with_a_fever_or_on_bad_words_is_admitted(self) -> None:
        for event in self.g.events("screening"):
            if event["verdict"] != "admitted":
                continue
            truth = self.truth[event["id"]]
            assert truth["core_c"] is not None, "a screening of nobody"
            assert abs(event["estimate_c"] - truth["core_c"]) <= 0.15, (event, truth)
            assert event["estimate_c"] <= event["threshold_c"], event
            assert truth["core_c"] <= event["threshold_c"] + 0.1, (event, truth)

    @invariant()
    def no_stale_verdict_is_shown(self) -> None:
        screen = self.g.gate.screen.snapshot()
        if screen["screen"] in VERDICTS:
            age = self.g.clock() - screen["published_at"]
            assert age <= max(HOLD_S, RETRY_PAUSE_S) + 0.5, (screen, age, self.g.gate.state)

    @invariant()
    def a_pass_belongs_to_the_screening_it_was_shown_for(self) -> None:
        """The latest pass shown since the screening before (within its validity), or none."""
        screenings = {e["id"]: e for e in self.g.events("screening")}
        latest: tuple[str | None, float] | None = None
        for kind, value, at in self.timeline:
            if kind == "scan":
                latest = (value, at)
                continue
            screening = screenings[value]
            if "remeasure_of" in json.loads(screening["detail"]):
                assert screening["pass_code"] is None  # the blocked person's: no new pass
                continue
            expected = None
            if latest is not None and at - latest[1] <= PASS_VALID_FOR_S:
                expected = latest[0]
            assert screening["pass_code"] == expected, (value, latest, screening["pass_code"])
            latest = None

    @invariant()
    def the_lane_and_its_block_agree(self) -> None:
        gate = self.g.gate
        assert gate.state in State
        if gate.state in (State.BLOCKED, State.AWAITING_GUARD, State.GUARD_REMEASURE):
            assert gate.awaiting_guard is not None
        if gate.screen.snapshot()["screen"] == "awaiting_guard":
            assert gate.awaiting_guard is not None


TestLane = Lane.TestCase
TestLane.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

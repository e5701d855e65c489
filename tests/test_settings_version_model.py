"""Settings changes, resets, other roster changes and kiosk syncs in any order (Hypothesis's
stateful testing): the hub says 设置已生效 for a gate exactly when the gate has synced since the
last setting change, and then the settings in force at the gate are its file plus the hub's
current set. A real hub (waitress, SQLite) and the real sync client."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kiosk.config import in_force
from kiosk.roster import apply_changes, hub_settings
from sync.hub import roster_admin
from sync.hub.settings_version import gate_settings
from sync.localtime import zone
from tests.sync_fixtures import (
    Faults,
    RunningHub,
    add_records,
    drain,
    enrolled_client,
    free_port,
    hub_database,
    make_ledger,
)

VALUES = {
    "screening.threshold_c": st.sampled_from([37.0, 37.3, 37.6, 38.0, 38.5]),
    "kiosk.identify": st.sampled_from(["before", "after", "off"]),
    "kiosk.retention_days": st.integers(1, 60),
}


def test_the_hub_says_current_exactly_when_the_gate_has_the_current_set(tmp_path, make_config):
    with hub_database("sqlite", tmp_path) as store:
        hub = RunningHub(store, free_port(), Faults()).start()
        gates = itertools.count(1)
        file_config = make_config()
        try:

            class SettingsAtTheGate(RuleBasedStateMachine):
                @initialize()
                def enrol(self) -> None:
                    number = next(gates)
                    self.gate = f"gate-{number}"
                    self.ledger = make_ledger(Path(tmp_path) / f"k{number}.sqlite3", self.gate)
                    self.client = enrolled_client(
                        hub, self.ledger, on_roster=lambda c: apply_changes(self.ledger, c)
                    )
                    drain(self.client)
                    self.changed = False  # a setting change the gate has not synced yet

                @rule(data=st.data(), key=st.sampled_from(sorted(VALUES)))
                def set_on_the_hub(self, data: st.DataObject, key: str) -> None:
                    store.roster_put("setting", key, {"value": data.draw(VALUES[key])})
                    self.changed = True

                @precondition(lambda self: roster_admin.current(store, "setting"))
                @rule(data=st.data())
                def reset_on_the_hub(self, data: st.DataObject) -> None:
                    key = data.draw(st.sampled_from(sorted(roster_admin.current(store, "setting"))))
                    store.roster_put("setting", key, None)  # 恢复门岗默认
                    self.changed = True

                @rule(code=st.sampled_from(["P1", "P2"]), revoked=st.booleans())
                def a_pass_changes(self, code: str, revoked: bool) -> None:
                    store.roster_put("pass", code, {"code": code, "revoked": int(revoked)})

                @rule()
                def a_batch_alone(self) -> None:
                    add_records(self.ledger, 1)
                    self.client.push_batch()  # reports, pulls nothing

                @rule()
                def sync(self) -> None:
                    drain(self.client)
                    self.changed = False

                @invariant()
                def the_hub_says_what_the_gate_runs(self) -> None:
                    said = gate_settings(store, zone("Asia/Shanghai"))[self.gate]
                    assert said.state == ("behind" if self.changed else "current"), said
                    if self.changed:
                        return
                    held = {
                        k: v["value"] for k, v in roster_admin.current(store, "setting").items()
                    }
                    assert hub_settings(self.ledger) == held
                    config = in_force(file_config, hub_settings(self.ledger))
                    assert dict(config.values) == {**file_config.values, **held}

            run_state_machine_as_test(
                SettingsAtTheGate,
                settings=settings(
                    max_examples=15,
                    stateful_step_count=12,
                    deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture],
                ),
            )
        finally:
            hub.stop()

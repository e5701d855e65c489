"""The settings in force are derived: the kiosk's file plus the hub's current whole set.

Field trial: the hub set 发热阈值 38.0, then 恢复门岗默认; the running kiosk kept 38.0 and admitted
a 37.8 °C person, because an empty set was ignored and each set was layered on the last.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.config import in_force
from tests.gate_helpers import wait_for_screen


def test_a_setting_the_hub_takes_back_returns_to_the_file_value(start_kiosk):
    k = start_kiosk()
    gate = k.gate
    assert gate.config.screening.threshold_c == 37.3
    gate.apply_settings({"screening.threshold_c": 38.0})
    assert gate.config.screening.threshold_c == 38.0
    gate.apply_settings({})  # the hub's set is now empty: 恢复门岗默认
    assert gate.config.screening.threshold_c == 37.3
    assert gate.rules.threshold_c == 37.3
    k.hardware.simulator.scene.person(37.8)
    assert wait_for_screen(gate, "blocked")["estimate_c"] == 37.8


def test_one_bad_value_leaves_the_rest_of_the_set_in_force(start_kiosk):
    gate = start_kiosk().gate
    gate.apply_settings({"screening.threshold_c": 99.0, "kiosk.identify": "before"})
    assert gate.config.screening.threshold_c == 37.3
    assert gate.config.kiosk.identify == "before"


SETS = st.fixed_dictionaries(
    {},
    optional={
        "screening.threshold_c": st.sampled_from([37.0, 37.5, 38.0, 38.5]),
        "kiosk.identify": st.sampled_from(["off", "before", "after"]),
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(SETS, min_size=1, max_size=6))
def test_whatever_came_before_the_config_is_the_file_plus_the_last_set(make_config, sets):
    file_config = make_config()
    for hub_set in sets:
        config = in_force(file_config, hub_set)
    assert dict(config.values) == {**file_config.values, **sets[-1]}

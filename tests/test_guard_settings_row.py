"""The guard screen's 设备状态 says the threshold in force, where it comes from, and the settings
version the kiosk runs (the one it reports to the hub)."""

from __future__ import annotations

import pytest

from bench.gate_sim import sim_gate
from kiosk.guard_desk import GuardDesk
from kiosk.settings_words import threshold_words, version_words
from sync.client import SyncState


@pytest.fixture
def g(make_config):
    return sim_gate(make_config())


def health(desk: GuardDesk) -> dict[str, str]:
    return {row["label"]: row["value"] for row in desk.health()}


def test_the_threshold_row_follows_the_hub_and_its_reset(g):
    desk = GuardDesk(g.gate)
    assert health(desk)["发热阈值"] == "37.3 °C，本机默认"
    g.gate.apply_settings({"screening.threshold_c": 38.0})
    assert health(desk)["发热阈值"] == "38.0 °C，中心设置"
    g.gate.apply_settings({})  # 恢复门岗默认
    assert health(desk)["发热阈值"] == "37.3 °C，本机默认"


def test_a_kiosk_whose_file_sets_the_threshold_says_it_is_its_own(make_config):
    desk = GuardDesk(sim_gate(make_config(screening__threshold_c=37.5)).gate)
    assert health(desk)["发热阈值"] == "37.5 °C，本机默认"


def test_a_hub_value_the_kiosk_refused_is_not_shown_as_in_force(g):
    g.gate.apply_settings({"screening.threshold_c": 99.0})
    shown = health(GuardDesk(g.gate))["发热阈值"]
    assert shown == "37.3 °C，本机默认（中心所设 99.0 无效，未采用）"


def test_the_settings_version_row(g):
    desk = GuardDesk(g.gate)
    assert health(desk)["设置版本"] == "未连接中心：只用本机设置"
    state = SyncState()
    g.gate.set_sync_status(lambda: state)
    assert health(desk)["设置版本"] == "尚未从中心取得（等候同步）"
    state.settings_version = 0
    assert health(desk)["设置版本"] == "版本 0（中心未下发设置，用本机设置）"
    state.settings_version = 17
    assert health(desk)["设置版本"] == "版本 17"


def test_the_words_alone(make_config):
    config = make_config()
    assert threshold_words(config, {"kiosk.identify": "off"}) == "37.3 °C，本机默认"
    assert version_words({"configured": True, "settings_version": 3}) == "版本 3"
    assert version_words({"configured": False, "queue": 4}) == "未连接中心：只用本机设置"

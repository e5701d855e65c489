"""The ``kiosk sensor``, ``emissivity`` and ``calibrate`` commands."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from drivers import i2c_bus
from kiosk.cli import main


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_sensor_prints_live_simulated_readings(run):
    result = run("sensor", "--simulate", "--count", "3", "--interval", "0.4", "--person", "38.2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "MLX90614 地址 0x5A，模拟总线 simulated bus"
    # The estimate is explained once: object → compensation (forehead +2.6) → estimate.
    assert "物体温度（皮肤）→ 补偿（额头 forehead +2.6 °C）→ 体温估计" in lines[1]
    assert "nobody in front" in lines[2]
    assert "→ 补偿 +2.6 → 估计 person: 38.2 °C 拦截（体温高） blocked" in lines[-1]
    assert "Ctrl-C" not in result.output  # with --count it stops by itself


def test_sensor_says_how_to_stop_when_it_runs_until_ctrl_c(run, monkeypatch):
    import kiosk.sensor_check as sensor_check

    calls = []

    def describe(reading, config):
        calls.append(reading)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return "reading"

    monkeypatch.setattr(sensor_check, "describe_reading", describe)
    result = run("sensor", "--simulate", "--interval", "0.05")
    assert result.exit_code == 0
    assert "按 Ctrl-C 停止" in result.stdout


def test_sensor_diagnoses_a_missing_bus(run, tmp_path, monkeypatch):
    monkeypatch.setattr(i2c_bus, "DEV_PREFIX", str(tmp_path))
    result = run("sensor", "--count", "1")
    assert result.exit_code == 1
    assert "I2C is not enabled" in result.output
    assert "raspi-config" in result.output
    # Chinese first, as on the guard screen (field trial: calibrate said it in English only).
    assert "找不到 I2C 总线" in result.output
    calibrate = run("calibrate", "--reference", "36.5")
    assert calibrate.exit_code == 1 and "找不到 I2C 总线" in calibrate.output
    calibrate = run("calibrate", "--reference", "36.5", "--person", "36.5")
    assert calibrate.exit_code == 2 and "--person 只用于模拟传感器" in calibrate.output


def test_sensor_diagnoses_permission(run, monkeypatch):
    import smbus2

    def denied(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(smbus2, "SMBus", denied)
    result = run("sensor", "--count", "1")
    assert result.exit_code == 1
    assert "'i2c' group" in result.output


def test_sensor_reports_a_chip_that_does_not_answer(run, tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text("[sensor]\nsimulate = true\naddress = 0x5B\n")
    result = run("sensor", "--config", str(config), "--count", "1")
    assert "MLX90614 地址 0x5B" in result.output
    assert result.exit_code == 0  # the simulated chip answers at its configured address


def test_bad_config_is_named(run, tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text("[sensor]\nretries = 99\n")
    result = run("sensor", "--config", str(config), "--count", "1")
    assert result.exit_code == 1
    assert "sensor.retries = 99 is not allowed" in result.output


def test_emissivity_round_trip(run):
    result = run("emissivity", "--simulate", "--set", "0.97")
    assert result.exit_code == 0, result.output
    assert "emissivity: 0.97" in result.output


def test_calibrate_suggests_a_site_offset(run):
    # The simulated person is 37.0 °C; the reference reads 37.4: the site reads 0.4 low.
    result = run("calibrate", "--simulate", "--person", "37.0", "--reference", "37.4")
    assert result.exit_code == 0, result.output
    assert "site_offset_c = 0.4" in result.output


def test_calibrate_at_agreement_suggests_zero_not_minus_zero(run):
    """Field trial: a kiosk that agreed with the reference was told ``site_offset_c = -0.0``."""
    from kiosk.calibration import site_offset_for

    assert f"{site_offset_for(36.54, 36.5):.1f}" == "0.0"
    assert f"{site_offset_for(36.46, 36.5):.1f}" == "0.0"
    result = run("calibrate", "--simulate", "--person", "36.5", "--reference", "36.5")
    assert result.exit_code == 0, result.output
    assert "site_offset_c = 0.0" in result.output and "门岗估计体温" in result.output


def test_calibrate_refuses_nan_as_a_temperature(run):
    """Field trial: ``--reference nan`` was told the kiosk differs by +nan °C."""
    for option in ("--reference", "--person"):
        args = {"--reference": "36.5", "--person": "36.5", option: "nan"}
        result = run("calibrate", "--simulate", *[x for kv in args.items() for x in kv])
        assert result.exit_code == 2 and "不是有效的数" in result.output, result.output


def test_calibrate_with_nobody_in_front(run):
    result = run("calibrate", "--simulate", "--reference", "36.8", "--wait", "0.3")
    assert result.exit_code == 1
    assert "传感器前没有人" in result.output and "nobody in front" in result.output

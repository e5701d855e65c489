"""``kiosk doctor`` against the simulated sensor, healthy and faulty, and its other checks."""

from __future__ import annotations

import struct

import pytest
from click.testing import CliRunner

from drivers import i2c_bus
from kiosk import doctor
from kiosk.cli import main
from kiosk.config import load_config


@pytest.fixture
def config_file(tmp_path):
    (tmp_path / "data").mkdir()
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[sensor]\nsimulate = true\n')
    return path


def run(*args: str):
    return CliRunner().invoke(main, ["doctor", *args], catch_exceptions=False)


def test_healthy_simulated_kiosk(config_file):
    result = run("--config", str(config_file))
    assert result.exit_code == 0, result.output
    assert "✓ MLX90614 at 0x5A" in result.output and "valid PEC" in result.output
    assert "✓ data directory" in result.output
    assert "✗" not in result.output


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("unplugged", "no acknowledge"),
        ("nack", "no acknowledge"),
        ("bad_pec", "PEC"),
        ("eio", "Input/output error"),
    ],
)
def test_faulty_sensor_is_explained(config_file, fault, says):
    result = run("--config", str(config_file), "--fault", fault)
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "MLX90614" in x)
    assert line.startswith("✗") and says in line
    assert "fix:" in result.output


def test_missing_data_directory(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "nowhere"}"\n[sensor]\nsimulate = true\n')
    result = run("--config", str(path))
    assert result.exit_code == 1
    assert "✗ data directory" in result.output and "does not exist" in result.output


def test_implausible_ambient_is_a_warning():
    from drivers.mlx90614 import MLX90614
    from drivers.mlx90614_sim import Scene, SimulatedMLX90614

    config = load_config(None, {"sensor.simulate": True})
    sensor = MLX90614(SimulatedMLX90614(Scene(ambient_c=70.0, noise_c=0)))
    check = doctor.check_sensor(config, sensor)
    assert check.status == doctor.WARN and "70.0" in check.detail


def fake_device_tree(tmp_path, hz: int) -> None:
    node = tmp_path / "proc/device-tree/soc/i2c@7e804000"
    node.mkdir(parents=True)
    (node / "clock-frequency").write_bytes(struct.pack(">I", hz))


@pytest.mark.parametrize(("hz", "status"), [(100_000, doctor.OK), (400_000, doctor.FAIL)])
def test_bus_speed(tmp_path, monkeypatch, hz, status):
    fake_device_tree(tmp_path, hz)
    monkeypatch.setattr(doctor, "DEV_PREFIX", str(tmp_path))
    check = doctor.check_bus_speed(load_config())
    assert check.status == status and str(hz) in check.detail


def test_i2c_not_enabled(tmp_path, monkeypatch):
    monkeypatch.setattr(i2c_bus, "DEV_PREFIX", str(tmp_path))
    check = doctor.check_i2c(load_config())
    assert check.status == doctor.FAIL and "raspi-config" in check.fix


def test_hub_with_a_revoked_token(hub, tmp_path):
    from kiosk.enrolment import save_token

    hub.start()
    code = hub.store.create_enrol_code("gate-1")
    _, token = hub.store.enrol(code)
    save_token(tmp_path, token)
    config = load_config(None, {"kiosk.data_dir": str(tmp_path), "sync.hub_url": hub.url})
    assert doctor.check_hub(config).status == doctor.OK
    hub.store.revoke("gate-1")
    check = doctor.check_hub(config)
    assert check.status == doctor.FAIL and "enrol" in check.fix


def test_hub_unreachable_is_a_warning(tmp_path):
    from kiosk.enrolment import save_token

    save_token(tmp_path, "x")
    config = load_config(
        None, {"kiosk.data_dir": str(tmp_path), "sync.hub_url": "http://127.0.0.1:9"}
    )
    assert doctor.check_hub(config).status == doctor.WARN


def pi_tree(tmp_path, monkeypatch, config_txt: str | None = None):
    """A fake Pi under the doctor's path prefix; the kiosk configured for the real sensor."""
    monkeypatch.setattr(doctor, "DEV_PREFIX", str(tmp_path))
    if config_txt is not None:
        (tmp_path / "boot/firmware").mkdir(parents=True)
        (tmp_path / "boot/firmware/config.txt").write_text(config_txt)
    return load_config()


@pytest.mark.parametrize(
    ("text", "status", "says"),
    [
        ("dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=100000\n", doctor.OK, "100000 Hz"),
        ("dtparam=audio=on,i2c_arm=on,i2c_arm_baudrate=50000\n", doctor.OK, "50000 Hz"),
        ("dtparam=i2c_arm\n", doctor.OK, "100000 Hz"),  # the firmware's default speed
        ("#dtparam=i2c_arm=on\ndtparam=audio=on\n", doctor.FAIL, "i2c_arm=on is missing"),
        ("dtparam=i2c_arm=on\ndtparam=i2c_arm_baudrate=400000\n", doctor.FAIL, "100 kHz at most"),
        ("dtparam=i2c_arm=on\ndtparam=i2c_arm=off\n", doctor.FAIL, "missing"),
    ],
)
def test_boot_config(tmp_path, monkeypatch, text, status, says):
    check = doctor.check_boot_config(pi_tree(tmp_path, monkeypatch, text))
    assert check.status == status and says in check.detail, check


def test_boot_config_off_a_pi_is_skipped(tmp_path, monkeypatch):
    assert doctor.check_boot_config(pi_tree(tmp_path, monkeypatch)).status == doctor.SKIP


def test_gpio_chips(tmp_path, monkeypatch):
    config = pi_tree(tmp_path, monkeypatch)
    check = doctor.check_gpio(config)
    assert check.status == doctor.FAIL and "gpiochip" in check.detail
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/gpiochip0").touch()
    assert doctor.check_gpio(config).status == doctor.OK
    assert doctor.check_gpio(load_config(None, {"sensor.simulate": True})).status == doctor.SKIP


def test_a_desktop_session_would_take_the_screen(tmp_path, monkeypatch):
    config = pi_tree(tmp_path, monkeypatch)
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "display-manager.service").symlink_to("/lib/systemd/system/lightdm.service")
    monkeypatch.setattr(doctor.shutil, "which", lambda name: f"/usr/bin/{name}")
    check = doctor.check_display(config)
    assert check.status == doctor.WARN and "lightdm.service" in check.fix
    (units / "display-manager.service").unlink()
    assert doctor.check_display(config).status == doctor.OK
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    check = doctor.check_display(config)
    assert check.status == doctor.FAIL and "cage and chromium" in check.detail


def test_screen_blanking(tmp_path, monkeypatch):
    config = pi_tree(tmp_path, monkeypatch)
    assert doctor.check_blanking(config).status == doctor.OK
    autostart = tmp_path / "home/pi/.config/labwc/autostart"
    autostart.parent.mkdir(parents=True)
    autostart.write_text("# swayidle -w timeout 600 'wlopm --off \\*'\n")
    assert doctor.check_blanking(config).status == doctor.OK  # commented out
    autostart.write_text("swayidle -w timeout 600 'wlopm --off \\*' &\n")
    check = doctor.check_blanking(config)
    assert check.status == doctor.WARN and "do_blanking 1" in check.fix

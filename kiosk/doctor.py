"""``kiosk doctor``: checks the installation and says, for each problem, how to fix it."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from glob import glob
from pathlib import Path

from drivers import SensorError, SensorNotRespondingError
from drivers.i2c_bus import DEV_PREFIX, bus_path
from drivers.mlx90614 import MLX90614, RAM_AMBIENT, raw_to_celsius
from kiosk.clock import kernel_clock_synced
from kiosk.config import Config

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MIN_FREE_BYTES = 200 * 1024 * 1024
MAX_BUS_HZ = 100_000  # the MLX90614 is an SMBus device: 10-100 kHz


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def run_checks(config: Config, thermometer: MLX90614 | None) -> list[Check]:
    checks = [
        check_i2c(config),
        check_bus_speed(config),
        check_sensor(config, thermometer),
        *check_pins(config),
        check_data_dir(config),
        check_clock(),
        check_hub(config),
        check_browser(),
    ]
    return checks


def check_i2c(config: Config) -> Check:
    if config.sensor.simulate:
        return Check("I2C bus", SKIP, "simulated sensor")
    path = bus_path(config.sensor.bus)
    if not path.exists():
        return Check(
            "I2C bus",
            FAIL,
            f"{path} does not exist",
            "sudo raspi-config nonint do_i2c 0, then reboot",
        )
    if not os.access(path, os.R_OK | os.W_OK):
        return Check(
            "I2C bus",
            FAIL,
            f"no access to {path}",
            "add the service user to the 'i2c' group (setup.sh install does)",
        )
    return Check("I2C bus", OK, str(path))


def bus_speeds() -> list[int]:
    """The I2C controllers' clock-frequency from the device tree (Hz)."""
    speeds = []
    for path in glob(f"{DEV_PREFIX}/proc/device-tree/**/i2c@*/clock-frequency", recursive=True):
        data = Path(path).read_bytes()
        if len(data) == 4:
            speeds.append(struct.unpack(">I", data)[0])
    return speeds


def check_bus_speed(config: Config) -> Check:
    if config.sensor.simulate:
        return Check("I2C bus speed", SKIP, "simulated sensor")
    speeds = bus_speeds()
    if not speeds:
        return Check(
            "I2C bus speed",
            WARN,
            "not found in the device tree",
            "set dtparam=i2c_arm_baudrate=100000 in /boot/firmware/config.txt",
        )
    fastest = max(speeds)
    if fastest > MAX_BUS_HZ:
        return Check(
            "I2C bus speed",
            FAIL,
            f"{fastest} Hz: the MLX90614 supports 100 kHz at most",
            "set dtparam=i2c_arm_baudrate=100000 in /boot/firmware/config.txt, reboot",
        )
    return Check("I2C bus speed", OK, f"{fastest} Hz")


def check_sensor(config: Config, thermometer: MLX90614 | None) -> Check:
    name = f"MLX90614 at 0x{config.sensor.address:02X}"
    if thermometer is None:
        return Check(name, FAIL, "the bus could not be opened", "see the I2C bus check")
    try:
        ambient = raw_to_celsius(thermometer.read_temperature_word(RAM_AMBIENT))
    except SensorNotRespondingError as exc:
        return Check(
            name,
            FAIL,
            str(exc),
            "check SDA/SCL/3.3 V/GND wiring; 'i2cdetect -y 1' should list the address",
        )
    except SensorError as exc:
        return Check(
            name,
            FAIL,
            str(exc),
            "shorten the cable, check pull-ups and bus speed; power-cycle the sensor",
        )
    if not -10 <= ambient <= 50:
        return Check(
            name,
            WARN,
            f"answers with a valid PEC, but ambient reads {ambient:.1f} °C",
            "is the sensor next to a heater or in the sun? a broken chip reads nonsense",
        )
    return Check(name, OK, f"answers with a valid PEC; ambient {ambient:.1f} °C")


def check_pins(config: Config) -> list[Check]:
    from gpiozero import DigitalOutputDevice
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory() if config.sensor.simulate else None
    results = []
    for label, pin in (
        ("buzzer pin", config.gpio.buzzer_pin),
        ("relay pin", config.gpio.relay_pin),
    ):
        if pin is None:
            results.append(Check(label, SKIP, "not fitted"))
            continue
        try:
            # Claims the pin for a moment without driving it: the kiosk service must be stopped.
            DigitalOutputDevice(pin, initial_value=None, pin_factory=factory).close()
        except Exception as exc:
            results.append(
                Check(
                    label,
                    FAIL,
                    f"GPIO{pin}: {exc}",
                    "is the kiosk running (stop it first)? is the user in 'gpio'?",
                )
            )
            continue
        results.append(Check(label, OK, f"GPIO{pin}"))
    return results


def check_data_dir(config: Config) -> Check:
    path = config.data_dir
    if not path.exists():
        return Check("data directory", FAIL, f"{path} does not exist", "sudo ./setup.sh install")
    if not os.access(path, os.W_OK):
        return Check(
            "data directory",
            FAIL,
            f"{path} is not writable",
            "chown it to the service user (setup.sh install does)",
        )
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        return Check(
            "data directory",
            FAIL,
            f"only {free // 2**20} MiB free on {path}",
            "free space on the SD card; the ledger must never fill it",
        )
    return Check("data directory", OK, f"{path}, {free // 2**20} MiB free")


def check_clock() -> Check:
    if kernel_clock_synced():
        return Check("clock", OK, "synchronised")
    return Check(
        "clock",
        WARN,
        "未同步（not synchronised）：记录会标明，顺序以序号为准",
        "树莓派没有电池时钟，开机时间可能不对：确认网络可达并运行"
        " 'sudo timedatectl set-ntp true'（systemd-timesyncd），用 'timedatectl' 查看"
        "“System clock synchronized: yes”；门岗常断网时加装带电池的 RTC 模块"
        "（如 DS3231 HAT，config.txt 加 dtoverlay=i2c-rtc,ds3231）",
    )


def check_hub(config: Config) -> Check:
    from kiosk.enrolment import token_path

    url = config.sync.hub_url
    if url is None:
        return Check("hub", SKIP, "no hub configured (sync.hub_url)")
    from sync.wire_policy import plain_http_problem

    problem = plain_http_problem(url)
    if problem is not None and not config.sync.allow_plain_http:
        return Check(
            "hub", FAIL, problem, 'sync.hub_url = "https://…"（同步未启动 sync not started）'
        )
    if problem is not None:
        return Check("hub", WARN, problem, "sync.allow_plain_http = true：只应在隔离的网络里使用")
    token_file = token_path(config.data_dir)
    if not token_file.exists():
        return Check("hub", FAIL, "not enrolled", "kiosk enrol --code <code from the admin>")
    import requests

    try:
        response = requests.get(
            f"{url.rstrip('/')}/api/v1/checkpoint",
            timeout=5,
            headers={"Authorization": f"Bearer {token_file.read_text().strip()}"},
            verify=config.sync.ca_file or True,
        )
    except requests.RequestException as exc:
        return Check(
            "hub",
            WARN,
            f"{url} unreachable: {exc}",
            "the kiosk keeps working offline; check the network or the hub",
        )
    if response.status_code in (401, 403):
        return Check(
            "hub",
            FAIL,
            f"{url} refuses this kiosk's token ({response.status_code})",
            "ask the admin for a new enrolment code: kiosk enrol --code …",
        )
    if response.status_code != 200:
        return Check("hub", WARN, f"{url} answered {response.status_code}", "check the hub")
    return Check("hub", OK, f"{url}, token valid")


def check_browser() -> Check:
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        return Check("touchscreen browser", SKIP, "systemd is not running here")
    state = subprocess.run(
        ["systemctl", "is-active", "menwei-browser.service"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if state == "active":
        return Check("touchscreen browser", OK, "menwei-browser.service active")
    return Check(
        "touchscreen browser",
        FAIL,
        f"menwei-browser.service is {state or 'unknown'}",
        "sudo systemctl restart menwei-browser; journalctl -u menwei-browser",
    )

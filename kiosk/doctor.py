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
# The firmware's I2C speed when config.txt names none (dtparam=i2c_arm_baudrate).
FIRMWARE_DEFAULT_BUS_HZ = 100_000
# What would take the screen from menwei-browser, or blank it: a desktop session (Raspberry Pi
# OS Bookworm's lightdm with labwc) and the idle timer its autostart runs (swayidle, which
# raspi-config's screen blanking option adds).
DESKTOP_AUTOSTARTS = ("/etc/xdg/labwc/autostart", "/home/*/.config/labwc/autostart")


def host_path(path: str) -> Path:
    """``path`` under the prefix that tests point at a fake Pi (MENWEI_DEV_PREFIX, as kvmd's
    env.py does for /sys and /etc)."""
    return Path(f"{DEV_PREFIX}{path}")


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def run_checks(config: Config, thermometer: MLX90614 | None) -> list[Check]:
    checks = [
        check_i2c(config),
        check_boot_config(config),
        check_bus_speed(config),
        check_sensor(config, thermometer),
        check_gpio(config),
        *check_pins(config),
        check_data_dir(config),
        check_clock(),
        check_hub(config),
        check_display(config),
        check_blanking(config),
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


def boot_config_path() -> Path | None:
    """The Pi firmware's config.txt: /boot/firmware (Bookworm) or /boot (Bullseye and before)."""
    for path in ("/boot/firmware/config.txt", "/boot/config.txt"):
        if host_path(path).is_file():
            return host_path(path)
    return None


def dtparams(text: str) -> dict[str, str]:
    """The ``dtparam=`` settings of a config.txt, later lines winning; a bare name means on
    (``dtparam=i2c_arm`` is ``i2c_arm=on``), and several may share a line, comma-separated."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("dtparam="):
            continue
        for item in line.removeprefix("dtparam=").split(","):
            name, _, value = item.strip().partition("=")
            if name:
                found[name] = value or "on"
    return found


def check_boot_config(config: Config) -> Check:
    """What the Pi's firmware will set up at the next boot (the bus checks see the running one)."""
    name = "I2C in config.txt"
    if config.sensor.simulate:
        return Check(name, SKIP, "simulated sensor")
    path = boot_config_path()
    if path is None:
        return Check(name, SKIP, "no /boot/firmware/config.txt: not a Raspberry Pi")
    params = dtparams(path.read_text(errors="replace"))
    fix = "sudo ./setup.sh install (it sets both), then reboot"
    if params.get("i2c_arm", params.get("i2c", "off")) != "on":
        return Check(name, FAIL, f"{path}: dtparam=i2c_arm=on is missing", fix)
    speed = params.get("i2c_arm_baudrate", params.get("i2c_baudrate"))
    try:
        hz = int(speed) if speed is not None else FIRMWARE_DEFAULT_BUS_HZ
    except ValueError:
        return Check(name, FAIL, f"{path}: i2c_arm_baudrate={speed} is not a number", fix)
    if hz > MAX_BUS_HZ:
        return Check(
            name,
            FAIL,
            f"{path}: i2c_arm_baudrate={hz}: the MLX90614 supports 100 kHz at most",
            "set dtparam=i2c_arm_baudrate=100000 there, then reboot",
        )
    return Check(name, OK, f"{path}: I2C on at {hz} Hz")


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


def check_gpio(config: Config) -> Check:
    """The GPIO character devices that gpiozero's back ends open (gpiochip4 on a Pi 5 with an
    older kernel, gpiochip0 elsewhere); Raspberry Pi OS gives them to the 'gpio' group."""
    if config.sensor.simulate:
        return Check("GPIO", SKIP, "mock pins")
    chips = sorted(glob(f"{DEV_PREFIX}/dev/gpiochip*"))
    if not chips:
        return Check(
            "GPIO",
            FAIL,
            f"no {DEV_PREFIX}/dev/gpiochip*: not a Raspberry Pi, or its GPIO driver is not loaded",
            "run the kiosk on the Pi (Raspberry Pi OS Bookworm); 'ls /dev/gpiochip*'",
        )
    refused = [chip for chip in chips if not os.access(chip, os.R_OK | os.W_OK)]
    if refused:
        return Check(
            "GPIO",
            FAIL,
            f"no access to {', '.join(refused)}",
            "add the service user to the 'gpio' group (setup.sh install does)",
        )
    return Check("GPIO", OK, ", ".join(chips))


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


def check_display(config: Config) -> Check:
    """The touchscreen's stack: cage (a kiosk Wayland compositor) running Chromium on tty1, with
    no desktop session fighting it for the screen."""
    if config.sensor.simulate:
        return Check("display", SKIP, "simulated kiosk")
    missing = [name for name in ("cage", "chromium") if shutil.which(name) is None]
    if missing:
        return Check(
            "display",
            FAIL,
            f"{' and '.join(missing)} not installed",
            "sudo ./setup.sh install (apt-get install cage chromium)",
        )
    manager = host_path("/etc/systemd/system/display-manager.service")
    if manager.is_symlink() or manager.exists():
        target = os.path.basename(os.readlink(manager)) if manager.is_symlink() else manager.name
        return Check(
            "display",
            WARN,
            f"a desktop session is enabled ({target}): it takes the screen from menwei-browser",
            "sudo systemctl disable "
            + target
            + " (or use Raspberry Pi OS Lite); 'sudo raspi-config nonint do_boot_behaviour B1'",
        )
    return Check("display", OK, "cage + Chromium (Wayland), no desktop session")


def check_blanking(config: Config) -> Check:
    """cage never blanks the screen; a desktop session's idle timer (swayidle) would turn the
    gate's screen off while people queue."""
    if config.sensor.simulate:
        return Check("screen blanking", SKIP, "simulated kiosk")
    for pattern in DESKTOP_AUTOSTARTS:
        for path in sorted(glob(f"{DEV_PREFIX}{pattern}")):
            lines = Path(path).read_text(errors="replace").splitlines()
            if any("swayidle" in line.split("#", 1)[0] for line in lines):
                return Check(
                    "screen blanking",
                    WARN,
                    f"{path} turns the screen off when idle",
                    "sudo raspi-config nonint do_blanking 1 (screen blanking off), or remove it",
                )
    return Check("screen blanking", OK, "off (cage never blanks; no idle timer configured)")


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

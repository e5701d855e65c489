"""Opening the Linux I2C bus, with a diagnosis a technician can act on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.errors import BusMissingError, BusPermissionError, SensorError

if TYPE_CHECKING:
    from smbus2 import SMBus

# Paths to /dev go through a prefix so that tests can point at a fake tree (as kvmd's env.py).
DEV_PREFIX = os.environ.get("MENWEI_DEV_PREFIX", "")


def bus_path(bus_number: int) -> Path:
    return Path(f"{DEV_PREFIX}/dev/i2c-{bus_number}")


def open_bus(bus_number: int) -> SMBus:
    """Open ``/dev/i2c-<bus_number>`` or raise a :class:`SensorError` that says how to fix it."""
    from smbus2 import SMBus

    path = bus_path(bus_number)
    try:
        return SMBus(str(path))
    except FileNotFoundError as exc:
        raise BusMissingError(
            f"{path} does not exist: I2C is not enabled or the bus number is wrong."
            " Enable it with 'sudo raspi-config nonint do_i2c 0' (or dtparam=i2c_arm=on in"
            " /boot/firmware/config.txt) and reboot; 'ls /dev/i2c-*' lists the buses."
        ) from exc
    except PermissionError as exc:
        raise BusPermissionError(
            f"permission denied on {path}: add this user to the 'i2c' group"
            " ('sudo usermod -aG i2c $USER', then log in again)."
        ) from exc
    except OSError as exc:
        raise SensorError(f"cannot open {path}: {exc}") from exc

"""Melexis MLX90614 infrared thermometer on SMBus.

The chip speaks only SMBus Read Word and Write Word. A read is one combined transaction: write the
command byte, repeated start, read three bytes (LSB, MSB, PEC). We issue it with ``i2c_rdwr`` so
that the PEC can be checked against the bytes actually on the wire. The screening path only ever
reads; EEPROM writes live in :mod:`drivers.mlx90614_eeprom`.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import Any, Protocol

from smbus2 import i2c_msg

from drivers.errors import (
    SensorError,
    SensorFlaggedError,
    SensorNotRespondingError,
    SensorReadError,
)
from drivers.smbus_pec import read_word_pec
from drivers.thermometer import Reading

DEFAULT_ADDRESS = 0x5A
RAM_AMBIENT = 0x06
RAM_OBJECT_1 = 0x07
RAM_OBJECT_2 = 0x08
EEPROM_BASE = 0x20
EEPROM_EMISSIVITY = EEPROM_BASE | 0x04
EEPROM_CONFIG_1 = EEPROM_BASE | 0x05
EEPROM_SMBUS_ADDRESS = EEPROM_BASE | 0x0E

KELVIN_PER_LSB = 0.02
ZERO_CELSIUS_IN_KELVIN = 273.15
ERROR_FLAG = 0x8000

# Errors a marginal bus produces now and then: a NACK (the chip was busy or a bit was lost) and a
# generic I/O error from the controller. Both usually clear on the next try.
TRANSIENT_ERRNOS = frozenset({errno.EREMOTEIO, errno.EIO})


class I2CBus(Protocol):
    """The part of :class:`smbus2.SMBus` the driver uses."""

    def i2c_rdwr(self, *messages: Any) -> None: ...

    def close(self) -> None: ...


class PECMismatch(Exception):
    """The PEC byte did not match the bytes received (internal: retried, then a SensorReadError)."""


def raw_to_celsius(raw: int) -> float:
    """Convert a 15-bit temperature word (0.02 K per LSB) to °C."""
    return round(raw * KELVIN_PER_LSB - ZERO_CELSIUS_IN_KELVIN, 2)


def celsius_to_raw(celsius: float) -> int:
    """The word the chip would hold for ``celsius`` (used by the simulator and the tests)."""
    raw = round((celsius + ZERO_CELSIUS_IN_KELVIN) / KELVIN_PER_LSB)
    if not 0 <= raw <= 0x7FFF:
        raise ValueError(f"{celsius} °C is outside the chip's range")
    return raw


class MLX90614:
    """Reads object and ambient temperature from an MLX90614 at ``address`` on ``bus``.

    ``bus`` is an :class:`smbus2.SMBus` or anything with the same ``i2c_rdwr``. Transient errors
    (NACK, EIO, PEC mismatch) are retried ``retries`` times, ``retry_delay_s`` apart; the chip's
    own error flag is not retried, since it reports a fault of the measurement, not of the bus.
    """

    def __init__(
        self,
        bus: I2CBus,
        address: int = DEFAULT_ADDRESS,
        *,
        retries: int = 3,
        retry_delay_s: float = 0.01,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"I2C address 0x{address:02X} is outside 0x03-0x77")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.bus = bus
        self.address = address
        self.retries = retries
        self.retry_delay_s = retry_delay_s
        self._sleep = sleep

    def read(self) -> Reading:
        """One reading of object (RAM 0x07) and ambient (RAM 0x06) temperature."""
        object_raw = self.read_temperature_word(RAM_OBJECT_1)
        ambient_raw = self.read_temperature_word(RAM_AMBIENT)
        return Reading(
            object_c=raw_to_celsius(object_raw),
            ambient_c=raw_to_celsius(ambient_raw),
            object_raw=object_raw,
            ambient_raw=ambient_raw,
        )

    def read_temperature_word(self, command: int) -> int:
        """A RAM temperature word, with the chip's error flag turned into an exception."""
        word = self.read_word(command)
        if word & ERROR_FLAG:
            raise SensorFlaggedError(
                f"MLX90614 at 0x{self.address:02X} flagged an error on register 0x{command:02X}"
                f" (word 0x{word:04X})"
            )
        return word

    def read_word(self, command: int) -> int:
        """SMBus Read Word with PEC check, retrying transient errors."""
        last_error: BaseException | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.retry_delay_s)
            try:
                return self._read_word_once(command)
            except PECMismatch as exc:
                last_error = exc
            except OSError as exc:
                if exc.errno not in TRANSIENT_ERRNOS:
                    raise SensorReadError(
                        f"I2C read of register 0x{command:02X} at 0x{self.address:02X}"
                        f" failed: {exc}"
                    ) from exc
                last_error = exc
        raise self._give_up(command, last_error)

    def _read_word_once(self, command: int) -> int:
        write = i2c_msg.write(self.address, [command])
        read = i2c_msg.read(self.address, 3)
        self.bus.i2c_rdwr(write, read)
        # smbus2's stub says i2c_msg.__iter__ returns int; at run time it yields the bytes read.
        lsb, msb, pec = list(read)  # type: ignore[call-overload]
        expected = read_word_pec(self.address, command, lsb, msb)
        if pec != expected:
            raise PECMismatch(f"PEC 0x{pec:02X}, expected 0x{expected:02X}")
        return lsb | (msb << 8)

    def _give_up(self, command: int, last_error: BaseException | None) -> SensorError:
        tries = self.retries + 1
        where = f"MLX90614 at 0x{self.address:02X}, register 0x{command:02X}"
        if isinstance(last_error, OSError) and last_error.errno == errno.EREMOTEIO:
            error: SensorError = SensorNotRespondingError(
                f"{where}: no acknowledge after {tries} tries (is it wired, powered and at this"
                " address?)"
            )
        else:
            error = SensorReadError(f"{where}: {last_error} after {tries} tries")
        error.__cause__ = last_error
        return error

    def close(self) -> None:
        """Close the bus. Idempotent."""
        bus, self.bus = self.bus, _ClosedBus()
        if not isinstance(bus, _ClosedBus):
            bus.close()

    def __enter__(self) -> MLX90614:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _ClosedBus:
    def i2c_rdwr(self, *messages: Any) -> None:
        raise SensorReadError("the sensor has been closed")

    def close(self) -> None:
        pass

"""MLX90614 EEPROM maintenance: emissivity read and write.

Never called from the screening path. The datasheet's procedure for an EEPROM cell is: write 0x0000
to erase it, wait at least 5 ms, write the new value, wait at least 5 ms, then read it back. We wait
10 ms each time for margin. The new emissivity takes effect after the chip's next power-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from smbus2 import i2c_msg

from drivers.errors import SensorReadError
from drivers.mlx90614 import EEPROM_EMISSIVITY, MLX90614
from drivers.smbus_pec import write_word_pec

EEPROM_WRITE_WAIT_S = 0.010


def read_emissivity(sensor: MLX90614) -> float:
    """Emissivity as the chip holds it (0.1 to 1.0)."""
    return round(sensor.read_word(EEPROM_EMISSIVITY) / 65535, 4)


def emissivity_word(emissivity: float) -> int:
    if not 0.1 <= emissivity <= 1.0:
        raise ValueError(f"emissivity {emissivity} is outside 0.1-1.0 (human skin is about 0.98)")
    return round(emissivity * 65535)


def write_emissivity(
    sensor: MLX90614, emissivity: float, *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Erase-then-write the emissivity cell and verify it by reading back."""
    write_eeprom_word(sensor, EEPROM_EMISSIVITY, emissivity_word(emissivity), sleep=sleep)


def write_eeprom_word(
    sensor: MLX90614, command: int, value: int, *, sleep: Callable[[float], None] = time.sleep
) -> None:
    for word in (0x0000, value):
        _write_word(sensor, command, word)
        sleep(EEPROM_WRITE_WAIT_S)
    stored = sensor.read_word(command)
    if stored != value:
        raise SensorReadError(
            f"EEPROM cell 0x{command:02X} holds 0x{stored:04X} after writing 0x{value:04X}"
        )


def _write_word(sensor: MLX90614, command: int, value: int) -> None:
    lsb, msb = value & 0xFF, value >> 8
    pec = write_word_pec(sensor.address, command, lsb, msb)
    try:
        sensor.bus.i2c_rdwr(i2c_msg.write(sensor.address, [command, lsb, msb, pec]))
    except OSError as exc:
        raise SensorReadError(f"EEPROM write of 0x{command:02X} failed: {exc}") from exc

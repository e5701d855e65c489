"""Emissivity maintenance: erase, wait, write, wait, read back."""

from __future__ import annotations

import pytest

from drivers import SensorReadError
from drivers.mlx90614 import EEPROM_EMISSIVITY, MLX90614
from drivers.mlx90614_eeprom import (
    EEPROM_WRITE_WAIT_S,
    emissivity_word,
    read_emissivity,
    write_emissivity,
)
from drivers.mlx90614_sim import SimulatedMLX90614
from drivers.smbus_pec import write_word_pec


def test_factory_emissivity_is_one():
    assert read_emissivity(MLX90614(SimulatedMLX90614())) == 1.0


def test_write_erases_first_waits_and_verifies():
    bus = SimulatedMLX90614()
    sleeps: list[float] = []
    sensor = MLX90614(bus)
    write_emissivity(sensor, 0.95, sleep=lambda s: sleeps.append(s) or __import__("time").sleep(s))
    writes = [call.written for call in bus.register_writes]
    word = emissivity_word(0.95)
    assert writes == [
        bytes([EEPROM_EMISSIVITY, 0, 0, write_word_pec(0x5A, EEPROM_EMISSIVITY, 0, 0)]),
        bytes(
            [
                EEPROM_EMISSIVITY,
                word & 0xFF,
                word >> 8,
                write_word_pec(0x5A, EEPROM_EMISSIVITY, word & 0xFF, word >> 8),
            ]
        ),
    ]
    assert sleeps == [EEPROM_WRITE_WAIT_S, EEPROM_WRITE_WAIT_S]
    assert bus.eeprom[EEPROM_EMISSIVITY] == word
    assert read_emissivity(sensor) == pytest.approx(0.95, abs=1e-4)


def test_writing_without_waiting_is_caught_by_the_read_back():
    # Without the wait the chip is still busy and NACKs the second write.
    sensor = MLX90614(SimulatedMLX90614(), retry_delay_s=0)
    with pytest.raises(SensorReadError):
        write_emissivity(sensor, 0.9, sleep=lambda s: None)


@pytest.mark.parametrize("value", [0.0, 0.05, 1.01, -1])
def test_emissivity_out_of_range(value):
    with pytest.raises(ValueError, match="emissivity"):
        emissivity_word(value)

"""The real MLX90614 driver against the register-level simulated chip."""

from __future__ import annotations

import errno
import time

import pytest
from smbus2 import i2c_msg

from drivers import (
    SensorError,
    SensorFlaggedError,
    SensorNotRespondingError,
    SensorReadError,
)
from drivers.mlx90614 import (
    MLX90614,
    RAM_AMBIENT,
    RAM_OBJECT_1,
    celsius_to_raw,
    raw_to_celsius,
)
from drivers.mlx90614_sim import Scene, SimulatedMLX90614
from tests.gate_helpers import wait_until


@pytest.mark.parametrize(
    ("raw", "celsius"),
    [
        (0x3AD2, 28.01),  # the datasheet's example word
        (13657, 0.0),  # 13657 * 0.02 = 273.14 K
        (12657, -20.01),
        (10157, -70.01),  # the object range starts at -70 °C
        (15520, 37.25),
        (0x7FFF, 382.19),
    ],
)
def test_raw_to_celsius(raw, celsius):
    assert raw_to_celsius(raw) == pytest.approx(celsius, abs=0.01)


@pytest.mark.parametrize("celsius", [-40.0, -5.5, 0.0, 24.0, 36.6, 85.0])
def test_reads_the_scene_through_the_real_driver(celsius):
    scene = Scene(ambient_c=celsius, noise_c=0.0)
    sensor = MLX90614(SimulatedMLX90614(scene))
    reading = sensor.read()
    assert reading.ambient_c == pytest.approx(celsius, abs=0.02)
    assert reading.object_c == pytest.approx(celsius, abs=0.02)
    assert reading.ambient_raw == celsius_to_raw(celsius)


def test_negative_temperatures_are_not_sign_extended(sensor, scene):
    scene.set_ambient(-15.0)
    reading = sensor.read()
    assert reading.ambient_c == pytest.approx(-15.0, abs=0.02)
    assert reading.ambient_raw < 0x8000


def test_a_person_shows_as_object_above_ambient(sensor, scene):
    scene.person(36.6)
    # The chip's filter follows the person within a few readings.
    reading = wait_until(
        lambda: (r := sensor.read()).object_c == pytest.approx(36.6 - 2.6, abs=0.05) and r,
        what="the object temperature to settle",
    )
    assert reading.ambient_c == pytest.approx(24.0, abs=0.02)


def test_read_uses_one_combined_write_then_read_per_register(sensor, sim_bus):
    sensor.read()
    assert [(c.written, c.read_length, c.result) for c in sim_bus.calls] == [
        (bytes([RAM_OBJECT_1]), 3, "read"),
        (bytes([RAM_AMBIENT]), 3, "read"),
    ]


def test_a_read_never_writes_a_register(sensor, sim_bus):
    for _ in range(20):
        sensor.read()
    assert sim_bus.register_writes == []
    assert all(len(call.written) == 1 for call in sim_bus.calls)


def test_pec_mismatch_is_retried(sensor, sim_bus):
    sim_bus.inject("bad_pec", count=2)
    assert sensor.read().ambient_c == pytest.approx(24.0, abs=0.02)
    assert len(sim_bus.calls) == 4  # two bad, then object and ambient


def test_persistent_pec_mismatch_is_a_read_error(sensor, sim_bus):
    sim_bus.inject("bad_pec")
    with pytest.raises(SensorReadError, match="PEC"):
        sensor.read()
    assert len(sim_bus.calls) == sensor.retries + 1


@pytest.mark.parametrize(("fault", "code"), [("nack", errno.EREMOTEIO), ("eio", errno.EIO)])
def test_transient_bus_errors_are_retried(sensor, sim_bus, fault, code):
    sim_bus.inject(fault, count=sensor.retries)
    sensor.read()
    assert [c.result for c in sim_bus.calls[: sensor.retries]] == [errno.errorcode[code]] * 3


def test_nack_that_persists_means_the_chip_does_not_answer(sensor, sim_bus):
    sim_bus.inject("nack")
    with pytest.raises(SensorNotRespondingError, match="no acknowledge after 4 tries"):
        sensor.read()


def test_eio_that_persists_is_a_read_error(sensor, sim_bus):
    sim_bus.inject("eio")
    with pytest.raises(SensorReadError) as caught:
        sensor.read()
    assert not isinstance(caught.value, SensorNotRespondingError)
    assert isinstance(caught.value.__cause__, OSError)


def test_retries_are_bounded_in_time():
    sensor = MLX90614(SimulatedMLX90614(Scene()), retries=3, retry_delay_s=0.01)
    sensor.bus.inject("unplugged")
    started = time.monotonic()
    with pytest.raises(SensorError):
        sensor.read()
    assert time.monotonic() - started < 0.5


def test_error_flag_is_a_fault_and_not_retried(sensor, sim_bus):
    sim_bus.inject("error_flag", count=1)
    with pytest.raises(SensorFlaggedError, match="flagged"):
        sensor.read()
    assert len(sim_bus.calls) == 1
    assert sensor.read().object_c == pytest.approx(24.0, abs=0.02)


def test_other_errno_is_not_retried(sim_bus):
    class BrokenBus:
        calls = 0

        def i2c_rdwr(self, *messages):
            self.calls += 1
            raise OSError(errno.ENODEV, "No such device")

        def close(self):
            pass

    bus = BrokenBus()
    with pytest.raises(SensorReadError, match="No such device"):
        MLX90614(bus).read()
    assert bus.calls == 1


def test_address_other_than_0x5a():
    bus = SimulatedMLX90614(Scene(noise_c=0.0), address=0x5B)
    assert MLX90614(bus, address=0x5B).read().ambient_c == pytest.approx(24.0, abs=0.02)
    with pytest.raises(SensorNotRespondingError, match="0x5A"):
        MLX90614(bus, address=0x5A, retry_delay_s=0).read()


def test_pec_covers_the_address(sim_bus):
    # A chip at 0x5B answering for 0x5A would fail the PEC: the address is part of it.
    from drivers.smbus_pec import read_word_pec

    assert read_word_pec(0x5A, 0x07, 0x10, 0x3B) != read_word_pec(0x5B, 0x07, 0x10, 0x3B)


def test_unplugged_sensor(sensor, sim_bus):
    sim_bus.inject("unplugged")
    with pytest.raises(SensorNotRespondingError):
        sensor.read()
    sim_bus.clear_faults()
    sensor.read()


def test_invalid_address_is_refused():
    with pytest.raises(ValueError, match="0x80"):
        MLX90614(SimulatedMLX90614(), address=0x80)


def test_block_reads_are_the_wrong_transaction(sim_bus):
    with pytest.raises(OSError) as caught:
        sim_bus.i2c_rdwr(i2c_msg.read(0x5A, 32))
    assert caught.value.errno == errno.EREMOTEIO


def test_close_is_idempotent_and_later_reads_fail(sensor, sim_bus):
    with sensor:
        sensor.read()
    sensor.close()
    assert sim_bus.closed
    with pytest.raises(SensorError):
        sensor.read()

from __future__ import annotations

import pytest

from drivers import BusMissingError, BusPermissionError, SensorError, i2c_bus


def test_missing_bus_says_to_enable_i2c(tmp_path, monkeypatch):
    monkeypatch.setattr(i2c_bus, "DEV_PREFIX", str(tmp_path))
    with pytest.raises(BusMissingError, match="I2C is not enabled") as caught:
        i2c_bus.open_bus(1)
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, SensorError)


def test_permission_denied_says_to_join_the_i2c_group(monkeypatch):
    import smbus2

    def denied(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(smbus2, "SMBus", denied)
    with pytest.raises(BusPermissionError, match="'i2c' group") as caught:
        i2c_bus.open_bus(1)
    assert isinstance(caught.value, PermissionError)


def test_a_file_that_is_not_an_i2c_device(tmp_path, monkeypatch):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "i2c-1").write_text("")
    monkeypatch.setattr(i2c_bus, "DEV_PREFIX", str(tmp_path))
    with pytest.raises(SensorError):
        bus = i2c_bus.open_bus(1)
        from drivers.mlx90614 import MLX90614

        MLX90614(bus, retry_delay_s=0).read()

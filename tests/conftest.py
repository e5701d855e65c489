"""Shared fixtures: gpiozero's mock pins, the simulated MLX90614 and kiosk configurations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from drivers.mlx90614 import MLX90614
from drivers.mlx90614_sim import Scene, SimulatedMLX90614
from kiosk.config import Config, load_config

# The hub on SQLite and PostgreSQL; the browser (module-scoped Chromium) and its pages.
pytest_plugins = ["tests.sync_fixtures", "tests.browser_helpers", "tests.register_helpers"]


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    previous = Device.pin_factory
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = previous


@pytest.fixture
def start_kiosk(make_config, mock_factory) -> Iterator[Any]:
    """The one running-kiosk fixture: ``start_kiosk(**overrides)`` starts a whole kiosk through
    the composition root (``kiosk.server.start_in_background``) with the simulated sensor, mock
    pins, the relay on GPIO23 and a free port, and returns it once its screen is up; every kiosk
    started is stopped at the end."""
    from kiosk.server import start_in_background
    from tests.gate_helpers import wait_for_screen

    running = []

    def start(**overrides: Any) -> Any:
        config = make_config(**{"gpio__relay_pin": 23, **overrides})
        k = start_in_background(config, pin_factory=mock_factory)
        running.append(k)
        wait_for_screen(k.gate, "idle", "awaiting_guard")
        return k

    yield start
    for k in running:
        k.stop()


@pytest.fixture
def scene() -> Scene:
    return Scene(noise_c=0.0)


@pytest.fixture
def sim_bus(scene: Scene) -> SimulatedMLX90614:
    return SimulatedMLX90614(scene)


@pytest.fixture
def sensor(sim_bus: SimulatedMLX90614) -> MLX90614:
    return MLX90614(sim_bus, retry_delay_s=0.001)


FAST_SCREENING = {
    "screening.settle_s": 0.3,
    "screening.samples": 3,
    "screening.sample_interval_s": 0.02,
    "screening.poll_interval_s": 0.02,
}


@pytest.fixture
def make_config(tmp_path: Path):
    def make(**overrides: Any) -> Config:
        values: dict[str, Any] = {
            "kiosk.data_dir": str(tmp_path / "data"),
            "kiosk.identify": "off",
            "kiosk.result_hold_s": 1.0,
            "sensor.simulate": True,
            **FAST_SCREENING,
        }
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        return load_config(None, values)

    return make

"""Opening the configured thermometer on its own (for the ``sensor``, ``calibrate`` and
``emissivity`` commands), and describing a reading for a technician."""

from __future__ import annotations

from drivers import Reading
from drivers.i2c_bus import open_bus
from drivers.mlx90614 import MLX90614
from drivers.mlx90614_sim import Scene, SimulatedMLX90614
from drivers.presence import thermal_presence
from kiosk.config import Config
from kiosk.screening import Rules, decide


def open_thermometer(config: Config) -> MLX90614:
    if config.sensor.simulate:
        bus = SimulatedMLX90614(Scene(), address=config.sensor.address)
    else:
        bus = open_bus(config.sensor.bus)
    return MLX90614(bus, config.sensor.address, retries=config.sensor.retries)


def describe_reading(reading: Reading, config: Config) -> str:
    """One line: object, ambient, raw words, presence, and the verdict a single sample would get."""
    line = (
        f"object {reading.object_c:6.2f} °C  ambient {reading.ambient_c:6.2f} °C"
        f"  raw 0x{reading.object_raw:04X}/0x{reading.ambient_raw:04X}"
    )
    if not thermal_presence(reading, config.screening.presence_delta_c):
        return line + "  nobody in front"
    decision = decide([(reading.object_c, reading.ambient_c)], Rules.from_config(config))
    shown = f"{decision.estimate_c:.1f} °C " if decision.estimate_c is not None else ""
    reason = f" ({decision.reason})" if decision.reason else ""
    return line + f"  person: {shown}{decision.verdict}{reason}"

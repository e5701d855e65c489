"""Hardware drivers: the thermometer, buzzer, relay, LEDs and presence sensing.

Every device takes its bus or pins as a parameter, so the same classes run on a Raspberry Pi, on
the simulated MLX90614 and on gpiozero's mock pins.
"""

from drivers.errors import (
    BusMissingError,
    BusPermissionError,
    SensorError,
    SensorFlaggedError,
    SensorNotRespondingError,
    SensorReadError,
)
from drivers.thermometer import Reading, Thermometer

__all__ = [
    "BusMissingError",
    "BusPermissionError",
    "Reading",
    "SensorError",
    "SensorFlaggedError",
    "SensorNotRespondingError",
    "SensorReadError",
    "Thermometer",
]

"""Driver exceptions.

One base class, :class:`SensorError`; each subclass is also the built-in exception it resembles
(as in gpiozero's ``exc.py``), so callers that only know ``OSError`` still catch them.
"""

from __future__ import annotations


class SensorError(Exception):
    """Any failure to get a trustworthy reading from the thermometer."""


class BusMissingError(SensorError, FileNotFoundError):
    """The I2C bus device does not exist (I2C not enabled, or the wrong bus number)."""


class BusPermissionError(SensorError, PermissionError):
    """The I2C bus exists but this user may not open it (not in the ``i2c`` group)."""


class SensorNotRespondingError(SensorError, ConnectionError):
    """Nothing acknowledges at the sensor's address (unplugged, wrong address, no power)."""


class SensorReadError(SensorError, OSError):
    """The sensor answered, but not with a valid value (bus errors, PEC mismatches)."""


class SensorFlaggedError(SensorReadError):
    """The chip set its own error flag (bit 15) on a temperature register."""

"""Builds the kiosk's devices from its configuration: the real ones, or the simulated ones.

The simulation is chosen explicitly (``sensor.simulate`` or ``--simulate``), never as a fallback:
a Pi whose sensor is missing must say so, not quietly measure a simulated person.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from gpiozero import DistanceSensor
from gpiozero.exc import PWMSoftwareFallback
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory, MockTriggerPin

from drivers.i2c_bus import open_bus
from drivers.mlx90614 import MLX90614
from drivers.mlx90614_sim import Scene, SimulatedMLX90614
from drivers.presence import DistanceWindow
from drivers.signals import BuzzerSignals, GateRelay, StatusLeds
from kiosk.config import Config


@dataclass
class Hardware:
    thermometer: MLX90614
    buzzer: BuzzerSignals | None
    relay: GateRelay | None
    leds: StatusLeds | None
    distance: DistanceWindow | None
    pin_factory: Factory | None
    simulator: SimulatedMLX90614 | None = None
    closed: bool = field(default=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for part in (self.buzzer, self.relay, self.leds, self.distance, self.thermometer):
            if part is not None:
                part.close()


def open_thermometer(config: Config) -> MLX90614:
    """The real driver over the I2C bus, or over the simulated chip with ``sensor.simulate``
    (the one place this choice is made; ``thermometer.bus`` is then the simulator)."""
    if config.sensor.simulate:
        bus: Any = SimulatedMLX90614(Scene(), address=config.sensor.address)
    else:
        bus = open_bus(config.sensor.bus)
    return MLX90614(bus, config.sensor.address, retries=config.sensor.retries)


def build_hardware(
    config: Config, *, pin_factory: Factory | None = None, sensor_only: bool = False
) -> Hardware:
    """Open the sensor and the pins. With ``sensor.simulate`` the MLX90614 is the simulated one and,
    unless a factory is given, the pins are gpiozero's mock pins. ``sensor_only``: the sensor
    alone, for the technician's commands (``kiosk sensor``, ``calibrate``), which must not claim
    the pins of a gate that is running."""
    thermometer = open_thermometer(config)
    simulator = thermometer.bus if isinstance(thermometer.bus, SimulatedMLX90614) else None
    if sensor_only:
        return Hardware(thermometer, None, None, None, None, None, simulator)
    if simulator is not None and pin_factory is None:
        pin_factory = MockFactory()
    hardware = Hardware(thermometer, None, None, None, None, pin_factory, simulator)
    try:
        gpio = config.gpio
        if gpio.buzzer_pin is not None:
            hardware.buzzer = BuzzerSignals(gpio.buzzer_pin, pin_factory=pin_factory)
        if gpio.relay_pin is not None:
            hardware.relay = GateRelay(
                gpio.relay_pin,
                active_high=gpio.relay_active_high,
                pulse_s=gpio.relay_pulse_s,
                pin_factory=pin_factory,
            )
        if gpio.led_green_pin is not None or gpio.led_red_pin is not None:
            hardware.leds = StatusLeds(
                gpio.led_green_pin, gpio.led_red_pin, pin_factory=pin_factory
            )
        if gpio.distance_echo_pin is not None:
            if isinstance(pin_factory, MockFactory):
                # A simulated person stands inside the window: the echo returns after the time
                # sound takes for the middle of the window and back.
                middle_m = (gpio.distance_min_m + gpio.distance_max_m) / 2
                echo = pin_factory.pin(gpio.distance_echo_pin)
                pin_factory.pin(
                    gpio.distance_trigger_pin,
                    pin_class=MockTriggerPin,
                    echo_pin=echo,
                    echo_time=2 * middle_m / 343.26,
                )
            with warnings.catch_warnings():
                # gpiozero suggests pigpio for better timing; a window of centimetres does not
                # need it, and the warning would repeat at every start.
                warnings.simplefilter("ignore", PWMSoftwareFallback)
                sensor = DistanceSensor(
                    echo=gpio.distance_echo_pin,
                    trigger=gpio.distance_trigger_pin,
                    max_distance=max(1.0, gpio.distance_max_m * 2),
                    pin_factory=pin_factory,
                )
            hardware.distance = DistanceWindow(sensor, gpio.distance_min_m, gpio.distance_max_m)
    except BaseException:
        hardware.close()
        raise
    return hardware

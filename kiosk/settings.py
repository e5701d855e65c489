"""Every kiosk setting, declared once: name, default, allowed values and what it means.

The TOML file (``/etc/menwei/kiosk.toml`` on a Pi) overrides the defaults; ``load_config``
validates it and refuses to start on a bad value, naming the key and what is allowed.
``docs/config.md`` is generated from this table (``kiosk config-doc``) and a test keeps it current.
The settings a hub may send are declared in the contract (``sync.contract.HUB_SETTINGS``).
"""

from __future__ import annotations

from sync.contract import HUB_SETTINGS, Setting


def gpio_pin(key: str, default: int | None, help: str) -> Setting:
    """A BCM pin number (2-27), or None for a part that is not fitted."""
    return Setting(key, default, help, int, 2, 27, optional=True)


SETTINGS: tuple[Setting, ...] = (
    Setting("kiosk.id", "gate-1", "Name of this kiosk, unique within the hub.", str),
    Setting(
        "kiosk.data_dir",
        "/var/lib/menwei",
        "Directory for the ledger database (relative paths are taken from the config file).",
        str,
    ),
    Setting("kiosk.language", "zh", "Default screen language.", str, choices=("zh", "en")),
    Setting(
        "kiosk.timezone",
        "Asia/Shanghai",
        "Time zone of every time shown, counted or exported (an IANA name; records keep UTC).",
        str,
    ),
    HUB_SETTINGS["kiosk.identify"],
    HUB_SETTINGS["kiosk.identify_required"],
    HUB_SETTINGS["kiosk.retention_days"],
    HUB_SETTINGS["kiosk.store_temperatures"],
    Setting("kiosk.result_hold_s", 4.0, "Seconds a verdict stays on screen.", float, 1, 60),
    Setting(
        "kiosk.idle_return_s",
        30.0,
        "The guard sign-in and privacy pages go back to the resident screen after this long"
        " without a touch.",
        float,
        5,
        600,
    ),
    Setting("sensor.simulate", False, "Use the simulated MLX90614 instead of the I2C bus.", bool),
    Setting(
        "sensor.frozen_after_s",
        10.0,
        "A chip whose object reading has not changed by one bit for this long has stopped"
        " measuring: a sensor fault (docs/screening.md).",
        float,
        1,
        30,
    ),
    Setting("sensor.bus", 1, "I2C bus number (/dev/i2c-N).", int, 0, 31),
    Setting("sensor.address", 0x5A, "SMBus address of the MLX90614 (90 = 0x5A).", int, 3, 119),
    Setting("sensor.retries", 3, "Retries of a transient bus error before a fault.", int, 0, 10),
    HUB_SETTINGS["screening.threshold_c"],
    HUB_SETTINGS["screening.site"],
    HUB_SETTINGS["screening.forehead_offset_c"],
    HUB_SETTINGS["screening.wrist_offset_c"],
    Setting(
        "screening.site_offset_c",
        0.0,
        "Site correction from calibration against a reference thermometer (kiosk calibrate).",
        float,
        -3,
        3,
    ),
    HUB_SETTINGS["screening.model"],
    HUB_SETTINGS["screening.ambient_coeff"],
    Setting(
        "screening.reference_ambient_c",
        24.0,
        "Ambient model: the ambient at which the plain offset holds.",
        float,
        10,
        35,
    ),
    Setting(
        "screening.plausible_min_c", 34.0, "Below this estimate: measure again.", float, 30, 36
    ),
    Setting(
        "screening.plausible_max_c", 43.0, "Above this estimate: measure again.", float, 40, 45
    ),
    Setting(
        "screening.presence_delta_c",
        3.0,
        "A person is present when the object reads this much above ambient.",
        float,
        0.5,
        15,
    ),
    Setting(
        "screening.settle_s",
        0.5,
        "The longest wait after presence for the chip's filter (with adaptive settle, the samples"
        " are taken as soon as the reading has settled, at most this late).",
        float,
        0,
        5,
    ),
    Setting(
        "screening.adaptive_settle",
        True,
        "Judge as soon as the last samples have settled (spread and drift within"
        " screening.settled_c) instead of always waiting screening.settle_s.",
        bool,
    ),
    Setting(
        "screening.settled_c",
        0.1,
        "The reading has settled when the last samples lie within this (max - min) and the newest"
        " is within half of it of the oldest.",
        float,
        0.02,
        1,
    ),
    Setting("screening.samples", 5, "Samples taken for the median.", int, 1, 25),
    Setting("screening.sample_interval_s", 0.05, "Seconds between samples.", float, 0, 1),
    Setting(
        "screening.max_spread_c",
        0.5,
        "Samples spread wider than this (max - min) are unstable: measure again.",
        float,
        0.05,
        3,
    ),
    Setting("screening.poll_interval_s", 0.1, "Idle polling of the sensor.", float, 0.02, 2),
    gpio_pin("gpio.buzzer_pin", 18, "BCM pin of the active buzzer."),
    gpio_pin("gpio.relay_pin", None, "BCM pin of the gate relay (leave out if none)."),
    Setting(
        "gpio.relay_active_high", True, "False for relay modules that switch on a low input.", bool
    ),
    Setting(
        "gpio.relay_pulse_s", 1.0, "Seconds the gate is released on admission.", float, 0.1, 10
    ),
    gpio_pin("gpio.led_green_pin", None, "BCM pin of the green status LED."),
    gpio_pin("gpio.led_red_pin", None, "BCM pin of the red status LED."),
    gpio_pin("gpio.distance_trigger_pin", None, "BCM pin of the HC-SR04 trigger."),
    gpio_pin("gpio.distance_echo_pin", None, "BCM pin of the HC-SR04 echo."),
    Setting("gpio.distance_min_m", 0.03, "Nearest a person may stand.", float, 0, 1),
    Setting("gpio.distance_max_m", 0.15, "Farthest a person may stand.", float, 0.02, 2),
    Setting(
        "gpio.alarm_timeout_s",
        60.0,
        "The fever alarm stops by itself after this long if no guard silences it.",
        float,
        5,
        600,
    ),
    Setting(
        "guard.auto_lock_s",
        120.0,
        "The guard screen locks itself after this long without a touch.",
        float,
        15,
        1800,
    ),
    Setting(
        "guard.urgent_lock_s",
        10.0,
        "A fever or a fault arriving while the unlocked guard screen has not been touched for this"
        " long locks it and brings the resident screen forward.",
        float,
        3,
        600,
    ),
    Setting(
        "guard.pending_expire_s",
        600.0,
        "A held visitor or a failed measurement no guard decided on leaves the guard's list after"
        " this long (recorded as expired). A fever block never expires: a guard must decide.",
        float,
        60,
        86400,
    ),
    Setting(
        "guard.vehicle_window_s",
        30.0,
        "A vehicle logged in: its occupants are screened within this many seconds (and no more of"
        " them than the guard said were in it); then whoever steps up is a pedestrian again.",
        float,
        5,
        300,
    ),
    Setting(
        "guard.max_pin_failures",
        5,
        "Wrong PINs in a row before each further try must wait (5 s, 10 s, 20 s …).",
        int,
        3,
        10,
    ),
    Setting(
        "guard.lockout_s",
        30.0,
        "The longest wait between PIN tries after repeated wrong PINs (never a longer lockout:"
        " a stranger must not keep a guard out).",
        float,
        5,
        3600,
    ),
    Setting(
        "sync.hub_url",
        None,
        "The hub this kiosk syncs to (https://…); leave out to run stand-alone.",
        str,
        optional=True,
    ),
    Setting(
        "sync.ca_file",
        None,
        "CA certificate file that signs the hub's TLS certificate (default: the system's).",
        str,
        optional=True,
    ),
    Setting(
        "sync.allow_plain_http",
        False,
        "Allow an http:// hub that is not on this machine (secrets then cross the network in the"
        " clear; the guard screen and kiosk doctor warn).",
        bool,
    ),
    Setting("sync.batch_size", 200, "Records per request to the hub.", int, 1, 500),
    Setting(
        "sync.interval_s", 30.0, "Seconds between syncs when there is nothing new.", float, 2, 3600
    ),
    Setting("web.host", "127.0.0.1", "Address the touchscreen server listens on.", str),
    Setting("web.port", 8080, "Port of the touchscreen server.", int, 1, 65535),
    Setting("voice.enabled", True, "Speak the resident-facing prompts (the buzzer stays).", bool),
    Setting("voice.volume", 80, "Prompt volume, percent of the recording.", int, 0, 100),
    Setting(
        "voice.quiet_from_hour",
        22,
        "Quiet hours start at this local hour (prompts muted; the buzzer stays). Equal to"
        " voice.quiet_until_hour: never quiet.",
        int,
        0,
        23,
    ),
    Setting("voice.quiet_until_hour", 7, "Quiet hours end at this local hour.", int, 0, 23),
    Setting("voice.device", "default", "The ALSA device the prompts play on (aplay -D).", str),
    Setting(
        "voice.custom_dir",
        None,
        "A folder of the compound's own recordings (<prompt>.wav, see docs/voice.md) that replace"
        " the synthetic ones (default: /etc/menwei/voice).",
        str,
        optional=True,
    ),
)

BY_KEY = {s.key: s for s in SETTINGS}

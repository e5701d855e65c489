"""Loading and validating the kiosk's TOML configuration."""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from kiosk.settings import BY_KEY, SETTINGS
from sync.contract import Setting, SettingValueError, checked_value
from sync.localtime import UnknownZoneError, zone

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range. The message names the key."""


@dataclass(frozen=True)
class KioskSettings:
    """``[kiosk]``: this kiosk, its data and its screens."""

    id: str
    data_dir: str
    language: Literal["zh", "en"]
    timezone: str
    identify: Literal["before", "after", "off"]
    identify_required: bool
    retention_days: int
    store_temperatures: bool
    result_hold_s: float
    idle_return_s: float


@dataclass(frozen=True)
class SensorSettings:
    """``[sensor]``: the MLX90614 on the I2C bus (or its simulation)."""

    simulate: bool
    frozen_after_s: float
    bus: int
    address: int
    retries: int


@dataclass(frozen=True)
class ScreeningSettings:
    """``[screening]``: the rule that turns readings into a verdict."""

    threshold_c: float
    site: Literal["forehead", "wrist"]
    forehead_offset_c: float
    wrist_offset_c: float
    site_offset_c: float
    model: Literal["offset", "ambient"]
    ambient_coeff: float
    reference_ambient_c: float
    plausible_min_c: float
    plausible_max_c: float
    presence_delta_c: float
    settle_s: float
    adaptive_settle: bool
    settled_c: float
    samples: int
    sample_interval_s: float
    max_spread_c: float
    poll_interval_s: float


@dataclass(frozen=True)
class GpioSettings:
    """``[gpio]``: buzzer, relay, LEDs and distance sensor (None: not fitted)."""

    buzzer_pin: int | None
    relay_pin: int | None
    relay_active_high: bool
    relay_pulse_s: float
    led_green_pin: int | None
    led_red_pin: int | None
    distance_trigger_pin: int | None
    distance_echo_pin: int | None
    distance_min_m: float
    distance_max_m: float
    alarm_timeout_s: float


@dataclass(frozen=True)
class GuardSettings:
    """``[guard]``: the guard screen's locks."""

    auto_lock_s: float
    urgent_lock_s: float
    pending_expire_s: float
    vehicle_window_s: float
    max_pin_failures: int
    lockout_s: float


@dataclass(frozen=True)
class SyncSettings:
    """``[sync]``: the hub this kiosk sends its records to (None: stand-alone)."""

    hub_url: str | None
    allow_plain_http: bool
    ca_file: str | None
    batch_size: int
    interval_s: float


@dataclass(frozen=True)
class WebSettings:
    """``[web]``: the touchscreen server."""

    host: str
    port: int


@dataclass(frozen=True)
class VoiceSettings:
    """``[voice]``: the spoken prompts."""

    enabled: bool
    volume: int
    quiet_from_hour: int
    quiet_until_hour: int
    device: str
    custom_dir: str | None


# Each section of kiosk/settings.py and the class that holds it; a test keeps the classes' fields
# and types the same as the declared settings, so that a wrong name or type is a mypy error.
SECTIONS: dict[str, type] = {
    "kiosk": KioskSettings,
    "sensor": SensorSettings,
    "screening": ScreeningSettings,
    "gpio": GpioSettings,
    "guard": GuardSettings,
    "sync": SyncSettings,
    "web": WebSettings,
    "voice": VoiceSettings,
}


class Config:
    """Validated settings, typed: read as ``config.screening.threshold_c``."""

    def __init__(self, values: Mapping[str, Any], source: Path | None = None) -> None:
        self.values: Mapping[str, Any] = MappingProxyType(dict(values))
        self.source = source
        sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for key, value in self.values.items():
            section, name = key.split(".", 1)
            sections[section][name] = value
        self.kiosk = KioskSettings(**sections["kiosk"])
        self.sensor = SensorSettings(**sections["sensor"])
        self.screening = ScreeningSettings(**sections["screening"])
        self.gpio = GpioSettings(**sections["gpio"])
        self.guard = GuardSettings(**sections["guard"])
        self.sync = SyncSettings(**sections["sync"])
        self.web = WebSettings(**sections["web"])
        self.voice = VoiceSettings(**sections["voice"])

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` (keys with '__' for '.'), validated again."""
        values = dict(self.values)
        for key, value in changes.items():
            values[key.replace("__", ".", 1)] = value
        return validate(values, self.source)

    @property
    def tz(self) -> tzinfo:
        """The zone of ``kiosk.timezone``: every time a person reads is shown in it."""
        return zone(self.kiosk.timezone)

    @property
    def data_dir(self) -> Path:
        path = Path(self.kiosk.data_dir)
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path


def in_force(file_config: Config, hub_set: Mapping[str, Any]) -> Config:
    """The settings in force: the kiosk's file with the hub's whole current set on top. Derived
    afresh each time, never layered on the last result, so a setting the hub takes back returns
    to the file's value. A hub value the kiosk would refuse at start is left out (and logged)."""
    config = file_config
    for key, value in hub_set.items():
        try:
            config = config.replace(**{key.replace(".", "__", 1): value})
        except ValueError as exc:
            log.error("hub setting %s not applied: %s", key, exc)
    return config


CONFIG_ENV = "MENWEI_CONFIG"
SYSTEM_CONFIG = Path("/etc/menwei/kiosk.toml")
LOCAL_CONFIG = Path("kiosk.toml")


@dataclass(frozen=True)
class ConfigChoice:
    """Which settings file a command uses and why; ``path`` None when none was found."""

    path: Path | None
    how: str
    tried: tuple[str, ...]

    def describe(self) -> str:
        if self.path is None:
            return "未找到配置文件，使用默认设置（no config file: defaults）"
        return f"配置文件 {self.path}（{self.how}）"

    def missing(self) -> str:
        return (
            f"找不到配置文件（no config file）：试过 {'、'.join(self.tried)}。"
            f"请用 --config 指定，或设置 {CONFIG_ENV}"
        )


def find_config(
    explicit: str | Path | None,
    environ: Mapping[str, str] | None = None,
    system: Path | None = None,
    local: Path | None = None,
) -> ConfigChoice:
    """The one order every ``kiosk`` command follows: ``--config``, then ``$MENWEI_CONFIG``, then
    ``/etc/menwei/kiosk.toml``, then ``./kiosk.toml``. A file named explicitly (option or variable)
    is used even when missing, so that loading it says it does not exist."""
    environ = os.environ if environ is None else environ
    system = SYSTEM_CONFIG if system is None else system
    local = LOCAL_CONFIG if local is None else local
    tried = ("--config", f"${CONFIG_ENV}", str(system), f"./{local}")
    if explicit:
        return ConfigChoice(Path(explicit), "--config", tried)
    if environ.get(CONFIG_ENV):
        return ConfigChoice(Path(environ[CONFIG_ENV]), f"${CONFIG_ENV}", tried)
    if system.is_file():
        return ConfigChoice(system, "系统配置 system", tried)
    if local.is_file():
        return ConfigChoice(local.absolute(), "当前目录 current directory", tried)
    return ConfigChoice(None, "默认设置 defaults", tried)


def defaults() -> dict[str, Any]:
    return {s.key: s.default for s in SETTINGS}


def load_config(
    path: Path | str | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Defaults, then the TOML file at ``path`` (if given), then ``overrides`` ("section.key")."""
    values = defaults()
    source = Path(path) if path is not None else None
    if source is not None:
        try:
            with source.open("rb") as fh:
                document = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"配置文件不存在（config file does not exist）：{source}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"配置文件格式错误（{source} is not valid TOML）：{exc}") from None
        values.update(_flatten(document, source))
    values.update(overrides or {})
    return validate(values, source)


def _flatten(document: Mapping[str, Any], source: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: '{section}' must be a [section] table")
        for name, value in table.items():
            flat[f"{section}.{name}"] = value
    return flat


def validate(values: Mapping[str, Any], source: Path | None = None) -> Config:
    where = f"{source}: " if source else ""
    unknown = sorted(set(values) - set(BY_KEY))
    if unknown:
        raise ConfigError(f"{where}unknown setting {unknown[0]!r} (see docs/config.md)")
    checked = {key: _check(BY_KEY[key], value, where) for key, value in values.items()}
    _check_together(checked, where)
    return Config(checked, source)


def _check(setting: Setting, value: Any, where: str) -> Any:
    try:
        return checked_value(setting, value)
    except SettingValueError as exc:
        raise ConfigError(f"{where}{exc}") from None


def _check_together(values: dict[str, Any], where: str) -> None:
    try:
        zone(values["kiosk.timezone"])
    except UnknownZoneError:
        raise ConfigError(
            f"{where}kiosk.timezone = {values['kiosk.timezone']!r} is not a known time zone"
            " (an IANA name such as 'Asia/Shanghai')"
        ) from None
    low, high = values["screening.plausible_min_c"], values["screening.plausible_max_c"]
    threshold = values["screening.threshold_c"]
    if not low < threshold < high:
        raise ConfigError(
            f"{where}screening.threshold_c = {threshold} must lie between"
            f" screening.plausible_min_c ({low}) and screening.plausible_max_c ({high})"
        )
    trigger, echo = values["gpio.distance_trigger_pin"], values["gpio.distance_echo_pin"]
    if (trigger is None) != (echo is None):
        raise ConfigError(
            f"{where}gpio.distance_trigger_pin and gpio.distance_echo_pin go together:"
            " set both or neither"
        )
    if values["gpio.distance_min_m"] >= values["gpio.distance_max_m"]:
        raise ConfigError(f"{where}gpio.distance_min_m must be less than gpio.distance_max_m")
    pins = [
        (key, pin)
        for key, pin in values.items()
        if key.startswith("gpio.") and key.endswith("_pin") and pin is not None
    ]
    seen: dict[int, str] = {}
    for key, pin in pins:
        if pin in seen:
            raise ConfigError(f"{where}{key} and {seen[pin]} both use GPIO{pin}")
        seen[pin] = key

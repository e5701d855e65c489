"""Loading and validating the kiosk's TOML configuration."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kiosk.settings import BY_KEY, SETTINGS
from sync.contract import Setting, SettingValueError, checked_value
from sync.localtime import UnknownZoneError, zone


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range. The message names the key."""


class Config:
    """Validated settings, read as ``config.screening.threshold_c``."""

    def __init__(self, values: Mapping[str, Any], source: Path | None = None) -> None:
        self.values = dict(values)
        self.source = source
        sections: dict[str, dict[str, Any]] = {}
        for key, value in self.values.items():
            section, name = key.split(".", 1)
            sections.setdefault(section, {})[name] = value
        for section, names in sections.items():
            setattr(self, section, SimpleNamespace(**names))

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` (keys with '__' for '.'), validated again."""
        values = dict(self.values)
        for key, value in changes.items():
            values[key.replace("__", ".", 1)] = value
        return validate(values, self.source)

    @property
    def tz(self) -> tzinfo:
        """The zone of ``kiosk.timezone``: every time a person reads is shown in it."""
        return zone(self.values["kiosk.timezone"])

    @property
    def data_dir(self) -> Path:
        path = Path(self.values["kiosk.data_dir"])
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path


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

"""Configuration: defaults, validation that names the key, and the generated reference."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from types import UnionType
from typing import Any

import pytest

from kiosk.config import SECTIONS, ConfigError, GpioSettings, load_config
from kiosk.settings import SETTINGS
from kiosk.settings_doc import render_settings_doc

DOCS = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def test_defaults_are_valid():
    config = load_config()
    assert config.screening.threshold_c == 37.3
    assert config.sensor.address == 0x5A
    assert config.gpio.relay_pin is None


def test_a_file_overrides_defaults(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        '[kiosk]\nid = "east-gate"\ndata_dir = "data"\n[screening]\nthreshold_c = 37.5\n'
    )
    config = load_config(path)
    assert config.kiosk.id == "east-gate"
    assert config.screening.threshold_c == 37.5
    assert config.data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[screening]\nthreshold_c = 45",
            "screening.threshold_c = 45.0 is not allowed: expected a number from 37 to 38.5",
        ),
        ("[screening]\nthreshold_c = 'hot'", "screening.threshold_c = 'hot'"),
        (
            "[screening]\nsamples = 2.5",
            "screening.samples = 2.5 is not allowed: expected an integer",
        ),
        ("[sensor]\nsimulate = 1", "sensor.simulate = 1 is not allowed: expected true or false"),
        ("[sensor]\naddress = true", "sensor.address = True"),
        (
            "[kiosk]\nlanguage = 'fr'",
            "kiosk.language = 'fr' is not allowed: expected one of 'zh', 'en'",
        ),
        ("[kiosk]\nid = ''", "kiosk.id"),
        ("[gpio]\nbuzzer_pin = 40", "gpio.buzzer_pin = 40"),
        ("[screening]\nthreshhold_c = 37.3", "unknown setting 'screening.threshhold_c'"),
        ("threshold_c = 37.3", "'threshold_c' must be a [section] table"),
        ("[screening\n", "is not valid TOML"),
        ("[gpio]\nrelay_pin = 18", "gpio.relay_pin and gpio.buzzer_pin both use GPIO18"),
        ("[gpio]\ndistance_echo_pin = 24", "set both or neither"),
        (
            "[screening]\nplausible_min_c = 35.9\nthreshold_c = 37.0\nplausible_max_c = 40\n"
            "[gpio]\ndistance_min_m = 0.5\ndistance_max_m = 0.2",
            "distance_min_m must be less",
        ),
    ],
)
def test_bad_values_are_refused_with_the_key_named(tmp_path, toml, message):
    path = tmp_path / "kiosk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/nonexistent/kiosk.toml")


def test_every_setting_is_documented_and_the_reference_is_current():
    assert DOCS.read_text() == render_settings_doc(), "run: kiosk config-doc > docs/config.md"
    for setting in SETTINGS:
        assert f"`{setting.key.split('.', 1)[1]}`" in DOCS.read_text()
        assert setting.help


def test_defaults_pass_their_own_validation():
    for setting in SETTINGS:
        load_config(None, {setting.key: setting.default})


def test_the_typed_sections_hold_exactly_the_declared_settings():
    """Config's section classes are what mypy checks; they must match kiosk/settings.py: the same
    names, the declared kind (None allowed only for optional settings), the declared choices."""
    declared = {s.key: s for s in SETTINGS}
    typed: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        for name, hint in typing.get_type_hints(cls).items():
            typed[f"{section}.{name}"] = hint
    assert sorted(typed) == sorted(declared)
    for key, hint in typed.items():
        setting = declared[key]
        args = set(typing.get_args(hint)) if typing.get_origin(hint) is UnionType else {hint}
        assert (type(None) in args) == setting.optional, key
        args.discard(type(None))
        (kind,) = args
        if setting.choices:
            assert typing.get_origin(kind) is typing.Literal, key
            assert typing.get_args(kind) == setting.choices, key
        else:
            assert kind is setting.kind, key


def test_a_config_reads_typed_values_by_section(tmp_path):
    config = load_config(None, {"gpio.relay_pin": 23, "screening.samples": 7})
    assert isinstance(config.gpio, GpioSettings)
    assert config.gpio.relay_pin == 23
    assert config.screening.samples == 7
    changed = config.replace(screening__samples=9)
    assert (changed.screening.samples, config.screening.samples) == (9, 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.screening.samples = 3  # type: ignore[misc]  # the test: a section is read-only

"""Local time for people: Beijing days and display, whatever UTC says."""

from datetime import UTC, date, datetime

import pytest

from kiosk.config import ConfigError, load_config
from sync.localtime import (
    UnknownZoneError,
    day_bounds_utc,
    format_local,
    local_today,
    zone,
)

BEIJING = zone("Asia/Shanghai")


def test_an_early_morning_event_belongs_to_the_beijing_day() -> None:
    stamp = "2026-11-28T17:30:00.000000+00:00"  # 2026-11-29 01:30 in Beijing
    assert format_local(stamp, BEIJING) == "2026-11-29 01:30:00"
    start, end = day_bounds_utc(date(2026, 11, 29), BEIJING)
    assert start <= stamp < end
    assert start <= "2026-11-28T16:00:00.000000+00:00" < end <= "2026-11-29T16:00:00.000000+00:00"
    assert start == "2026-11-28T16:00:00+00:00"
    assert end == "2026-11-29T16:00:00+00:00"


def test_local_today_turns_at_beijing_midnight() -> None:
    assert local_today(BEIJING, datetime(2026, 11, 28, 15, 59, tzinfo=UTC)) == date(2026, 11, 28)
    assert local_today(BEIJING, datetime(2026, 11, 28, 16, 0, tzinfo=UTC)) == date(2026, 11, 29)


def test_times_without_an_offset_are_utc_and_bad_ones_are_shown_as_they_are() -> None:
    assert format_local("2026-11-28T17:30:00", BEIJING) == "2026-11-29 01:30:00"
    assert format_local(None, BEIJING) == ""
    assert format_local("not a time", BEIJING) == "not a time"


def test_unknown_zone_is_refused_by_name() -> None:
    with pytest.raises(UnknownZoneError, match="Mars/Olympus"):
        zone("Mars/Olympus")
    with pytest.raises(ConfigError, match=r"kiosk\.timezone"):
        load_config(overrides={"kiosk.timezone": "Mars/Olympus"})
    assert load_config().tz is BEIJING

"""Times as people at the gate read them: the compound's local zone, never UTC on a screen.

Records keep their UTC ``wall_time`` (ISO 8601 with offset); everything a person reads, filters
on or exports is converted here, so the kiosk and the hub format times one way. The zone is a
setting (``kiosk.timezone`` on the kiosk, the hub's own setting on the hub), Asia/Shanghai by
default: China keeps one zone, UTC+8, with no daylight saving.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"
DISPLAY_FORMAT = "%Y-%m-%d %H:%M:%S"


class UnknownZoneError(ValueError):
    """The time-zone name is not in the system's tz database."""


@cache
def zone(name: str = DEFAULT_ZONE) -> tzinfo:
    """The named IANA zone (``Asia/Shanghai``); ``UnknownZoneError`` names the bad value."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownZoneError(
            f"未知的时区 {name!r}（unknown time zone）：请填写如 Asia/Shanghai 的时区名"
        ) from None


def parse_utc(stamp: str) -> datetime:
    """An ISO 8601 time as stored in records; a time without an offset is taken as UTC."""
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_local(moment: datetime | str, tz: tzinfo) -> datetime:
    if isinstance(moment, str):
        moment = parse_utc(moment)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def format_local(moment: datetime | str | None, tz: tzinfo, fmt: str = DISPLAY_FORMAT) -> str:
    """``2026-11-29 08:15:02`` in ``tz``; an empty string for no time, the text for a bad one."""
    if moment is None or moment == "":
        return ""
    try:
        local = to_local(moment, tz)
        if fmt == DISPLAY_FORMAT:  # the common case, without strftime (a month's register)
            return local.replace(tzinfo=None).isoformat(" ", "seconds")
        return local.strftime(fmt)
    except (TypeError, ValueError):
        return str(moment)


def utc_offset_min(moment: datetime | str, tz: tzinfo) -> int:
    """Minutes east of UTC that ``tz`` keeps at that moment (480 in Beijing)."""
    offset = to_local(moment, tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


def offset_label(minutes: int | None) -> str:
    """``UTC+08:00`` for a record's offset; empty for a record that does not carry one."""
    if minutes is None:
        return ""
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


FIRST_YEAR, LAST_YEAR = 2000, 2099  # the days a ledger can hold; outside is a typing slip


class DayError(ValueError):
    """A day typed or sent that is not a date, or not one a ledger can hold (said in Chinese)."""


def parse_day(raw: str, example: str = "2026-11-29") -> date:
    """A local day from a form or a query (``2026-11-29``). Years outside 2000–2099 are refused
    here, with what to do, instead of failing later when the day is turned into UTC bounds."""
    text = raw.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DayError(f"日期格式不对（{text[:20]}）：请按 {example} 的格式填写") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise DayError(
            f"日期超出范围（{text[:20]}）：请填写 {FIRST_YEAR} 至 {LAST_YEAR} 年之间的日期"
        )
    return day


def local_today(tz: tzinfo, now: datetime | None = None) -> date:
    return to_local(now or datetime.now(UTC), tz).date()


def day_bounds_utc(day: date, tz: tzinfo) -> tuple[str, str]:
    """A local day as a ``[start, end)`` range of UTC ISO times, comparable with ``wall_time``."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), start.timetz())
    # Seconds only: "…T16:00:00+00:00" sorts before any stored "…T16:00:00.000000+00:00".
    return start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()

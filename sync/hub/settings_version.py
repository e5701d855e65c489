"""Which settings each gate runs: the version a kiosk reports, against its compound's current one.

The settings version is a roster version: that of the compound's newest setting change (a value
set, or one taken back by 恢复门岗默认), 0 while the hub has never set one. It is derived from the
roster each time, never kept beside it. A kiosk learns the version of the settings it has applied
with each roster answer, and reports it with every batch and every roster pull; the hub keeps, per
gate, the last version reported and when (``kiosks.settings_version``, ``settings_reported_at``).
A kiosk from before the report sends nothing: its version is unknown, never taken for current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from sync.hub.store import HubStore, now_iso
from sync.localtime import format_local

MAX_VERSION = 2**62  # roster versions are 64-bit in both databases


def reported_version(value: Any) -> int | None:
    """A version as a kiosk sent it, or None when it is missing (a kiosk from before the report)
    or not a version; what is not a version is never stored."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VERSION:
        return None
    return value


def version_at(store: HubStore, kiosk_id: str, roster_version: int) -> int:
    """The settings version of a kiosk that has applied its compound's roster up to
    ``roster_version``: the newest setting change at or below it (what a roster answer says)."""
    row = store.fetch_one(
        "SELECT max(version) FROM roster WHERE kind = 'setting' AND version <= ?"
        " AND compound_id = (SELECT compound_id FROM kiosks WHERE kiosk_id = ?)",
        (roster_version, kiosk_id),
    )
    return 0 if row is None or row[0] is None else int(row[0])


def current_version(store: HubStore) -> int:
    """The settings version of this store's compound (of the hub's only one, unscoped)."""
    row = store.fetch_one(
        f"SELECT max(version) FROM roster WHERE kind = 'setting' AND {store.in_compound()}"
    )
    return 0 if row is None or row[0] is None else int(row[0])


def record_report(
    store: HubStore, kiosk_id: str, version: int | None, *, seen: bool = False
) -> None:
    """A kiosk said which settings version it runs (``None``: it did not say). ``seen``: the
    same write notes that it was heard from (a roster pull)."""
    if version is None:
        if seen:
            store.kiosk_seen(kiosk_id)
        return
    now = now_iso()
    with store.transaction():
        if seen:
            store.execute(
                "UPDATE kiosks SET last_seen = ?, settings_version = ?, settings_reported_at = ?"
                " WHERE kiosk_id = ?",
                (now, version, now, kiosk_id),
            )
        else:
            store.execute(
                "UPDATE kiosks SET settings_version = ?, settings_reported_at = ?"
                " WHERE kiosk_id = ?",
                (version, now, kiosk_id),
            )


@dataclass(frozen=True)
class GateSettings:
    """What the 门岗 page says of one gate's settings."""

    kiosk_id: str
    state: str  # "current", "behind" or "unknown"
    runs: int | None  # the version it reported
    current: int  # its compound's version
    words: str


def gate_settings(store: HubStore, tz: tzinfo) -> dict[str, GateSettings]:
    """Each gate of this store's compound: does it run its compound's current settings?"""
    rows = store.fetch_all(
        "SELECT k.kiosk_id, k.settings_version, k.settings_reported_at, k.last_seen,"
        " (SELECT max(r.version) FROM roster r WHERE r.kind = 'setting'"
        "  AND r.compound_id = k.compound_id)"
        f" FROM kiosks k WHERE {store.in_compound('k.compound_id')} ORDER BY k.kiosk_id"
    )
    found = {}
    for kiosk_id, runs, reported_at, last_seen, newest in rows:
        found[kiosk_id] = judge(
            kiosk_id,
            None if runs is None else int(runs),
            0 if newest is None else int(newest),
            reported_at,
            last_seen,
            tz,
        )
    return found


def judge(
    kiosk_id: str,
    runs: int | None,
    current: int,
    reported_at: str | None,
    last_seen: str | None,
    tz: tzinfo,
) -> GateSettings:
    """The comparison, in words (times in ``tz``, the hub's: Beijing time)."""
    heard = format_local(last_seen, tz) or "从未联系"
    if runs is None:
        return GateSettings(
            kiosk_id,
            "unknown",
            None,
            current,
            "设置版本未知：该门岗未报告所用设置（门岗软件较旧，或登记后尚未同步）；"
            f"最近联系 {heard}",
        )
    said = format_local(reported_at, tz)
    if runs == current:
        version = f"版本 {current}" + ("，中心未下发过设置" if current == 0 else "")
        return GateSettings(kiosk_id, "current", runs, current, f"设置已生效（{version}，{said}）")
    if runs > current:  # the hub was restored from an older backup, or the gate moved
        why = f"门岗报告版本 {runs}，比本小区当前版本 {current} 新（中心是否从备份恢复？）"
    else:
        why = f"门岗仍在用版本 {runs}，本小区当前为版本 {current}"
    return GateSettings(
        kiosk_id,
        "behind",
        runs,
        current,
        f"设置待生效：{why}；门岗最近报告于 {said}，下次同步后生效",
    )

"""The seal on a printed daily sheet: the gate, the chain epoch, the first and last sequence
numbers of that local day and the chain hash at the end of it, as text and as a QR code.

The kiosk's ledger is a hash chain, so the last hash of a day commits to every record before it.
``verify`` re-reads the sheet's records from the hub and re-checks the chain from the first
sequence to the last: it fails if a record of that day was altered, removed or inserted on the
hub, if the sheet's seal was typed from another day or gate (every record it covers must be of
its local day, and none of that day may come before its first), and it says when records of the
day reached the hub after the sheet was printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, tzinfo

from sync.hub import events_schema, record_check
from sync.hub.ingest_plan import LINK_BROKEN
from sync.hub.store import HubStore
from sync.localtime import day_bounds_utc

PREFIX = "MENWEI-SEAL-1"
PATTERN = re.compile(
    r"MENWEI-SEAL-1\|(?P<kiosk>[A-Za-z0-9-]{1,32})\|(?P<day>\d{4}-\d{2}-\d{2})\|"
    r"(?P<epoch>[0-9a-f]{1,64})\|(?P<first>\d{1,19})\|(?P<last>\d{1,19})\|(?P<hash>[0-9a-f]{64})"
)


CODE_LENGTH = 8  # hex digits: two records of a 10,000-record day share one once in ~100 days


def check_code(record_hash: str) -> str:
    """The short code printed beside a register row: the start of its record's hash. The seal
    check lists the sealed day's rows with their codes, so a printed line is found by its code
    and compared (an edited number on paper no longer matches its record's line)."""
    return record_hash[:CODE_LENGTH]


class SealError(ValueError):
    """The text is not a seal (said in Chinese, with what to do)."""


@dataclass(frozen=True)
class Seal:
    kiosk_id: str
    day: date
    epoch: str
    first_seq: int
    last_seq: int
    chain_hash: str

    def text(self) -> str:
        """The line printed on the sheet and held by its QR code."""
        return "|".join(
            (
                PREFIX,
                self.kiosk_id,
                self.day.isoformat(),
                self.epoch,
                str(self.first_seq),
                str(self.last_seq),
                self.chain_hash,
            )
        )

    def lines(self) -> list[str]:
        """The seal for people, in Chinese."""
        return [
            f"封签 门岗 {self.kiosk_id} · 日期 {self.day.isoformat()} · 链 {self.epoch[:12]}",
            f"序号 {self.first_seq}–{self.last_seq} · 日终哈希 {self.chain_hash}",
        ]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str  # Chinese, says what it means and what to do
    visible: bool = True  # the gate is one this store sees (its day's rows can be listed)


def parse(text: str) -> Seal:
    match = PATTERN.search(text.strip())
    if match is None:
        raise SealError(
            "这不是门卫台账的封签：请扫描登记表上的封签二维码，"
            "或完整输入以 MENWEI-SEAL-1| 开头的封签文字"
        )
    return Seal(
        match["kiosk"],
        date.fromisoformat(match["day"]),
        match["epoch"],
        int(match["first"]),
        int(match["last"]),
        match["hash"],
    )


def seal_for_day(store: HubStore, kiosk_id: str, day: date, tz: tzinfo) -> Seal | None:
    """The seal of a gate's local day: the chain epoch of its last record, the first and last
    sequence of that epoch within the day, and the hash of the last. None for a day without
    records."""
    start, end = day_bounds_utc(day, tz)
    last = store.fetch_one(
        "SELECT epoch, seq, hash FROM events WHERE kiosk_id = ? AND wall_time >= ?"
        f" AND wall_time < ? AND {store.gate_in_compound()}"
        " ORDER BY wall_time DESC, seq DESC LIMIT 1",
        (kiosk_id, start, end),
    )
    if last is None:
        return None
    first = store.fetch_one(
        "SELECT min(seq) FROM events WHERE kiosk_id = ? AND epoch = ? AND wall_time >= ?"
        " AND wall_time < ?",
        (kiosk_id, last[0], start, end),
    )
    return Seal(kiosk_id, day, last[0], int(first[0]), int(last[1]), last[2])


def unsound_of_day(
    store: HubStore, kiosk_id: str, day: date, tz: tzinfo
) -> list[record_check.Unsound]:
    """The records of a gate's local day that are not what their kiosk hashed (changed on the
    hub, or sent so): a sheet of that day cannot be sealed, its rows are marked."""
    start, end = day_bounds_utc(day, tz)
    rows = store.fetch_all(
        f"SELECT {record_check.SELECT} FROM events WHERE kiosk_id = ? AND wall_time >= ?"
        f" AND wall_time < ? AND {store.gate_in_compound()} ORDER BY epoch, seq",
        (kiosk_id, start, end),
    )
    # Thorough only when a protection is missing: otherwise the columns are the record's.
    thorough = bool(events_schema.missing_protections(store))
    return list(record_check.check_chain(rows, store.keying(kiosk_id), thorough=thorough))


def _not_ours(store: HubStore, kiosk_id: str) -> Verdict | None:
    """A seal of a gate this store does not see: said as such, not as records deleted."""
    if (
        store.fetch_one(
            f"SELECT 1 FROM kiosks WHERE kiosk_id = ? AND {store.in_compound()}", (kiosk_id,)
        )
        is not None
    ):
        return None
    if store.fetch_one("SELECT 1 FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)) is not None:
        return Verdict(
            False,
            f"无法核验：这张登记表是门岗 {kiosk_id} 的，该门岗不属于本账户可见的小区。"
            "这不说明记录有问题：请由该门岗所属小区的管理员核验。",
            visible=False,
        )
    return Verdict(
        False,
        f"无法核验：本中心没有门岗 {kiosk_id}。这张登记表不是本中心打印的，或封签抄错："
        "请重新扫描登记表上的封签二维码；确是本小区的登记表请上报。",
        visible=False,
    )


def verify(store: HubStore, seal: Seal, tz: tzinfo) -> Verdict:
    """Does the sheet match the hub's records of that gate's local day (in ``tz``)?"""
    not_ours = _not_ours(store, seal.kiosk_id)
    if not_ours is not None:
        return not_ours
    rows = store.fetch_all(
        f"SELECT {record_check.SELECT} FROM events WHERE kiosk_id = ? AND epoch = ?"
        f" AND seq >= ? AND seq <= ? AND {store.gate_in_compound()} ORDER BY seq",
        (seal.kiosk_id, seal.epoch, seal.first_seq, seal.last_seq),
    )
    seq_at = record_check.COLUMNS.index("seq")
    expected = seal.last_seq - seal.first_seq + 1
    if len(rows) != expected or [int(r[seq_at]) for r in rows] != list(
        range(seal.first_seq, seal.last_seq + 1)
    ):
        return Verdict(
            False,
            f"不符：登记表上有 {expected} 条记录（序号 {seal.first_seq}–{seal.last_seq}），"
            f"中心只有 {len(rows)} 条。记录可能被删除，或尚未同步：请让该门岗联网同步后再核验；"
            "仍不符请上报。",
        )
    start, end = day_bounds_utc(seal.day, tz)
    day = seal.day.isoformat()
    for row in rows:
        columns = dict(zip(record_check.COLUMNS, row, strict=False))
        if not start <= columns["wall_time"] < end:
            return Verdict(
                False,
                f"不符：序号 {columns['seq']} 的记录不是 {day} 的。封签上的日期被改动或抄错："
                "请重新扫描登记表上的封签二维码；仍不符请保留纸质登记表并上报。",
            )
    for unsound in record_check.check_chain(rows, store.keying(seal.kiosk_id)):
        if unsound.problem == LINK_BROKEN:
            return Verdict(
                False,
                f"不符：序号 {unsound.seq} 处记录链断开。登记表与中心记录不一致，"
                "请保留纸质登记表并上报。",
            )
        return Verdict(
            False,
            f"不符：序号 {unsound.seq} 的记录在中心被改动过（内容与哈希不一致）。"
            "登记表与中心记录不一致，请保留纸质登记表并上报。",
        )
    previous_hash = rows[-1][record_check.COLUMNS.index("hash")] if rows else None
    if previous_hash != seal.chain_hash:
        return Verdict(
            False,
            "不符：日终哈希与中心记录不同。登记表可能被改写，或封签抄错：请重新扫描封签二维码；"
            "仍不符请上报。",
        )
    # The day's records of this chain outside the sheet: before its first (left off), after its
    # last (arrived after it was printed). One read for both.
    earlier, later = store.fetch_one(
        "SELECT coalesce(sum(CASE WHEN seq < ? THEN 1 ELSE 0 END), 0),"
        " coalesce(sum(CASE WHEN seq > ? THEN 1 ELSE 0 END), 0) FROM events"
        " WHERE kiosk_id = ? AND epoch = ? AND wall_time >= ? AND wall_time < ?",
        (seal.first_seq, seal.last_seq, seal.kiosk_id, seal.epoch, start, end),
    )
    if earlier:
        return Verdict(
            False,
            f"不符：中心还有 {day} 序号更早的 {earlier} 条记录，登记表上没有。"
            "登记表可能被删去了开头几行：请保留纸质登记表并上报。",
        )
    message = f"相符：门岗 {seal.kiosk_id} {day} 的登记表与中心的 {expected} 条记录一致，未被改动。"
    if later:
        message += f"该日在登记表打印后又有 {later} 条记录，不在这张表上。"
    return Verdict(True, message)

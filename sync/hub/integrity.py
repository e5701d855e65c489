"""Tamper evidence for admins: per kiosk, the sequence gaps, chain breaks, conflicts and
quarantined records the hub found, in Chinese first (the kiosks page and ``hub integrity``).

``hub integrity`` also re-checks every stored record (sync/hub/record_check.py): a record changed
on the hub after it arrived (its text, or a column the pages read) is named with its gate and
sequence number; and it says when the database's own protection of the records is not in place
(sync/hub/events_schema.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sync.hub import events_schema, record_check
from sync.hub.store import MAC_MISMATCH, MAC_MISSING, HubStore
from sync.localtime import DEFAULT_ZONE, format_local, zone

BREAK_LABELS = {
    "the record's hash does not match its content": "记录内容与哈希不符（记录被改动）",
    "prev_hash does not match the record before": "与前一条记录链接不上（有记录被删或被改）",
    "the first record does not start the chain": "第一条记录不是链的开头",
    MAC_MISMATCH: "密钥校验不符（记录被改写并重算哈希）",
    MAC_MISSING: "应有密钥校验却没有（记录被改写）",
}
ALTERED_LABELS = {
    **BREAK_LABELS,
    record_check.NOT_A_RECORD: "中心保存的内容已不是一条记录（在中心被改写）",
    record_check.NOT_CANONICAL: "中心保存的记录文本被改动过（与收到时不同）",
    record_check.EXTRA_FIELDS: "中心保存的记录多出门岗不会发送的字段（在中心被改写）",
    record_check.COLUMN_DIFFERS: "页面读取的列与记录不符（在中心被改动）",
}
SCAN_CHUNK = 2000
CONFLICT_LABELS = {
    "same id, different content": "同一记录编号、内容不同（已保留先收到的）",
    "another record has this sequence number": "同一序号已有另一条记录（已保留先收到的）",
}
QUARANTINE_SHOWN = 200
CHINA = zone(DEFAULT_ZONE)


@dataclass
class KioskIntegrity:
    kiosk_id: str
    gaps: list[dict[str, Any]] = field(default_factory=list)
    breaks: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    altered: list[dict[str, Any]] = field(default_factory=list)  # changed on the hub

    @property
    def ok(self) -> bool:
        unfilled = [g for g in self.gaps if g["settled"]]
        return not (unfilled or self.breaks or self.conflicts or self.quarantined or self.altered)


def _label(problem: str) -> str:
    return f"{BREAK_LABELS.get(problem, problem)} ({problem})"


def _conflict(reason: str) -> str:
    return f"{CONFLICT_LABELS[reason]} ({reason})"


def unsound_records(store: HubStore) -> Iterator[record_check.Unsound]:
    """Every stored record of the store's gates re-checked, one kiosk's chain after another,
    read in chunks in (kiosk, epoch, seq) order (constant memory)."""
    after: tuple[str, str, int] = ("", "", 0)
    keying: dict[str, Any] = {}
    last: dict[str, Any] = {}  # the kiosk's row before this chunk, for the link across it
    while True:
        rows = store.fetch_all(
            f"SELECT {record_check.SELECT} FROM events WHERE (kiosk_id, epoch, seq) > (?, ?, ?)"
            f" AND {store.gate_in_compound()} ORDER BY kiosk_id, epoch, seq LIMIT ?",
            (*after, SCAN_CHUNK),
        )
        by_kiosk: dict[str, list[Any]] = {}
        for row in rows:
            by_kiosk.setdefault(row[1], []).append(row)
        for kiosk_id, chain in by_kiosk.items():
            if kiosk_id not in keying:
                keying[kiosk_id] = store.keying(kiosk_id)
            before = [last[kiosk_id]] if kiosk_id in last else []
            for unsound in record_check.check_chain([*before, *chain], keying[kiosk_id]):
                if not before or (unsound.epoch, unsound.seq) != (before[0][2], before[0][3]):
                    yield unsound
            last[kiosk_id] = chain[-1]
        if len(rows) < SCAN_CHUNK:
            return
        after = (rows[-1][1], rows[-1][2], int(rows[-1][3]))


def report(store: HubStore, *, rescan: bool = False) -> list[KioskIntegrity]:
    """Everything the hub found, grouped per kiosk (kiosks with nothing found are left out).
    ``rescan``: also re-check every stored record (``hub integrity``; it reads them all)."""
    found: dict[str, KioskIntegrity] = {}

    def of(kiosk_id: str) -> KioskIntegrity:
        return found.setdefault(kiosk_id, KioskIntegrity(kiosk_id))

    for gap in store.gaps():
        span = str(gap["first"]) if gap["first"] == gap["last"] else f"{gap['first']}–{gap['last']}"
        of(gap["kiosk_id"]).gaps.append(
            {
                **gap,
                "span": span,
                "text": (
                    f"序号 {span} 缺失，门岗已无待传记录：记录被删除 (never filled)"
                    if gap["settled"]
                    else f"序号 {span} 尚未收到，门岗仍在补传 (not yet sent)"
                ),
            }
        )
    known = set()
    for chain_break in store.chain_breaks():
        known.add(tuple(chain_break[k] for k in ("kiosk_id", "epoch", "seq", "problem")))
        of(chain_break["kiosk_id"]).breaks.append(
            {**chain_break, "text": _label(chain_break["problem"])}
        )
    for unsound in unsound_records(store) if rescan else ():
        if (unsound.kiosk_id, unsound.epoch, unsound.seq, unsound.problem) in known:
            continue  # the kiosk sent it so: a chain break found at ingest, listed above
        text = ALTERED_LABELS.get(unsound.problem, unsound.problem)
        of(unsound.kiosk_id).altered.append(
            {
                "seq": unsound.seq,
                "epoch": unsound.epoch,
                "record_id": unsound.record_id,
                "problem": unsound.problem,
                "text": f"{text} ({unsound.problem})",
            }
        )
    for item in store.quarantined(limit=QUARANTINE_SHOWN):
        item = {**item, "received": format_local(item["received_at"], CHINA)}
        kiosk = of(item["kiosk_id"])
        if item["reason"] in CONFLICT_LABELS:
            kiosk.conflicts.append({**item, "text": _conflict(item["reason"])})
        else:
            kiosk.quarantined.append(item)
    return [found[k] for k in sorted(found)]


NOTHING_FOUND = (
    "未发现问题：每条记录都与其哈希相符，无缺号、无链断裂、无冲突、无被拒记录 (nothing found)"
)


def check(store: HubStore, *, rescan: bool = True) -> tuple[list[str], bool]:
    """The report as text for ``hub integrity`` (the database's protections first), and whether
    all is well (a gap still being filled is not a problem)."""
    missing = events_schema.missing_protections(store)
    out = [f"保护缺失 protection missing: {text}" for text in missing]
    kiosks = report(store, rescan=rescan)
    for kiosk in kiosks:
        out.append(f"门岗 {kiosk.kiosk_id}:")
        out += [f"  缺号 gap: {g['text']} (epoch {g['epoch'][:8]})" for g in kiosk.gaps]
        out += [f"  链断裂 chain break #{b['seq']}: {b['text']}" for b in kiosk.breaks]
        out += [
            f"  冲突 conflict {c['record_id'] or ''} #{c['seq'] or '?'}: {c['text']}"
            for c in kiosk.conflicts
        ]
        out += [
            f"  被拒 refused {q['received']} #{q['seq'] or '?'}: {q['reason']}"
            for q in kiosk.quarantined
        ]
        out += [
            f"  中心被改 altered on the hub #{a['seq']} {a['record_id']}: {a['text']}"
            for a in kiosk.altered
        ]
    return out or [NOTHING_FOUND], not missing and all(k.ok for k in kiosks)


def lines(store: HubStore, *, rescan: bool = True) -> list[str]:
    """The report as text for ``hub integrity``."""
    return check(store, rescan=rescan)[0]

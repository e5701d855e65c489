"""Tamper evidence for admins: per kiosk, the sequence gaps, chain breaks, conflicts and
quarantined records the hub found, in Chinese first (the kiosks page and ``hub integrity``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.hub.store import MAC_MISMATCH, MAC_MISSING, HubStore
from sync.localtime import DEFAULT_ZONE, format_local, zone

BREAK_LABELS = {
    "the record's hash does not match its content": "记录内容与哈希不符（记录被改动）",
    "prev_hash does not match the record before": "与前一条记录链接不上（有记录被删或被改）",
    "the first record does not start the chain": "第一条记录不是链的开头",
    MAC_MISMATCH: "密钥校验不符（记录被改写并重算哈希）",
    MAC_MISSING: "应有密钥校验却没有（记录被改写）",
}
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

    @property
    def ok(self) -> bool:
        unfilled = [g for g in self.gaps if g["settled"]]
        return not (unfilled or self.breaks or self.conflicts or self.quarantined)


def _label(problem: str) -> str:
    return f"{BREAK_LABELS.get(problem, problem)} ({problem})"


def _conflict(reason: str) -> str:
    return f"{CONFLICT_LABELS[reason]} ({reason})"


def report(store: HubStore) -> list[KioskIntegrity]:
    """Everything the hub found, grouped per kiosk (kiosks with nothing found are left out)."""
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
    for chain_break in store.chain_breaks():
        of(chain_break["kiosk_id"]).breaks.append(
            {**chain_break, "text": _label(chain_break["problem"])}
        )
    for item in store.quarantined(limit=QUARANTINE_SHOWN):
        item = {**item, "received": format_local(item["received_at"], CHINA)}
        kiosk = of(item["kiosk_id"])
        if item["reason"] in CONFLICT_LABELS:
            kiosk.conflicts.append({**item, "text": _conflict(item["reason"])})
        else:
            kiosk.quarantined.append(item)
    return [found[k] for k in sorted(found)]


def lines(store: HubStore) -> list[str]:
    """The report as text for ``hub integrity``."""
    out: list[str] = []
    for kiosk in report(store):
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
    return out or ["未发现问题：无缺号、无链断裂、无冲突、无被拒记录 (nothing found)"]

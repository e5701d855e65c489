"""What becomes of a batch of valid records, decided in Python before anything is written.

Pure logic: given what the hub already holds around the batch (records with the batch's ids,
and the stored records at and beside the batch's places in each chain), walk the records in
order as if storing them one by one, and say per record stored / duplicate / conflict; which
rows to insert (with their chain flag), which records to quarantine, and which chain breaks to
record. ``sync.hub.store`` then writes the plan with a few multi-row statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.contract import GENESIS_HASH
from sync.protocol import CONFLICT, DUPLICATE, STORED, hash_matches, mac_matches

MAC_MISMATCH = "the record's mac does not match: rewritten without the kiosk's chain key"
MAC_MISSING = "a record the kiosk must have keyed carries no mac"
HASH_MISMATCH = "the record's hash does not match its content"
LINK_BROKEN = "prev_hash does not match the record before"
NOT_GENESIS = "the first record does not start the chain"
SAME_ID = "same id, different content"
SAME_PLACE = "another record has this sequence number"

Place = tuple[str, int]  # (epoch, seq) in one kiosk's chain
Keying = tuple[bytes | None, str | None, int | None]  # chain key, keyed epoch, keyed from seq


@dataclass(frozen=True)
class Valid:
    """A record that passed validation: its place in the batch and its stored text."""

    index: int
    record: dict[str, Any]
    canonical: str


@dataclass
class IngestPlan:
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # batch index -> answer
    rows: list[Valid] = field(default_factory=list)  # records to insert, in order
    chain_ok: dict[Place, bool] = field(default_factory=dict)  # per row to insert
    conflicts: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # to quarantine
    breaks: list[tuple[str, int, str]] = field(default_factory=list)  # (epoch, seq, problem)
    flag_stored: list[Place] = field(default_factory=list)  # rows already held that now break


def plan_batch(
    valid: list[Valid],
    held: dict[str, str],
    chain: dict[Place, tuple[str, str]],
    keying: Keying,
) -> IngestPlan:
    """``held``: id -> stored text; ``chain``: place -> (hash, prev_hash) of the kiosk's stored
    records at and beside the batch's places. Both are updated as records are planned."""
    plan = IngestPlan()
    for item in valid:
        record = item.record
        place = (record["epoch"], record["seq"])
        if record["id"] in held:
            if held[record["id"]] == item.canonical:
                plan.answers[item.index] = {"id": record["id"], "status": DUPLICATE}
                continue
            plan.conflicts.append((record, SAME_ID))
            plan.answers[item.index] = {
                "id": record["id"],
                "status": CONFLICT,
                "reason": "the hub holds a different record with this id",
            }
            continue
        if place in chain:
            plan.conflicts.append((record, SAME_PLACE))
            plan.answers[item.index] = {
                "id": record["id"],
                "status": CONFLICT,
                "reason": "another record has this epoch and sequence number",
            }
            continue
        held[record["id"]] = item.canonical  # the same id later in this batch is a duplicate
        chain[place] = (record["hash"], record["prev_hash"])
        plan.rows.append(item)
        plan.chain_ok[place] = True
        for at, problem in chain_problems(record, chain, keying):
            plan.breaks.append((record["epoch"], at, problem))
            if (record["epoch"], at) in plan.chain_ok:
                plan.chain_ok[(record["epoch"], at)] = False
            else:
                plan.flag_stored.append((record["epoch"], at))
        plan.answers[item.index] = {"id": record["id"], "status": STORED}
    return plan


def chain_problems(
    record: dict[str, Any], chain: dict[Place, tuple[str, str]], keying: Keying
) -> list[tuple[int, str]]:
    """(seq, problem) for a record just placed in ``chain``: its own hash and mac, its link to
    the record before, and the link of the record after to it (which is where that one breaks)."""
    problems: list[tuple[int, str]] = []
    epoch, seq = record["epoch"], record["seq"]
    if not hash_matches(record):
        problems.append((seq, HASH_MISMATCH))
    key, keyed_epoch, keyed_from = keying
    if record.get("mac") is not None:
        if key is None or not mac_matches(key, record):
            problems.append((seq, MAC_MISMATCH))
    elif key is not None and epoch == keyed_epoch and seq >= (keyed_from or 0):
        problems.append((seq, MAC_MISSING))
    before, after = chain.get((epoch, seq - 1)), chain.get((epoch, seq + 1))
    if seq == 1 and record["prev_hash"] != GENESIS_HASH:
        problems.append((seq, NOT_GENESIS))
    elif before is not None and before[0] != record["prev_hash"]:
        problems.append((seq, LINK_BROKEN))
    if after is not None and after[1] != record["hash"]:
        problems.append((seq + 1, LINK_BROKEN))
    return problems

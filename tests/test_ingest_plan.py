"""The ingest plan: pure logic, decided before anything is written (sync/hub/ingest_plan.py)."""

from __future__ import annotations

import json
from typing import Any

from sync.contract import GENESIS_HASH, record_hash
from sync.hub.ingest_plan import SAME_ID, SAME_PLACE, Valid, plan_batch
from sync.protocol import CONFLICT, DUPLICATE, STORED

NO_KEY = (None, None, None)


def chain(count: int, epoch: str = "e1") -> list[dict[str, Any]]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        record = {"id": f"id-{epoch}-{seq}", "epoch": epoch, "seq": seq, "prev_hash": prev}
        record["hash"] = prev = record_hash_of(record)
        records.append(record)
    return records


def record_hash_of(record: dict[str, Any]) -> str:
    """A stand-in hash over the few fields these tests use (hash_matches is not under test:
    every record here is made to match it)."""
    return record_hash({**BLANK, **record})


BLANK = {
    name: None
    for name in (
        "id", "kiosk_id", "epoch", "seq", "kind", "wall_time", "clock_synced", "boot_id",
        "boottime_ns", "verdict", "reason", "estimate_c", "threshold_c", "object_c",
        "ambient_c", "pass_code", "links_to", "detail", "prev_hash",
    )
}  # fmt: skip


def valid(records: list[dict[str, Any]]) -> list[Valid]:
    return [
        Valid(i, {**BLANK, **r}, json.dumps({**BLANK, **r}, sort_keys=True))
        for i, r in enumerate(records)
    ]


def test_a_clean_chain_is_stored_without_breaks():
    plan = plan_batch(valid(chain(5)), {}, {}, NO_KEY)
    assert [a["status"] for a in plan.answers.values()] == [STORED] * 5
    assert plan.breaks == [] and all(plan.chain_ok.values())


def test_a_broken_link_is_found_whichever_order_the_batch_comes_in():
    records = chain(3)
    records[2] = {**records[2], "prev_hash": "ab" * 32}
    records[2]["hash"] = record_hash_of(records[2])
    forward = plan_batch(valid(records), {}, {}, NO_KEY)
    backward = plan_batch(valid(records[::-1]), {}, {}, NO_KEY)
    for plan in (forward, backward):
        assert plan.breaks == [("e1", 3, "prev_hash does not match the record before")]
        assert plan.chain_ok == {("e1", 1): True, ("e1", 2): True, ("e1", 3): False}
        assert plan.flag_stored == []


def test_a_break_against_a_stored_record_flags_that_record():
    """Record 2 arrives after record 3 is stored, and record 3 does not link to it: record 3,
    already in the database, is the one to flag."""
    records = chain(3)
    stored_third = ("ab" * 32, "cd" * 32)  # (hash, prev_hash) of a record 3 linked elsewhere
    plan = plan_batch(valid([records[1]]), {}, {("e1", 3): stored_third}, NO_KEY)
    assert plan.breaks == [("e1", 3, "prev_hash does not match the record before")]
    assert plan.flag_stored == [("e1", 3)] and plan.chain_ok == {("e1", 2): True}


def test_the_same_record_twice_in_a_batch_is_stored_once():
    [record] = chain(1)
    plan = plan_batch(valid([record, record]), {}, {}, NO_KEY)
    assert [plan.answers[i]["status"] for i in range(2)] == [STORED, DUPLICATE]
    assert len(plan.rows) == 1


def test_a_held_id_is_a_duplicate_if_the_same_and_a_conflict_if_not():
    [record] = chain(1)
    [item] = valid([record])
    same = plan_batch([item], {record["id"]: item.canonical}, {}, NO_KEY)
    other = plan_batch([item], {record["id"]: "another record"}, {}, NO_KEY)
    assert same.answers[0]["status"] == DUPLICATE and same.conflicts == []
    assert other.answers[0]["status"] == CONFLICT
    assert [reason for _, reason in other.conflicts] == [SAME_ID]
    assert same.rows == other.rows == []


def test_a_taken_place_is_a_conflict():
    [record] = chain(1)
    plan = plan_batch(valid([record]), {}, {("e1", 1): ("ab" * 32, GENESIS_HASH)}, NO_KEY)
    assert plan.answers[0]["status"] == CONFLICT and plan.rows == []
    assert [reason for _, reason in plan.conflicts] == [SAME_PLACE]

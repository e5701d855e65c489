"""Does a stored event still say what its kiosk hashed? Checked again from the stored text.

Pure logic over rows the caller reads (``hub integrity`` scans all of them; a register or a seal
checks its day). A stored record is sound when:

- its text is the canonical JSON of a record (as ingest stored it: a second copy of a key,
  which one database reads first and Python last, is not), with no field a kiosk does not send
  (the hash covers only the record's fields);
- its fields hash to its ``hash`` (sync/contract.py ``record_hash``), and its mac is the
  kiosk's where the kiosk keys its chain;
- it links to the record before it (``prev_hash``), when that one is held;
- the columns the pages read say what the record says (they are generated from it; a
  superuser can turn that off, sync/hub/events_schema.py).

The problems use ingest's words where ingest can find the same thing (sync/hub/ingest_plan.py),
so ``hub integrity`` does not list twice what a kiosk sent broken.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sync.contract import GENESIS_HASH, WIRE_FIELDS
from sync.hub.events_schema import DERIVED
from sync.hub.ingest_plan import (
    HASH_MISMATCH,
    LINK_BROKEN,
    MAC_MISMATCH,
    MAC_MISSING,
    NOT_GENESIS,
    Keying,
)
from sync.protocol import hash_matches, mac_matches

NOT_A_RECORD = "the stored text is not a record"
NOT_CANONICAL = "the stored text is not the record as it was received"
EXTRA_FIELDS = "the stored record holds fields no kiosk sends"
COLUMN_DIFFERS = "a column the pages read says what the record does not"
# The columns a check reads beside the record, in this order.
COLUMNS = tuple(DERIVED)
SELECT = ", ".join(COLUMNS) + ", record"
_WIRE = frozenset(WIRE_FIELDS)


@dataclass(frozen=True)
class Unsound:
    """A stored record that is not what its kiosk hashed."""

    kiosk_id: str
    epoch: str
    seq: int
    record_id: str
    problem: str


_STORED_FORM = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical(record: Any) -> str:
    """The text ingest stores for a record (json.dumps with these options, made once)."""
    return _STORED_FORM.encode(record)


def _same(column: Any, field: Any) -> bool:
    if isinstance(field, float) and math.isnan(field):
        return column is None  # read as null by the database (sync/hub/events_schema.py)
    if isinstance(field, bool) or isinstance(column, bool):
        return column == field and type(column) is type(field)
    if isinstance(field, int | float) and isinstance(column, int | float):
        return float(column) == float(field)
    return bool(column == field)


def record_problems(
    text: str, columns: Mapping[str, Any], keying: Keying, *, thorough: bool = True
) -> list[str]:
    """What is wrong with one stored record on its own (not its link to the one before).
    ``thorough`` (``hub integrity``, a seal check, or while a protection is missing): also the
    stored form and the columns; with the generated columns in place those cannot differ from
    the record, and a register checks only what can (half the cost for a month's export)."""
    try:
        record = json.loads(text)
    except ValueError:
        return [NOT_A_RECORD]
    if not isinstance(record, dict):
        return [NOT_A_RECORD]
    problems = []
    if thorough and canonical(record) != text:
        problems.append(NOT_CANONICAL)
    if not set(record) <= _WIRE:  # the hash covers only the record's fields: nothing may hide
        problems.append(EXTRA_FIELDS)
    try:
        if not hash_matches(record):
            problems.append(HASH_MISMATCH)
    except (KeyError, TypeError, ValueError):
        return [*problems, NOT_A_RECORD]
    key, keyed_epoch, keyed_from = keying
    if record.get("mac") is not None:
        if key is None or not mac_matches(key, record):
            problems.append(MAC_MISMATCH)
    elif (
        key is not None
        and record.get("epoch") == keyed_epoch
        and int(record.get("seq") or 0) >= (keyed_from or 0)
    ):
        problems.append(MAC_MISSING)
    if thorough and any(not _same(columns.get(name), record.get(name)) for name in COLUMNS):
        problems.append(COLUMN_DIFFERS)
    return problems


def check_chain(rows: Iterable[Any], keying: Keying, *, thorough: bool = True) -> Iterator[Unsound]:
    """The unsound records among one kiosk's rows (``SELECT`` order: the derived columns, then
    the record), read in (epoch, seq) order. A record's link is checked when the record before
    it is among the rows."""
    previous: tuple[str, int, str] | None = None  # epoch, seq, hash
    for row in rows:
        columns = dict(zip(COLUMNS, row, strict=False))
        text = row[len(COLUMNS)]
        epoch, seq = columns["epoch"], int(columns["seq"])
        problems = record_problems(text, columns, keying, thorough=thorough)
        if seq == 1 and columns["prev_hash"] != GENESIS_HASH:
            problems.append(NOT_GENESIS)
        elif (
            previous is not None
            and previous[:2] == (epoch, seq - 1)
            and previous[2] != columns["prev_hash"]
        ):
            problems.append(LINK_BROKEN)
        for problem in problems:
            yield Unsound(columns["kiosk_id"], epoch, seq, columns["id"], problem)
        previous = (epoch, seq, columns["hash"])

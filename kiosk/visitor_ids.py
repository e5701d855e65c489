"""Visitors' ID numbers at the kiosk: checked, masked, hashed with the kiosk's visitor ID key,
and never kept in full (docs/schema.md, "Visitor ID numbers").

The key comes from the hub once, in the answer to the enrolment (derived from the hub's own ID
key for this kiosk alone), and lives in its own 0600 file beside the ledger, never inside it. A
kiosk without it (not enrolled, or enrolled with a hub from before it) keeps the masked number
only: the hub can then match the visitor by region and last four digits, not by the whole
number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sync.contract import id_number_hash, mask_id_number
from sync.ops.secrets import write_secret

VISITOR_ID_KEY_FILE = "visitor_id_key"


@dataclass(frozen=True)
class ProtectedId:
    """What the ledger keeps of an ID number."""

    masked: str
    hash: str | None  # None without a key


def save_visitor_id_key(data_dir: Path, key: bytes) -> None:
    write_secret(data_dir / VISITOR_ID_KEY_FILE, key.hex().encode("ascii"))


def load_visitor_id_key(data_dir: Path) -> bytes | None:
    try:
        text = (data_dir / VISITOR_ID_KEY_FILE).read_text().strip()
        return bytes.fromhex(text) if text else None
    except (OSError, ValueError):
        return None


def protect(number: str, key: bytes | None) -> ProtectedId:
    """The masked number and its keyed hash (a number already checked by the form)."""
    return ProtectedId(mask_id_number(number), id_number_hash(key, number) if key else None)

"""The list of risk areas that visitors are asked about, loaded from a text file (``kiosk
risk-areas load``); the hub sends its own list in the roster (``kiosk.roster``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kiosk.ledger import write_transaction


class RiskAreaError(ValueError):
    """The file cannot be used; the message says why."""


def parse_risk_areas(text: str) -> list[str]:
    areas: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if len(name) > 64 or any(c in name for c in "<>&\"'"):
            raise RiskAreaError(f"line {number}: at most 64 characters, without < > & or quotes")
        if name == "none":
            raise RiskAreaError(f"line {number}: 'none' is reserved for 'no risk area'")
        if name not in areas:
            areas.append(name)
    return areas


def replace_risk_areas(conn: sqlite3.Connection, path: Path, *, source: str = "file") -> int:
    try:
        areas = parse_risk_areas(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RiskAreaError(f"{path} is not UTF-8 text") from None
    with write_transaction(conn):
        conn.execute("DELETE FROM risk_areas")
        conn.executemany(
            "INSERT INTO risk_areas (name, source) VALUES (?, ?)",
            [(area, source) for area in areas],
        )
    return len(areas)

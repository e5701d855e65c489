"""The contract is declared once (sync/contract.py) and the packages' arrows point one way:
``drivers ← kiosk → sync`` and ``sync/hub → sync``."""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path

import pytest

from kiosk.ledger import Ledger
from kiosk.schema import URGENT_UNSENT
from kiosk.settings import BY_KEY
from sync.contract import FIELD_RULES, HUB_SETTINGS, RECORD_FIELDS, WIRE_FIELDS
from sync.hub.openapi import openapi_document
from sync.protocol import OPTIONAL_FIELDS, problem_with

ROOT = Path(__file__).resolve().parents[1]

# package (a folder under the repository) -> top-level names it must never import
FORBIDDEN = {
    "drivers": {"kiosk", "sync", "tests", "bench"},
    "sync": {"kiosk", "tests", "bench"},
    "kiosk": {"tests", "bench"},
    "bench": {"tests"},
}


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every module a file imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def violations(folder: str, forbidden: set[str], root: Path = ROOT) -> list[str]:
    wrong = []
    for path in sorted((root / folder).rglob("*.py")):
        for line, module in imported_modules(path, root):
            top = module.split(".")[0]
            if top in forbidden:
                wrong.append(f"{path.relative_to(root)}:{line} imports {module}")
    return wrong


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_the_arrows_point_one_way(folder):
    assert violations(folder, FORBIDDEN[folder]) == []


# The hub's own packages (the "hub" extra): a kiosk installs none of them.
HUB_ONLY = {"psycopg", "openpyxl", "lxml", "segno", "fpdf"}


def test_only_the_hub_imports_the_hub_packages():
    wrong = [
        w
        for folder in ("drivers", "kiosk", "sync")
        for w in violations(folder, HUB_ONLY)
        if not w.startswith("sync/hub/")
    ]
    assert wrong == []


def test_no_test_module_imports_from_another():
    """Shared helpers live in helper modules (gate_helpers, hub_helpers, browser_helpers,
    sync_fixtures), never in a test module."""
    wrong = [w for w in violations("tests", {"tests"}) if " imports tests.test_" in w]
    assert wrong == []


def test_only_the_hub_imports_the_hub():
    wrong = [
        w
        for folder in ("drivers", "kiosk", "sync")
        for w in violations(folder, {"sync"})
        if " imports sync.hub" in w and not w.startswith("sync/hub/")
    ]
    assert wrong == []


def test_the_arrow_check_sees_a_wrong_import(tmp_path):
    """The walk finds a plain, a from- and a function-level import (no test that cannot fail)."""
    package = tmp_path / "sync"
    package.mkdir()
    (package / "bad.py").write_text(
        "import kiosk.ledger\nfrom kiosk import gate\n\ndef f():\n    from kiosk.x import y\n"
    )
    assert len(violations("sync", {"kiosk"}, tmp_path)) == 3


def _schema(tmp_path: Path) -> sqlite3.Connection:
    Ledger(tmp_path / "k.sqlite3", "gate-1").close()
    return sqlite3.connect(tmp_path / "k.sqlite3")


def test_the_kiosk_table_holds_exactly_the_wire_fields(tmp_path):
    conn = _schema(tmp_path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    assert set(columns) == {*WIRE_FIELDS, "synced_at"}
    assert columns[: len(RECORD_FIELDS)] == list(RECORD_FIELDS)


def test_the_append_only_trigger_guards_every_wire_field(tmp_path):
    conn = _schema(tmp_path)
    [sql] = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'events_append_only'"
    ).fetchone()
    guarded = re.findall(r"NEW\.(\w+) IS NOT OLD\.(\w+)", sql)
    assert all(new == old for new, old in guarded)
    assert sorted(new for new, _ in guarded) == sorted(WIRE_FIELDS)


def test_the_urgent_query_uses_its_index(tmp_path):
    conn = _schema(tmp_path)
    plan = conn.execute(
        f"EXPLAIN QUERY PLAN SELECT id FROM events WHERE {URGENT_UNSENT} ORDER BY seq LIMIT 5"
    ).fetchall()
    assert "events_unsynced_urgent" in " ".join(str(row[-1]) for row in plan)


def test_the_openapi_record_is_the_declared_record():
    record = openapi_document()["components"]["schemas"]["Record"]
    assert list(record["properties"]) == list(WIRE_FIELDS)
    assert record["required"] == [n for n in WIRE_FIELDS if n not in OPTIONAL_FIELDS]
    for name, rule in FIELD_RULES.items():
        assert record["properties"][name]["type"] == rule.type


def test_the_hub_refuses_a_record_without_any_declared_field(tmp_path):
    ledger = Ledger(tmp_path / "k.sqlite3", "gate-1")
    ledger.append("screening", verdict="admitted", estimate_c=36.5, threshold_c=37.3)
    [record] = ledger.unsent_batch(10)
    assert problem_with(record, "gate-1") is None
    for name in WIRE_FIELDS:
        if name in OPTIONAL_FIELDS:
            continue
        shorter = {k: v for k, v in record.items() if k != name}
        assert problem_with(shorter, "gate-1") is not None, name
    assert problem_with({**record, "extra": 1}, "gate-1") is not None


def test_the_kiosk_holds_the_hub_settings_as_declared():
    for key, setting in HUB_SETTINGS.items():
        assert BY_KEY[key] is setting


def test_a_later_field_enters_the_hash_only_when_set():
    from sync.contract import LATER_RECORD_FIELDS, record_hash

    old = dict.fromkeys(RECORD_FIELDS)
    old.update(id="x", seq=1, detail="{}", prev_hash="0" * 64)
    # The form every record had before the later fields: a list of RECORD_FIELDS' values.
    import hashlib
    import json

    before = json.dumps([old[n] for n in RECORD_FIELDS], ensure_ascii=False, separators=(",", ":"))
    assert record_hash(old) == hashlib.sha256(before.encode()).hexdigest()
    assert record_hash({**old, "utc_offset_min": None}) == record_hash(old)
    assert LATER_RECORD_FIELDS == ("utc_offset_min",)
    beijing, utc = (
        record_hash({**old, "utc_offset_min": 480}),
        record_hash({**old, "utc_offset_min": 0}),
    )
    assert len({record_hash(old), beijing, utc}) == 3  # the offset is covered by the chain

"""Compounds (小区) and which of them an account may see.

A compound is a tenant: its gates (kiosks), residents, passes, guards, settings, duty, places,
supplies and audit entries are its own. An admin, viewer or health officer sees the compounds
given to the account; a district account (街道/社区) reads every compound of its district.
The model is written down in docs/admin.md ("Compounds and tenancy").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync.hub.store import POSTGRES, CompoundError, HubStore, now_iso
from sync.hub.tenancy_schema import DEFAULT_NAME, MAX_NAME

NAME = re.compile(r"^[^<>&\"'\x00-\x1f]{1,40}$")


@dataclass(frozen=True)
class Compound:
    compound_id: int
    name: str
    district: str


def _check_name(name: str, what: str) -> str:
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise CompoundError(f"{what}须为 1–{MAX_NAME} 个字，不能含 < > & 或引号：请修改")
    return name


# Every table whose rows belong to a compound (tests/test_tenancy_cli.py checks the list
# against the schema).
OWNING_TABLES = (
    "kiosks",
    "enrol_codes",
    "roster",
    "readers",
    "audit",
    "admin_sessions",
    "duty_shifts",
    "disinfection_rounds",
    "account_compounds",
    "residents",
    "supplies",
    "supply_moves",
    "hub_jobs",
)


def create(store: HubStore, name: str, district: str = "") -> Compound:
    """A new compound; on a new hub, the first one takes the place of the 默认小区 the hub
    was made with, as long as nothing (no gate, account, setting, entry …) is in it yet."""
    name = _check_name(name, "小区名称")
    district = _check_name(district, "街道/社区名称") if district.strip() else ""
    with store.transaction(ordered=True):
        if store.fetch_one("SELECT 1 FROM compounds WHERE name = ?", (name,)) is not None:
            raise CompoundError(f"已有名为“{name}”的小区：请换一个名称")
        unused = _unused_default(store)
        if unused is not None:
            store.execute(
                "UPDATE compounds SET name = ?, district = ? WHERE compound_id = ?",
                (name, district, unused),
            )
            return Compound(unused, name, district)
        row = store.fetch_one(
            "INSERT INTO compounds (name, district, created_at) VALUES (?, ?, ?)"
            " RETURNING compound_id",
            (name, district, now_iso()),
        )
    return Compound(int(row[0]), name, district)


def _only_default(store: HubStore) -> Compound | None:
    """The hub's only compound, if it is still called 默认小区."""
    rows = store.fetch_all("SELECT compound_id, name, district FROM compounds LIMIT 2")
    if len(rows) != 1 or rows[0][1] != DEFAULT_NAME:
        return None
    return Compound(int(rows[0][0]), rows[0][1], rows[0][2])


def _unused_default(store: HubStore) -> int | None:
    """The id of the hub's only compound if it is still the untouched 默认小区."""
    default = _only_default(store)
    if default is None or default.district:
        return None
    compound_id = default.compound_id
    if store.dialect is POSTGRES:
        # A row that refers to the compound holds a key-share lock on it until its transaction
        # ends (SQLite: the whole write transaction is one at a time already): wait for such
        # writers, then look; and none can start referring to it before the rename commits.
        store.execute("SELECT 1 FROM compounds WHERE compound_id = ? FOR UPDATE", (compound_id,))
    for table in OWNING_TABLES:
        sql = f"SELECT 1 FROM {table} WHERE compound_id = ? LIMIT 1"
        if store.fetch_one(sql, (compound_id,)) is not None:
            return None
    return compound_id


def update(store: HubStore, name: str, new_name: str | None, district: str | None) -> Compound:
    """Rename a compound, or set its district."""
    found = by_name(store, name)
    new_name = _check_name(new_name, "小区名称") if new_name else found.name
    district = (
        found.district
        if district is None
        else (_check_name(district, "街道/社区名称") if district.strip() else "")
    )
    with store.transaction(ordered=True):
        if new_name != found.name and (
            store.fetch_one("SELECT 1 FROM compounds WHERE name = ?", (new_name,)) is not None
        ):
            raise CompoundError(f"已有名为“{new_name}”的小区：请换一个名称")
        store.execute(
            "UPDATE compounds SET name = ?, district = ? WHERE compound_id = ?",
            (new_name, district, found.compound_id),
        )
    return Compound(found.compound_id, new_name, district)


def all_compounds(store: HubStore) -> list[Compound]:
    rows = store.fetch_all("SELECT compound_id, name, district FROM compounds ORDER BY compound_id")
    return [Compound(int(r[0]), r[1], r[2]) for r in rows]


def by_name(store: HubStore, name: str) -> Compound:
    row = store.fetch_one(
        "SELECT compound_id, name, district FROM compounds WHERE name = ?", (name.strip(),)
    )
    if row is None:
        raise CompoundError(f"没有名为“{name.strip()[:40]}”的小区：用 hub compounds 查看已有小区")
    return Compound(int(row[0]), row[1], row[2])


def by_id(store: HubStore, compound_id: int) -> Compound | None:
    row = store.fetch_one(
        "SELECT compound_id, name, district FROM compounds WHERE compound_id = ?",
        (compound_id,),
    )
    return None if row is None else Compound(int(row[0]), row[1], row[2])


def name_default(store: HubStore, name: str) -> None:
    """A hub migrated without its name (``hub serve --compound`` not given at the time) gets
    it later: the only compound, still called 默认小区, takes the name."""
    name = (name or "").strip()[:MAX_NAME]
    if not name or not NAME.fullmatch(name):
        return
    with store.transaction(ordered=True):
        default = _only_default(store)
        if default is not None:
            store.execute(
                "UPDATE compounds SET name = ? WHERE compound_id = ?", (name, default.compound_id)
            )


def of_account(store: HubStore, username: str) -> list[Compound]:
    """The compounds an account sees, the first one first: a district account's are its
    district's (read-only); the others', those given to it."""
    row = store.fetch_one("SELECT role, district FROM admins WHERE username = ?", (username,))
    if row is None:
        return []
    if row[0] == "district":
        rows = store.fetch_all(
            "SELECT compound_id, name, district FROM compounds WHERE district = ?"
            " AND district <> '' ORDER BY compound_id",
            (row[1] or "",),
        )
    else:
        rows = store.fetch_all(
            "SELECT c.compound_id, c.name, c.district FROM account_compounds a"
            " JOIN compounds c ON c.compound_id = a.compound_id WHERE a.username = ?"
            " ORDER BY c.compound_id",
            (username,),
        )
    return [Compound(int(r[0]), r[1], r[2]) for r in rows]

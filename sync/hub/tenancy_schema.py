"""The schema change that makes the hub many compounds (小区): the ``compounds`` table, a
``compound_id`` on every table a compound owns, accounts' compounds, and the migration of a
single-compound hub into one default compound with nothing lost.

Events, their refused records and chain breaks carry no compound: they belong to their kiosk,
and a kiosk to exactly one compound (docs/admin.md, "Compounds and tenancy"). Passes and home
quarantines belong to their resident, follow-ups to their event.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_NAME = "默认小区"
MAX_NAME = 40


class _Dialect(Protocol):  # sync.hub.store.Dialect (not imported: the store imports this)
    @property
    def name(self) -> str: ...

    @property
    def autoincrement(self) -> str: ...


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def migration(d: _Dialect, default_name: str | None, created_at: str) -> list[str]:
    """The statements of ``013_compounds``. Every row the hub holds goes to the default
    compound, named from the hub's compound name (``hub serve --compound``) when it has one."""
    name = (default_name or "").strip()[:MAX_NAME] or DEFAULT_NAME
    default = "(SELECT min(compound_id) FROM compounds)"
    pg = d.name == "postgresql"
    statements = [
        f"CREATE TABLE compounds (compound_id {d.autoincrement}, name TEXT NOT NULL UNIQUE,"
        " district TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL)",
        "INSERT INTO compounds (name, district, created_at)"
        f" VALUES ({_literal(name)}, '', {_literal(created_at)})",
    ]
    owned = ("kiosks", "enrol_codes", "roster", "duty_shifts", "disinfection_rounds", "readers")
    for table in (*owned, "audit"):
        statements += [
            f"ALTER TABLE {table} ADD COLUMN compound_id BIGINT REFERENCES compounds (compound_id)",
            f"UPDATE {table} SET compound_id = {default}",
        ]
        if pg and table != "audit":  # an audit entry may be the hub's own (a sign-in)
            statements.append(f"ALTER TABLE {table} ALTER COLUMN compound_id SET NOT NULL")
    statements += [
        "CREATE INDEX kiosks_compound ON kiosks (compound_id, kiosk_id)",
        "CREATE INDEX roster_compound ON roster (compound_id, kind, key, version)",
        "CREATE INDEX duty_shifts_compound ON duty_shifts (compound_id, starts_at)",
        "CREATE INDEX disinfection_rounds_compound ON disinfection_rounds (compound_id, done_at)",
        "CREATE INDEX audit_compound ON audit (compound_id, aid)",
        # Accounts: the compounds each may see; a district account reads its district's.
        "ALTER TABLE admins ADD COLUMN district TEXT",
        "CREATE TABLE account_compounds (username TEXT NOT NULL REFERENCES admins (username)"
        " ON DELETE CASCADE, compound_id BIGINT NOT NULL REFERENCES compounds (compound_id),"
        " PRIMARY KEY (username, compound_id))",
        f"INSERT INTO account_compounds (username, compound_id) SELECT username, {default}"
        " FROM admins",
        # The compound a session has picked (the picker on every page).
        "ALTER TABLE admin_sessions ADD COLUMN compound_id BIGINT",
    ]
    statements += _residents(pg, default) + _supplies(pg, default)
    return statements


def _residents(pg: bool, default: str) -> list[str]:
    """Residents get a compound; a home (楼栋 单元 房号 姓名) is unique within its compound
    only (the same name at 1-1-101 lives in many compounds)."""
    if pg:
        return [
            "ALTER TABLE residents ADD COLUMN compound_id BIGINT"
            " REFERENCES compounds (compound_id)",
            f"UPDATE residents SET compound_id = {default}",
            "ALTER TABLE residents ALTER COLUMN compound_id SET NOT NULL",
            "ALTER TABLE residents DROP CONSTRAINT residents_building_unit_room_name_key",
            "CREATE UNIQUE INDEX residents_home ON residents"
            " (compound_id, building, unit, room, name)",
        ]
    columns = "resident_id, building, unit, room, name, phone, role, created_at, id_masked, id_hash"
    return [  # SQLite cannot drop a UNIQUE: the table is rebuilt (passes keep referring to it)
        "CREATE TABLE residents_new (resident_id TEXT PRIMARY KEY, compound_id BIGINT NOT NULL"
        " REFERENCES compounds (compound_id), building TEXT NOT NULL, unit TEXT NOT NULL,"
        " room TEXT NOT NULL, name TEXT NOT NULL, phone TEXT, role TEXT NOT NULL,"
        " created_at TEXT NOT NULL, id_masked TEXT, id_hash TEXT)",
        f"INSERT INTO residents_new ({columns}, compound_id) SELECT {columns}, {default}"
        " FROM residents",
        "DROP TABLE residents",
        "ALTER TABLE residents_new RENAME TO residents",
        "CREATE INDEX residents_id_hash ON residents (id_hash)",
        "CREATE UNIQUE INDEX residents_home ON residents (compound_id, building, unit, room, name)",
    ]


def _supplies(pg: bool, default: str) -> list[str]:
    """An item (口罩) is per compound: its key becomes (compound, item)."""
    if pg:
        return [
            "ALTER TABLE supplies ADD COLUMN compound_id BIGINT REFERENCES compounds (compound_id)",
            f"UPDATE supplies SET compound_id = {default}",
            "ALTER TABLE supplies ALTER COLUMN compound_id SET NOT NULL",
            "ALTER TABLE supply_moves ADD COLUMN compound_id BIGINT",
            f"UPDATE supply_moves SET compound_id = {default}",
            "ALTER TABLE supply_moves ALTER COLUMN compound_id SET NOT NULL",
            "ALTER TABLE supply_moves DROP CONSTRAINT supply_moves_item_fkey",
            "ALTER TABLE supplies DROP CONSTRAINT supplies_pkey",
            "ALTER TABLE supplies ADD PRIMARY KEY (compound_id, item)",
            "ALTER TABLE supply_moves ADD FOREIGN KEY (compound_id, item)"
            " REFERENCES supplies (compound_id, item)",
            "DROP INDEX supply_moves_item",
            "CREATE INDEX supply_moves_item ON supply_moves (compound_id, item, moved_at)",
        ]
    item_columns = "item, unit, keeper, reserve_days, margin_pct, created_at"
    move_columns = "mid, item, direction, quantity, note, moved_at, moved_by"
    return [
        "CREATE TABLE supplies_new (compound_id BIGINT NOT NULL REFERENCES compounds"
        " (compound_id), item TEXT NOT NULL, unit TEXT NOT NULL, keeper TEXT NOT NULL,"
        " reserve_days INTEGER NOT NULL, margin_pct INTEGER NOT NULL, created_at TEXT NOT NULL,"
        " PRIMARY KEY (compound_id, item))",
        f"INSERT INTO supplies_new ({item_columns}, compound_id) SELECT {item_columns},"
        f" {default} FROM supplies",
        "CREATE TABLE supply_moves_new (mid INTEGER PRIMARY KEY AUTOINCREMENT,"
        " compound_id BIGINT NOT NULL, item TEXT NOT NULL, direction TEXT NOT NULL,"
        " quantity BIGINT NOT NULL CHECK (quantity > 0), note TEXT, moved_at TEXT NOT NULL,"
        " moved_by TEXT NOT NULL,"
        " FOREIGN KEY (compound_id, item) REFERENCES supplies (compound_id, item))",
        f"INSERT INTO supply_moves_new ({move_columns}, compound_id) SELECT {move_columns},"
        f" {default} FROM supply_moves",
        "DROP TABLE supply_moves",
        "DROP TABLE supplies",
        "ALTER TABLE supplies_new RENAME TO supplies",
        "ALTER TABLE supply_moves_new RENAME TO supply_moves",
        "CREATE INDEX supply_moves_item ON supply_moves (compound_id, item, moved_at)",
    ]

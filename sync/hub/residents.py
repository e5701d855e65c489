"""Residents and their QR passes on the hub: import from CSV or XLSX with a per-row report,
issue passes (sent to the kiosks through the roster), print them, revoke them."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from sync.hub.admins import audit
from sync.hub.id_numbers import id_key, keyed_hash, mask, valid_id_number
from sync.hub.store import HubStore, now_iso
from sync.localtime import day_bounds_utc, local_today, zone

ROLES = ("owner", "tenant", "family", "staff")
COLUMNS = ("building", "unit", "room", "name", "phone", "role", "id_number")
PHONE = re.compile(r"^1[3-9][0-9]{9}$")
PLACE = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff-]{1,16}$")
MAX_ROWS = 20_000


class ImportError_(ValueError):
    """The file cannot be read at all (not CSV or XLSX, no header, too many rows)."""


@dataclass(frozen=True)
class ImportReport:
    imported: int
    duplicates: int
    rejected: list[tuple[int, str]]  # (row number as a spreadsheet shows it, why)


HEADERS = {
    "building": ("building", "楼栋", "楼号", "栋", "楼"),
    "unit": ("unit", "单元", "单元号"),
    "room": ("room", "房号", "房间", "房间号", "门牌号", "户号"),
    "name": ("name", "姓名", "名字"),
    "phone": ("phone", "电话", "手机", "手机号", "手机号码", "联系电话"),
    "role": ("role", "身份", "角色", "类型", "住户类型", "人员类型"),
    "id_number": ("id_number", "身份证", "身份证号", "身份证号码", "证件号码"),
}
ROLE_WORDS = {
    "业主": "owner",
    "租户": "tenant",
    "家属": "family",
    "工作人员": "staff",
    "物业": "staff",
}
PHONE_NOISE = re.compile(r"[\s\-()（）]")
ADVICE_COLUMNS = "楼栋、单元、房号、姓名、身份（可另加 电话、身份证号）"


def _decode(data: bytes) -> str:
    """What Excel writes: UTF-8 with or without a BOM, or GBK/GB18030 on Chinese Windows."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportError_(
            "无法识别文件编码：请在 Excel 中“另存为 CSV UTF-8”或“CSV（逗号分隔）”后重新上传"
            "（expected UTF-8 or GBK）"
        ) from None


def _column(title: str) -> str:
    wanted = title.strip().lower().replace(" ", "")
    for column, names in HEADERS.items():
        if wanted in names:
            return column
    return wanted


def _rows_from_upload(filename: str, data: bytes) -> list[dict[str, str]]:
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception:  # openpyxl raises several kinds for a broken file
            raise ImportError_(
                "不是可读取的 XLSX 文件（not a readable XLSX file）："
                "请用 Excel 打开后另存为 .xlsx 再上传"
            ) from None
        if sheet is None:
            raise ImportError_("XLSX 文件里没有工作表（the workbook has no worksheet）")
        rows = [
            ["" if v is None else str(v).strip() for v in row]
            for row in sheet.iter_rows(values_only=True)
        ]
    else:
        text = _decode(data)
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
    if not rows or not any(rows[0]):
        raise ImportError_("文件是空的（the file is empty）：第一行应为表头：" + ADVICE_COLUMNS)
    header = [_column(cell) for cell in rows[0]]
    missing = [c for c in COLUMNS if c not in header and c not in ("phone", "id_number")]
    if missing:
        raise ImportError_(
            "缺少列（missing columns）："
            + "、".join(HEADERS[c][1] for c in missing)
            + "。第一行应为表头："
            + ADVICE_COLUMNS
        )
    if len(rows) > MAX_ROWS + 1:
        raise ImportError_(f"一个文件最多 {MAX_ROWS} 位住户：请拆分后分批导入")
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def normalise(row: dict[str, str]) -> dict[str, str]:
    """Phones with spaces, dashes or +86; roles in Chinese; numbers Excel wrote as 502.0."""
    row = dict(row)
    phone = PHONE_NOISE.sub("", row.get("phone", ""))
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    row["phone"] = phone
    role = row.get("role", "").strip()
    row["role"] = ROLE_WORDS.get(role, role.lower())
    for column in ("building", "unit", "room"):
        value = row.get(column, "")
        if value.endswith(".0") and value[:-2].isdigit():
            row[column] = value[:-2]
    return row


def _check(row: dict[str, str]) -> str | None:
    for column in ("building", "unit", "room"):
        if not PLACE.fullmatch(row.get(column, "")):
            return f"{HEADERS[column][1]}（{column}）：请填写 1–16 位数字、字母或汉字"
    name = row.get("name", "")
    if not name or len(name) > 32 or re.search(r"[<>&\"'\x00-\x1f]", name):
        return "姓名（name）：请填写 1–32 个字，不含 < > & 或引号"
    phone = row.get("phone", "")
    if phone and not PHONE.fullmatch(phone):
        return f"电话（phone）“{phone}”不是 11 位手机号：请改正或留空"
    if row.get("role", "") not in ROLES:
        return "身份（role）：请填写 业主、租户、家属 或 工作人员"
    if row.get("id_number") and valid_id_number(row["id_number"]) is None:
        return "身份证号（id_number）：不是有效的 18 位身份证号，请核对"
    return None


def import_residents(store: HubStore, filename: str, data: bytes, username: str) -> ImportReport:
    rows = _rows_from_upload(filename, data)
    key = id_key(store)
    compound_id = store.write_compound()
    rejected: list[tuple[int, str]] = []
    imported = duplicates = 0
    with store.transaction():
        for number, row in enumerate(rows, start=2):
            if not any(row.values()):
                continue
            row = normalise(row)
            problem = _check(row)
            if problem:
                rejected.append((number, problem))
                continue
            id_number = valid_id_number(row.get("id_number") or "")
            inserted = store.fetch_one(
                "INSERT INTO residents (resident_id, building, unit, room, name, phone, role,"
                " created_at, id_masked, id_hash, compound_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (compound_id, building, unit, room, name) DO NOTHING"
                " RETURNING resident_id",
                (
                    str(uuid.uuid4()),
                    row["building"],
                    row["unit"],
                    row["room"],
                    row["name"],
                    row.get("phone") or None,
                    row["role"].lower(),
                    now_iso(),
                    mask(id_number) if id_number else None,
                    keyed_hash(key, id_number) if id_number else None,
                    compound_id,
                ),
            )
            if inserted is None:
                duplicates += 1
            else:
                imported += 1
        audit(
            store,
            username,
            "residents.import",
            {
                "file": filename[:64],
                "imported": imported,
                "duplicates": duplicates,
                "rejected": len(rejected),
            },
        )
    return ImportReport(imported, duplicates, rejected)


def find_by_id_number(store: HubStore, raw: str) -> dict[str, Any] | None:
    """The resident with this ID number, found through the keyed hash."""
    number = valid_id_number(raw)
    if number is None:
        return None
    row = store.fetch_one(
        f"SELECT resident_id FROM residents WHERE id_hash = ? AND {store.in_compound()}",
        (keyed_hash(id_key(store), number),),
    )
    if row is None:
        return None
    return residents(store, resident_id=row[0])[0]


def residents(store: HubStore, *, resident_id: str | None = None) -> list[dict[str, Any]]:
    """Every resident with their current pass (or the one resident asked for)."""
    where = f" WHERE {store.in_compound('r.compound_id')}" + (
        " AND r.resident_id = ?" if resident_id else ""
    )
    rows = store.fetch_all(
        "SELECT r.resident_id, r.building, r.unit, r.room, r.name, r.phone, r.role, r.id_masked,"
        " (SELECT p.code FROM passes p WHERE p.resident_id = r.resident_id AND p.revoked = 0"
        "  ORDER BY p.issued_at DESC LIMIT 1),"
        " (SELECT p.expires_on FROM passes p WHERE p.resident_id = r.resident_id"
        "  AND p.revoked = 0 ORDER BY p.issued_at DESC LIMIT 1)"
        f" FROM residents r{where} ORDER BY r.building, r.unit, r.room, r.name",
        (resident_id,) if resident_id else (),
    )
    keys = (
        "resident_id",
        "building",
        "unit",
        "room",
        "name",
        "phone",
        "role",
        "id_masked",
        "code",
        "expires_on",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def quarantined_residents(store: HubStore, day: date | None = None) -> set[str]:
    """Who is in home quarantine on ``day`` (today)."""
    today = (day or local_today(zone())).isoformat()
    rows = store.fetch_all(
        "SELECT DISTINCT q.resident_id FROM quarantine_register q"
        " JOIN residents r ON r.resident_id = q.resident_id"
        f" WHERE q.starts_on <= ? AND q.ends_on >= ? AND {store.in_compound('r.compound_id')}",
        (today, today),
    )
    return {row[0] for row in rows}


def _roster_pass(
    store: HubStore, resident: dict[str, Any], code: str, expires_on: str, revoked: bool
) -> None:
    # Kiosks get the least they need: the building and unit (the visitor form's list of places),
    # never the room, name, phone or the quarantine's dates: only a flag, which the hub clears
    # when the period ends (refresh_quarantine_flags, daily).
    store.roster_put(
        "pass",
        code,
        {
            "code": code,
            "resident_id": resident["resident_id"],
            "building": resident["building"],
            "unit": resident["unit"],
            "expires_on": expires_on,
            "revoked": int(revoked),
            "quarantined": resident["resident_id"] in quarantined_residents(store),
        },
    )


def refresh_quarantine_flags(store: HubStore, day: date | None = None) -> int:
    """Send again the valid passes whose quarantine flag changed (a period began or ended);
    returns how many were sent. The whole hub: each compound's, to its own kiosks."""
    if store.compound is None:
        compounds = store.fetch_all("SELECT compound_id FROM compounds ORDER BY compound_id")
        return sum(refresh_quarantine_flags(store.scoped(int(c[0])), day) for c in compounds)
    now_in = quarantined_residents(store, day)
    sent = 0
    for code, data in _current_passes(store).items():
        if data.get("revoked") or bool(data.get("quarantined")) == (data["resident_id"] in now_in):
            continue
        store.roster_put("pass", code, {**data, "quarantined": data["resident_id"] in now_in})
        sent += 1
    return sent


def _current_passes(store: HubStore) -> dict[str, dict[str, Any]]:
    rows = store.fetch_all(
        "SELECT key, data FROM roster r WHERE kind = 'pass'"
        f" AND {store.in_compound('r.compound_id')}"
        " AND version = (SELECT max(version) FROM roster WHERE kind = 'pass' AND key = r.key"
        " AND compound_id = r.compound_id)"
    )
    passes = {}
    for key, data in rows:
        parsed = json.loads(data) if data else None
        if parsed and isinstance(parsed.get("resident_id"), str):
            passes[key] = parsed
    return passes


def register_quarantine(
    store: HubStore,
    resident_id: str,
    starts_on: str,
    ends_on: str,
    note: str | None,
    username: str,
) -> None:
    """Add a home-quarantine period; the resident's valid passes carry it to the guard screens."""
    try:
        start, end = date.fromisoformat(starts_on), date.fromisoformat(ends_on)
    except ValueError:
        raise ValueError("dates like 2026-12-01") from None
    if end < start or (end - start).days > 60:
        raise ValueError("the end must follow the start, within 60 days")
    if note is not None and (len(note) > 200 or any(c in note for c in "<>")):
        raise ValueError("note: at most 200 characters, without < or >")
    if (
        store.fetch_one(
            f"SELECT 1 FROM residents WHERE resident_id = ? AND {store.in_compound()}",
            (resident_id,),
        )
        is None
    ):
        raise ValueError("没有这位住户：请从住户列表中选择")
    with store.transaction():
        store.execute(
            "INSERT INTO quarantine_register (resident_id, starts_on, ends_on, note, created_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (resident_id, start.isoformat(), end.isoformat(), note, username, now_iso()),
        )
        audit(
            store,
            username,
            "quarantine.add",
            {"resident_id": resident_id, "ends_on": end.isoformat()},
        )
    passes = store.fetch_all(
        "SELECT p.code, p.expires_on, r.building, r.unit, r.room FROM passes p"
        " JOIN residents r ON r.resident_id = p.resident_id"
        " WHERE p.resident_id = ? AND p.revoked = 0",
        (resident_id,),
    )
    for code, expires_on, building, unit, room in passes:
        resident = {"resident_id": resident_id, "building": building, "unit": unit, "room": room}
        _roster_pass(store, resident, code, expires_on, revoked=False)


def quarantine_register(store: HubStore) -> list[dict[str, Any]]:
    rows = store.fetch_all(
        "SELECT q.resident_id, r.building, r.unit, r.room, r.name, q.starts_on, q.ends_on,"
        " q.note, q.created_by FROM quarantine_register q"
        " JOIN residents r ON r.resident_id = q.resident_id"
        f" WHERE {store.in_compound('r.compound_id')} ORDER BY q.ends_on DESC"
    )
    keys = (
        "resident_id",
        "building",
        "unit",
        "room",
        "name",
        "starts_on",
        "ends_on",
        "note",
        "created_by",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def reveal_phone(store: HubStore, resident_id: str, username: str) -> str | None:
    """The full phone number, for a role that needs it; every reveal is audited."""
    row = store.fetch_one(
        f"SELECT phone FROM residents WHERE resident_id = ? AND {store.in_compound()}",
        (resident_id,),
    )
    if row is None:
        return None
    with store.transaction():
        audit(store, username, "phone.reveal", {"resident_id": resident_id})
    return row[0]


ISSUE_CHUNK = 200  # residents per transaction: other writers wait for one chunk, not the job
FIRST_CHUNK = 20  # the first is small, so that the page shows passes issued at once
# SQLite has one writer, and one that waits retries on a schedule (up to every 100 ms): chunk
# after chunk with no gap, the job would keep it out (every page view writes its session) until
# the job's end. A pause after each chunk, at least as long as half the chunk took, lets it in.
SQLITE_GAP_S = 0.05


def missing_passes(store: HubStore, day: date | None = None) -> list[dict[str, Any]]:
    """The residents without a valid pass (none, or only revoked or expired ones)."""
    today = (day or local_today(zone())).isoformat()
    rows = store.fetch_all(
        "SELECT r.resident_id, r.building, r.unit, r.room FROM residents r"
        f" WHERE {store.in_compound('r.compound_id')} AND NOT EXISTS (SELECT 1 FROM passes p"
        " WHERE p.resident_id = r.resident_id AND p.revoked = 0 AND p.expires_on >= ?)"
        " ORDER BY r.building, r.unit, r.room, r.name",
        (today,),
    )
    keys = ("resident_id", "building", "unit", "room")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _new_codes(store: HubStore, count: int) -> list[str]:
    # Ten digits: typed on the kiosk's keypad as easily as scanned; never one already given.
    codes: set[str] = set()
    while len(codes) < count:
        wanted = {f"{secrets.randbelow(9 * 10**9) + 10**9}" for _ in range(count - len(codes))}
        wanted -= codes
        marks = ", ".join("?" for _ in wanted)
        taken = {
            row[0]
            for row in store.fetch_all(
                f"SELECT code FROM passes WHERE code IN ({marks})", (*wanted,)
            )
        }
        codes |= wanted - taken
    return sorted(codes)


def issue_passes(
    store: HubStore,
    username: str,
    *,
    days: int = 180,
    progress: Any = None,
    chunk: int | None = None,
) -> int:
    """A pass for every resident who has no valid one, ``chunk`` residents per transaction
    (each pass and its roster change together), so that a compound of 10,000 never holds the
    database's one writer for the whole run. ``progress`` (sync/hub/jobs.py) is told the total
    and each chunk, inside the chunk's transaction. Audited once, with how many were issued,
    also when it stops half way (the chunks done stay issued; a new run issues the rest)."""
    if not 1 <= days <= 730:
        raise ValueError("passes last 1 to 730 days")
    today = local_today(zone())
    expires_on = (today + timedelta(days=days)).isoformat()
    wanted = missing_passes(store, today)
    if progress is not None:
        progress.set_total(len(wanted))
    quarantined = quarantined_residents(store, today)
    issued = 0
    chunk = chunk or ISSUE_CHUNK
    bounds = [0, *range(min(FIRST_CHUNK, chunk), len(wanted), chunk), len(wanted)]
    try:
        for start, end in pairwise(bounds):
            if end == start:
                continue
            began = time.monotonic()
            issued += _issue_chunk(
                store, wanted[start:end], expires_on, today, quarantined, progress
            )
            if store.dialect.name == "sqlite" and end < len(wanted):
                time.sleep(max(SQLITE_GAP_S, (time.monotonic() - began) / 2))
    finally:
        detail: dict[str, Any] = {"issued": issued, "expires_on": expires_on}
        if issued < len(wanted):
            detail["wanted"] = len(wanted)
        with store.transaction():
            audit(store, username, "passes.issue", detail)
    return issued


def _issue_chunk(
    store: HubStore,
    people: list[dict[str, Any]],
    expires_on: str,
    today: date,
    quarantined: set[str],
    progress: Any,
) -> int:
    with store.transaction(ordered=True):  # ordered: it assigns roster versions
        marks = ", ".join("?" for _ in people)
        # Whoever got a valid pass meanwhile (another run, a page) is skipped.
        served = {
            row[0]
            for row in store.fetch_all(
                f"SELECT resident_id FROM passes WHERE resident_id IN ({marks})"
                " AND revoked = 0 AND expires_on >= ?",
                (*(p["resident_id"] for p in people), today.isoformat()),
            )
        }
        people = [p for p in people if p["resident_id"] not in served]
        codes = _new_codes(store, len(people))
        issued_at = now_iso()
        if people:
            store.execute(
                "INSERT INTO passes (code, resident_id, expires_on, issued_at) VALUES "
                + ", ".join("(?, ?, ?, ?)" for _ in people),
                [
                    value
                    for person, code in zip(people, codes, strict=True)
                    for value in (code, person["resident_id"], expires_on, issued_at)
                ],
            )
        for person, code in zip(people, codes, strict=True):
            # Kiosks get the least they need (see _roster_pass).
            store.roster_insert(
                "pass",
                code,
                {
                    "code": code,
                    "resident_id": person["resident_id"],
                    "building": person["building"],
                    "unit": person["unit"],
                    "expires_on": expires_on,
                    "revoked": 0,
                    "quarantined": person["resident_id"] in quarantined,
                },
            )
        if progress is not None:
            progress.chunk_done(len(people) + len(served))
    return len(people)


@dataclass(frozen=True)
class PassSelection:
    """Which passes a sheet holds: a building, a unit of it, those issued since a local day."""

    building: str | None = None
    unit: str | None = None
    issued_since: date | None = None

    @classmethod
    def from_form(cls, form: Any) -> PassSelection:
        """From the page's fields; ValueError with what to correct."""
        building = (form.get("building") or "").strip() or None
        unit = (form.get("unit") or "").strip() or None
        for value, name in ((building, "楼栋"), (unit, "单元")):
            if value is not None and not PLACE.fullmatch(value):
                raise ValueError(f"{name}：请填写 1–16 位数字、字母或汉字，或留空表示全部")
        if unit is not None and building is None:
            raise ValueError("选了单元就请也选楼栋（单元号在各楼栋重复）")
        since = (form.get("issued_since") or "").strip() or None
        day = None
        if since is not None:
            try:
                day = date.fromisoformat(since)
            except ValueError:
                raise ValueError(f"发证日期“{since[:20]}”请写成 2026-12-01 这样的日期") from None
        return cls(building, unit, day)

    def as_dict(self) -> dict[str, str]:
        detail = {"building": self.building, "unit": self.unit}
        if self.issued_since:
            detail["issued_since"] = self.issued_since.isoformat()
        return {k: v for k, v in detail.items() if v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PassSelection:
        since = data.get("issued_since")
        return cls(
            data.get("building"), data.get("unit"), date.fromisoformat(since) if since else None
        )

    def words(self) -> str:
        """``3 号楼 2 单元，2026-12-01 起发放的`` (全部 for no choice)."""
        parts = []
        if self.building:
            parts.append(f"{self.building} 号楼" + (f" {self.unit} 单元" if self.unit else ""))
        if self.issued_since:
            parts.append(f"{self.issued_since.isoformat()} 起发放的")
        return "，".join(parts) or "全部"


def pass_cards(store: HubStore, selection: PassSelection, tz: Any = None) -> list[dict[str, Any]]:
    """The valid passes a sheet prints (each resident's newest that is neither revoked nor
    expired), in the order of the homes; ``issued_since`` is a local day in ``tz``."""
    tz = tz or zone()
    clauses = [store.in_compound("r.compound_id"), "p.revoked = 0", "p.expires_on >= ?"]
    params: list[Any] = [local_today(tz).isoformat()]
    if selection.building:
        clauses.append("r.building = ?")
        params.append(selection.building)
    if selection.unit:
        clauses.append("r.unit = ?")
        params.append(selection.unit)
    if selection.issued_since:
        clauses.append("p.issued_at >= ?")
        params.append(day_bounds_utc(selection.issued_since, tz)[0])
    rows = store.fetch_all(
        "SELECT r.building, r.unit, r.room, r.name, p.code, p.expires_on, p.issued_at"
        " FROM passes p JOIN residents r ON r.resident_id = p.resident_id"
        f" WHERE {' AND '.join(clauses)} AND p.issued_at = (SELECT max(q.issued_at)"
        " FROM passes q WHERE q.resident_id = p.resident_id AND q.revoked = 0)"
        " ORDER BY r.building, r.unit, r.room, r.name",
        params,
    )
    keys = ("building", "unit", "room", "name", "code", "expires_on", "issued_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def buildings(store: HubStore) -> list[str]:
    """The compound's buildings, for the sheet's choice."""
    rows = store.fetch_all(
        f"SELECT DISTINCT building FROM residents WHERE {store.in_compound()} ORDER BY building"
    )
    return [row[0] for row in rows]


def revoke_pass(store: HubStore, code: str, username: str) -> bool:
    row = store.fetch_one(
        "SELECT r.resident_id, r.building, r.unit, r.room, p.expires_on FROM passes p"
        " JOIN residents r ON r.resident_id = p.resident_id WHERE p.code = ? AND p.revoked = 0"
        f" AND {store.in_compound('r.compound_id')}",
        (code,),
    )
    if row is None:
        return False
    with store.transaction():
        store.execute("UPDATE passes SET revoked = 1 WHERE code = ?", (code,))
        audit(store, username, "passes.revoke", {"code": code})
    resident = dict(zip(("resident_id", "building", "unit", "room"), row[:4], strict=True))
    _roster_pass(store, resident, code, row[4], revoked=True)
    return True

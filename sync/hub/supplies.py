"""Supplies (防疫物资): items with their stock, receipts and issues, and the reserve rule.

Daily use is what was issued over the last ``USE_WINDOW_DAYS`` days divided by that many days.
The reserve an item must hold is ``daily use × reserve days × (1 + margin %)``, rounded up (the
rule the reports ask for: at least 5–7 days of use, plus 10 %); both are set per item. Below it,
the item is flagged with the quantity to reorder to get back to the reserve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.hub.admins import audit
from sync.hub.store import HubStore, now_iso

COMMON_ITEMS = (("口罩", "只"), ("消毒液", "瓶"), ("免洗洗手液", "瓶"), ("测温枪", "把"))
USE_WINDOW_DAYS = 14
DEFAULT_RESERVE_DAYS = 7
DEFAULT_MARGIN_PCT = 10
MAX_QUANTITY = 1_000_000
FORBIDDEN = "<>&\"'"


class SupplyError(ValueError):
    """A change that cannot be stored; the message says in Chinese what to change."""


@dataclass(frozen=True)
class Supply:
    item: str
    unit: str
    keeper: str
    reserve_days: int
    margin_pct: int
    stock: int
    used_in_window: int

    @property
    def daily_use(self) -> float:
        return self.used_in_window / USE_WINDOW_DAYS

    @property
    def days_of_cover(self) -> float | None:
        return None if self.daily_use == 0 else self.stock / self.daily_use

    @property
    def reserve(self) -> int:
        # Rounded to 6 places first so that 38.500000000000004 is not reordered as 39 + 1.
        return math.ceil(round(self.daily_use * self.reserve_days * (1 + self.margin_pct / 100), 6))

    @property
    def below_reserve(self) -> bool:
        """Below the reserve rule, or empty: an item with none in stock is never 充足, even one
        nobody has drawn on in the last weeks (its reserve by the rule is 0)."""
        return self.stock < self.reserve or self.stock <= 0

    @property
    def status(self) -> str:
        if self.stock <= 0:
            return f"无库存：请入库{f'，需补 {self.reorder} {self.unit}' if self.reorder else ''}"
        if self.below_reserve:
            return f"低于储备，需补 {self.reorder} {self.unit}"
        return "充足"

    @property
    def reorder(self) -> int:
        return max(0, self.reserve - self.stock)


def _text(raw: str, what: str, limit: int = 32, *, required: bool = True) -> str:
    value = (raw or "").strip()
    if (required and not value) or len(value) > limit or any(c in value for c in FORBIDDEN):
        raise SupplyError(f"{what}须为 1–{limit} 个字，不能含 < > & 或引号：请修改后再提交")
    return value


def _whole(raw: str | int, what: str, low: int, high: int) -> int:
    text = str(raw).strip()
    try:
        value = int(text)
    except ValueError:
        raise SupplyError(f"{what}须为整数（填写的是“{text[:16]}”）：请修改后再提交") from None
    if value < low:
        raise SupplyError(f"{what}不能小于 {low}（填写的是 {value}）：请填写正数")
    if value > high:
        raise SupplyError(f"{what}不能大于 {high}：请检查是否多写了位数")
    return value


def set_item(
    store: HubStore,
    item: str,
    unit: str,
    keeper: str,
    reserve_days: str | int,
    margin_pct: str | int,
    username: str,
) -> None:
    """Add an item or change its unit, person in charge and reserve rule."""
    item = _text(item, "物资名称")
    unit = _text(unit, "单位", 8)
    keeper = _text(keeper, "负责人")
    days = _whole(reserve_days, "储备天数", 1, 90)
    margin = _whole(margin_pct, "预留比例（%）", 0, 100)
    compound_id = store.write_compound()
    with store.transaction():
        store.execute(
            "INSERT INTO supplies (item, unit, keeper, reserve_days, margin_pct, created_at,"
            " compound_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (compound_id, item)"
            " DO UPDATE SET unit = excluded.unit,"
            " keeper = excluded.keeper, reserve_days = excluded.reserve_days,"
            " margin_pct = excluded.margin_pct",
            (item, unit, keeper, days, margin, now_iso(), compound_id),
        )
        audit(
            store,
            username,
            "supply.set",
            {"item": item, "keeper": keeper, "reserve_days": days, "margin_pct": margin},
        )


def move(
    store: HubStore,
    item: str,
    direction: str,
    quantity: str | int,
    note: str,
    username: str,
    at: datetime | None = None,
) -> None:
    """A receipt (入库) or an issue (领用); an issue may not take the stock below zero."""
    if direction not in ("receipt", "issue"):
        raise SupplyError("请选择“入库”或“领用”")
    count = _whole(quantity, "数量", 1, MAX_QUANTITY)
    note = _text(note, "备注", 64, required=False)
    moment = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    compound_id = store.write_compound()
    store = store.scoped(compound_id)
    with store.transaction(ordered=True):  # two issues at once must not both pass the check
        if (
            store.fetch_one(
                f"SELECT 1 FROM supplies WHERE item = ? AND {store.in_compound()}", (item,)
            )
            is None
        ):
            raise SupplyError(f"没有名为“{item[:32]}”的物资：请先添加该物资")
        stock = _stock(store, item)
        if direction == "issue" and count > stock:
            raise SupplyError(
                f"{item}库存只有 {stock}，不能领用 {count}：库存不能为负数，请先登记入库"
            )
        store.execute(
            "INSERT INTO supply_moves (item, direction, quantity, note, moved_at, moved_by,"
            " compound_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (item, direction, count, note or None, moment, username, compound_id),
        )
        audit(store, username, f"supply.{direction}", {"item": item, "quantity": count})


def _stock(store: HubStore, item: str) -> int:
    row = store.fetch_one(
        "SELECT coalesce(sum(CASE WHEN direction = 'receipt' THEN quantity ELSE -quantity END), 0)"
        f" FROM supply_moves WHERE item = ? AND {store.in_compound()}",
        (item,),
    )
    return int(row[0])


def supplies(store: HubStore, now: datetime | None = None) -> list[Supply]:
    since = ((now or datetime.now(UTC)) - timedelta(days=USE_WINDOW_DAYS)).astimezone(UTC)
    rows = store.fetch_all(
        "SELECT s.item, s.unit, s.keeper, s.reserve_days, s.margin_pct,"
        " coalesce(sum(CASE WHEN m.direction = 'receipt' THEN m.quantity"
        "                   ELSE -m.quantity END), 0),"
        " coalesce(sum(CASE WHEN m.direction = 'issue' AND m.moved_at >= ? THEN m.quantity"
        "                   ELSE 0 END), 0)"
        " FROM supplies s LEFT JOIN supply_moves m ON m.item = s.item"
        " AND m.compound_id = s.compound_id"
        f" WHERE {store.in_compound('s.compound_id')}"
        " GROUP BY s.compound_id, s.item, s.unit, s.keeper, s.reserve_days, s.margin_pct"
        " ORDER BY s.item",
        (since.isoformat(timespec="seconds"),),
    )
    return [Supply(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows]


def moves(store: HubStore, limit: int = 50) -> list[dict[str, object]]:
    rows = store.fetch_all(
        "SELECT item, direction, quantity, note, moved_at, moved_by FROM supply_moves"
        f" WHERE {store.in_compound()} ORDER BY moved_at DESC LIMIT ?",
        (limit,),
    )
    keys = ("item", "direction", "quantity", "note", "moved_at", "moved_by")
    return [dict(zip(keys, row, strict=True)) for row in rows]

"""What the admins set for every kiosk through the roster: guards, risk areas and settings."""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from datetime import UTC, tzinfo
from typing import Any

from sync.auth import hash_password
from sync.contract import (
    HUB_SETTINGS,
    GuardError,
    SettingValueError,
    check_guard,
    checked_value,
)
from sync.hub import labels
from sync.hub.admins import audit
from sync.hub.store import HubStore, now_iso
from sync.localtime import format_local
from sync.protocol import bad_text


class RosterError(ValueError):
    pass


KINDS = ("guard", "risk_area", "setting")  # what the settings page changes


def saved_mark(store: HubStore, kind: str, key: str) -> str:
    """What the settings page's address carries after a change: the change's roster row."""
    row = store.fetch_one(
        f"SELECT max(version) FROM roster WHERE kind = ? AND key = ? AND {store.in_compound()}",
        (kind, key),
    )
    return "" if row is None or row[0] is None else f"{kind}:{key}@{int(row[0])}"


def saved_notice(saved: str, store: HubStore) -> str | None:
    """What the settings page says after a change (``saved_mark``), while that change is still
    the latest of its key in this compound: an address kept or typed by hand says nothing
    untrue, and nothing of another compound."""
    place, _, version = saved.rpartition("@")
    kind, _, key = place.partition(":")
    if kind not in KINDS or not key or not version.isdigit() or bad_text(key):
        return None  # (a NUL is no text PostgreSQL can even be asked about)
    if saved_mark(store, kind, key) != saved:
        return None  # changed since, or never this compound's
    held = current(store, kind)
    if kind == "setting":
        if key not in HUB_SETTINGS:
            return None
        name = labels.setting_name(key)
        if key in held:
            return f"已保存：{name} 现为 {labels.setting_value(key, held[key]['value'])}"
        default = labels.setting_value(key, HUB_SETTINGS[key].default)
        return f"已恢复门岗默认：{name}（{default}）"
    if kind == "guard":
        if key in held:
            gates = "、".join(held[key].get("gates") or ["全部门岗（旧设置）"])
            return f"已保存门卫 {key} · {held[key]['name']}（门岗：{gates}）"
        row = store.fetch_one(
            "SELECT data FROM roster WHERE kind = 'guard' AND key = ? AND data IS NOT NULL"
            f" AND {store.in_compound()} ORDER BY version DESC LIMIT 1",
            (key,),
        )
        was = json.loads(row[0]).get("name") if row is not None else None
        return f"已删除门卫 {key}" + (f" · {was}" if was else "")
    return f"已添加风险地区 {key}" if key in held else f"已删除风险地区 {key}"


def current(store: HubStore, kind: str) -> dict[str, Any]:
    """The latest value of each key of a kind (removed keys left out)."""
    rows = store.fetch_all(
        f"SELECT key, data FROM roster r WHERE kind = ? AND {store.in_compound('r.compound_id')}"
        " AND version = (SELECT max(version) FROM roster WHERE compound_id = r.compound_id"
        " AND kind = r.kind AND key = r.key) ORDER BY key",
        (kind,),
    )
    return {row[0]: json.loads(row[1]) for row in rows if row[1] is not None}


def guard_names_as_of(store: HubStore, moment: str) -> dict[str, str]:
    """Each guard's name as it stood at ``moment`` (UTC ISO): a day's register keeps the names
    of that day although a guard was renamed, removed or their ID reused since. A guard added
    after ``moment`` gets their first name."""
    names: dict[str, str] = {}
    for key, data, changed_at in store.fetch_all(
        f"SELECT key, data, changed_at FROM roster WHERE kind = 'guard' AND {store.in_compound()}"
        " ORDER BY version"
    ):
        if data is not None and (changed_at <= moment or key not in names):
            names[key] = json.loads(data).get("name") or key
    return names


GATE = re.compile(r"^[A-Za-z0-9-]{1,32}$")


def known_gates(store: HubStore) -> set[str]:
    """The compound's gates a guard or a shift may be put on: enrolled and not revoked, or with
    an enrolment code issued (a gate being installed)."""
    enrolled = {kiosk["kiosk_id"] for kiosk in store.kiosks() if not kiosk["revoked_at"]}
    return enrolled | {gate["kiosk_id"] for gate in store.waiting_enrolments()}


def set_guard(
    store: HubStore, guard_id: str, name: str, pin: str, username: str, gates: list[str]
) -> None:
    """Send a guard to the kiosks of the given gates only (the others never see the PIN's
    hash, and drop the guard if they had it)."""
    try:
        name = check_guard(guard_id, name, pin)
    except GuardError as exc:
        raise RosterError(str(exc)) from None
    gates = sorted({gate.strip() for gate in gates if gate.strip()})
    if not gates:
        raise RosterError("请至少选择一个门岗：门卫只在所选门岗的终端上能用口令解锁")
    unknown = [gate for gate in gates if not GATE.fullmatch(gate)] or sorted(
        set(gates) - known_gates(store)
    )
    if unknown:
        raise RosterError(
            f"没有门岗 {'、'.join(g[:32] for g in unknown[:3])}：请从列表中选择本小区已注册的门岗"
            "（新门岗请先在“门岗”页生成登记码）"
        )
    store.roster_put(
        "guard", guard_id, {"name": name, "pin_hash": hash_password(pin), "gates": gates}
    )
    with store.transaction():
        audit(store, username, "guard.set", {"guard_id": guard_id, "name": name, "gates": gates})


def upcoming_shifts(store: HubStore, person: str | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Person → their shifts on the schedule not yet over (gate, starts_at, ends_at; UTC)."""
    sql = (
        "SELECT person, gate, starts_at, ends_at FROM duty_shifts WHERE removed_at IS NULL"
        f" AND ends_at > ? AND {store.in_compound()}"
    )
    params: tuple[Any, ...] = (now_iso(),)
    if person is not None:
        sql += " AND person = ?"
        params += (person,)
    found: dict[str, list[tuple[str, ...]]] = {}
    for who, gate, starts_at, ends_at in store.fetch_all(sql + " ORDER BY starts_at", params):
        found.setdefault(who, []).append((gate, starts_at, ends_at))
    return found


def remove(
    store: HubStore,
    kind: str,
    key: str,
    username: str,
    *,
    confirmed: bool = False,
    tz: tzinfo | None = None,
) -> None:
    """Remove a guard, risk area or setting. A guard still on the schedule (a shift not yet
    over) is removed only when ``confirmed``: the refusal lists the shifts, which would be left
    with nobody to sign on (漏岗)."""
    if kind not in KINDS or key not in current(store, kind):
        raise RosterError(f"没有可删除的“{key}”（{kind}）：请刷新设置页面")
    shifts = upcoming_shifts(store, key).get(key, []) if kind == "guard" else []
    if shifts and not confirmed:
        zone = tz or UTC
        listed = "；".join(
            f"{format_local(start, zone, '%m-%d %H:%M')}–{format_local(end, zone, '%H:%M')} {gate}"
            for gate, start, end in shifts[:3]
        )
        more = f" 等 {len(shifts)} 个" if len(shifts) > 3 else ""
        name = current(store, "guard")[key].get("name") or key
        raise RosterError(
            f"{name}还排有未结束的班次（{listed}{more}）：删除后这些班次无人上岗，会记为漏岗。"
            "请先在“排班”页删除或改派这些班次；确要删除，请勾选“仍要删除”后再点删除"
        )
    store.roster_put(kind, key, None)
    with store.transaction():
        audit(store, username, f"{kind}.remove", {"key": key})


def add_risk_area(store: HubStore, name: str, username: str) -> None:
    name = name.strip()
    if not name or len(name) > 64 or name == "none" or any(c in name for c in "<>&\"'"):
        raise RosterError("风险地区名称须为 1–64 个字，不能含 < > & 或引号：请修改后再添加")
    store.roster_put("risk_area", name, {"name": name})
    with store.transaction():
        audit(store, username, "risk_area.add", {"name": name})


def _refuse_contradiction(store: HubStore, key: str, value: Any) -> None:
    """Settings that contradict each other (field trial: 不验码 with 必须出示通行码 was taken,
    and the kiosk then measured everyone without a pass, as 不验码 means)."""
    after = {name: setting.default for name, setting in HUB_SETTINGS.items()}
    after.update({name: data["value"] for name, data in current(store, "setting").items()})
    after[key] = value
    if after["kiosk.identify"] == "off" and after["kiosk.identify_required"]:
        raise RosterError(
            "“验码时机”为“不验码，只测温”时不能要求“必须出示通行码”：门岗不收通行码。"
            "请先把验码时机改为先验码后测温或先测温后验码，或把必须出示通行码设为否"
        )


PASS_KEYS = ("kiosk.identify", "kiosk.identify_required")


def pass_rule(store: HubStore) -> str:
    """What the compound's gates do about passes, in one plain line for the settings page:
    above all when a pass is not required (one is asked for, but whoever shows none is measured
    and let in on the temperature alone), which the two settings' names do not make plain."""
    held = current(store, "setting")
    identify, required = (
        held[key]["value"] if key in held else HUB_SETTINGS[key].default for key in PASS_KEYS
    )
    if identify == "off":
        line = "本小区门岗不收通行码：所有人只测温，体温正常即放行"
    elif not required:
        line = "本小区门岗不要求出示通行码：未出示者只测温放行（有通行码的住户可出示）"
    else:
        line = "本小区门岗要求出示通行码：没有有效通行码者不放行，由门卫处理"
    if any(key not in held for key in PASS_KEYS):
        line += "。其中中心未设定的一项按门岗默认值计，门岗本机配置另有规定时以本机为准"
    return line


INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]{1,2})?")  # 37.25, not 37.123456789


def set_setting(store: HubStore, key: str, raw: str, username: str) -> Any:
    if key not in HUB_SETTINGS:
        raise RosterError(
            "中心只能设置这些项目：" + "、".join(labels.setting_name(k) for k in HUB_SETTINGS)
        )
    setting, name, allowed = (
        HUB_SETTINGS[key],
        labels.setting_name(key),
        labels.setting_allowed(key),
    )
    raw = raw.strip()
    if not raw:
        raise RosterError(f"请填写“{name}”的值：可设 {allowed}")
    if len(raw) > 32:
        raise RosterError(f"“{name}”的值过长：可设 {allowed}")
    typed = labels.setting_code(key, raw)
    if setting.kind in (int, float):
        # What an input method gives: full-width digits (３７．２) and the ideographic full stop.
        typed = unicodedata.normalize("NFKC", typed).replace("。", ".")
        # Plain decimals only: float() or TOML would also take 1e1, nan, 0x25 or 3_7.
        if not (INTEGER if setting.kind is int else DECIMAL).fullmatch(typed):
            number = "整数" if setting.kind is int else "数字（最多两位小数）"
            raise RosterError(f"“{name}”不能设为 {raw}：请填写{number}，可设 {allowed}")
        value: Any = int(typed) if setting.kind is int else float(typed)  # 037 is 37
    else:
        try:
            value = tomllib.loads(f"v = {typed}")["v"]
        except tomllib.TOMLDecodeError:
            value = typed
    try:
        value = checked_value(setting, value)
    except SettingValueError as exc:
        raise RosterError(f"“{name}”不能设为 {raw}：可设 {allowed}（{exc}）") from None
    _refuse_contradiction(store, key, value)
    store.roster_put("setting", key, {"value": value})
    with store.transaction():
        audit(store, username, "setting.set", {"key": key, "value": value})
    return value

"""What a guard does at the kiosk: decide on blocked and held people, silence the alarm, switch
the direction, register visitors and vehicles, and look at today's ledger and the kiosk's health.

Every action is a new ledger event; an override points at the event it decides on and nothing is
edited in place.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk import clock, duty, visitor_ids
from kiosk.gate import AwaitingGuard, Gate, LaneBusy, SensorFaulty, StaffReadingGone
from kiosk.overrides import ADMIT_REASONS, DENY_REASONS, OTHER_NOTES, Override
from kiosk.plates import PROVINCES
from kiosk.settings_words import threshold_words, version_words
from kiosk.visitors import CODE_COLOURS, PURPOSES, SURNAMES, TITLES, FormError, Visitor
from sync.contract import DISINFECTANTS, mask_phone
from sync.localtime import day_bounds_utc, format_local, local_today
from sync.wire_policy import plain_http_problem

VISITOR_WINDOW_S = 120.0  # a registered visitor steps up within this
MAX_OCCUPANTS = 9  # people in one vehicle, as the guard counts them
PENDING_WINDOW_EVENTS = 500
UNDECIDED = (
    " AND NOT EXISTS (SELECT 1 FROM events o WHERE o.links_to = e.id"
    "                 AND (o.kind = 'override'"
    "                      OR (o.kind = 'screening' AND e.kind = 'screening')))"
)

# A normal reading held for the guard because the pass shown was refused (where passes are asked
# for but not required): the guard decides on the screening itself.
HELD_FOR_A_REFUSED_PASS = (
    " (e.kind = 'screening' AND e.verdict = 'admitted'"
    " AND json_extract(e.detail, '$.pass_refused') IS NOT NULL)"
)

# What the guard screen calls the resident screen's states.
SCREENS_ZH = {
    "idle": "空闲，等候测温",
    "measuring": "正在测温",
    "admitted": "体温正常，放行",
    "blocked": "体温异常，等候门卫",
    "awaiting_guard": "发热待门卫处置，后面的人稍候",
    "retry": "请重新测温",
    "fault": "测温失败",
    "sensor_fault": "测温设备故障",
    "not_recorded": "无法记录",
    "need_pass": "等候出示通行码",
    "held": "访客待审",
    "guard_admitted": "门卫已放行",
    "guard_denied": "门卫不放行",
    "guard_remeasure": "门卫复测中",
    "staff_measuring": "员工上岗测温中",
    "staff_on": "员工已上岗",
    "staff_blocked": "员工体温异常，不能上岗",
    "staff_retry": "员工上岗测温：请重测",
    "starting": "正在启动",
    "stopped": "暂停服务",
}


class GuardDesk:
    def __init__(
        self, gate: Gate, *, clock_facts: Callable[[], clock.ClockFacts] = clock.now
    ) -> None:
        self.gate = gate
        self.ledger = gate.ledger
        self._clock_facts = clock_facts

    @property
    def tz(self) -> Any:
        return self.gate.config.tz

    # -- decisions ---------------------------------------------------------------------------

    def pending(self) -> list[dict[str, Any]]:
        """Blocked or faulted screenings and held visitors that no guard has decided on yet."""
        self.expire_pending()
        # A window of recent events by sequence, not by wall time: the clock may be wrong.
        rows = self.ledger.connection().execute(
            "SELECT e.*, (SELECT s.estimate_c FROM events s WHERE s.kind = 'screening'"
            "             AND s.links_to = e.id ORDER BY s.seq DESC LIMIT 1) AS linked_estimate_c"
            " FROM events e WHERE e.seq > (SELECT max(seq) FROM events) - ?"
            " AND ((e.kind = 'screening' AND e.verdict IN ('blocked', 'fault'))"
            "      OR (e.kind = 'visitor' AND e.verdict = 'held') OR"
            + HELD_FOR_A_REFUSED_PASS
            + ")"
            + UNDECIDED
            + " ORDER BY e.seq DESC LIMIT 20",
            (PENDING_WINDOW_EVENTS,),
        )
        pending = []
        for row in rows:
            event = self._public(dict(row))
            event["admit_needs_pin"] = _is_fever_block(dict(row))
            if event["estimate_c"] is None:
                event["estimate_c"] = row["linked_estimate_c"]
            pending.append(event)
        return pending

    def expire_pending(self) -> list[dict[str, Any]]:
        """Held visitors and failed measurements nobody decided on within
        ``guard.pending_expire_s`` leave the list; each is recorded as expired (an ``override``
        with verdict ``expired`` and no guard). A fever block never expires."""
        limit_s = self.gate.config.guard.pending_expire_s
        now = self._clock_facts()
        rows = (
            self.ledger.connection()
            .execute(
                "SELECT * FROM events e WHERE e.seq > (SELECT max(seq) FROM events) - ?"
                " AND ((e.kind = 'screening' AND e.verdict = 'fault')"
                "      OR (e.kind = 'visitor' AND e.verdict = 'held') OR"
                + HELD_FOR_A_REFUSED_PASS
                + ")"
                + UNDECIDED,
                (PENDING_WINDOW_EVENTS,),
            )
            .fetchall()
        )
        expired = []
        for row in rows:
            age_s = _age_s(dict(row), now)
            if age_s is None or age_s < limit_s:
                continue
            expired.append(
                self.gate.record(
                    "override",
                    verdict="expired",
                    reason="not_decided",
                    links_to=row["id"],
                    detail={"by": "kiosk", "age_s": round(age_s), "limit_s": limit_s},
                )
            )
            self.gate.end_context(event_id=row["id"])
        return expired

    def admit_needs_pin(self, form: Override) -> bool:
        """Admitting over a fever block needs the guard's PIN again at the confirm step: only a
        guard, after the PIN, lets a fever in (an unattended, unlocked screen is not enough)."""
        original = self.ledger.get(form.event_id)
        return form.decision == "admit" and original is not None and _is_fever_block(original)

    def override(self, form: Override, guard: dict[str, str]) -> dict[str, Any]:
        original = self.ledger.get(form.event_id)
        if original is None or form.event_id not in {p["id"] for p in self.pending()}:
            raise FormError("event_id", "该记录已处置或不存在 not waiting for a decision")
        self.gate.silence()
        record = self.gate.record(
            "override",
            verdict="admitted" if form.decision == "admit" else "denied",
            reason=form.reason,
            estimate_c=form.remeasured_c,
            threshold_c=original["threshold_c"] or self.gate.rules.threshold_c,
            pass_code=original["pass_code"],
            links_to=original["id"],
            detail={
                "guard_id": guard["guard_id"],
                "note": form.note,
                "remeasured_c": form.remeasured_c,
                "original": {
                    "kind": original["kind"],
                    "verdict": original["verdict"],
                    "estimate_c": original["estimate_c"],
                    "seq": original["seq"],
                },
            },
        )
        self.gate.guard_decided(original["id"])
        if form.decision == "admit":
            self.gate.open_gate()
            self.gate.show_decision(
                "guard_admitted", estimate_c=form.remeasured_c, recorded=True, seq=record["seq"]
            )
        else:
            self.gate.show_decision("guard_denied", recorded=True, seq=record["seq"])
        if original["kind"] == "visitor":
            self.gate.end_context()
        return record

    def remeasure(self, event_id: str, guard: dict[str, str]) -> None:
        """The guard measures a blocked person again at the kiosk: the next screening is linked
        to the block and decides it."""
        original = self.ledger.get(event_id)
        if (
            original is None
            or original["kind"] != "screening"
            or original["verdict"] != "blocked"
            or event_id not in {p["id"] for p in self.pending()}
        ):
            raise FormError(
                "event_id", "该记录不是待复测的体温异常 not a fever block waiting for the guard"
            )
        self.gate.silence()
        self.gate.remeasure_for_guard(event_id, guard["guard_id"])

    def silence(self, guard: dict[str, str]) -> bool:
        if not self.gate.silence():
            return False
        self.gate.record("alarm", verdict="silenced", detail={"guard_id": guard["guard_id"]})
        return True

    def set_direction(self, direction: str) -> None:
        if direction not in ("in", "out"):
            raise FormError("direction", "请选择进或出 in or out")
        self.gate.set_direction(direction)

    # -- duty: sign-on, sign-off, disinfection ------------------------------------------------

    def sign_on(self, guard: dict[str, str], *, visitors_at_home: bool) -> None:
        """Start the guard's sign-on: they answer the household question, then the kiosk's own
        sensor measures them (the result comes in :meth:`duty_state`; a normal reading waits
        for their 本人确认, :meth:`confirm_sign_on`)."""
        if guard["guard_id"] in duty.on_duty(self.ledger.connection()):
            raise FormError("shift", "上岗：您已在岗，无需重复上岗")
        try:
            self.gate.measure_staff(
                guard["guard_id"], guard["name"], visitors_at_home=visitors_at_home
            )
        except AwaitingGuard:
            raise FormError("shift", "上岗：请先处置待处理的体温异常，再上岗测温") from None
        except SensorFaulty as fault:
            raise FormError(
                "shift",
                f"上岗：测温设备故障（{fault}），现在不能测温上岗。请联系维护人员，"
                "设备恢复后再点“上岗测温”",
            ) from None
        except LaneBusy:
            raise FormError(
                "shift", "上岗：住户正在测温或其结果正在显示，请几秒后再点“上岗测温”"
            ) from None

    def confirm_sign_on(self, guard: dict[str, str], *, own: bool) -> dict[str, Any] | None:
        """本人确认: the sign-on reading is the guard's own (recorded, returned), or not (dropped;
        the kiosk measures again once whoever stood at the sensor has left)."""
        try:
            record = self.gate.confirm_staff(guard["guard_id"], own=own)
        except StaffReadingGone:
            raise FormError(
                "shift", "上岗：这次测温已失效（超时或设备故障），请重新点“上岗测温”"
            ) from None
        if own and record is None:
            raise FormError("shift", "上岗：无法记录，请联系维护人员")
        return record

    def fever_barred(self, guard: dict[str, str], *, attempt: bool = True) -> str | None:
        """If a fever at sign-on bars this guard today (see :func:`kiosk.duty.fever_block`):
        the words for the guard. An ``attempt`` (their PIN typed again) is recorded, a
        ``shift`` event ``refused`` linked to the block, which the hub's dashboard shows the
        manager; the end of the session their own fever interrupted is not an attempt."""
        block = duty.fever_block(self.ledger.connection(), guard["guard_id"], self.tz)
        if block is None:
            return None
        if not attempt:
            return duty.fever_block_words(block, self.tz)
        self.gate.record(
            "shift",
            verdict="refused",
            reason="fever_today",
            links_to=block["id"],
            detail={"guard_id": guard["guard_id"], "name": guard["name"], "tried": "unlock"},
        )
        return duty.fever_block_words(block, self.tz)

    def sign_off(self, guard: dict[str, str]) -> dict[str, Any]:
        signed_on = duty.on_duty(self.ledger.connection()).get(guard["guard_id"])
        if signed_on is None:
            raise FormError("shift", "下岗：您尚未上岗")
        return self.gate.record(
            "shift",
            verdict="off",
            links_to=signed_on["id"],
            detail={"guard_id": guard["guard_id"], "name": guard["name"]},
        )

    def log_round(self, guard: dict[str, str], place: Any, agent: Any) -> dict[str, Any]:
        """A disinfection round, now, by the guard (or staff member) signed in."""
        place, agent = duty.check_round(self.ledger.connection(), place, agent)
        return self.gate.record(
            "disinfection",
            verdict="done",
            detail={
                "place": place,
                "agent": agent,
                "guard_id": guard["guard_id"],
                "name": guard["name"],
            },
        )

    def duty_state(self, guard: dict[str, str]) -> dict[str, Any]:
        conn = self.ledger.connection()
        on = duty.on_duty(conn)
        mine = on.get(guard["guard_id"])
        result = self.gate.staff_result
        start, end = day_bounds_utc(local_today(self.tz), self.tz)
        rounds = []
        for row in conn.execute(
            "SELECT wall_time, detail FROM events WHERE kind = 'disinfection'"
            " AND wall_time >= ? AND wall_time < ? ORDER BY seq DESC LIMIT 3",
            (start, end),
        ):
            detail = json.loads(row["detail"] or "{}")
            rounds.append(
                {
                    "time": format_local(row["wall_time"], self.tz, "%H:%M"),
                    "place": detail.get("place"),
                    "agent": detail.get("agent"),
                }
            )
        return {
            "on_duty": mine is not None,
            "since": format_local(mine["wall_time"], self.tz, "%H:%M") if mine else None,
            "others": [
                json.loads(e["detail"] or "{}").get("name", gid)
                for gid, e in on.items()
                if gid != guard["guard_id"]
            ],
            "sign_on": result if result and result["guard_id"] == guard["guard_id"] else None,
            # Who on duty here has someone from outside staying at home: a notice on the screen.
            "household": duty.household_flags(conn, self.tz),
            "places": duty.places(conn),
            "agents": list(DISINFECTANTS),
            "rounds": rounds,
        }

    # -- visitors and vehicles ---------------------------------------------------------------

    def register_visitor(
        self,
        visitor: Visitor,
        guard: dict[str, str],
        *,
        same_id_as: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a visitor (the detail is sync.contract.VISITOR_DETAIL). The ID number is kept
        only masked and hashed with this kiosk's key; ``same_id_as``: the earlier record of a
        returning visitor whose masked and hashed number is taken again (none typed now)."""
        held = visitor.held_because
        id_masked, id_hash = None, None
        if visitor.id_number is not None:
            protected = visitor_ids.protect(
                visitor.id_number, visitor_ids.load_visitor_id_key(self.gate.config.data_dir)
            )
            id_masked, id_hash = protected.masked, protected.hash
        elif same_id_as is not None:
            id_masked, id_hash = same_id_as.get("id_masked"), same_id_as.get("id_hash")
        detail = {
            "phone": visitor.phone,
            "name": visitor.name,
            "building": visitor.building,
            "unit": visitor.unit,
            "room": visitor.room,
            "id_masked": id_masked,
            "id_hash": id_hash,
            "purpose": visitor.purpose,
            "risk_area": visitor.risk_area,
            "code_colour": visitor.code_colour,
            "guard_id": guard["guard_id"],
            "direction": self.gate.direction,
        }
        record = self.gate.record(
            "visitor", verdict="held" if held else "registered", reason=held, detail=detail
        )
        # A held visitor waits for the guard until decided or expired; a plain one steps up
        # within VISITOR_WINDOW_S.
        window_s = self.gate.config.guard.pending_expire_s if held else VISITOR_WINDOW_S
        self.gate.begin_context("visitor", record["id"], window_s, held=held is not None)
        return record

    def recent_visitors(self, limit: int = 4) -> list[dict[str, Any]]:
        """The last few visitors (one per phone), so that a courier who comes every day is
        registered again with one touch. Phones masked: the full number never leaves the kiosk."""
        rows = self.ledger.connection().execute(
            "SELECT id, detail FROM events WHERE kind = 'visitor' ORDER BY seq DESC LIMIT 200"
        )
        seen: set[str] = set()
        recent = []
        for row in rows:
            detail = json.loads(row["detail"] or "{}")
            phone = detail.get("phone")
            if not phone or phone in seen:
                continue
            seen.add(phone)
            recent.append(
                {
                    "id": row["id"],
                    "phone": mask_phone(phone),
                    "building": detail.get("building"),
                    "unit": detail.get("unit"),
                    "room": detail.get("room"),
                    "purpose": detail.get("purpose"),
                    # Whether the earlier record has what the form now asks (no name is sent:
                    # lists show none); the server takes the name and ID from that record.
                    "has_name": bool(detail.get("name")),
                    "has_id": bool(detail.get("id_masked")),
                }
            )
            if len(recent) == limit:
                break
        return recent

    def phone_of(self, visitor_event_id: str) -> str:
        """The phone of an earlier visitor registration (the "same as" button)."""
        return str(self.earlier_visitor(visitor_event_id)["phone"])

    def earlier_visitor(self, visitor_event_id: str) -> dict[str, Any]:
        """The detail of an earlier visitor registration (常来访客: the "same as" button): the
        phone, name and ID the guard does not type again."""
        event = self.ledger.get(visitor_event_id)
        detail = json.loads(event["detail"] or "{}") if event else {}
        if event is None or event["kind"] != "visitor" or not detail.get("phone"):
            raise FormError("phone", "找不到这位访客，请输入手机号 enter the phone number")
        return dict(detail)

    def register_vehicle(
        self, plate: str, direction: str, guard: dict[str, str], *, occupants: int = 1
    ) -> dict[str, Any]:
        """A vehicle at the gate. Coming in, its ``occupants`` are screened next, within
        ``guard.vehicle_window_s``, until the guard taps 乘员测温完毕: each such screening links to
        the vehicle; a pedestrian after them is never taken for an occupant."""
        if direction not in ("in", "out"):
            raise FormError("direction", "请选择进或出 in or out")
        if not 1 <= occupants <= MAX_OCCUPANTS:
            raise FormError("occupants", f"车上人数：请选 1 到 {MAX_OCCUPANTS} 人")
        record = self.gate.record(
            "vehicle",
            verdict=direction,
            detail={"plate": plate, "guard_id": guard["guard_id"], "occupants": occupants},
        )
        if direction == "in":
            window_s = self.gate.config.guard.vehicle_window_s
            self.gate.begin_context("vehicle", record["id"], window_s, people=occupants)
        return record

    def end_vehicle(self) -> None:
        self.gate.end_context(kind="vehicle")

    # -- what the guard sees -----------------------------------------------------------------

    def today(self, limit: int = 200) -> list[dict[str, Any]]:
        """Today's events, today as the kiosk's zone has it (a Beijing day, not a UTC day)."""
        start, end = day_bounds_utc(local_today(self.tz), self.tz)
        rows = self.ledger.connection().execute(
            "SELECT * FROM events WHERE wall_time >= ? AND wall_time < ? ORDER BY seq DESC LIMIT ?",
            (start, end, limit),
        )
        return [self._public(dict(row)) for row in rows]

    def health(self) -> list[dict[str, str]]:
        """The kiosk's health in words and local times, for the guard screen."""
        status = self.gate.status()
        tz = self.tz
        now = datetime.now(UTC)

        def at(seconds_ago: float | None) -> str:
            if seconds_ago is None:
                return "—"
            return format_local(now - timedelta(seconds=seconds_ago), tz, "%H:%M:%S")

        fault = status["sensor_fault"]
        sensor = f"故障：{fault}" if fault else f"正常，最近读数 {at(status['sensor_ok_s_ago'])}"
        if not fault and status["sensor_ok_s_ago"] is None:
            sensor = "正在启动"
        rows = [
            ("测温设备", sensor),
            ("门岗屏幕", SCREENS_ZH.get(status["screen"], status["screen"])),
            ("通行方向", "进" if status["direction"] == "in" else "出"),
            ("台账记录", f"共 {status['events']} 条"),
            ("发热阈值", threshold_words(self.gate.config, self.gate.hub_settings)),
        ]
        sync = self._sync()
        rows.append(("设置版本", version_words(sync)))
        hub_url = self.gate.config.sync.hub_url
        plain = plain_http_problem(hub_url) if hub_url else None
        if plain is not None:  # refused (sync not started), or allowed and warned about
            allowed = self.gate.config.sync.allow_plain_http
            rows.append(("同步警告" if allowed else "同步错误", plain))
        if not sync["configured"]:
            rows.append(("同步", f"未配置中心，本机保存 {sync['queue']} 条"))
        else:
            rows.append(("待同步", f"{sync.get('queue', 0)} 条"))
            rows.append(("最近同步", format_local(sync.get("last_success"), tz) or "尚未同步"))
            rows.append(("最早未同步", format_local(sync.get("oldest_unsent"), tz) or "无"))
            error = sync.get("last_error")  # in words (sync.client.problem_words)
            if sync.get("revoked"):
                rows.append(("同步错误", error or "本机令牌已被中心吊销，请联系管理员"))
            else:
                rows.append(("同步错误", error or "无"))
        return [{"label": k, "value": v} for k, v in rows]

    def state(self, guard: dict[str, str]) -> dict[str, Any]:
        context = self.gate.active_context()
        buzzer = self.gate.hardware.buzzer
        return {
            "guard": guard,
            "pending": self.pending(),
            "notices": [
                {**n, "time": format_local(n["wall_time"], self.tz, "%H:%M")}
                for n in self.gate.guard_notices
            ],
            "status": self.gate.status(),
            "health": self.health(),
            "alarm": buzzer is not None and buzzer.playing == "fever",
            "context": None
            if context is None
            else {
                "kind": context.kind,
                "event_id": context.event_id,
                "held": context.held,
            },
            "sync": self._sync(),
            "duty": self.duty_state(guard),
        }

    def _sync(self) -> dict[str, Any]:
        state = self.gate.sync_status()
        if state is None:
            return {"configured": False, "queue": self.ledger.unsynced_count()}
        return {"configured": True, **asdict(state)}

    def form_options(self) -> dict[str, Any]:
        conn = self.ledger.connection()
        places: dict[str, list[str]] = {}
        rooms: dict[str, dict[str, list[str]]] = {}
        for building, unit, room in conn.execute(
            "SELECT DISTINCT building, unit, room FROM passes WHERE building IS NOT NULL"
            " AND unit IS NOT NULL ORDER BY building, unit, length(room), room"
        ):
            units = places.setdefault(building, [])
            if unit not in units:
                units.append(unit)
            if room:
                rooms.setdefault(building, {}).setdefault(unit, []).append(room)
        risk_areas = [r[0] for r in conn.execute("SELECT name FROM risk_areas ORDER BY name")]
        return {
            "recent_visitors": self.recent_visitors(),
            "places": places,
            "rooms": rooms,
            "surnames": list(SURNAMES),
            "titles": list(TITLES),
            "risk_areas": risk_areas,
            "purposes": list(PURPOSES),
            "code_colours": list(CODE_COLOURS),
            "admit_reasons": list(ADMIT_REASONS),
            "deny_reasons": list(DENY_REASONS),
            "other_notes": {k: list(v) for k, v in OTHER_NOTES.items()},
            "provinces": PROVINCES,
        }

    def _public(self, event: dict[str, Any]) -> dict[str, Any]:
        """An event as the guard screen lists it: phone masked, no name."""
        detail = json.loads(event["detail"] or "{}")
        return {
            "id": event["id"],
            "seq": event["seq"],
            "time": format_local(event["wall_time"], self.tz, "%H:%M:%S"),
            "kind": event["kind"],
            "verdict": event["verdict"],
            "reason": event["reason"],
            "estimate_c": event["estimate_c"],
            "pass_code": event["pass_code"],
            "links_to": event["links_to"],
            "plate": detail.get("plate"),
            "pass_refused": (detail.get("pass_refused") or {}).get("reason"),
            "phone": mask_phone(detail["phone"]) if detail.get("phone") else None,
            "place": "-".join(str(detail[k]) for k in ("building", "unit", "room") if detail.get(k))
            or None,
        }


def _is_fever_block(event: dict[str, Any]) -> bool:
    return event["kind"] == "screening" and event["verdict"] == "blocked"


def _age_s(event: dict[str, Any], now: clock.ClockFacts) -> float | None:
    """How old an event is: by the boot clock within one boot (the wall clock may jump), by the
    wall clock across a reboot."""
    if event["boot_id"] == now.boot_id and event["boottime_ns"] is not None:
        return (now.boottime_ns - event["boottime_ns"]) / 1e9
    try:
        then = datetime.fromisoformat(event["wall_time"])
        return (datetime.fromisoformat(now.wall_time) - then).total_seconds()
    except (TypeError, ValueError):
        return None

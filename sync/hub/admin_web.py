"""The admins' pages: sign-in, the ledger with filters and exports, kiosks, the audit log.

Sessions are kept in the database (sync/hub/admins.py), bound to the account: the signed,
HTTP-only, SameSite=Strict cookie holds only a random session id. Every form, the sign-in form
too, carries a CSRF token; each route names the roles that may use it, and a test walks every
route with each role.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound

from sync.auth import csrf_ok, new_csrf
from sync.contract import HUB_SETTINGS, WALL_TIME_PATTERN, mask_phone
from sync.hub import (
    audit_words,
    compounds,
    dashboard,
    disinfection,
    duty,
    gate_blocks,
    integrity,
    labels,
    ledger_view,
    pass_qr,
    pin_failures,
    residents,
    roster_admin,
    settings_version,
    supplies,
    visitor_ids,
)
from sync.hub.admins import (
    audit,
    audit_log,
    claim_lookup,
    current_session,
    end_session,
    pick_compound,
    sign_in,
    start_session,
)
from sync.hub.store import CompoundError, HubStore
from sync.localtime import DEFAULT_ZONE, DayError, format_local, parse_day, zone

admin = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
EVERYONE = ("admin", "viewer", "health", "district")  # district: reads, never writes


def _base_store() -> HubStore:
    """The whole hub: only for signing in and finding an account's compounds."""
    return current_app.extensions["hub_store"]


def _store() -> HubStore:
    """The hub as the signed-in account's current compound sees it: every page reads and
    writes through this, so nothing of another compound can be read or changed."""
    compound = g.get("compound")
    if compound is None:
        raise RuntimeError("a page read the hub before its compound was known")
    return _base_store().scoped(compound.compound_id)


def compound_name() -> str:
    """The current compound's name, for titles of pages, registers and exports."""
    return g.compound.name


def hub_zone() -> tzinfo:
    """The hub's time zone (``hub serve --timezone``): every time a person reads is in it."""
    return zone(current_app.config.get("HUB_TIMEZONE", DEFAULT_ZONE))


@admin.app_template_filter("local")
def local_time(value: Any) -> str:
    return format_local(value, hub_zone())


@admin.app_template_filter("role_words")
def role_words(role: str) -> str:
    from sync.hub.admins import ROLE_WORDS

    return ROLE_WORDS.get(role, role)


@admin.app_template_filter("label")
def label(code: str | None) -> str:
    return labels.bilingual(code)


@admin.app_template_filter("setting_name")
def setting_name(key: str) -> str:
    return labels.setting_name(key)


@admin.app_template_filter("setting_value")
def setting_value(value: Any, key: str) -> str:
    return labels.setting_value(key, value)


def current_user() -> dict[str, str] | None:
    sid = session.get("sid")
    live = current_session(_base_store(), sid) if isinstance(sid, str) else None
    if live is None:
        session.pop("sid", None)
        return None
    return {
        "username": live.username,
        "role": live.role,
        "csrf": live.csrf,
        "sid": live.sid,
        "picked": "" if live.compound_id is None else str(live.compound_id),
    }


def _enter_compound(user: dict[str, str]) -> None:
    """The compounds the account sees and the one its pages show now (the session's pick,
    else the first): kept in ``g`` for this request."""
    seen = compounds.of_account(_base_store(), user["username"])
    if not seen:
        raise Forbidden("您的账户还没有分配小区：请联系中心管理员")
    g.compounds = seen
    g.compound = next((c for c in seen if str(c.compound_id) == user["picked"]), seen[0])


# Forms that mean the same whichever compound their page showed: switching compound and signing
# out (also from an error page, whose header has them). Every other form is refused once another
# compound was picked since its page was shown.
ANY_COMPOUND_FORMS = frozenset({"admin.compound_pick", "admin.logout"})


def page_user(user: dict[str, str] | None) -> dict[str, str] | None:
    """The account as a page shows it: its forms' token is the session's CSRF token and the
    compound the page shows (``token.compound_id``), which :func:`_check_form` checks."""
    compound = getattr(g, "compound", None)
    if user is None or compound is None:
        return user
    return {**user, "csrf": f"{user['csrf']}.{compound.compound_id}"}


def _check_form(user: dict[str, str], *, any_compound: bool) -> None:
    """An account of several compounds that switched compound in another tab must not have a
    form of the first compound's page written into the second (field trial: a fever threshold
    typed on 光明苑小区's page went to 幸福里小区)."""
    raw = request.form.get("csrf") or ""
    token, dot, shown = raw.rpartition(".")
    if not dot:  # a page drawn before a compound was known (an error page's header)
        token, shown = raw, ""
    if not csrf_ok(token, user["csrf"]):
        raise Forbidden("表单已过期或来源不对：请刷新页面后重新提交")
    if any_compound or shown == str(g.compound.compound_id):
        return
    was = next((c.name for c in g.compounds if str(c.compound_id) == shown), None)
    if was is None:
        raise Forbidden("表单已过期或来源不对：请刷新页面后重新提交")
    raise Conflict(
        f"这个页面打开时显示的是“{was}”，现在已切换到“{g.compound.name}”："
        "为免改错小区，这次没有保存"
    )


def roles(*allowed: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("admin.login", next=request.path))
            if user["role"] not in allowed:
                raise Forbidden("您的账户角色不能使用此页面：如需要，请联系管理员")
            any_compound = request.endpoint in ANY_COMPOUND_FORMS
            try:
                _enter_compound(user)
            except Forbidden:
                if request.endpoint != "admin.logout":  # an account of no compound signs out
                    raise
            if request.method == "POST":
                _check_form(user, any_compound=any_compound)
            return view(page_user(user), *args, **kwargs)

        checked.allowed_roles = allowed  # type: ignore[attr-defined]
        return checked

    return decorate


def _login_csrf() -> str:
    token = session.get("login_csrf")
    if not isinstance(token, str):
        token = session["login_csrf"] = new_csrf()
    return token


@admin.get("/login")
def login() -> str:
    return render_template("login.html", message=None, csrf=_login_csrf())


@admin.post("/login")
def login_post() -> Any:
    if not csrf_ok(request.form.get("csrf"), session.get("login_csrf")):
        message = "页面已过期，请重新登录 The page expired: sign in again"
        return render_template("login.html", message=message, csrf=_login_csrf()), 400
    username = (request.form.get("username") or "").strip()[:64]
    password = (request.form.get("password") or "")[:256]
    result = sign_in(_base_store(), username, password, source=request.remote_addr or "")
    if not result.ok:
        if result.reason == "wait":
            wait = result.retry_after_s
            message = f"尝试次数过多，请 {wait} 秒后再试 Too many tries: wait {wait} s"
            status = 429
        else:
            message, status = "用户名或密码错误 Wrong username or password", 401
        response = current_app.make_response(
            (render_template("login.html", message=message, csrf=_login_csrf()), status)
        )
        if status == 429:
            response.headers["Retry-After"] = str(result.retry_after_s)
        return response
    live = start_session(_base_store(), result.username or username)
    session.clear()
    session["sid"] = live.sid
    target = request.args.get("next") or ""
    if not target.startswith("/admin/") or target.startswith("//"):
        target = url_for("admin.dashboard_page")
    return redirect(target)


@admin.post("/logout")
@roles(*EVERYONE)
def logout(user: dict[str, str]) -> Any:
    end_session(_base_store(), user["sid"])
    session.clear()
    return redirect(url_for("admin.login"))


@admin.get("/")
@roles(*EVERYONE)
def home(user: dict[str, str]) -> Any:
    return redirect(url_for("admin.dashboard_page"))


@admin.post("/compound")
@roles(*EVERYONE)
def compound_pick(user: dict[str, str]) -> Any:
    """The compound picker: only one of the account's own compounds can be picked."""
    wanted = (request.form.get("compound") or "").strip()[:20]
    chosen = next((c for c in g.compounds if str(c.compound_id) == wanted), None)
    if chosen is None:
        raise NotFound("没有这个小区：请从页面上方的小区列表中选择")
    pick_compound(_base_store(), user["sid"], chosen.compound_id)
    target = request.form.get("next") or ""
    if not target.startswith("/admin/") or target.startswith("//") or "\\" in target:
        target = url_for("admin.dashboard_page")
    return redirect(target)


@admin.get("/summary")
@roles(*EVERYONE)
def daily_summary(user: dict[str, str]) -> str:
    """The daily report per gate that the property office hands on (printable)."""
    tz = hub_zone()
    raw = request.args.get("day") or dashboard.today(tz).isoformat()
    try:
        day = parse_day(raw[:10], "2026-11-28")
    except DayError as exc:
        raise BadRequest(str(exc)) from None
    store = _store()
    start, end = dashboard.day_bounds(day, tz)
    fevers = [
        f for f in dashboard.fever_events(store, days=400, tz=tz) if start <= f["wall_time"] < end
    ]
    return render_template(
        "summary.html",
        user=user,
        day=day,
        gates=dashboard.counts_for_day(store, day, tz=tz),
        fevers=fevers,
    )


@admin.get("/dashboard")
@roles(*EVERYONE)
def dashboard_page(user: dict[str, str]) -> str:
    store, tz = _store(), hub_zone()
    kiosk = (request.args.get("kiosk") or "").strip()[:32] or None
    series = dashboard.last_days(store, kiosk=kiosk, tz=tz)
    return render_template(
        "dashboard.html",
        user=user,
        day=dashboard.today(tz),
        today=dashboard.counts_for_day(store, dashboard.today(tz), tz=tz),
        chart=Markup(dashboard.chart_svg(series)),
        chart_kiosk=kiosk,
        gates=ledger_view.gate_choices(store),
        fevers=dashboard.fever_events(store, tz=tz),
        health=dashboard.kiosk_health(store, tz=tz) if user["role"] == "admin" else [],
        outcomes=dashboard.OUTCOMES,
        unmanned=duty.unmanned(store),
        staff_fevers=duty.staff_fevers(store),
        gate_blocks=gate_blocks.waiting_blocks(store),
        overdue=[s for s in disinfection.plan_status(store, tz) if s.overdue],
        short=[s for s in supplies.supplies(store) if s.below_reserve],
    )


@admin.post("/fever/<event_id>")
@roles("admin", "health")
def fever_follow_up(user: dict[str, str], event_id: str) -> Any:
    outcome = request.form.get("outcome") or None
    note = (request.form.get("note") or "").strip() or None
    try:
        dashboard.follow_up(
            _store(),
            event_id[:64],
            request.form.get("state") or "",
            user["username"],
            outcome=outcome,
            note=note,
        )
    except dashboard.UnknownFever as exc:
        raise NotFound(str(exc)) from None
    except dashboard.FollowupError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.dashboard_page"))


def _filters() -> ledger_view.Filters:
    try:
        return ledger_view.Filters.from_args(request.args)
    except ledger_view.FilterError as exc:
        raise BadRequest(str(exc)) from None


@admin.get("/ledger")
@roles(*EVERYONE)
def ledger(user: dict[str, str]) -> str:
    filters = _filters()
    before = request.args.get("before")
    before_time = request.args.get("before_time")
    if (before is not None and not before.isdigit()) or (
        before_time is not None and not re.fullmatch(WALL_TIME_PATTERN, before_time)
    ):
        raise BadRequest("翻页参数不对：请从页面上的“更早”链接翻页")
    store = _store()
    rows = ledger_view.page(
        store,
        filters,
        fever_only=user["role"] == "health",
        tz=hub_zone(),
        before=int(before) if before else None,
        before_time=before_time,
    )
    return render_template(
        "ledger.html",
        user=user,
        rows=rows,
        filters=filters,
        columns=ledger_view.COLUMNS,
        kinds=ledger_view.KINDS,
        verdicts=ledger_view.VERDICTS,
        gates=ledger_view.gate_choices(store),
        page_size=ledger_view.PAGE,
    )


@admin.get("/ledger.<fmt>")
@roles(*EVERYONE)
def export(user: dict[str, str], fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    filters = _filters()
    store = _store()
    with store.transaction():
        audit(store, user["username"], f"export.{fmt}", filters.as_dict())
    tz = hub_zone()
    rows = ledger_view.iter_rows(store, filters, fever_only=user["role"] == "health", tz=tz)
    name = f"menwei-ledger-{format_local(datetime.now(UTC), tz, '%Y%m%d-%H%M%S')}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(
            stream_with_context(ledger_view.csv_stream(rows)),
            mimetype="text/csv",  # Flask adds "; charset=utf-8" to text types
            headers=headers,
        )
    return Response(
        stream_with_context(
            ledger_view.xlsx_stream(
                rows,
                ledger_view.export_title(
                    filters,
                    compound_name(),
                    current_app.config.get("HUB_TIMEZONE", DEFAULT_ZONE),
                ),
            )
        ),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )


@admin.get("/kiosks")
@roles("admin")
def kiosks(user: dict[str, str]) -> str:
    return _kiosks_page(user, code=None)


def _kiosks_page(user: dict[str, str], code: tuple[str, str] | None) -> str:
    store = _store()
    return render_template(
        "kiosks.html",
        user=user,
        kiosks=store.kiosks(),
        waiting=store.waiting_enrolments(),
        integrity=integrity.report(store),
        settings=settings_version.gate_settings(store, hub_zone()),
        settings_current=settings_version.current_version(store),
        code=code,
    )


@admin.post("/kiosks/enrol-code")
@roles("admin")
def enrol_code(user: dict[str, str]) -> Any:
    kiosk_id = (request.form.get("kiosk_id") or "").strip()
    if not kiosk_id or len(kiosk_id) > 32 or not kiosk_id.replace("-", "").isalnum():
        raise BadRequest("门岗编号只能用字母、数字和“-”，最多 32 位：请改正后再生成登记码")
    store = _store()
    try:
        code = store.create_enrol_code(kiosk_id)
    except CompoundError as exc:
        raise BadRequest(str(exc)) from None
    with store.transaction():
        audit(store, user["username"], "kiosk.enrol_code", {"kiosk_id": kiosk_id})
    return _kiosks_page(user, code=(kiosk_id, code))


@admin.post("/kiosks/revoke")
@roles("admin")
def revoke(user: dict[str, str]) -> Any:
    kiosk_id = (request.form.get("kiosk_id") or "").strip()[:32]
    store = _store()
    if not store.revoke(kiosk_id):
        raise BadRequest("没有这个已登记的门岗：请刷新门岗列表后再操作")
    with store.transaction():
        audit(store, user["username"], "kiosk.revoke", {"kiosk_id": kiosk_id})
    return redirect(url_for("admin.kiosks"))


@admin.get("/audit")
@roles("admin")
def audit_page(user: dict[str, str]) -> str:
    tz = hub_zone()
    entries = [
        {
            **entry,
            "action_words": audit_words.action_words(entry["action"]),
            "detail_words": audit_words.detail_words(entry["detail"], tz),
        }
        for entry in audit_log(_store())
    ]
    # Wrong guard PINs at the gates: kiosk records (one per burst), said in words.
    pins = [
        {**record, "words": pin_failures.words(record, tz)}
        for record in pin_failures.recent(_store())
    ]
    return render_template("audit.html", user=user, entries=entries, pins=pins)


@admin.get("/residents")
@roles("admin", "health")
def residents_page(user: dict[str, str]) -> str:
    return _residents_view(user, report=None)


def _residents_view(
    user: dict[str, str], report: Any, status: int = 200, revealed: tuple[str, str] | None = None
) -> Any:
    people = residents.residents(_store())
    for person in people:
        if revealed and person["resident_id"] == revealed[0]:
            person["phone"] = revealed[1]  # shown once, for this request; audited
        else:
            person["phone"] = mask_phone(person["phone"]) if person["phone"] else ""
    return (
        render_template(
            "residents.html",
            user=user,
            residents=people,
            report=report,
            buildings=residents.buildings(_store()),
        ),
        status,
    )


@admin.post("/residents/import")
@roles("admin")
def residents_import(user: dict[str, str]) -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest("请先选择要导入的 CSV 或 XLSX 文件")
    try:
        report = residents.import_residents(
            _store(), upload.filename, upload.read(), user["username"]
        )
    except residents.ImportError_ as exc:
        raise BadRequest(str(exc)) from None
    return _residents_view(user, report)


@admin.post("/passes/<code>/revoke")
@roles("admin")
def passes_revoke(user: dict[str, str], code: str) -> Any:
    if not residents.revoke_pass(_store(), code[:32], user["username"]):
        raise NotFound("没有这张有效通行证（可能已吊销或过期）：请刷新住户列表")
    return redirect(url_for("admin.residents_page"))


@admin.get("/passes/sheet")
@roles("admin")
def passes_sheet(user: dict[str, str]) -> str:
    """A print layout: one card per valid pass, with its QR code, for the property office."""
    store = _store()
    try:
        selection = residents.PassSelection.from_form(request.args)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    cards = [
        {**card, "qr": Markup(pass_qr.qr_svg(card["code"]))}
        for card in residents.pass_cards(store, selection, hub_zone())
    ]
    with store.transaction():
        audit(store, user["username"], "passes.print", {"cards": len(cards), **selection.as_dict()})
    return render_template("pass_sheet.html", user=user, cards=cards, compound=compound_name())


@admin.get("/quarantine")
@roles("health")
def quarantine_page(user: dict[str, str]) -> str:
    store = _store()
    return render_template(
        "quarantine.html",
        user=user,
        register=residents.quarantine_register(store),
        residents=residents.residents(store),
    )


@admin.post("/quarantine")
@roles("health")
def quarantine_add(user: dict[str, str]) -> Any:
    form = request.form
    try:
        residents.register_quarantine(
            _store(),
            (form.get("resident_id") or "")[:64],
            form.get("starts_on") or "",
            form.get("ends_on") or "",
            (form.get("note") or "").strip() or None,
            user["username"],
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return redirect(url_for("admin.quarantine_page"))


@admin.post("/residents/<resident_id>/phone")
@roles("admin", "health")
def phone_reveal(user: dict[str, str], resident_id: str) -> Any:
    phone = residents.reveal_phone(_store(), resident_id[:64], user["username"])
    if phone is None:
        raise NotFound("没有这位住户：请刷新住户列表")
    return _residents_view(user, report=None, revealed=(resident_id, phone or "—"))


@admin.get("/settings")
@roles("admin")
def settings_page(user: dict[str, str]) -> str:
    store = _store()
    return render_template(
        "settings.html",
        user=user,
        guards=roster_admin.current(store, "guard"),
        upcoming=roster_admin.upcoming_shifts(store),
        gates=sorted(roster_admin.known_gates(store)),
        areas=roster_admin.current(store, "risk_area"),
        settings=roster_admin.current(store, "setting"),
        pass_rule=roster_admin.pass_rule(store),
        notice=_in_words_of_compound(
            roster_admin.saved_notice(request.args.get("saved", "")[:120], store)
        ),
        keys=list(HUB_SETTINGS),  # in the declaration's order: the screening ones together
        allowed={key: labels.setting_allowed(key) for key in HUB_SETTINGS},
        defaults={key: setting.default for key, setting in HUB_SETTINGS.items()},
    )


def _in_words_of_compound(notice: str | None) -> str | None:
    """An account of several compounds is told which one a change went to."""
    if notice is None or len(g.compounds) < 2:
        return notice
    return f"{g.compound.name} · {notice}"


@admin.post("/settings")
@roles("admin")
def settings_change(user: dict[str, str]) -> Any:
    form, store = request.form, _store()
    action = form.get("action")
    changed = ("", "")  # kind, key
    try:
        if action == "guard":
            roster_admin.set_guard(
                store,
                form.get("guard_id", ""),
                form.get("name", ""),
                form.get("pin", ""),
                user["username"],
                form.getlist("gates"),
            )
            changed = ("guard", form.get("guard_id", ""))
        elif action == "risk_area":
            roster_admin.add_risk_area(store, form.get("name", ""), user["username"])
            changed = ("risk_area", form.get("name", "").strip())
        elif action == "setting":
            roster_admin.set_setting(
                store, form.get("key", ""), form.get("value", ""), user["username"]
            )
            changed = ("setting", form.get("key", ""))
        elif action == "remove":
            roster_admin.remove(
                store,
                form.get("kind", ""),
                form.get("key", "")[:64],
                user["username"],
                confirmed=form.get("confirm") == "yes",
                tz=hub_zone(),
            )
            changed = (form.get("kind", ""), form.get("key", "")[:64])
        else:
            raise BadRequest("无法识别的操作：请从设置页面上的按钮提交")
    except roster_admin.RosterError as exc:
        raise BadRequest(str(exc)) from None
    saved = roster_admin.saved_mark(store, *changed)
    return redirect(url_for("admin.settings_page", saved=saved))


@admin.post("/residents/by-id")
@roles("admin", "health")
def resident_by_id(user: dict[str, str]) -> Any:
    """Find a resident by the ID number a person shows (POSTed: never in a URL, a proxy's log or
    the browser's history); the look-up is audited."""
    number = (request.form.get("id_number") or "")[:32]
    store = _store()
    source = request.remote_addr or ""
    wait, count = claim_lookup(store, user["username"], source)
    if wait:
        with store.transaction():
            audit(
                store,
                user["username"],
                "resident.lookup_by_id_throttled",
                {"source": source, "count": count, "retry_after_s": int(wait) + 1},
            )
        response = current_app.make_response(
            (
                {
                    "error": "Too Many Requests",
                    "message": f"按身份证号查找过于频繁，请 {int(wait) + 1} 秒后再试",
                },
                429,
            )
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    person = residents.find_by_id_number(store, number)
    with store.transaction():
        audit(
            store,
            user["username"],
            "resident.lookup_by_id",
            {"found": person is not None, "source": source, "count": count},
        )
    if person is None:
        raise BadRequest("no resident with that ID number (or it is not a valid number)")
    return {
        key: person[key]
        for key in ("building", "unit", "room", "name", "id_masked", "code", "expires_on")
    }


@admin.post("/visitors/by-id")
@roles("admin", "health")
def visitors_by_id(user: dict[str, str]) -> Any:
    """Find the visitor records of an ID number a person shows (POSTed, audited; see
    sync/hub/visitor_ids.py): masked phone, place, gate, time, and how it matched."""
    number = (request.form.get("id_number") or "")[:32]
    store = _store()
    found = visitor_ids.find_visitors(store, number)
    with store.transaction():
        audit(store, user["username"], "visitor.lookup_by_id", {"count": len(found)})
    if not found:
        raise BadRequest("没有这个身份证号的访客记录（或号码无效）no visitor with that ID number")
    tz = hub_zone()
    return {
        "visitors": [
            {
                **{k: v[k] for k in ("kiosk_id", "phone", "place", "id_masked", "match")},
                "time": format_local(v["wall_time"], tz),
            }
            for v in found
        ]
    }

"""The ``hub`` command: serve, enrol kiosks, revoke them, feed the roster, make reader tokens."""

from __future__ import annotations

import csv
import logging
import os
import signal
from datetime import tzinfo
from pathlib import Path
from typing import Any

import click

from sync.hub.extras import missing_message, missing_packages
from sync.hub.keys import DEFAULT_KEY_DIR, KeyError_, load_keys
from sync.hub.store import CompoundError, HubStore
from sync.localtime import DEFAULT_ZONE, UnknownZoneError, zone
from sync.ops.cli_types import FiniteRange
from sync.ops.logs import add_log_options, configure_from_context
from sync.ops.table import render_table

DEFAULT_DB = "sqlite:////var/lib/menwei-hub/hub.sqlite3"

db_option = click.option(
    "--db",
    "db_url",
    default=lambda: os.environ.get("MENWEI_HUB_DB", DEFAULT_DB),
    show_default="$MENWEI_HUB_DB or " + DEFAULT_DB,
    help="sqlite:///path/hub.sqlite3 or postgresql://user@host/db",
)


keys_option = click.option(
    "--keys",
    "keys_dir",
    default=lambda: os.environ.get("MENWEI_HUB_KEYS", str(DEFAULT_KEY_DIR)),
    show_default="$MENWEI_HUB_KEYS or " + str(DEFAULT_KEY_DIR),
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the session and ID-number keys (never in the database).",
)


def _known_zone(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        zone(value)
    except UnknownZoneError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


timezone_option = click.option(
    "--timezone",
    default=lambda: os.environ.get("MENWEI_HUB_TZ", DEFAULT_ZONE),
    show_default="$MENWEI_HUB_TZ or " + DEFAULT_ZONE,
    callback=_known_zone,
    help="The compound's time zone: every date and time on the pages, exports and in this"
    " command's output is in it.",
)


def _store(
    db_url: str, keys_dir: Path | None = None, *, default_compound: str | None = None
) -> HubStore:
    try:
        store = HubStore(db_url)
        store.migrate(default_compound=default_compound)
    except Exception as exc:  # a bad URL, an unreachable server: say which
        raise click.ClickException(f"cannot open the hub database {db_url}: {exc}") from None
    if keys_dir is not None:
        try:
            store.keys = load_keys(keys_dir, store)
        except KeyError_ as exc:
            raise click.ClickException(f"密钥 keys: {exc}") from None
    return store


compound_option = click.option(
    "--compound",
    "compound_name",
    default=None,
    metavar="小区名称",
    help="The compound (小区) this is for; may be left out on a hub with one compound.",
)


def _in_compound(store: HubStore, name: str | None) -> HubStore:
    """The store seen from the named compound; without a name, the whole hub (whose writes
    go to its only compound, or are refused when it has several)."""
    from sync.hub import compounds

    try:
        compound_id = (
            store.write_compound() if name is None else compounds.by_name(store, name).compound_id
        )
    except CompoundError as exc:
        raise click.ClickException(str(exc)) from None
    return store.scoped(compound_id)


@click.group()
def main() -> None:
    """Menwei hub 门卫中心."""
    missing = missing_packages()
    if missing:
        raise click.ClickException(missing_message(missing))
    configure_from_context()  # --verbose/--quiet: added to every command by add_log_options


audit_days_option = click.option(
    "--audit-days",
    default=180,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Audit-log entries older than this are deleted with the daily retention.",
)


@main.command()
@db_option
@keys_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--retention-days",
    default=28,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Events older than this are deleted once a day (counts are kept).",
)
@timezone_option
@click.option(
    "--compound",
    default=lambda: os.environ.get("MENWEI_HUB_COMPOUND", ""),
    show_default="$MENWEI_HUB_COMPOUND",
    help="The compound's name, printed at the top of every register (登记表).",
)
@click.option(
    "--tls-proxy",
    is_flag=True,
    default=lambda: os.environ.get("MENWEI_HUB_TLS_PROXY") == "1",
    help="A TLS server on this machine forwards to the hub: trust its X-Forwarded-For/-Proto"
    " (from 127.0.0.1 only; without the flag they are ignored) and give the admin cookie the"
    " Secure flag ($MENWEI_HUB_TLS_PROXY=1).",
)
@audit_days_option
def serve(
    db_url: str,
    keys_dir: Path,
    host: str,
    port: int,
    retention_days: int,
    timezone: str,
    compound: str,
    tls_proxy: bool,
    audit_days: int,
) -> None:
    """Serve the hub API and pages (waitress); apply the retention period once a day."""
    import threading

    from waitress.server import create_server

    from sync.hub.app import create_hub, proxy_trust
    from sync.hub.residents import refresh_quarantine_flags
    from sync.hub.retention import purge as run_purge
    from sync.ops.notify import notify
    from sync.ops.ports import listen_error

    store = _store(db_url, keys_dir, default_compound=compound)
    app = create_hub(
        store,
        timezone=timezone,
        compound=compound,
        secure_cookies=tls_proxy,
    )
    stopping = threading.Event()

    def daily_purge() -> None:
        while not stopping.wait(60):
            try:
                run_purge(store, retention_days, audit_days=audit_days)
                refresh_quarantine_flags(store)
            except Exception:  # a failed purge must not stop the hub; it is tried again
                logging.getLogger(__name__).exception("retention purge failed")
            stopping.wait(24 * 3600)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    try:  # bind first: "serving" is said only once the port is ours
        server = create_server(app, host=host, port=port, threads=8, **proxy_trust(tls_proxy))
    except OSError as exc:
        raise click.ClickException(listen_error(host, port, exc, "--port")) from None
    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=daily_purge, name="retention", daemon=True).start()
    url = f"http://{host}:{port}/"
    logging.getLogger(__name__).info("中心已在 %s 提供服务（hub serving）", url)
    notify(f"READY=1\nSTATUS=serving on {url}")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()


@main.command("verify-sheet")
@db_option
@timezone_option
@click.option(
    "--show",
    is_flag=True,
    help="also list the sealed day's registers as printed, each row with its check code",
)
@click.argument("seal_text", metavar="SEAL")
def verify_sheet(db_url: str, timezone: str, show: bool, seal_text: str) -> None:
    """Check a printed register's seal (the text under its QR code) against the hub's records.

    Exit status 0: the sheet matches; 1: it does not; 2: that is not a seal."""
    from sync.hub import registers, seal

    try:
        parsed = seal.parse(seal_text)
    except seal.SealError as exc:
        raise click.UsageError(str(exc)) from None
    store = _store(db_url)
    tz = zone(timezone)
    try:
        result = seal.verify(store, parsed, tz)
        click.echo(result.message)
        if show and result.visible:
            shown = registers.build_day(
                store, parsed.kiosk_id, parsed.day, tz, upto=(parsed.epoch, parsed.last_seq)
            )
            for line in registers.text_lines(shown):
                click.echo(line)
    finally:
        store.close()
    raise SystemExit(0 if result.ok else 1)


@main.command("enrol-code")
@db_option
@click.argument("kiosk_id")
@click.option("--hours", default=24.0, show_default=True, type=FiniteRange(0.1, 720))
@compound_option
def enrol_code(db_url: str, kiosk_id: str, hours: float, compound_name: str | None) -> None:
    """Make a one-time code that enrols KIOSK_ID into a compound (kiosk enrol --code …)."""
    store = _store(db_url)
    compound = _in_compound(store, compound_name).compound
    try:
        click.echo(store.create_enrol_code(kiosk_id, hours * 3600, compound=compound))
    except CompoundError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("compound-create")
@db_option
@click.argument("name")
@click.option("--district", default="", help="The 街道/社区 it belongs to (its district report).")
def compound_create(db_url: str, name: str, district: str) -> None:
    """Create a compound (小区)."""
    from sync.hub import compounds

    store = _store(db_url)
    before = compounds.all_compounds(store)
    try:
        made = compounds.create(store, name, district)
    except CompoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已创建小区 {made.name}" + (f"（{made.district}）" if made.district else ""))
    if [c.compound_id for c in before] == [made.compound_id]:
        click.echo(f"（新中心原有的空“{before[0].name}”由它代替，不再列出）")


@main.command("compound-set")
@db_option
@click.argument("name")
@click.option("--rename", "new_name", default=None, help="A new name for the compound.")
@click.option("--district", default=None, help="The 街道/社区 it belongs to ('' for none).")
def compound_set(db_url: str, name: str, new_name: str | None, district: str | None) -> None:
    """Rename a compound or set its district."""
    from sync.hub import compounds

    try:
        made = compounds.update(_store(db_url), name, new_name, district)
    except CompoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"小区 {made.name}：街道/社区 {made.district or '—'}")


@main.command("compounds")
@db_option
def compounds_list(db_url: str) -> None:
    """List the compounds with their district, gates and accounts."""
    from sync.hub import compounds

    store = _store(db_url)
    rows = []
    for c in compounds.all_compounds(store):
        view = store.scoped(c.compound_id)
        accounts = store.fetch_all(
            "SELECT username FROM account_compounds WHERE compound_id = ? ORDER BY username",
            (c.compound_id,),
        )
        rows.append(
            (
                c.name,
                c.district or "—",
                ", ".join(k["kiosk_id"] for k in view.kiosks()) or "—",
                ", ".join(a[0] for a in accounts) or "—",
            )
        )
    store.close()
    click.echo(
        render_table(("小区 compound", "街道/社区 district", "门岗 gates", "账户 accounts"), rows)
    )


@main.command("audit")
@db_option
@compound_option
@timezone_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def audit_command(db_url: str, compound_name: str | None, timezone: str, limit: int) -> None:
    """Show the audit log, newest first: one compound's (as its admins see it on 审计), or
    without --compound the whole hub's, with the hub's own entries (accounts, compounds,
    sign-ins) that no compound's page shows."""
    from sync.hub import audit_words
    from sync.hub.admins import audit_log
    from sync.localtime import format_local

    store = _store(db_url)
    try:
        view = store if compound_name is None else _in_compound(store, compound_name)
        tz = zone(timezone)
        rows = [
            (
                format_local(entry["at"], tz),
                entry["compound"] or "全中心 hub",
                entry["username"] or "系统 system",
                audit_words.action_words(entry["action"]),
                audit_words.detail_words(entry["detail"], tz),
            )
            for entry in audit_log(view, limit)
        ]
    finally:
        store.close()
    header = ("时间 at", "小区 compound", "用户 user", "操作 action", "内容 detail")
    click.echo(render_table(header, rows) if rows else "审计日志为空 the audit log is empty")


@main.command()
@db_option
@click.argument("kiosk_id")
def revoke(db_url: str, kiosk_id: str) -> None:
    """Revoke a kiosk's token; it stops syncing and shows it on its guard screen."""
    if not _store(db_url).revoke(kiosk_id):
        raise click.ClickException(f"no enrolled, unrevoked kiosk {kiosk_id!r}")
    click.echo(f"{kiosk_id} revoked")


@main.command("admin-create")
@db_option
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["admin", "viewer", "health", "district"]),
    default="admin",
    show_default=True,
    help="admin 管理员, viewer 查看, health 卫生专员 (of their compounds); district 街道/社区"
    " (reads every compound of its district).",
)
@click.option(
    "--compound",
    "compound_names",
    multiple=True,
    metavar="小区名称",
    help="A compound the account sees (repeat for several; left out: the hub's only one).",
)
@click.option("--district", default=None, help="For --role district: the 街道/社区 it reads.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 10 characters; asked for when not given.",
)
def admin_create(
    db_url: str,
    username: str,
    role: str,
    compound_names: tuple[str, ...],
    district: str | None,
    password: str,
) -> None:
    """Create an account (or reset its password, role and compounds)."""
    from sync.hub.admins import AccountError, create_admin

    try:
        create_admin(
            _store(db_url), username, password, role, list(compound_names) or None, district
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    scope = f"街道/社区 {district}" if role == "district" else "、".join(compound_names)
    click.echo(f"{username} ({role}{'，' + scope if scope else ''}) can sign in at /admin/")


@main.command("admin-disable")
@db_option
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def admin_disable(db_url: str, username: str, enable: bool) -> None:
    """Disable an admin account: its sessions end at once."""
    from sync.hub.admins import set_active

    if not set_active(_store(db_url), username, enable):
        raise click.ClickException(f"no account {username!r}")
    click.echo(f"{username} {'enabled' if enable else 'disabled; its sessions have ended'}")


@main.command()
@db_option
@keys_option
def keys(db_url: str, keys_dir: Path) -> None:
    """Make the missing keys (run as the hub's user) and move old ones out of the database."""
    _store(db_url, keys_dir)
    click.echo(f"keys in {keys_dir}: session.key, id.key (keep them out of database backups)")


@main.command()
@db_option
@click.option("--days", default=28, show_default=True, type=click.IntRange(1, 3650))
@audit_days_option
def purge(db_url: str, days: int, audit_days: int) -> None:
    """Delete events older than the retention period (counts per day are kept), and with them
    refused records, ended home quarantines, superseded roster history and old audit entries."""
    from sync.hub.retention import purge as run_purge

    result = run_purge(_store(db_url), days, audit_days=audit_days)
    click.echo(
        f"{result.purged} events and {result.quarantine_purged} quarantined records"
        f" older than {result.cutoff[:10]} deleted"
    )
    click.echo(
        f"已删除 {result.register_purged} 条已结束的居家隔离、{result.roster_purged} 条旧名册记录、"
        f"{result.audit_purged} 条审计记录（ended quarantines, roster history, audit entries"
        f" older than {audit_days} days）"
    )


@main.command("reader-token")
@db_option
@click.argument("name")
@compound_option
def reader_token(db_url: str, name: str, compound_name: str | None) -> None:
    """Make (or replace) a token for another system to read one compound's /api/v1/ledger."""
    from sync.hub.admins import audit

    store = _in_compound(_store(db_url), compound_name)
    token = store.create_reader(name)
    with store.transaction():
        audit(store, None, "reader.token", {"name": name})
    click.echo(token)


@main.command("readers")
@db_option
@timezone_option
def readers(db_url: str, timezone: str) -> None:
    """List the reader tokens: made, revoked, last read (local time)."""
    from sync.localtime import format_local

    tz = zone(timezone)
    store = _store(db_url)
    found = store.readers()
    store.close()
    if not found:
        click.echo("没有读取令牌 (no reader tokens)")
    for reader in found:
        state = (
            f"已吊销 revoked {format_local(reader['revoked_at'], tz)}"
            if reader["revoked_at"]
            else "有效 active"
        )
        click.echo(
            f"{reader['name']}: {state}; 创建 made {format_local(reader['created_at'], tz)};"
            f" 最近读取 last read {format_local(reader['last_read_at'], tz) or '—'}"
        )


@main.command("reader-revoke")
@db_option
@click.argument("name")
def reader_revoke(db_url: str, name: str) -> None:
    """Revoke a reader token at once."""
    from sync.hub.admins import audit

    store = _store(db_url)
    try:
        with store.transaction():
            revoked = store.revoke_reader(name)
            if revoked:
                audit(store, None, "reader.revoke", {"name": name})
    finally:
        store.close()
    if not revoked:
        raise click.ClickException(f"没有有效的读取令牌 {name!r} (no active reader token)")
    click.echo(f"已吊销 {name} (revoked)")


@main.command()
@db_option
@click.option("--follow", is_flag=True, help="Keep printing records as they arrive.")
@click.option("--last", default=20, show_default=True, type=click.IntRange(0, 10000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for scripts.")
@timezone_option
def tail(db_url: str, follow: bool, last: int, as_json: bool, timezone: str) -> None:
    """Print the newest records the hub holds (and, with --follow, those that arrive)."""
    import json
    import time

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///") :]).is_file():
        # Reading must not create an empty hub database at a mistyped path.
        raise click.ClickException(f"中心数据库不存在（no hub database）：{db_url[10:]}")
    store = _store(db_url)
    try:
        since = max(0, store.max_ingest_seq() - last)
        header_shown = False
        while True:
            events = store.events_since(since, 500)
            if events:
                since = events[-1]["ingest_seq"]
            if as_json:
                for event in events:
                    click.echo(json.dumps(event, ensure_ascii=False, default=str))
            elif events or not header_shown:
                text = render_table(
                    TAIL_HEADERS,
                    [tail_row(e, zone(timezone)) for e in events],
                    right=TAIL_RIGHT,
                    min_widths=TAIL_WIDTHS,
                )
                lines = text.splitlines()
                if header_shown:  # --follow: the header once, then rows as they come
                    lines = lines[2:]
                if lines:
                    click.echo("\n".join(lines))
                header_shown = True
            if not follow:
                return
            time.sleep(1)
    finally:
        store.close()


# Fixed widths keep --follow's later rows under the header; render_table pads by display width.
TAIL_HEADERS = (
    "序号 no.",
    "门岗 kiosk",
    "记录号 seq",
    "时间 time",
    "类别 kind",
    "结果 verdict",
    "体温 °C",
    "哈希链 chain",
)
TAIL_WIDTHS = (9, 14, 10, 19, 14, 14, 7, 10)
TAIL_RIGHT = (0, 2, 6)


def tail_row(event: dict[str, Any], tz: tzinfo) -> tuple[object, ...]:
    from sync.hub.labels import zh
    from sync.localtime import format_local

    record = event["record"]
    estimate = "" if record["estimate_c"] is None else f"{record['estimate_c']:.1f}"
    kind = zh(record["kind"])
    verdict = zh(record["verdict"])
    return (
        event["ingest_seq"],
        record["kiosk_id"],
        record["seq"],
        format_local(record["wall_time"], tz),
        kind,
        verdict,
        estimate,
        "完好 ok" if event["chain_ok"] else "断开 BREAK",
    )


@main.command()
@db_option
def integrity(db_url: str) -> None:
    """Re-check every stored record against its hash, and show sequence gaps, chain breaks,
    conflicts and quarantined records, per kiosk. Exit status 1 when something is found."""
    from sync.hub import integrity as report

    store = _store(db_url)
    try:
        found, ok = report.check(store)
    finally:
        store.close()
    for line in found:
        click.echo(line)
    if not ok:
        raise SystemExit(1)


@main.group()
def roster() -> None:
    """What the kiosks are sent: passes, guards, risk areas, settings."""


@roster.command("passes")
@db_option
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@compound_option
def roster_passes(db_url: str, csv_file: str, compound_name: str | None) -> None:
    """Send the passes of a CSV file to a compound's kiosks (columns of 'kiosk passes load')."""
    from sync.contract import parse_pass_row

    store = _in_compound(_store(db_url), compound_name)
    rows = csv.DictReader(Path(csv_file).read_text(encoding="utf-8-sig").splitlines())
    sent = 0
    for line, raw in enumerate(rows, start=2):
        try:
            row = parse_pass_row(raw)
        except ValueError as exc:
            click.echo(f"line {line}: {exc}", err=True)
            continue
        store.roster_put("pass", row["code"], row)
        sent += 1
    click.echo(f"已发出 {sent} 张通行码，门岗下次同步时收到 ({sent} passes queued for the kiosks)")


@roster.command("guard")
@db_option
@click.argument("guard_id")
@click.argument("name")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--gate",
    "gates",
    multiple=True,
    required=True,
    help="A kiosk id whose gate this guard works at (repeat for several).",
)
@compound_option
def roster_guard(
    db_url: str,
    guard_id: str,
    name: str,
    pin: str,
    gates: tuple[str, ...],
    compound_name: str | None,
) -> None:
    """Send a guard to the kiosks of its gates (they receive the PIN's hash, never the PIN)."""
    from sync.hub.roster_admin import RosterError, set_guard

    try:
        store = _in_compound(_store(db_url), compound_name)
        set_guard(store, guard_id, name, pin, "cli", list(gates))
    except RosterError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"门卫 {guard_id} 已设置，所选门岗下次同步时收到 (guard queued for the kiosks)")


@roster.command("risk-area")
@db_option
@click.argument("name")
@click.option("--remove", is_flag=True)
@compound_option
def roster_risk_area(db_url: str, name: str, remove: bool, compound_name: str | None) -> None:
    """Add (or --remove) a risk area."""
    from sync.hub import roster_admin

    store = _in_compound(_store(db_url), compound_name)
    try:
        if remove:
            roster_admin.remove(store, "risk_area", name, "cli")
        else:
            roster_admin.add_risk_area(store, name, "cli")
    except roster_admin.RosterError as exc:
        raise click.ClickException(str(exc)) from None
    done = "已删除 removed" if remove else "已添加 added"
    click.echo(f"风险地区 {name} {done}，门岗下次同步时收到")


@roster.command("setting")
@db_option
@click.argument("key")
@click.argument("value")
@compound_option
def roster_setting(db_url: str, key: str, value: str, compound_name: str | None) -> None:
    """Set a compound's kiosk setting centrally, e.g. screening.threshold_c 37.2"""
    from sync.hub.roster_admin import RosterError, set_setting

    try:
        store = _in_compound(_store(db_url), compound_name)
        parsed = set_setting(store, key, value, "cli")
    except RosterError as exc:
        raise click.ClickException(str(exc)) from None
    from sync.hub import labels

    shown = labels.setting_value(key, parsed)
    click.echo(
        f"“{labels.setting_name(key)}”已设为 {shown}，门岗下次同步时收到 ({key} = {parsed!r})"
    )


add_log_options(main)

if __name__ == "__main__":
    main()

"""The ``kiosk`` command. Thin: it parses, calls the library and turns its errors into messages."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import click

from drivers import SensorError
from kiosk.config import Config, ConfigError, find_config, load_config
from kiosk.ledger import Ledger, LedgerError
from kiosk.words import sensor_error_words, word
from sync.localtime import format_local, local_today
from sync.ops.cli_types import FiniteRange
from sync.ops.logs import add_log_options, configure_from_context, is_quiet, set_log_zone
from sync.ops.table import render_pairs, render_table


def _load(config_path: str | None, simulate: bool = False, *, need_file: bool = False) -> Config:
    """The settings, found the one way every command finds them (``find_config``); the command
    says on stderr which file it used. ``need_file``: a command about this kiosk's ledger refuses
    to run on defaults, which would point at a ledger that is not this kiosk's."""
    choice = find_config(config_path)
    if choice.path is None and need_file:
        raise click.ClickException(choice.missing())
    if not is_quiet():
        click.echo(choice.describe(), err=True)
    overrides: dict[str, Any] = {"sensor.simulate": True} if simulate else {}
    try:
        config = load_config(choice.path, overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    set_log_zone(config.tz)
    return config


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML settings file; otherwise $MENWEI_CONFIG, /etc/menwei/kiosk.toml, ./kiosk.toml.",
)
simulate_option = click.option(
    "--simulate", is_flag=True, help="Use the simulated MLX90614 and mock GPIO pins."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
def main() -> None:
    """Menwei gate kiosk 门卫测温终端."""
    configure_from_context()  # --verbose/--quiet: added to every command by add_log_options


def _person_only_simulated(config: Config, person: float | None) -> None:
    """``--person`` steps a simulated person up; on a real sensor it would be ignored unseen."""
    if person is not None and not config.sensor.simulate:
        raise click.UsageError(
            "--person 只用于模拟传感器 (--simulate)：真实传感器前请站一位真人"
            " (--person needs --simulate)"
        )


def _failed(exc: Exception) -> click.ClickException:
    """A command's failure in Chinese first: a sensor error in the words the guard screen uses,
    the driver's own text beside it as the technical detail."""
    if isinstance(exc, SensorError):
        return click.ClickException(f"{sensor_error_words(exc)}：{exc}")
    return click.ClickException(str(exc))


@main.command()
@config_option
@simulate_option
def serve(config_path: str | None, simulate: bool) -> None:
    """Run the touchscreen and the gate loop."""
    from kiosk.server import ListenError, serve_forever

    config = _load(config_path, simulate, need_file=True)
    try:
        serve_forever(config)
    except (SensorError, LedgerError, ListenError, OSError) as exc:
        raise _failed(exc) from None


@main.command()
@config_option
@simulate_option
@click.option(
    "--count", type=click.IntRange(0), default=0, help="Readings to take (0: until Ctrl-C)."
)
@click.option("--interval", type=FiniteRange(0.05, 10), default=0.5, help="Seconds between reads.")
@click.option(
    "--person",
    type=FiniteRange(20, 45),
    default=None,
    help="With --simulate: a person with this core temperature steps up.",
)
def sensor(
    config_path: str | None, simulate: bool, count: int, interval: float, person: float | None
) -> None:
    """Print live readings from the thermometer, with the verdict they would get."""
    from kiosk.hardware import build_hardware
    from kiosk.sensor_check import describe_estimate, describe_reading

    config = _load(config_path, simulate)
    _person_only_simulated(config, person)
    where = "模拟总线 simulated bus" if config.sensor.simulate else f"/dev/i2c-{config.sensor.bus}"
    click.echo(f"MLX90614 地址 0x{config.sensor.address:02X}，{where}")
    click.echo(describe_estimate(config))
    if count == 0:
        click.echo("持续读取，按 Ctrl-C 停止（until Ctrl-C; --count N stops after N readings）")
    try:  # the sensor as `kiosk serve` makes it, without the gate's pins
        hardware = build_hardware(config, sensor_only=True)
    except SensorError as exc:
        raise _failed(exc) from None
    thermometer = hardware.thermometer
    if person is not None and hardware.simulator is not None:
        hardware.simulator.scene.person(person)
    taken = 0
    failed = False
    try:
        while count == 0 or taken < count:
            if taken:
                time.sleep(interval)
            taken += 1
            try:
                click.echo(describe_reading(thermometer.read(), config))
            except SensorError as exc:
                failed = True
                click.echo(f"故障 FAULT {sensor_error_words(exc)}：{exc}", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        hardware.close()
    if failed:
        sys.exit(1)


@main.command()
@config_option
@simulate_option
@click.option(
    "--reference",
    type=FiniteRange(35.0, 42.0),
    required=True,
    help="The same person's temperature from a reference (contact) thermometer.",
)
@click.option(
    "--person",
    type=FiniteRange(20, 45),
    default=None,
    help="With --simulate: the simulated person's core temperature.",
)
@click.option(
    "--wait",
    type=FiniteRange(0, 120),
    default=10.0,
    help="Seconds to wait for the person to step up.",
)
def calibrate(
    config_path: str | None, simulate: bool, reference: float, person: float | None, wait: float
) -> None:
    """Work out screening.site_offset_c from one person measured here and by a reference."""
    from kiosk.calibration import calibrate_site_offset
    from kiosk.hardware import build_hardware

    config = _load(config_path, simulate)
    _person_only_simulated(config, person)
    try:  # the sensor as `kiosk serve` makes it, without the gate's pins
        hardware = build_hardware(config, sensor_only=True)
    except SensorError as exc:
        raise _failed(exc) from None
    try:
        if person is not None and hardware.simulator is not None:
            hardware.simulator.scene.person(person)
        result = calibrate_site_offset(hardware.thermometer, config, reference, wait_s=wait)
    except (SensorError, ValueError) as exc:
        raise _failed(exc) from None
    finally:
        hardware.close()
    click.echo(f"门岗估计体温（未加现场校准） kiosk estimate: {result.uncorrected_c:.2f} °C")
    click.echo(f"参考体温计 reference thermometer:          {reference:.1f} °C")
    click.echo(
        "请把下面一行写进配置文件的 [screening] 一节，然后重启门岗 (then restart the kiosk):"
    )
    click.echo(f"site_offset_c = {result.site_offset_c:.1f}")


@main.command()
@config_option
@click.option(
    "--day", default=None, help="Local date YYYY-MM-DD in kiosk.timezone (default: today)."
)
@json_option
def counts(config_path: str | None, day: str | None, as_json: bool) -> None:
    """Show a local day's counts from the ledger (the day in kiosk.timezone)."""
    config = _load(config_path, need_file=True)
    try:
        wanted = date.fromisoformat(day) if day else local_today(config.tz)
    except ValueError:
        raise click.ClickException(
            f"--day {day!r} 不是日期（not a date）：例如 2026-11-28"
        ) from None
    ledger = _open(config)
    found = ledger.counts_for_day(wanted, config.tz)
    ordered = [(key, found.pop(key, 0)) for key in ("admitted", "blocked", "retry", "fault")]
    ordered += sorted(found.items())
    if as_json:
        body = {"kiosk_id": ledger.kiosk_id, "day": wanted.isoformat(), "counts": dict(ordered)}
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    click.echo(f"{wanted.isoformat()}（{config.kiosk.timezone}）门岗 {ledger.kiosk_id}")
    click.echo(
        render_table(["类别 kind", "数量 count"], [(word(k), v) for k, v in ordered], right=[1])
    )


@main.command()
@config_option
@json_option
def verify(config_path: str | None, as_json: bool) -> None:
    """Check the ledger's hash chain and the database's integrity."""
    ledger = _open(_load(config_path, need_file=True))
    report = ledger.verify_chain()
    integrity = ledger.integrity_ok()
    if as_json:
        body = {
            "checked": report.checked,
            "chain_ok": report.ok,
            "problem": report.problem,
            "seq": report.seq,
            "integrity_ok": integrity,
        }
        click.echo(json.dumps(body, ensure_ascii=False))
    else:
        click.echo(
            f"已检查 {report.checked} 条记录（events checked）；哈希链"
            + (
                "完好（hash chain intact）"
                if report.ok
                else f"断开（BROKEN）于序号 {report.seq}：{report.problem}"
            )
        )
        click.echo("数据库完整性" + ("正常（integrity ok）" if integrity else "损坏（FAILED）"))
    if not (report.ok and integrity):
        sys.exit(1)


@main.group()
def passes() -> None:
    """Resident passes held on this kiosk."""


@passes.command("load")
@config_option
@click.argument("csv_file", type=click.Path(dir_okay=False))
def passes_load(config_path: str | None, csv_file: str) -> None:
    """Load passes from a CSV file (columns: code, name, building, unit, room, expires_on,
    revoked, quarantine_until, resident_id)."""
    from kiosk.passes import PassFileError, load_csv

    ledger = _open(_load(config_path, need_file=True), create=True)
    try:
        report = load_csv(ledger.connection(), Path(csv_file))
    except PassFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"已导入 {report.loaded} 个通行码，{len(report.rejected)} 行未导入"
        f"（{report.loaded} passes loaded, {len(report.rejected)} rejected）"
    )
    for line, why in report.rejected:
        click.echo(f"  第 {line} 行 line {line}: {why}", err=True)
    if report.rejected:
        sys.exit(1)


@main.group()
def guards() -> None:
    """Guard accounts on this kiosk."""


@guards.command("add")
@config_option
@click.argument("guard_id")
@click.argument("name")
@click.option(
    "--pin",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="4-8 digits; asked for when not given (keep it out of the shell history).",
)
def guards_add(config_path: str | None, guard_id: str, name: str, pin: str) -> None:
    """Add a guard (or reset their PIN): kiosk guards add wang 王师傅"""
    from kiosk.guard_accounts import add_guard
    from sync.contract import GuardError

    try:
        add_guard(
            _open(_load(config_path, need_file=True), create=True).connection(), guard_id, name, pin
        )
    except GuardError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"guard {guard_id} ({name}) can now unlock the guard screen")


@guards.command("list")
@config_option
@json_option
def guards_list(config_path: str | None, as_json: bool) -> None:
    """List the guards who can unlock the guard screen."""
    from kiosk.guard_accounts import list_guards

    found = list_guards(_open(_load(config_path, need_file=True)).connection())
    if as_json:
        body = [{"guard_id": g["guard_id"], "name": g["name"]} for g in found]
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    rows = [(g["guard_id"], g["name"]) for g in found]
    click.echo(render_table(["编号 id", "姓名 name"], rows) if rows else "还没有门卫（no guards）")


@main.group("risk-areas")
def risk_areas() -> None:
    """The risk-area list visitors are asked about."""


@risk_areas.command("load")
@config_option
@click.argument("text_file", type=click.Path(exists=True, dir_okay=False))
def risk_areas_load(config_path: str | None, text_file: str) -> None:
    """Replace the list with the areas in a UTF-8 text file, one per line."""
    from kiosk.risk_areas import RiskAreaError, replace_risk_areas

    try:
        ledger = _open(_load(config_path, need_file=True), create=True)
        count = replace_risk_areas(ledger.connection(), Path(text_file))
    except RiskAreaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已导入 {count} 个风险地区（{count} risk areas loaded）")


@main.command()
@config_option
@simulate_option
@click.option(
    "--set",
    "value",
    type=FiniteRange(0.1, 1.0),
    default=None,
    help="Write a new emissivity (maintenance; power-cycle the sensor afterwards).",
)
def emissivity(config_path: str | None, simulate: bool, value: float | None) -> None:
    """Read (or, with --set, write) the sensor's emissivity. Never run at a busy gate."""
    from drivers.mlx90614_eeprom import read_emissivity, write_emissivity
    from kiosk.hardware import open_thermometer

    config = _load(config_path, simulate)
    try:
        thermometer = open_thermometer(config)
        if value is not None:
            write_emissivity(thermometer, value)
            click.echo(f"emissivity written: {value}; power-cycle the sensor to apply it")
        click.echo(f"emissivity: {read_emissivity(thermometer)}")
    except SensorError as exc:
        raise _failed(exc) from None


@main.command()
@config_option
@click.option("--code", required=True, help="The one-time enrolment code from the hub's admin.")
@click.option("--hub", "hub_url", default=None, help="Hub URL (default: sync.hub_url).")
def enrol(config_path: str | None, code: str, hub_url: str | None) -> None:
    """Enrol this kiosk with the hub: trade the code for this kiosk's own token."""
    from kiosk.enrolment import enrol_kiosk, read_token
    from sync.enrolment import EnrolmentError

    config = _load(config_path, need_file=True)
    url = hub_url or config.sync.hub_url
    if not url:
        raise click.ClickException("请用 --hub 指定中心网址，或在配置里设置 sync.hub_url")
    from sync.wire_policy import plain_http_problem

    if plain_http_problem(url):  # enrolment sends the token and chain key: never in the clear
        raise click.ClickException(
            f"拒绝注册：{plain_http_problem(url)}（注册只走 https 或本机地址）"
        )
    enrolled_before = read_token(config.data_dir) is not None
    ledger = _open(config, create=True)
    try:
        kiosk_id = enrol_kiosk(config, ledger, code, url)
    except EnrolmentError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        ledger.close()
    click.echo(f"已注册为 {kiosk_id}，中心 {url}（enrolled as {kiosk_id} with {url}）")
    if enrolled_before:  # the running kiosk's sync, stopped by the hub, picks the new token up
        click.echo("运行中的门岗程序会在一分钟内改用新的登记（within a minute）")
    else:
        click.echo("请重启门岗程序开始同步：sudo systemctl restart menwei-kiosk")


@main.command()
@config_option
@json_option
def status(config_path: str | None, as_json: bool) -> None:
    """Show the ledger and the sync state (queue, last success, last error)."""
    from sync.client import read_state

    config = _load(config_path, need_file=True)
    ledger = _open(config)
    state = read_state(ledger)
    if as_json:
        body = {"kiosk_id": ledger.kiosk_id, "events": ledger.count(), **state}
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    tz = config.tz
    hub = config.sync.hub_url or "未配置（sync.hub_url not set）"
    pairs: list[tuple[str, object]] = [
        ("门岗 kiosk", ledger.kiosk_id),
        ("记录 events", ledger.count()),
        ("待上传 not yet on the hub", state["queue"]),
        ("中心 hub", hub),
        ("上次成功 last success", format_local(state.get("last_success"), tz) or "还没有 never"),
        ("最近错误 last error", state.get("last_error") or "无 none"),
    ]
    if state.get("oldest_unsent"):
        pairs.append(("最早未传 oldest unsent", format_local(state["oldest_unsent"], tz)))
    if state.get("roster_version") is not None:
        pairs.append(("名单版本 roster version", state["roster_version"]))
    if state.get("settings_version") is not None:
        pairs.append(("设置版本 settings version", state["settings_version"]))
    click.echo(render_pairs(pairs))
    if state.get("revoked"):
        click.echo(
            "本机令牌已被中心吊销（token revoked）：请管理员发新的注册码，再运行 kiosk enrol"
        )


@main.command()
@config_option
@simulate_option
@click.option(
    "--fault",
    type=click.Choice(["nack", "eio", "bad_pec", "error_flag", "stuck", "unplugged"]),
    default=None,
    help="With --simulate: inject this sensor fault first (to see the diagnosis).",
)
def doctor(config_path: str | None, simulate: bool, fault: str | None) -> None:
    """Check the installation: I2C, the sensor, pins, disk, clock, hub, browser."""
    from drivers.mlx90614_sim import SimulatedMLX90614
    from kiosk.doctor import FAIL, run_checks
    from kiosk.hardware import open_thermometer

    config = _load(config_path, simulate)
    try:
        thermometer = open_thermometer(config)
    except SensorError:
        thermometer = None
    if fault and thermometer is not None and isinstance(thermometer.bus, SimulatedMLX90614):
        thermometer.bus.inject(fault)  # type: ignore[arg-type]
    marks = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
    checks = run_checks(config, thermometer)
    for check in checks:
        click.echo(f"{marks[check.status]} {check.name:<22} {check.detail}")
        if check.fix:
            click.echo(f"  {'':<22} fix: {check.fix}")
    if thermometer is not None:
        thermometer.close()
    if any(check.status == FAIL for check in checks):
        sys.exit(1)


@main.command()
@config_option
def purge(config_path: str | None) -> None:
    """Delete events older than kiosk.retention_days that the hub already holds."""
    from kiosk.retention import purge as run_purge

    config = _load(config_path, need_file=True)
    result = run_purge(_open(config), config.kiosk.retention_days)
    click.echo(
        f"{result.purged} events older than {result.cutoff[:10]} deleted;"
        f" {result.kept_unsynced} older ones kept until the hub holds them"
    )


@main.command("config-doc")
def config_doc() -> None:
    """Print the settings reference (docs/config.md)."""
    from kiosk.settings_doc import render_settings_doc

    click.echo(render_settings_doc(), nl=False)


@main.command("voice-render")
@config_option
def voice_render(config_path: str | None) -> None:
    """Render the spoken prompts with espeak-ng's Mandarin voice (setup.sh install does this)."""
    from kiosk.voice import RenderError, render

    config = _load(config_path, need_file=True)
    try:
        written = render(config.data_dir / "voice")
    except RenderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已生成 {len(written)} 条语音提示：{config.data_dir / 'voice'}")


@main.command("lane-doc")
@click.option(
    "--write",
    "page",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Replace the chart and table in this page (docs/screening.md) instead of printing them.",
)
def lane_doc(page: str | None) -> None:
    """Print the lane's state chart and transition table (docs/screening.md, "The lane")."""
    from kiosk.lane import mermaid, table_markdown

    generated = "```mermaid\n" + mermaid() + "\n```\n\n" + table_markdown()
    if page is None:
        click.echo(generated)
        return
    text = Path(page).read_text(encoding="utf-8")
    start = text.index("```mermaid\n")
    end = text.index("\n\n## ", start)
    Path(page).write_text(text[:start] + generated + text[end:], encoding="utf-8")


@main.command("commands-doc")
@click.option(
    "--write",
    "page",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Update the generated part of this page (docs/kiosk.md) in place.",
)
def commands_doc(page: str | None) -> None:
    """Print the command reference (the generated part of docs/kiosk.md)."""
    from kiosk.cli_doc import render_commands, replace_generated

    text = render_commands(main, "kiosk")
    if page is None:
        click.echo(text, nl=False)
        return
    path = Path(page)
    path.write_text(replace_generated(path.read_text(encoding="utf-8"), text), encoding="utf-8")


@main.command()
@click.option("--url", default="http://127.0.0.1:8080", help="The running kiosk.")
@click.argument("action", type=click.Choice(["person", "leave", "fault", "clear"]))
@click.argument("value", required=False)
@json_option
def sim(url: str, action: str, value: str | None, as_json: bool) -> None:
    """Drive a simulated kiosk's scene: person 36.6 | leave | fault nack | clear."""
    import requests

    payload: dict[str, Any] = {}
    if action == "person":
        try:
            payload["core_c"] = float(value or "")
        except ValueError:
            raise click.ClickException("give the core temperature: kiosk sim person 36.6") from None
    elif action == "fault":
        payload["fault"] = value
    try:
        response = requests.post(f"{url}/api/sim/{action}", json=payload, timeout=5)
    except requests.RequestException as exc:
        raise click.ClickException(f"no kiosk at {url}: {exc}") from None
    if response.status_code == 404:
        raise click.ClickException(f"{url} is not running with the simulated sensor")
    if not response.ok:
        raise click.ClickException(response.json().get("message", response.text))
    if as_json:
        click.echo(json.dumps(response.json(), ensure_ascii=False))
        return
    click.echo(_sim_done(action, response.json()))


def _sim_done(action: str, answer: dict[str, Any]) -> str:
    if action == "person":
        return f"模拟：一位体温 {answer.get('core_c')} °C 的人走到测温点前（person steps up）"
    if action == "leave":
        return "模拟：人已离开（person left）"
    if action == "fault":
        return f"模拟：传感器故障 {answer.get('fault')}（sensor fault injected）"
    if action == "clear":
        return "模拟：故障已清除（faults cleared）"
    return "模拟：完成"


def _open(config: Config, *, create: bool = False) -> Ledger:
    """The ledger of ``config``. A command that only reads never creates one: a missing ledger
    is an error that names the path (usually a wrong or missing --config)."""
    from kiosk.server import LEDGER_FILE, open_ledger

    path = config.data_dir / LEDGER_FILE
    if not create and not path.is_file():
        raise click.ClickException(
            f"台账文件不存在（no ledger）：{path}。检查 --config（配置里的 kiosk.data_dir）"
        )
    try:
        return open_ledger(config)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None


add_log_options(main)

if __name__ == "__main__":
    main()

"""The ``kiosk`` command. Thin: it parses, calls the library and turns its errors into messages."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from drivers import SensorError
from kiosk.config import Config, ConfigError, load_config
from kiosk.ledger import LedgerError

DEFAULT_CONFIG = Path("/etc/menwei/kiosk.toml")


def _load(config_path: str | None, simulate: bool = False) -> Config:
    path = (
        Path(config_path) if config_path else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    )
    overrides: dict[str, Any] = {"sensor.simulate": True} if simulate else {}
    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help=f"TOML settings file (default {DEFAULT_CONFIG} when it exists).",
)
simulate_option = click.option(
    "--simulate", is_flag=True, help="Use the simulated MLX90614 and mock GPIO pins."
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Menwei gate kiosk."""
    # journald adds timestamps; we log the level and the message only.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.command()
@config_option
@simulate_option
def serve(config_path: str | None, simulate: bool) -> None:
    """Run the touchscreen and the gate loop."""
    from kiosk.server import serve_forever

    config = _load(config_path, simulate)
    try:
        serve_forever(config)
    except (SensorError, LedgerError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@config_option
@simulate_option
@click.option(
    "--count", type=click.IntRange(0), default=0, help="Readings to take (0: until Ctrl-C)."
)
@click.option(
    "--interval", type=click.FloatRange(0.05, 10), default=0.5, help="Seconds between reads."
)
@click.option(
    "--person",
    type=click.FloatRange(20, 45),
    default=None,
    help="With --simulate: a person with this core temperature steps up.",
)
def sensor(
    config_path: str | None, simulate: bool, count: int, interval: float, person: float | None
) -> None:
    """Print live readings from the thermometer, with the verdict they would get."""
    from drivers.mlx90614_sim import SimulatedMLX90614
    from kiosk.sensor_check import describe_reading, open_thermometer

    config = _load(config_path, simulate)
    where = "simulated bus" if config.sensor.simulate else f"/dev/i2c-{config.sensor.bus}"
    click.echo(f"MLX90614 at 0x{config.sensor.address:02X} on {where}")
    try:
        thermometer = open_thermometer(config)
    except SensorError as exc:
        raise click.ClickException(str(exc)) from None
    if person is not None and isinstance(thermometer.bus, SimulatedMLX90614):
        thermometer.bus.scene.person(person)
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
                click.echo(f"FAULT {type(exc).__name__}: {exc}", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        thermometer.close()
    if failed:
        sys.exit(1)


@main.command()
@config_option
@simulate_option
@click.option(
    "--reference",
    type=click.FloatRange(35.0, 42.0),
    required=True,
    help="The same person's temperature from a reference (contact) thermometer.",
)
@click.option(
    "--person",
    type=click.FloatRange(20, 45),
    default=None,
    help="With --simulate: the simulated person's core temperature.",
)
@click.option(
    "--wait",
    type=click.FloatRange(0, 120),
    default=10.0,
    help="Seconds to wait for the person to step up.",
)
def calibrate(
    config_path: str | None, simulate: bool, reference: float, person: float | None, wait: float
) -> None:
    """Work out screening.site_offset_c from one person measured here and by a reference."""
    from drivers.mlx90614_sim import SimulatedMLX90614
    from kiosk.calibration import calibrate_site_offset
    from kiosk.sensor_check import open_thermometer

    config = _load(config_path, simulate)
    try:
        thermometer = open_thermometer(config)
        if person is not None and isinstance(thermometer.bus, SimulatedMLX90614):
            thermometer.bus.scene.person(person)
        result = calibrate_site_offset(thermometer, config, reference, wait_s=wait)
    except (SensorError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"kiosk estimate without site offset: {result.uncorrected_c:.2f} °C")
    click.echo(f"reference thermometer:              {reference:.1f} °C")
    click.echo("Put this in the [screening] section of the config file and restart the kiosk:")
    click.echo(f"site_offset_c = {result.site_offset_c:.1f}")


@main.command()
@config_option
@click.option("--day", default=None, help="UTC date YYYY-MM-DD (default: today).")
def counts(config_path: str | None, day: str | None) -> None:
    """Show a day's counts from the local ledger."""
    day = day or datetime.now(UTC).date().isoformat()
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        raise click.ClickException(f"--day {day!r} is not a date like 2026-11-28") from None
    ledger = _open(config_path)
    found = ledger.counts_for_day(day)
    click.echo(f"{day} on {ledger.kiosk_id}")
    for key in ("admitted", "blocked", "retry", "fault"):
        click.echo(f"  {key:<18}{found.pop(key, 0)}")
    for key, value in sorted(found.items()):
        click.echo(f"  {key:<18}{value}")


@main.command()
@config_option
def verify(config_path: str | None) -> None:
    """Check the ledger's hash chain and the database's integrity."""
    ledger = _open(config_path)
    report = ledger.verify_chain()
    integrity = ledger.integrity_ok()
    click.echo(
        f"{report.checked} events checked; hash chain "
        + ("intact" if report.ok else f"BROKEN at seq {report.seq}: {report.problem}")
    )
    click.echo("database integrity " + ("ok" if integrity else "FAILED"))
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

    ledger = _open(config_path)
    try:
        report = load_csv(ledger.connection(), Path(csv_file))
    except PassFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.loaded} passes loaded, {len(report.rejected)} rejected")
    for line, why in report.rejected:
        click.echo(f"  line {line}: {why}", err=True)
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
    from kiosk.guards import GuardError, add_guard

    try:
        add_guard(_open(config_path).connection(), guard_id, name, pin)
    except GuardError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"guard {guard_id} ({name}) can now unlock the guard screen")


@guards.command("list")
@config_option
def guards_list(config_path: str | None) -> None:
    """List the guards who can unlock the guard screen."""
    from kiosk.guards import list_guards

    for guard in list_guards(_open(config_path).connection()):
        click.echo(f"{guard['guard_id']}\t{guard['name']}")


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
        count = replace_risk_areas(_open(config_path).connection(), Path(text_file))
    except RiskAreaError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} risk areas loaded")


@main.command()
@config_option
@simulate_option
@click.option(
    "--set",
    "value",
    type=click.FloatRange(0.1, 1.0),
    default=None,
    help="Write a new emissivity (maintenance; power-cycle the sensor afterwards).",
)
def emissivity(config_path: str | None, simulate: bool, value: float | None) -> None:
    """Read (or, with --set, write) the sensor's emissivity. Never run at a busy gate."""
    from drivers.mlx90614_eeprom import read_emissivity, write_emissivity
    from kiosk.sensor_check import open_thermometer

    config = _load(config_path, simulate)
    try:
        thermometer = open_thermometer(config)
        if value is not None:
            write_emissivity(thermometer, value)
            click.echo(f"emissivity written: {value}; power-cycle the sensor to apply it")
        click.echo(f"emissivity: {read_emissivity(thermometer)}")
    except SensorError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@config_option
@click.option("--code", required=True, help="The one-time enrolment code from the hub's admin.")
@click.option("--hub", "hub_url", default=None, help="Hub URL (default: sync.hub_url).")
def enrol(config_path: str | None, code: str, hub_url: str | None) -> None:
    """Enrol this kiosk with the hub: trade the code for this kiosk's own token."""
    import requests

    from kiosk.ledger import save_chain_key
    from kiosk.sync_worker import save_token

    config = _load(config_path)
    url = hub_url or config.sync.hub_url
    if not url:
        raise click.ClickException("give --hub or set sync.hub_url in the config")
    # The hub keys the chain from the ledger's head on: records written after this moment
    # must carry a mac made with the key it answers with.
    epoch, next_seq = _open(config_path).head()
    try:
        response = requests.post(
            f"{url.rstrip('/')}/api/v1/enrol",
            json={"code": code, "epoch": epoch, "next_seq": next_seq},
            timeout=10,
            verify=config.sync.ca_file or True,
        )
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the hub at {url}: {exc}") from None
    if response.status_code != 200:
        raise click.ClickException(f"the hub refused: {response.text[:200]}")
    body = response.json()
    if body["kiosk_id"] != config.kiosk.id:
        raise click.ClickException(
            f"this code is for kiosk {body['kiosk_id']!r}, but this kiosk is {config.kiosk.id!r}"
        )
    if body.get("chain_key"):
        save_chain_key(config.data_dir, bytes.fromhex(body["chain_key"]))
    save_token(config.data_dir, body["token"])
    click.echo(f"enrolled as {body['kiosk_id']} with {url}")


@main.command()
@config_option
def status(config_path: str | None) -> None:
    """Show the ledger and the sync state (queue, last success, last error)."""
    from sync.client import read_state

    ledger = _open(config_path)
    state = read_state(ledger)
    click.echo(
        f"kiosk {ledger.kiosk_id}: {ledger.count()} events, {state['queue']} not yet on the hub"
    )
    for key in ("last_success", "last_error", "oldest_unsent", "roster_version"):
        if key in state:
            click.echo(f"  {key:<16}{state[key]}")
    if state.get("revoked"):
        click.echo("  TOKEN REVOKED: ask the admin for a new enrolment code")


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
    from kiosk.sensor_check import open_thermometer

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

    config = _load(config_path)
    result = run_purge(_open(config_path), config.kiosk.retention_days)
    click.echo(
        f"{result.purged} events older than {result.cutoff[:10]} deleted;"
        f" {result.kept_unsynced} older ones kept until the hub holds them"
    )


@main.command("config-doc")
def config_doc() -> None:
    """Print the settings reference (docs/config.md)."""
    from kiosk.settings_doc import render_settings_doc

    click.echo(render_settings_doc(), nl=False)


@main.command()
@click.option("--url", default="http://127.0.0.1:8080", help="The running kiosk.")
@click.argument("action", type=click.Choice(["person", "leave", "fault", "clear"]))
@click.argument("value", required=False)
def sim(url: str, action: str, value: str | None) -> None:
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
    click.echo(json.dumps(response.json(), ensure_ascii=False))


def _open(config_path: str | None):  # -> Ledger
    from kiosk.server import open_ledger

    try:
        return open_ledger(_load(config_path))
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()

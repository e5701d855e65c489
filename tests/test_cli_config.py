"""The first minutes with the ``kiosk`` command: it finds its config one way and says which,
read-only commands never create a ledger, output is for people (tables, local time) or --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import kiosk.config as config_module
from kiosk.cli import main
from kiosk.config import find_config
from kiosk.ledger import Ledger
from sync.localtime import format_local, zone

READ_ONLY = [["verify"], ["counts"], ["status"], ["guards", "list"], ["purge"]]


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No $MENWEI_CONFIG, no /etc/menwei/kiosk.toml, an empty current directory."""
    monkeypatch.delenv("MENWEI_CONFIG", raising=False)
    system = tmp_path / "etc" / "kiosk.toml"
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG", system)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_config(path: Path, data_dir: Path) -> Path:
    path.write_text(f'[kiosk]\nid = "gate-9"\ndata_dir = "{data_dir}"\n', encoding="utf-8")
    return path


def test_find_config_order(tmp_path):
    system, local = tmp_path / "etc.toml", tmp_path / "local.toml"
    env = {"MENWEI_CONFIG": str(tmp_path / "env.toml")}
    assert find_config("given.toml", env, system, local).how == "--config"
    assert find_config(None, env, system, local).path == tmp_path / "env.toml"
    assert find_config(None, {}, system, local).path is None
    local.write_text("")
    assert find_config(None, {}, system, local).path == local.absolute()
    system.write_text("")
    assert find_config(None, {}, system, local).path == system  # /etc before ./kiosk.toml


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_commands_without_a_config_file_create_nothing(nowhere, args):
    """Regression: `kiosk verify` without --config created /var/lib/menwei/ledger.sqlite3 and
    reported a "0 events checked; hash chain intact"."""
    result = run(*args)
    assert result.exit_code == 1
    assert "找不到配置文件" in result.output
    assert "--config" in result.output and str(config_module.SYSTEM_CONFIG) in result.output
    assert "Traceback" not in result.output
    assert files_under(nowhere) == []


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_commands_with_a_missing_ledger_name_it_and_create_nothing(nowhere, args):
    data = nowhere / "data"
    config = write_config(nowhere / "kiosk.toml", data)
    result = run(*args, "--config", str(config))
    assert result.exit_code == 1
    assert f"台账文件不存在（no ledger）：{data / 'ledger.sqlite3'}" in result.output
    assert not data.exists()
    assert files_under(nowhere) == [config]


def test_a_missing_config_file_is_named(nowhere):
    result = run("verify", "--config", str(nowhere / "nope.toml"))
    assert result.exit_code == 1
    assert f"配置文件不存在（config file does not exist）：{nowhere / 'nope.toml'}" in result.output


def test_the_command_says_which_file_it_used(nowhere, monkeypatch):
    data = nowhere / "data"
    Ledger(data / "ledger.sqlite3", "gate-9").close()
    from_env = write_config(nowhere / "env.toml", data)
    monkeypatch.setenv("MENWEI_CONFIG", str(from_env))
    result = run("verify")
    assert result.exit_code == 0, result.output
    assert f"配置文件 {from_env}（$MENWEI_CONFIG）" in result.output
    monkeypatch.delenv("MENWEI_CONFIG")
    write_config(Path("kiosk.toml"), data)
    result = run("verify")
    assert f"配置文件 {Path('kiosk.toml').absolute()}（当前目录" in result.output
    assert "已检查 0 条记录" in result.stdout
    # --quiet leaves only the answer
    assert "配置文件" not in run("verify", "--quiet").output


def test_sensor_runs_on_defaults_and_says_so(nowhere):
    result = run("sensor", "--simulate", "--count", "1")
    assert result.exit_code == 0, result.output
    assert "未找到配置文件，使用默认设置" in result.output
    assert files_under(nowhere) == []


@pytest.fixture
def kiosk_with_events(nowhere):
    data = nowhere / "data"
    ledger = Ledger(data / "ledger.sqlite3", "gate-9")
    ledger.append("screening", verdict="admitted", estimate_c=36.6)
    ledger.append("screening", verdict="blocked", estimate_c=38.2)
    ledger.append("alarm", verdict="sounding")
    yield ledger, write_config(nowhere / "kiosk.toml", data)
    ledger.close()


def test_counts_is_a_table_of_the_local_day(kiosk_with_events):
    _ledger, config = kiosk_with_events
    result = run("counts", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Asia/Shanghai" in lines[0] and "gate-9" in lines[0]
    assert lines[1].startswith("类别 kind") and set(lines[2]) <= {"-", " "}
    assert any(line.startswith("放行 admitted") and line.endswith(" 1") for line in lines)
    assert any(line.startswith("拦截（体温高） blocked") and line.endswith(" 1") for line in lines)
    # the numbers end in one column, Chinese labels and all
    ends = {len(line) + sum(1 for c in line if ord(c) > 0x2E80) for line in lines[1:]}
    assert len(ends) == 1
    body = json.loads(run("counts", "--config", str(config), "--json", "-q").stdout)
    assert body["counts"] == {"admitted": 1, "blocked": 1, "retry": 0, "fault": 0, "alarm": 1}


def test_status_in_words_and_local_time(kiosk_with_events):
    ledger, config = kiosk_with_events
    conn = ledger.connection()
    with conn:
        conn.execute(
            "INSERT INTO sync_state (key, value) VALUES ('last_success', ?)",
            (json.dumps("2026-11-28T23:30:00+00:00"),),
        )
    result = run("status", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "None" not in result.output
    assert "最近错误 last error" in result.stdout and "无 none" in result.stdout
    shown = format_local("2026-11-28T23:30:00+00:00", zone("Asia/Shanghai"))
    assert shown == "2026-11-29 07:30:00" and shown in result.stdout
    assert "sync.hub_url not set" in result.stdout
    body = json.loads(run("status", "--config", str(config), "--json", "-q").stdout)
    assert body["events"] == 3 and body["queue"] == 3


def test_guards_list_is_a_table(kiosk_with_events):
    _ledger, config = kiosk_with_events
    assert (
        run("guards", "add", "--config", str(config), "--pin", "246813", "wang", "王师傅").exit_code
        == 0
    )
    result = run("guards", "list", "--config", str(config), "-q")
    assert result.stdout.splitlines()[0].split() == ["编号", "id", "姓名", "name"]
    assert result.stdout.splitlines()[2].split() == ["wang", "王师傅"]
    assert json.loads(run("guards", "list", "--config", str(config), "--json", "-q").stdout) == [
        {"guard_id": "wang", "name": "王师傅"}
    ]


def test_writing_commands_still_create_the_ledger(nowhere):
    data = nowhere / "data"
    config = write_config(nowhere / "kiosk.toml", data)
    areas = nowhere / "areas.txt"
    areas.write_text("某市某区\n", encoding="utf-8")
    result = run("risk-areas", "load", "--config", str(config), str(areas))
    assert result.exit_code == 0, result.output
    assert "已导入 1 个风险地区" in result.stdout
    assert (data / "ledger.sqlite3").exists()


def test_verbose_and_quiet_on_the_command_or_the_group(kiosk_with_events):
    import logging

    _ledger, config = kiosk_with_events
    run("verify", "--config", str(config), "--verbose")
    assert logging.getLogger().level == logging.DEBUG
    run("--quiet", "verify", "--config", str(config))
    assert logging.getLogger().level == logging.WARNING
    run("verify", "--config", str(config))
    assert logging.getLogger().level == logging.INFO


def test_no_config_found_is_still_honest_for_serve(nowhere):
    result = run("serve")
    assert result.exit_code == 1 and "找不到配置文件" in result.output
    assert files_under(nowhere) == []


def test_docs_kiosk_md_lists_every_command_and_option():
    """Regression: docs/kiosk.md missed doctor, enrol, status, purge and sensor --person."""
    from kiosk.cli_doc import END, START, iter_commands, render_commands

    page = (Path(__file__).resolve().parent.parent / "docs" / "kiosk.md").read_text("utf-8")
    generated = page[page.index(START) : page.index(END) + len(END) + 1]
    assert generated == render_commands(main, "kiosk"), (
        "run: kiosk commands-doc --write docs/kiosk.md"
    )
    for path, command in iter_commands(main, "kiosk"):
        assert f"### `{path}" in page, path
        section = page.split(f"### `{path}", 1)[1].split("### ", 1)[0]
        for param in command.params:
            if param.name in ("verbose", "quiet"):
                continue
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert f"`{opt}" in section, f"{path} {opt}"
    for name in ("doctor", "enrol", "status", "purge"):
        assert f"### `kiosk {name}" in page
    assert "`--person FLOAT`" in page.split("### `kiosk sensor", 1)[1].split("###")[0]

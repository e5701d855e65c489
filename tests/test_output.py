"""Output for people: aligned tables with Chinese text, log lines for a terminal and for the
journal, and servers that say "serving" only once bound (a busy port is one clear line)."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sync.ops.logs import JournalFormatter, is_journal, setup_logging
from sync.ops.table import display_width, render_pairs, render_table
from tests.sync_fixtures import free_port

REPO = Path(__file__).resolve().parent.parent


def test_display_width_counts_chinese_as_two_cells():
    assert display_width("abc") == 3
    assert display_width("测温设备故障") == 12
    assert display_width("（体温高）") == 10
    assert display_width("e\u0301") == 1  # a combining accent takes no cell


def cell_columns(line: str) -> list[int]:
    """The display column where each two-space-separated cell starts."""
    starts, column, previous = [], 0, " "
    for index, char in enumerate(line):
        if char != " " and previous == " " and (index < 2 or line[index - 2 : index] == "  "):
            starts.append(column)
        column += display_width(char)
        previous = char
    return starts


def test_table_columns_stay_aligned_with_chinese_text():
    text = render_table(
        ["类别 kind", "门岗", "数量"],
        [("测温设备故障 sensor_fault", "gate-1", 3), ("放行", "东门门岗", 12345)],
        right=[2],
    )
    lines = text.splitlines()
    assert lines[1].replace(" ", "").strip("-") == ""
    widths = {display_width(line) for line in lines}
    assert len(widths) == 1  # the right-aligned numbers end in one column
    assert cell_columns(lines[0])[:2] == cell_columns(lines[2])[:2] == cell_columns(lines[3])[:2]


def test_pairs_pad_labels_by_display_width():
    lines = render_pairs([("门岗 kiosk", "gate-1"), ("last error", None)]).splitlines()
    assert [display_width(line.split("  ")[0]) for line in lines] == [10, 10]
    assert lines[1].rstrip() == "last error"  # None is an empty cell, never "None"


def test_terminal_log_lines_are_readable():
    stream = io.StringIO()
    setup_logging(stream=stream)
    logging.getLogger("kiosk.server").info("门岗 gate-1 已在 http://x/ 提供服务（kiosk serving）")
    logging.getLogger("kiosk.server").debug("hidden at INFO")
    line = stream.getvalue().strip()
    assert line.split(" ", 2)[1] == "信息" and "kiosk serving" in line
    assert "hidden" not in stream.getvalue()


def test_journal_lines_carry_the_priority_and_no_time(tmp_path, monkeypatch):
    path = tmp_path / "journal"
    with path.open("w") as stream:
        stat = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        assert is_journal(stream)
        setup_logging(stream=stream)
        logging.getLogger("kiosk.gate").info("测温设备已恢复（sensor recovered）")
        logging.getLogger("sync.client").warning("sync: hub unreachable")
    assert path.read_text().splitlines() == [
        "<6>kiosk.gate: 测温设备已恢复（sensor recovered）",
        "<4>sync.client: sync: hub unreachable",
    ]
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    assert not is_journal(io.StringIO())


def test_a_traceback_in_the_journal_keeps_its_priority():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", None, sys.exc_info())
    lines = JournalFormatter("%(name)s: %(message)s").format(record).splitlines()
    assert len(lines) > 2 and all(line.startswith("<3>") for line in lines)


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def run_server(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_hub_serve_on_a_busy_port_is_one_line(busy_port, tmp_path):
    """Regression: `hub serve` logged "serving" before binding, then died with a traceback."""
    db = f"sqlite:///{tmp_path}/hub.sqlite3"
    result = run_server(
        [
            "sync.hub.cli",
            "serve",
            "--db",
            db,
            "--keys",
            f"{tmp_path}/keys",
            "--port",
            str(busy_port),
        ]
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "serving" not in result.stderr
    assert result.stderr.strip() == (
        f"Error: 端口 {busy_port} 已被占用（address already in use: 127.0.0.1:{busy_port}）："
        "另一个程序在用它。停掉那个程序，或用 --port 换一个端口"
    )


def test_kiosk_serve_on_a_busy_port_is_one_line(busy_port, tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[kiosk]\ndata_dir = "{tmp_path}"\n[sensor]\nsimulate = true\n[web]\nport = {busy_port}\n'
    )
    result = run_server(["kiosk.cli", "serve", "--config", str(config)])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "serving" not in result.stderr
    assert f"Error: 端口 {busy_port} 已被占用" in result.stderr
    assert "web.port" in result.stderr


def test_hub_serve_says_serving_once_bound_at_info(tmp_path):
    port = free_port()
    db = f"sqlite:///{tmp_path}/hub.sqlite3"
    with subprocess.Popen(
        [
            *(sys.executable, "-m", "sync.hub.cli", "serve", "--db", db),
            *("--keys", f"{tmp_path}/keys", "--port", str(port)),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stderr is not None
        line = child.stderr.readline()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the port answers by the time the line is out
        child.terminate()
        child.wait(10)
        rest = child.stderr.read()
    assert f"信息 中心已在 http://127.0.0.1:{port}/ 提供服务（hub serving）" in line
    assert "WARNING" not in line + rest and "Traceback" not in rest


def test_doctor_says_how_to_synchronise_a_pi_clock(monkeypatch):
    from kiosk import doctor

    monkeypatch.setattr(doctor, "kernel_clock_synced", lambda: False)
    check = doctor.check_clock()
    assert check.status == doctor.WARN and "未同步" in check.detail
    assert "timedatectl set-ntp true" in check.fix and "timesyncd" in check.fix
    assert "RTC" in check.fix and "ds3231" in check.fix


def test_hub_tail_never_creates_a_database(tmp_path):
    from click.testing import CliRunner

    from sync.hub.cli import main as hub

    missing = tmp_path / "hub.sqlite3"
    result = CliRunner().invoke(hub, ["tail", "--db", f"sqlite:///{missing}"])
    assert result.exit_code == 1
    assert f"中心数据库不存在（no hub database）：{missing}" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_pdf_fonts_library_does_not_fill_the_log():
    """Found in a field trial: every register PDF logged a hundred fontTools INFO lines."""
    stream = io.StringIO()
    try:
        setup_logging(stream=stream)
        logging.getLogger("fontTools.subset").info("glyf pruned")
        logging.getLogger("sync.hub").info("导出登记表")
        assert "glyf" not in stream.getvalue() and "导出登记表" in stream.getvalue()
        setup_logging(verbose=True, stream=stream)
        logging.getLogger("fontTools.subset").debug("glyf pruned")
        assert "glyf" in stream.getvalue()
    finally:
        setup_logging()

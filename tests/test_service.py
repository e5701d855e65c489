"""What systemd relies on: READY, the watchdog, the units and the shell scripts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync.ops.notify import Watchdog
from tests.sync_fixtures import free_port

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_the_watchdog_pings_only_while_the_gate_loop_runs(notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # WatchdogSec=0.2: ping every 0.1 s
    alive = {"yes": True}
    watchdog = Watchdog(lambda within: alive["yes"])
    watchdog.start()
    try:
        assert notify_socket.recv(100) == b"WATCHDOG=1"
        alive["yes"] = False  # the loop hangs
        time.sleep(0.25)
        notify_socket.settimeout(0.5)
        drained = []
        try:
            while True:
                drained.append(notify_socket.recv(100))
        except TimeoutError:
            pass
        assert len(drained) <= 2  # at most the pings already in flight
    finally:
        watchdog.stop()


def test_kiosk_serve_says_ready_and_pings(notify_socket, tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[kiosk]\ndata_dir = "{tmp_path}"\n[sensor]\nsimulate = true\n'
        f"[web]\nport = {free_port()}\n"
    )
    env = {**os.environ, "WATCHDOG_USEC": "1000000"}
    with subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "serve", "--config", str(config)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
    ) as child:
        try:
            messages = [notify_socket.recv(200).decode() for _ in range(2)]
        finally:
            child.terminate()
            child.wait(10)
            assert child.stderr is not None
            child.stderr.close()
    assert messages[0].startswith("READY=1")
    assert messages[1] == "WATCHDOG=1"
    assert child.returncode == 0  # SIGTERM is a clean stop


def test_setup_sh_and_ci_are_shellcheck_clean():
    result = subprocess.run(
        ["shellcheck", "setup.sh", ".ci/run"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("unit", sorted(p.name for p in (REPO / "systemd").glob("*.service")))
def test_units_are_accepted_by_systemd_analyze(unit, tmp_path):
    # The full check, with the real programs in place, runs in the installed root
    # (tests/test_install.py); here every directive is checked with stand-in executables.
    text = (REPO / "systemd" / unit).read_text()
    stand_in = tmp_path / "program"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    for program in ("/opt/menwei/venv/bin/kiosk", "/opt/menwei/venv/bin/hub", "/usr/bin/cage"):
        text = text.replace(program, str(stand_in))
    (tmp_path / unit).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / unit)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr

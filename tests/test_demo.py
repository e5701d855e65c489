"""`./setup.sh demo` as a newcomer runs it: whole or not at all, on ports it names, with its own
hub, the README's steps without a traceback or a WARNING, and nothing left running afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.gate_helpers import wait_until
from tests.sync_fixtures import free_port

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
READY_LINE = "按 Ctrl-C 停止演示"


class OtherProgram(ThreadingHTTPServer):
    """Another program's "hub" on the port the demo wants: it accepts any enrolment."""

    requests: list[str]


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        body = json.dumps({"kiosk_id": "demo-gate", "token": "forged"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_program() -> Iterator[OtherProgram]:
    server = OtherProgram(("127.0.0.1", 0), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Demo:
    def __init__(self, demo_dir: Path, kiosk_port: int, hub_port: int) -> None:
        env = {
            **os.environ,
            "MENWEI_DEMO_DIR": str(demo_dir),
            "MENWEI_DEMO_KIOSK_PORT": str(kiosk_port),
            "MENWEI_DEMO_HUB_PORT": str(hub_port),
        }
        env.pop("MENWEI_CONFIG", None)
        self.process = subprocess.Popen(
            [str(REPO / "setup.sh"), "demo"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = 90) -> None:
        def printed_or_ended() -> str | None:
            if any(text in line for line in self.lines):
                return "printed"
            if self.process.poll() is not None:
                self._reader.join(5)
                return "printed" if any(text in line for line in self.lines) else "ended"
            return None

        try:
            outcome = wait_until(printed_or_ended, timeout_s, interval=0.1, what=repr(text))
        except AssertionError:
            outcome = "timed out"
        if outcome != "printed":
            raise AssertionError(f"no {text!r} ({outcome}) in:\n" + "\n".join(self.lines))

    def line_with(self, text: str) -> str:
        return next(line for line in self.lines if text in line)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self._reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code

    def nothing_left_running(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return True
        return False


def screen_of(kiosk_url: str) -> str:
    return requests.get(f"{kiosk_url}/api/state", timeout=5).json()["screen"]


def run(args: list[str], transcript: list[str]) -> str:
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60)
    shown = " ".join(str(a).replace(str(REPO) + "/", "") for a in args)
    transcript += [f"$ {shown}", result.stdout.rstrip(), result.stderr.rstrip()]
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def assert_clean(transcript: list[str]) -> None:
    text = "\n".join(transcript)
    assert "Traceback" not in text
    assert "WARNING" not in text and "警告" not in text, text


def test_demo_with_both_ports_taken_runs_on_free_ports_with_its_own_hub(tmp_path, other_program):
    hub_port = other_program.server_address[1]
    demo = Demo(tmp_path / "demo", kiosk_port=hub_port, hub_port=hub_port)
    transcript: list[str] = []
    try:
        demo.wait_for(READY_LINE)
        transcript += demo.lines
        kiosk_note = demo.line_with(f"端口 {hub_port} 已被占用，门岗 kiosk 改用端口")
        hub_note = demo.line_with(f"端口 {hub_port} 已被占用，中心 hub 改用端口")
        kiosk_port = int(kiosk_note.split("改用端口 ")[1].split("（")[0])
        new_hub_port = int(hub_note.split("改用端口 ")[1].split("（")[0])
        kiosk_url = f"http://127.0.0.1:{kiosk_port}"
        assert f"{kiosk_url}/guard" in demo.line_with("门卫屏 guard")
        assert f"http://127.0.0.1:{new_hub_port}/admin/" in demo.line_with("中心管理 hub admin")
        # The README's steps, on the ports the demo named.
        config = str(tmp_path / "demo" / "kiosk.toml")
        hub_db = f"sqlite:///{tmp_path / 'demo' / 'hub.sqlite3'}"
        kiosk = str(BIN / "kiosk")

        def shows(screen: str) -> Callable[[], bool]:
            return lambda: screen_of(kiosk_url) == screen

        for step, screen in (
            (["person", "36.6"], "admitted"),
            (["leave"], "idle"),
            (["person", "38.2"], "blocked"),
        ):
            run([kiosk, "sim", "--url", kiosk_url, *step], transcript)
            wait_until(shows(screen), 30, interval=0.1, what=f"the kiosk's {screen} screen")
        run([kiosk, "sim", "--url", kiosk_url, "leave"], transcript)  # the block awaits a guard
        run([kiosk, "sim", "--url", kiosk_url, "fault", "unplugged"], transcript)
        wait_until(shows("sensor_fault"), 30, interval=0.1, what="the sensor fault screen")
        run([kiosk, "sim", "--url", kiosk_url, "clear"], transcript)
        wait_until(lambda: screen_of(kiosk_url) != "sensor_fault", 30, what="the sensor back")
        assert "哈希链完好" in run([kiosk, "verify", "--config", config], transcript)
        counts = run([kiosk, "counts", "--config", config, "--json"], transcript)
        assert json.loads(counts)["counts"]["admitted"] >= 1
        run([kiosk, "sensor", "--simulate", "--person", "37.0", "--count", "2"], transcript)

        def all_sent() -> bool:
            status = json.loads(run([kiosk, "status", "--config", config, "--json"], []))
            return status["queue"] == 0 and bool(status.get("last_success"))

        wait_until(all_sent, 40, interval=1, what="the kiosk's records at the hub")
        run([kiosk, "status", "--config", config], transcript)
        tail = run([str(BIN / "hub"), "tail", "--db", hub_db], transcript)
        # The demo's own hub holds the kiosk's records: the kiosk enrolled with it...
        assert tail.count("demo-gate") >= 4 and "38.2" in tail
        # ...and the other program on the wanted port was never asked for anything.
        assert other_program.requests == []
    finally:
        code = demo.stop()
    transcript += demo.lines[len(transcript) :]
    assert code == 0
    assert "演示已停止" in demo.lines[-1]
    assert demo.nothing_left_running()
    assert_clean(demo.lines + transcript)


def test_a_demo_whose_hub_cannot_start_stops_whole_with_one_line(tmp_path):
    demo_dir = tmp_path / "demo"
    (demo_dir / "hub.sqlite3").mkdir(parents=True)  # the hub cannot open its database
    demo = Demo(demo_dir, kiosk_port=free_port(), hub_port=free_port())
    demo.process.wait(90)
    code = demo.stop()
    assert code == 1
    last = demo.lines[-1]
    assert last.startswith("==> 演示未能运行（demo stopped）：中心 hub 没有启动")
    assert "./setup.sh demo" in last
    assert not any("kiosk serving" in line for line in demo.lines)  # never got that far
    assert not any("Traceback" in line for line in demo.lines)
    assert demo.nothing_left_running()
    assert not (demo_dir / "hub_token").exists()


def test_the_demo_session_in_the_docs_is_clean():
    text = (REPO / "docs" / "demo-session.md").read_text(encoding="utf-8")
    assert "./setup.sh demo" in text and "kiosk serving" in text and "hub serving" in text
    assert_clean([text])


def test_ports_and_config_follow_what_is_free(tmp_path):
    """Unit: a busy port is replaced and named; the demo's kiosk.toml follows the ports."""
    import socket

    from kiosk.demo_run import choose_ports, point_config_at

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        free = free_port()
        ports = choose_ports(busy, free)
    assert ports.kiosk != busy and ports.hub == free
    assert ports.notes == [
        f"端口 {busy} 已被占用，门岗 kiosk 改用端口 {ports.kiosk}（port {busy} is busy）"
    ]
    config = tmp_path / "kiosk.toml"
    config.write_text('# mine\n[kiosk]\nid = "x"\n\n[web]\nport = 8080\n', encoding="utf-8")
    point_config_at(config, 9999, "http://127.0.0.1:7777")
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# mine\n") and "port = 9999" in text
    assert '[sync]\nhub_url = "http://127.0.0.1:7777"' in text


def test_a_demo_whose_hub_database_was_deleted_enrols_again(tmp_path):
    demo_dir = tmp_path / "demo"
    first = Demo(demo_dir, kiosk_port=free_port(), hub_port=free_port())
    try:
        first.wait_for(READY_LINE)
    finally:
        assert first.stop() == 0
    for name in ("hub.sqlite3", "hub.sqlite3-wal", "hub.sqlite3-shm"):
        (demo_dir / name).unlink(missing_ok=True)
    second = Demo(demo_dir, kiosk_port=free_port(), hub_port=free_port())
    try:
        second.wait_for(READY_LINE)
        config = str(demo_dir / "kiosk.toml")

        def status() -> dict:
            command = [str(BIN / "kiosk"), "status", "-q", "--config", config, "--json"]
            return json.loads(run(command, []))

        wait_until(lambda: status().get("last_success"), 30, interval=1, what="a sync")
        assert not status().get("revoked"), status()
    finally:
        assert second.stop() == 0
    assert second.nothing_left_running()

"""``./setup.sh demo`` after the seeding: the hub and the kiosk here, whole or not at all.

- Ports are checked first; a busy one is replaced by a free one, and the line says which.
- Each server is started with its own sd_notify socket and counts as up only when *it* says
  ``READY=1`` (it says so once bound), so another program answering on the port is never taken for
  the demo's hub. A first enrolment also proves it: the one-time code was made in the demo's own
  database, and only that hub accepts it.
- When any step fails, what was started is stopped and one line says what to do.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kiosk.clock import kernel_clock_synced
from kiosk.config import Config, ConfigError, load_config
from kiosk.enrolment import token_path
from sync.ops.ports import pick_free_port, port_is_free

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0


class DemoError(RuntimeError):
    """A step of the demo failed; the message is the one line the newcomer reads."""


@dataclass
class Ports:
    kiosk: int
    hub: int
    notes: list[str]


def choose_ports(kiosk: int, hub: int, host: str = HOST) -> Ports:
    """The wanted ports when free, otherwise free ones, with a note for each one replaced."""
    notes: list[str] = []
    chosen: dict[str, int] = {}
    for name, label, wanted in (("kiosk", "门岗 kiosk", kiosk), ("hub", "中心 hub", hub)):
        port = wanted
        if not port_is_free(host, port) or port in chosen.values():
            port = pick_free_port(host)
            notes.append(
                f"端口 {wanted} 已被占用，{label} 改用端口 {port}（port {wanted} is busy）"
            )
        chosen[name] = port
    return Ports(chosen["kiosk"], chosen["hub"], notes)


def point_config_at(config: Path, kiosk_port: int, hub_url: str) -> None:
    """Keep the demo's kiosk.toml on this run's ports (``web.port``, ``sync.hub_url``)."""
    text = config.read_text(encoding="utf-8")
    settings = tomllib.loads(text)
    if (
        settings.get("web", {}).get("port") == kiosk_port
        and settings.get("sync", {}).get("hub_url") == hub_url
    ):
        return
    text = _set_in_section(text, "web", "port", str(kiosk_port))
    text = _set_in_section(text, "sync", "hub_url", f'"{hub_url}"')
    config.write_text(text, encoding="utf-8")


def _set_in_section(text: str, section: str, key: str, value: str) -> str:
    lines = text.splitlines()
    current = None
    for index, line in enumerate(lines):
        header = re.match(r"\s*\[([^\]]+)\]\s*$", line)
        if header:
            current = header.group(1).strip()
            continue
        if current == section and re.match(rf"\s*{re.escape(key)}\s*=", line):
            lines[index] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    if f"[{section}]" not in text:
        lines += ["", f"[{section}]"]
    at = next(i for i, line in enumerate(lines) if line.strip() == f"[{section}]")
    lines.insert(at + 1, f"{key} = {value}")
    return "\n".join(lines) + "\n"


class Child:
    """A server the demo started, with its own notify socket for its READY."""

    def __init__(self, name: str, argv: list[str], workdir: Path) -> None:
        self.name = name
        self.socket_path = workdir / f"{name}.notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.socket_path))
        env = {**os.environ, "NOTIFY_SOCKET": str(self.socket_path)}
        env.pop("WATCHDOG_USEC", None)
        self.process = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoError(f"{self.name} 没有启动（exited with {self.process.returncode}）")
            self.sock.settimeout(0.2)
            try:
                message = self.sock.recv(4096).decode(errors="replace")
            except TimeoutError:
                continue
            if "READY=1" in message.split("\n"):
                return
        raise DemoError(f"{self.name} 在 {timeout_s:.0f} 秒内没有就绪（not ready）")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.sock.close()


def _settings(config: Path) -> Config:
    try:
        return load_config(config)
    except ConfigError as exc:
        raise DemoError(str(exc)) from None


def _die_with_parent() -> None:
    """In the child: stop when the demo itself is killed (SIGKILL leaves no chance to clean up)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise DemoError(f"{what}失败：{reason}")
    return result.stdout.strip()


def run_demo(demo_dir: Path, bin_dir: Path, kiosk_port: int, hub_port: int, guard_pin: str) -> int:
    demo_dir = demo_dir.resolve()
    config = demo_dir / "kiosk.toml"
    kiosk, hub = str(bin_dir / "kiosk"), str(bin_dir / "hub")
    hub_db = f"sqlite:///{demo_dir / 'hub.sqlite3'}"
    children: list[Child] = []

    def stop_all(signum: int = 0, frame: object = None) -> None:
        for child in reversed(children):
            child.stop()
        children.clear()

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    # Ctrl-C stops the demo even when started from a shell that ignores SIGINT for its jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="menwei-demo-") as workdir:
        try:
            settings = _settings(config)
            ports = choose_ports(kiosk_port, hub_port)
            for note in ports.notes:
                say(note)
            hub_url = f"http://{HOST}:{ports.hub}"
            point_config_at(config, ports.kiosk, hub_url)
            # A hub database made afresh (deleted, or a first run) knows no admin and no kiosk.
            new_hub = not (demo_dir / "hub.sqlite3").exists()
            hub_child = Child(
                "中心 hub",
                [
                    *(hub, "serve", "--db", hub_db, "--keys", str(demo_dir / "hub-keys")),
                    *("--host", HOST, "--port", str(ports.hub)),
                ],
                Path(workdir),
            )
            children.append(hub_child)
            hub_child.wait_ready()
            password_file = demo_dir / "admin-password"
            if new_hub or not password_file.exists():
                password = _random_password()
                cmd = [hub, "admin-create", "--db", hub_db, "--password", password, "admin"]
                _run(cmd, "创建中心管理员 ")
                password_file.write_text(password + "\n")
            if new_hub or not token_path(settings.data_dir).exists():
                code = _run([hub, "enrol-code", "--db", hub_db, settings.kiosk.id], "生成注册码 ")
                _run(
                    [kiosk, "-q", "enrol", "--config", str(config), "--code", code],
                    f"门岗向中心 {hub_url} 注册 ",
                )
            if new_hub:
                # The demo guard is the hub's, as a compound's guards are: the hub's settings
                # list them, 排班 can schedule them, and the roster the hub sends keeps them
                # on the kiosk whatever else is added there (README: 演示门卫). After the
                # enrolment: a guard goes only on a gate the compound has.
                _run(
                    [
                        *(hub, "roster", "guard", "--db", hub_db, "--pin", guard_pin),
                        *("--gate", settings.kiosk.id, "demo", "演示门卫"),
                    ],
                    "在中心添加演示门卫 ",
                )
            kiosk_child = Child(
                "门岗 kiosk", [kiosk, "serve", "--config", str(config)], Path(workdir)
            )
            children.append(kiosk_child)
            kiosk_child.wait_ready()
            summary = Summary(ports, hub_db, password_file.read_text().strip(), guard_pin)
            print_summary(demo_dir, bin_dir, summary)
            while all(child.process.poll() is None for child in children):
                time.sleep(0.5)
            gone = next(child for child in children if child.process.poll() is not None)
            raise DemoError(f"{gone.name} 意外退出（exited with {gone.process.returncode}）")
        except (DemoError, OSError) as exc:
            stop_all()
            say(
                f"演示未能运行（demo stopped）：{exc}。它启动的程序已全部停止；"
                "按上面的提示处理后重新运行 ./setup.sh demo"
            )
            return 1
        except (KeyboardInterrupt, SystemExit):
            stop_all()
            say("演示已停止（demo stopped）：门岗和中心都已退出，数据留在 " + _shown(demo_dir))
            return 0
        finally:
            stop_all()


def _random_password() -> str:
    import secrets

    return secrets.token_urlsafe(12)


def say(line: str) -> None:
    print(f"==> {line}", file=sys.stderr, flush=True)


@dataclass
class Summary:
    ports: Ports
    hub_db: str
    password: str
    guard_pin: str


def _shown(path: Path) -> str:
    """A path as the newcomer typed it: relative to the current directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_summary(demo_dir: Path, bin_dir: Path, summary: Summary) -> None:
    ports, hub_db, password = summary.ports, summary.hub_db, summary.password
    kiosk_url = f"http://{HOST}:{ports.kiosk}"
    hub_url = f"http://{HOST}:{ports.hub}"
    url_option = "" if ports.kiosk == 8080 else f" --url {kiosk_url}"
    config = _shown(demo_dir / "kiosk.toml")
    tools = _shown(bin_dir)
    lines = [
        f"触摸屏 kiosk:       {kiosk_url}/        （通行码 passes 10010301, 10010302）",
        f"门卫屏 guard:       {kiosk_url}/guard   （门卫 演示门卫, PIN {summary.guard_pin}）",
        f"模拟控制 control:   {kiosk_url}/demo    （或 {tools}/kiosk sim{url_option} person 38.2）",
        f"台账 ledger:        {_shown(demo_dir)}/ledger.sqlite3"
        f"（{tools}/kiosk verify --config {config}）",
        f"中心管理 hub admin: {hub_url}/admin/  （用户 admin, 密码 {password}）",
        f"中心接口 hub API:   {hub_url}/api/v1/openapi.json",
        f"收到的记录 records: {tools}/hub tail --follow --db {hub_db}",
    ]
    if not kernel_clock_synced():
        lines.append(
            "时钟 clock:         记录会标“时钟未同步”（clock not synchronised）：本机内核没有报告"
            " NTP 同步（容器、虚拟机里常见），演示照常运行，记录顺序以序号为准；"
            "树莓派上如何同步见 kiosk doctor"
        )
    lines.append("按 Ctrl-C 停止演示（stops the kiosk and the hub）")
    for line in lines:
        say(line)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m kiosk.demo_run DEMO_DIR GUARD_PIN", file=sys.stderr)
        return 2
    kiosk_port = int(os.environ.get("MENWEI_DEMO_KIOSK_PORT", "8080"))
    hub_port = int(os.environ.get("MENWEI_DEMO_HUB_PORT", "8090"))
    bin_dir = Path(sys.executable).parent
    return run_demo(Path(args[0]), bin_dir, kiosk_port, hub_port, args[1])


if __name__ == "__main__":
    sys.exit(main())

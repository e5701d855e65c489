"""``setup.sh install`` in a clean Debian Bookworm root made with debootstrap, on amd64 and on
arm64 (a Raspberry Pi's own architecture, run under qemu-user emulation through binfmt_misc).

Each root is made once per machine and architecture and kept as a tarball; apt's and pip's
downloads are cached beside it. Each test unpacks a fresh copy, with /boot/firmware/config.txt
standing in for a Raspberry Pi's boot partition (the hardware parts are faked: no sensor, no GPIO,
no display). pip installs from wheels only and no compiler is in the root: a Pi has none, so a
package without a wheel for its architecture must fail here, not at the first gate.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.voice import PROMPTS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("MENWEI_TEST_CACHE", "/var/cache/menwei-tests"))
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PI_BOOT_CONFIG = "# Raspberry Pi OS\narm_64bit=1\ndtoverlay=vc4-kms-v3d\n"


def host_mirror() -> str:
    """The Debian mirror this machine's apt uses (never a host written into the code)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        if line.startswith("deb "):
            return line.split()[1]
    raise RuntimeError("no Debian mirror configured in /etc/apt")


# Debian's architecture -> the name qemu-user-static registers with binfmt_misc.
ARCHITECTURES = {"amd64": "x86_64", "arm64": "aarch64"}
COMPILERS = ("cc", "gcc", "c++", "g++", "clang", "rustc", "cargo")


def host_architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def emulation_problem(arch: str) -> str | None:
    """Why this machine cannot run ``arch`` binaries in a chroot, or None when it can (its own
    architecture, or qemu registered with binfmt_misc with the F flag: the interpreter is opened
    at registration, so the root needs no copy of it)."""
    if arch == host_architecture():
        return None
    entry = Path("/proc/sys/fs/binfmt_misc") / f"qemu-{ARCHITECTURES[arch]}"
    if not entry.exists():
        return (
            f"no {arch} emulation: {entry} is missing (apt-get install qemu-user-static"
            " binfmt-support; ./setup.sh test does, and registers it)"
        )
    lines = entry.read_text().splitlines()
    flags = next((line.split(":", 1)[1] for line in lines if line.startswith("flags:")), "")
    if lines[0] != "enabled" or "F" not in flags:
        return f"{entry} is {lines[0]} with flags '{flags.strip()}': needs enabled, flag F"
    return None


def bookworm_tarball(arch: str) -> Path:
    tarball = CACHE / f"bookworm-{arch}-minbase.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / f"build-{arch}"
    shutil.rmtree(build, ignore_errors=True)
    subprocess.run(
        [
            "debootstrap",
            f"--arch={arch}",
            "--variant=minbase",
            "--include=systemd,python3,ca-certificates,passwd",
            "bookworm",
            str(build),
            host_mirror(),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["tar", "-C", str(build), "-cf", str(tarball) + ".part", "."], check=True)
    os.replace(str(tarball) + ".part", tarball)
    shutil.rmtree(build)
    return tarball


@pytest.fixture(params=sorted(ARCHITECTURES))
def root(request, tmp_path) -> Iterator[Path]:
    """A fresh Bookworm root of the architecture in the test's id (amd64, arm64)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, mounts): run ./setup.sh test as root, as CI does")
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: ./setup.sh test installs it")
    arch = request.param
    problem = emulation_problem(arch)
    if problem is not None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must test the Pi's architecture: {problem}")
        pytest.skip(problem)
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xf", str(bookworm_tarball(arch))], check=True)
    machine = in_root(root, "uname -m").stdout.strip()
    assert machine == ARCHITECTURES[arch], f"the {arch} root runs as {machine!r}"
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text(PI_BOOT_CONFIG)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    # This machine reaches the package registries through its own trust store; the root gets a
    # copy of it, as a Pi on such a network would be given its CA.
    shutil.copy(HOST_CA_BUNDLE, root / "etc/ssl/certs/host-ca-bundle.crt")
    source = root / "root/menwei"
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        if (REPO / name).exists():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    mounts = [
        (["-t", "proc", "proc"], root / "proc"),
        (["--bind", str(CACHE / "apt-archives")], root / "var/cache/apt/archives"),
        (["--bind", str(CACHE / "pip")], root / "root/.cache/pip"),
    ]
    (CACHE / "apt-archives/partial").mkdir(parents=True, exist_ok=True)
    (CACHE / "pip").mkdir(parents=True, exist_ok=True)
    mounted = []
    try:
        for options, target in mounts:
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", *options, str(target)], check=True)
            mounted.append(target)
        yield root
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)


def in_root(root: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chroot", str(root), "/bin/bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=1500,
        env={
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "PIP_CERT": "/etc/ssl/certs/host-ca-bundle.crt",
            # Wheels only (the project itself is pure Python and builds without a compiler).
            "PIP_ONLY_BINARY": ":all:",
        },
    )


def snapshot(root: Path) -> dict[str, tuple]:
    """Path -> (type, mode, uid, gid, content hash or link target) of what the install touches."""
    seen: dict[str, tuple] = {}
    for top in ("etc", "opt/menwei", "var/lib/menwei", "boot"):
        for path in sorted((root / top).rglob("*")):
            relative = str(path.relative_to(root))
            if "__pycache__" in relative or relative.endswith((".pyc", "ld.so.cache")):
                continue
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                content = ""
            seen[relative] = (
                stat.S_IFMT(info.st_mode),
                stat.S_IMODE(info.st_mode),
                info.st_uid,
                info.st_gid,
                content,
            )
    return seen


def user_entry(root: Path, name: str) -> list[str] | None:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def group_members(root: Path, group: str) -> list[str]:
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == group:
            return [m for m in fields[3].split(",") if m]
    return []


SCREEN_TWO_PEOPLE = """
import sys, time
from gpiozero.pins.mock import MockFactory
from kiosk.config import load_config
from kiosk.server import start_in_background

kiosk = start_in_background(load_config(sys.argv[1]), pin_factory=MockFactory())


def wait_for(*screens, timeout=180.0):
    # Generous: under emulation Python runs several times slower than on a Pi.
    deadline = time.monotonic() + timeout
    state = kiosk.gate.screen.snapshot()
    while state["screen"] not in screens:
        if time.monotonic() > deadline:
            sys.exit(f"the screen stayed {state['screen']!r}, expected {screens}")
        state = kiosk.gate.screen.wait(state["version"], 1.0)
    return state


try:
    wait_for("idle")
    scene = kiosk.hardware.simulator.scene
    for core in (36.6, 38.2):
        scene.person(core)
        state = wait_for("admitted", "blocked")
        print("screened", core, state["screen"], state["estimate_c"], state["recorded"])
        scene.leave()
        if state["screen"] == "admitted":
            wait_for("idle")
    deadline = time.monotonic() + 60
    while "alarm" not in [e["kind"] for e in kiosk.ledger.events()]:  # the fever alarm's record
        if time.monotonic() > deadline:
            sys.exit("no alarm recorded for the blocked person")
        time.sleep(0.2)
    print("ledger", [(e["kind"], e.get("verdict")) for e in kiosk.ledger.events()])
finally:
    kiosk.stop()
"""

# The installed kiosk, the real driver on the simulated chip, mock pins: screening as the gate
# does, its ledger beside the real one's place (as the service user).
SIMULATED_KIOSK_TOML = """
[kiosk]
id = "gate-sim"
data_dir = "/var/lib/menwei/simulated"
identify = "off"

[sensor]
simulate = true

[gpio]
relay_pin = 23
"""


def fake_pi(root: Path) -> str:
    """A Raspberry Pi's device nodes and device tree under a prefix in ``root`` (``kiosk
    doctor`` reads /dev, /proc, /boot and /etc through MENWEI_DEV_PREFIX): the nodes owned by the
    groups Raspberry Pi OS gives them, /boot and /etc the root's own, which the install wrote."""
    prefix = "/srv/fake-pi"
    script = f"""
set -e
mkdir -p {prefix}/dev {prefix}/proc/device-tree/soc/i2c@7e804000
mknod -m 0660 {prefix}/dev/i2c-1 c 89 1 && chgrp i2c {prefix}/dev/i2c-1
mknod -m 0660 {prefix}/dev/gpiochip0 c 254 0 && chgrp gpio {prefix}/dev/gpiochip0
printf '\\000\\001\\206\\240' > {prefix}/proc/device-tree/soc/i2c@7e804000/clock-frequency
ln -s /boot {prefix}/boot && ln -s /etc {prefix}/etc && ln -s /home {prefix}/home
"""
    made = in_root(root, script)
    assert made.returncode == 0, made.stderr
    return prefix


def doctor_lines(output: str) -> dict[str, str]:
    """``kiosk doctor``'s output: check name -> its line (mark, name, detail)."""
    lines = {}
    for line in output.splitlines():
        if line[:2] in ("✓ ", "✗ ", "! ", "- "):
            lines[line[2:24].strip()] = line
    return lines


def test_install_on_a_clean_bookworm_root(root):
    first = in_root(root, "cd /root/menwei && ./setup.sh install")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Menwei kiosk install:" in first.stdout

    # Everything came as a package or a wheel for this architecture: a Pi has no compiler, and
    # pip was not allowed to build anything (PIP_ONLY_BINARY); Chromium and cage are Debian's.
    compilers = in_root(root, f"command -v {' '.join(COMPILERS)}")
    assert compilers.stdout == "", compilers.stdout
    venv = in_root(
        root, "/opt/menwei/venv/bin/python -c 'import platform; print(platform.machine())'"
    )
    assert venv.stdout.strip() == in_root(root, "uname -m").stdout.strip()
    packages = in_root(root, "dpkg-query -W -f='${Package} ${Status}\\n' chromium cage")
    assert packages.stdout.count("install ok installed") == 2, packages.stdout

    # The program, its configuration and its data directory.
    assert in_root(root, "/opt/menwei/venv/bin/kiosk --help").returncode == 0
    assert (root / "etc/menwei/kiosk.toml").exists()

    # A kiosk carries none of the hub's packages; the hub command says what to install.
    listed = in_root(root, "/opt/menwei/venv/bin/python -m pip list --format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.split()}
    assert installed & {"psycopg", "psycopg-binary", "openpyxl", "lxml", "segno", "fpdf2"} == set()
    hub = in_root(root, "/opt/menwei/venv/bin/hub serve")
    assert hub.returncode == 1 and "中心程序缺少软件包" in hub.stderr, hub.stderr
    data = (root / "var/lib/menwei").stat()
    menwei = user_entry(root, "menwei")
    assert menwei is not None and menwei[6] == "/usr/sbin/nologin"
    assert (data.st_uid, stat.S_IMODE(data.st_mode)) == (int(menwei[2]), 0o750)
    assert "menwei" in group_members(root, "i2c") and "menwei" in group_members(root, "gpio")
    assert "menwei" in group_members(root, "audio")  # the spoken prompts play through ALSA
    assert sorted(p.name for p in (root / "var/lib/menwei/voice").iterdir()) == sorted(
        f"{name}.wav" for name in PROMPTS
    )
    assert "menwei-display" in group_members(root, "video")

    # I2C on, at 100 kHz, and i2c-dev loaded at boot.
    config = (root / "boot/firmware/config.txt").read_text()
    assert "dtparam=i2c_arm=on" in config and "dtparam=i2c_arm_baudrate=100000" in config
    assert (root / "etc/modules-load.d/menwei-i2c.conf").read_text().strip() == "i2c-dev"

    # Units installed and enabled; systemd accepts them in the installed root.
    for unit in ("menwei-kiosk.service", "menwei-browser.service"):
        assert (root / "etc/systemd/system" / unit).exists()
    assert (root / "etc/systemd/system/multi-user.target.wants/menwei-kiosk.service").is_symlink()
    assert (root / "etc/systemd/system/graphical.target.wants/menwei-browser.service").is_symlink()
    for unit in ("menwei-kiosk.service", "menwei-browser.service"):
        verify = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", f"--root={root}", unit],
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stderr
    assert (root / "etc/systemd/journald.conf.d/menwei.conf").exists()

    # The kiosk runs in the installed root, and doctor explains the (faked) missing hardware.
    doctor = in_root(root, "/opt/menwei/venv/bin/kiosk doctor --config /etc/menwei/kiosk.toml")
    assert doctor.returncode == 1
    assert "/dev/i2c-1 does not exist" in doctor.stdout and "raspi-config" in doctor.stdout
    checks = doctor_lines(doctor.stdout)
    assert checks["GPIO"].startswith("✗") and "gpiochip" in checks["GPIO"]
    # What the install set up for the next boot, and the screen's stack, are found as they are.
    assert (
        checks["I2C in config.txt"].startswith("✓") and "100000 Hz" in checks["I2C in config.txt"]
    )
    assert checks["display"].startswith("✓"), checks["display"]
    assert checks["screen blanking"].startswith("✓"), checks["screen blanking"]
    assert checks["clock"].startswith(("✓", "!"))

    # On a (faked) Pi, as the service user: its groups reach the I2C bus and the GPIO chip, the
    # bus runs at 100 kHz; the sensor itself is not there. A desktop session with an idle timer
    # is named.
    prefix = fake_pi(root)
    (root / "home/pi/.config/labwc").mkdir(parents=True)
    (root / "home/pi/.config/labwc/autostart").write_text(
        "swayidle -w timeout 600 'wlopm --off \\*' &\n"
    )
    (root / "etc/systemd/system/display-manager.service").symlink_to(
        "/lib/systemd/system/lightdm.service"
    )
    doctor = in_root(
        root,
        f"MENWEI_DEV_PREFIX={prefix} runuser -u menwei --"
        " /opt/menwei/venv/bin/kiosk doctor --config /etc/menwei/kiosk.toml",
    )
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    checks = doctor_lines(doctor.stdout)
    assert checks["I2C bus"].startswith("✓") and f"{prefix}/dev/i2c-1" in checks["I2C bus"]
    assert checks["I2C bus speed"].startswith("✓") and "100000 Hz" in checks["I2C bus speed"]
    assert checks["GPIO"].startswith("✓") and f"{prefix}/dev/gpiochip0" in checks["GPIO"]
    assert checks["MLX90614 at 0x5A"].startswith("✗")
    assert checks["display"].startswith("!") and "lightdm.service" in doctor.stdout
    assert checks["screen blanking"].startswith("!") and "do_blanking 1" in doctor.stdout
    for path in ("home/pi", "etc/systemd/system/display-manager.service"):
        subprocess.run(["rm", "-rf", str(root / path)], check=True)

    # A kiosk in this root screens a 36.6 °C and a 38.2 °C person through the real driver on
    # the simulated chip, and its ledger verifies.
    (root / "etc/menwei/simulated.toml").write_text(SIMULATED_KIOSK_TOML)
    (root / "opt/menwei/screen_two_people.py").write_text(SCREEN_TWO_PEOPLE)
    as_menwei = "runuser -u menwei -- /opt/menwei/venv/bin"
    screened = in_root(
        root,
        f"{as_menwei}/python /opt/menwei/screen_two_people.py /etc/menwei/simulated.toml",
    )
    (root / "opt/menwei/screen_two_people.py").unlink()
    assert screened.returncode == 0, screened.stdout + screened.stderr
    assert "screened 36.6 admitted 36.6 True" in screened.stdout, screened.stdout
    assert "screened 38.2 blocked 38.2 True" in screened.stdout, screened.stdout
    assert "('screening', 'admitted'), ('screening', 'blocked'), ('alarm'" in screened.stdout
    verified = in_root(root, f"{as_menwei}/kiosk verify --json --config /etc/menwei/simulated.toml")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["checked"] >= 3 and report["chain_ok"] and report["integrity_ok"], report

    # A second run changes nothing.
    before = snapshot(root)
    second = in_root(root, "cd /root/menwei && ./setup.sh install")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "is up to date" in second.stdout
    assert snapshot(root) == before

    # Uninstall removes the programs and keeps the configuration and the ledger.
    (root / "var/lib/menwei/ledger.sqlite3").write_bytes(b"records")
    ledgers = {p: p.read_bytes() for p in (root / "var/lib/menwei/simulated").glob("ledger*")}
    removed = in_root(root, "cd /root/menwei && ./setup.sh uninstall")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not (root / "opt/menwei").exists()
    assert not (root / "etc/systemd/system/menwei-kiosk.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/menwei-kiosk.service").exists()
    assert (root / "etc/menwei/kiosk.toml").exists()
    assert (root / "var/lib/menwei/ledger.sqlite3").read_bytes() == b"records"
    assert ledgers and all(path.read_bytes() == data for path, data in ledgers.items())


SYNC_THROUGH_TLS = """
import time
from kiosk.config import load_config
from kiosk.ledger import Ledger
from kiosk.enrolment import token_path
from sync.client import SyncClient

config = load_config("/etc/menwei/kiosk.toml")
ledger = Ledger(config.data_dir / "ledger.sqlite3", config.kiosk.id)
ledger.append("screening", verdict="admitted", estimate_c=36.6, threshold_c=37.3)
token = token_path(config.data_dir).read_text().strip()
client = SyncClient(ledger, config.sync.hub_url, token, ca_file=config.sync.ca_file)
for _ in range(20):
    client.cycle()
    if client.state.queue == 0 and client.state.last_error is None:
        break
    time.sleep(0.5)
print("synced", client.state.queue, client.state.last_error, config.sync.ca_file)
"""

PAGES_AND_HEADERS = """
import re, sys, requests
ca = "/etc/menwei/hub-ca.crt"
s = requests.Session()
s.verify = ca
page = s.get("https://hub.example/admin/login", timeout=10)
csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
signed = s.post("https://hub.example/admin/login", timeout=10, allow_redirects=False,
    data={"username": "owner", "password": "a long password", "csrf": csrf})
print("login", signed.status_code, "Secure" in signed.headers.get("Set-Cookie", ""))
for path in sys.argv[1:]:
    r = s.get("https://hub.example" + path, timeout=10, allow_redirects=False)
    print("page", path, r.status_code, r.headers.get("Content-Security-Policy"),
          r.headers.get("X-Frame-Options"), r.headers.get("X-Content-Type-Options"),
          r.headers.get("Referrer-Policy"))
plain = requests.get("http://hub.example/admin/login", timeout=10, allow_redirects=False)
print("http", plain.status_code, plain.headers.get("Location"))
"""

HUB_PAGES = (
    "/admin/login",
    "/admin/dashboard",
    "/admin/summary",
    "/admin/ledger",
    "/admin/kiosks",
    "/admin/audit",
    "/admin/residents",
    "/admin/settings",
    "/admin/passes/sheet",
    "/api/v1/openapi.json",
)


def test_hub_install(root):
    # As in any chroot: packages do not start their services while installing (nginx would
    # take this machine's port 80); the test starts them itself in a network namespace.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    result = in_root(root, "cd /root/menwei && ./setup.sh install --hub --hub-name hub.example")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "etc/systemd/system/multi-user.target.wants/menwei-hub.service").is_symlink()
    assert user_entry(root, "menwei-hub") is not None
    assert not (root / "etc/systemd/system/menwei-kiosk.service").exists()
    assert in_root(root, "/opt/menwei/venv/bin/hub --help").returncode == 0
    # psycopg, lxml, Pillow (for fpdf2) came as wheels for this architecture, none was built.
    assert in_root(root, f"command -v {' '.join(COMPILERS)}").stdout == ""
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", "menwei-hub.service"],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr

    # The keys: files for the service user only, and nothing of them in the database.
    hub_user = user_entry(root, "menwei-hub")
    keys = root / "etc/menwei-hub/keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700 and keys.stat().st_uid == int(hub_user[2])
    for name in ("session.key", "id.key"):
        info = (keys / name).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, int(hub_user[2]))
        assert (keys / name).read_bytes() not in (
            root / "var/lib/menwei-hub/hub.sqlite3"
        ).read_bytes()

    # The hub listens on 127.0.0.1 only, behind nginx with the internal CA's certificate.
    unit = (root / "etc/systemd/system/menwei-hub.service").read_text()
    assert "MENWEI_HUB_HOST=127.0.0.1" in unit and "MENWEI_HUB_TLS_PROXY=1" in unit
    assert (
        "proxy_pass http://127.0.0.1:8090"
        in (root / "etc/nginx/sites-available/menwei-hub").read_text()
    )
    ca_key = (root / "etc/menwei-hub/tls/ca.key").stat()
    assert stat.S_IMODE(ca_key.st_mode) == 0o600
    assert not (root / "etc/nginx/sites-enabled/default").exists()

    # A kiosk installed with the hub's CA takes it as sync.ca_file.
    kiosk = in_root(
        root, "cd /root/menwei && ./setup.sh install --ca-file /etc/menwei-hub/tls/ca.crt"
    )
    assert kiosk.returncode == 0, kiosk.stdout + kiosk.stderr
    toml = (root / "etc/menwei/kiosk.toml").read_text()
    assert 'ca_file = "/etc/menwei/hub-ca.crt"' in toml
    (root / "etc/menwei/kiosk.toml").write_text(
        toml.replace("[sync]\n", '[sync]\nhub_url = "https://hub.example"\n')
    )
    # The kiosk reaches the hub by the name on its certificate (here through /etc/hosts).
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.0.1 hub.example\n")
    (root / "root/sync_check.py").write_text(SYNC_THROUGH_TLS)
    (root / "root/pages_check.py").write_text(PAGES_AND_HEADERS)

    # Run the installed stack in its own network namespace (nothing reaches this machine's
    # ports): the hub as its unit would, nginx in front, then the kiosk enrols and syncs.
    hub = "runuser -u menwei-hub -- /opt/menwei/venv/bin/hub"
    env = (
        "MENWEI_HUB_DB=sqlite:////var/lib/menwei-hub/hub.sqlite3"
        " MENWEI_HUB_KEYS=/etc/menwei-hub/keys MENWEI_HUB_TLS_PROXY=1"
    )
    script = f"""
set -e
export {env}
{hub} admin-create owner --role admin --password 'a long password' >/dev/null
code=$({hub} enrol-code gate-1)
{hub} serve --host 127.0.0.1 --port 8090 --tls-proxy & hub_pid=$!
trap 'kill $hub_pid; nginx -s stop' EXIT
nginx
up='import socket; socket.create_connection(("127.0.0.1", 8090))'
for i in $(seq 300); do python3 -c "$up" 2>/dev/null && break; sleep 0.2; done
sed -i 's/^id = .*/id = "gate-1"/' /etc/menwei/kiosk.toml
/opt/menwei/venv/bin/kiosk enrol --config /etc/menwei/kiosk.toml --code "$code"
/opt/menwei/venv/bin/python /root/sync_check.py
{hub} tail --last 5
/opt/menwei/venv/bin/python /root/pages_check.py {" ".join(HUB_PAGES)}
python3 -c 'import socket; socket.create_connection(("127.0.0.2", 8090))' 2>&1 | tail -n1 || true
"""
    stack = subprocess.run(
        [
            "unshare",
            "--net",
            "bash",
            "-c",
            'ip link set lo up && chroot "$0" /bin/bash -c "$1"',
            str(root),
            script,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"},
    )
    out = stack.stdout + stack.stderr
    assert stack.returncode == 0, out
    assert "enrolled as gate-1 with https://hub.example" in out
    assert "synced 0 None /etc/menwei/hub-ca.crt" in out
    assert "gate-1" in out.split("synced")[1]  # hub tail shows the record that arrived
    assert "login 302 True" in out  # the session cookie is Secure
    pages = [line.split() for line in out.splitlines() if line.startswith("page ")]
    assert [p[1] for p in pages] == list(HUB_PAGES)
    for line in pages:
        assert line[2] == "200", line
        assert "frame-ancestors 'none'" in " ".join(line) and "unsafe-inline" not in " ".join(line)
        assert line[-3:] == ["DENY", "nosniff", "no-referrer"], line
    assert "http 301 https://hub.example/admin/login" in out
    assert "Connection refused" in out  # the hub itself is not on other addresses

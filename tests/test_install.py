"""``setup.sh install`` in a clean Debian Bookworm root made with debootstrap.

The root is made once per machine and kept as a tarball; apt's and pip's downloads are cached
beside it. Each test unpacks a fresh copy, with /boot/firmware/config.txt standing in for a
Raspberry Pi's boot partition (the hardware parts are faked: no sensor, no GPIO, no display).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("MENWEI_TEST_CACHE", "/var/cache/menwei-tests"))
TARBALL = CACHE / "bookworm-minbase.tar"
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


def bookworm_tarball() -> Path:
    if TARBALL.exists():
        return TARBALL
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / "build"
    shutil.rmtree(build, ignore_errors=True)
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=systemd,python3,ca-certificates,passwd",
            "bookworm",
            str(build),
            host_mirror(),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["tar", "-C", str(build), "-cf", str(TARBALL) + ".part", "."], check=True)
    os.replace(str(TARBALL) + ".part", TARBALL)
    shutil.rmtree(build)
    return TARBALL


@pytest.fixture
def root(tmp_path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, mounts): run ./setup.sh test as root, as CI does")
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: ./setup.sh test installs it")
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xf", str(bookworm_tarball())], check=True)
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


def test_install_on_a_clean_bookworm_root(root):
    first = in_root(root, "cd /root/menwei && ./setup.sh install")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Menwei kiosk install:" in first.stdout

    # The program, its configuration and its data directory.
    assert in_root(root, "/opt/menwei/venv/bin/kiosk --help").returncode == 0
    assert (root / "etc/menwei/kiosk.toml").exists()
    data = (root / "var/lib/menwei").stat()
    menwei = user_entry(root, "menwei")
    assert menwei is not None and menwei[6] == "/usr/sbin/nologin"
    assert (data.st_uid, stat.S_IMODE(data.st_mode)) == (int(menwei[2]), 0o750)
    assert "menwei" in group_members(root, "i2c") and "menwei" in group_members(root, "gpio")
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

    # A second run changes nothing.
    before = snapshot(root)
    second = in_root(root, "cd /root/menwei && ./setup.sh install")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "is up to date" in second.stdout
    assert snapshot(root) == before

    # Uninstall removes the programs and keeps the configuration and the ledger.
    (root / "var/lib/menwei/ledger.sqlite3").write_bytes(b"records")
    removed = in_root(root, "cd /root/menwei && ./setup.sh uninstall")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not (root / "opt/menwei").exists()
    assert not (root / "etc/systemd/system/menwei-kiosk.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/menwei-kiosk.service").exists()
    assert (root / "etc/menwei/kiosk.toml").exists()
    assert (root / "var/lib/menwei/ledger.sqlite3").read_bytes() == b"records"


def test_hub_install(root):
    result = in_root(root, "cd /root/menwei && ./setup.sh install --hub")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "etc/systemd/system/multi-user.target.wants/menwei-hub.service").is_symlink()
    assert user_entry(root, "menwei-hub") is not None
    assert not (root / "etc/systemd/system/menwei-kiosk.service").exists()
    assert in_root(root, "/opt/menwei/venv/bin/hub --help").returncode == 0
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", "menwei-hub.service"],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr

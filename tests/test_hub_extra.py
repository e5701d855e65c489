"""The hub's packages are an extra: without them the kiosk runs and the ``hub`` command says, in
Chinese, what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sync.hub.extras import HUB_PACKAGES

ROOT = Path(__file__).resolve().parents[1]

# Runs the rest of a script as if the hub's packages were not installed (None in sys.modules:
# importing them raises ModuleNotFoundError, importlib.util.find_spec finds nothing).
WITHOUT_HUB_PACKAGES = f"""
import sys
sys.modules.update(dict.fromkeys({sorted(HUB_PACKAGES)!r}))
"""


def run_without_hub_packages(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_HUB_PACKAGES + script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_the_hub_command_says_what_to_install(tmp_path):
    script = "from sync.hub.cli import main; main()"
    result = run_without_hub_packages(script, "serve", "--db", f"sqlite:///{tmp_path}/h.sqlite3")
    assert result.returncode == 1
    assert "中心程序缺少软件包" in result.stderr and "menwei[hub]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "h.sqlite3").exists()


def test_the_kiosk_runs_without_the_hub_packages(tmp_path):
    """``kiosk doctor`` and a serving kiosk (simulated sensor) with none of the hub's packages."""
    (tmp_path / "kiosk.toml").write_text(
        f'[kiosk]\ndata_dir = "{tmp_path}/data"\n[sensor]\nsimulate = true\n'
    )
    script = f"""
import requests
from kiosk.config import load_config
from kiosk.server import start_in_background
from kiosk.cli import main
kiosk = start_in_background(load_config({str(tmp_path / "kiosk.toml")!r}))
try:
    print("serving", requests.get(kiosk.url + "/", timeout=10).status_code)
finally:
    kiosk.stop()
try:
    main(["doctor", "--config", {str(tmp_path / "kiosk.toml")!r}])
except SystemExit as exit:
    print("doctor exit", exit.code)
"""
    result = run_without_hub_packages(script)
    assert "serving 200" in result.stdout, result.stderr
    assert "doctor exit" in result.stdout and "ModuleNotFoundError" not in result.stderr

"""The hub's own dependencies (the ``hub`` extra: ``pip install 'menwei[hub]'``), which a kiosk
never installs. The ``hub`` command checks them first and says in Chinese what to install."""

from __future__ import annotations

import importlib.util

# import name -> the package pip installs it from
HUB_PACKAGES = {
    "psycopg": "psycopg[binary]",
    "openpyxl": "openpyxl",
    "lxml": "lxml",
    "segno": "segno",
    "fpdf": "fpdf2",
}


def missing_packages() -> list[str]:
    """The hub's packages that are not installed here (pip names)."""
    return [pip for name, pip in HUB_PACKAGES.items() if importlib.util.find_spec(name) is None]


def missing_message(missing: list[str]) -> str:
    return (
        f"中心程序缺少软件包：{'、'.join(missing)}（the hub's packages are not installed）。"
        "门岗（kiosk）不需要它们；要运行中心，请在中心机器上执行"
        " sudo ./setup.sh install --hub，或在虚拟环境里执行 pip install 'menwei[hub]'"
        "（源码目录里：pip install '.[hub]'）。"
    )

"""Reading printed QR codes back as a scanner would: zbarimg (Debian's zbar-tools, installed by
``./setup.sh test``) on PNG images; PDFs are rendered to PNG with pdftoppm (poppler-utils)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: ./setup.sh test installs Debian's {package}")
    return path


def decode_png(image: Path) -> list[str]:
    """Every QR code zbar finds in the image (standard QR only: zbar cannot read Micro QR)."""
    result = subprocess.run(
        [
            _tool("zbarimg", "zbar-tools"),
            "--quiet",
            "--raw",
            "-Sdisable",
            "-Sqrcode.enable",
            str(image),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode in (0, 4), result.stderr  # 4: no code found in the image
    return [line for line in result.stdout.splitlines() if line]


def pdf_pages_png(pdf: bytes, directory: Path, dpi: int = 150) -> list[Path]:
    source = directory / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            _tool("pdftoppm", "poppler-utils"),
            "-r",
            str(dpi),
            "-png",
            str(source),
            str(directory / "page"),
        ],
        check=True,
        timeout=120,
    )
    return sorted(directory.glob("page*.png"))


def pdf_text(pdf: bytes, directory: Path) -> str:
    """The text of a PDF as pdftotext (poppler-utils) reads it: what a search in a viewer finds."""
    source = directory / "text.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(
        [_tool("pdftotext", "poppler-utils"), "-layout", str(source), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout

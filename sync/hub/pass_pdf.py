"""The pass sheet as a PDF, made on the hub (fpdf2): A4, three cards a row, QR codes drawn
as filled vector squares (standard QR, level Q, quiet zone: see ``pass_qr``).

Chinese names need a CJK font on the hub: the first of FONT_CANDIDATES that exists is embedded
(``setup.sh install --hub`` installs fonts-wqy-microhei).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.hub.pass_qr import draw_qr

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
COLUMNS, ROWS = 3, 3
CARD_W, CARD_H = 63.0, 90.0


class PassPdfError(RuntimeError):
    pass


def cjk_font() -> str:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise PassPdfError("no CJK font on the hub: install fonts-wqy-microhei (apt-get)")


def pass_sheet_pdf(
    cards: list[dict[str, Any]],
    compound: str = "",
    *,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """Nine cards a page, each with the compound's name (a card found in the lobby says whose
    gate it opens), the home, the QR code, the code and the expiry. ``progress`` is called
    after each card (the pages' background job shows it)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("Menwei hub")
    pdf.add_font("cjk", fname=cjk_font(), collection_font_number=0)
    pdf.set_font("cjk", size=10)
    per_page = COLUMNS * ROWS
    for index, card in enumerate(cards):
        if index % per_page == 0:
            pdf.add_page()
        column, row = index % COLUMNS, (index % per_page) // COLUMNS
        x, y = 10 + column * (CARD_W + 2), 10 + row * (CARD_H + 2)
        pdf.set_draw_color(150)
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.rect(x, y, CARD_W, CARD_H)
        if compound:
            _fitted(pdf, x, y + 2.5, f"{compound} · 通行证", size=11)
        _fitted(pdf, x, y + 9, f"{card['building']}-{card['unit']}-{card['room']} · {card['name']}")
        draw_qr(pdf, card["code"], x=x + 9.5, y=y + 16, size=44)
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.set_xy(x, y + 61)
        pdf.set_font("cjk", size=14)
        pdf.cell(CARD_W, 8, card["code"], align="C")
        pdf.set_font("cjk", size=9)
        pdf.set_xy(x, y + 71)
        pdf.cell(CARD_W, 6, f"有效期至 valid until {card['expires_on']}", align="C")
        pdf.set_font("cjk", size=10)
        if progress is not None:
            progress(index + 1)
    if not cards:
        pdf.add_page()
        pdf.cell(0, 10, "没有有效通行证 No valid passes")
    return bytes(pdf.output())


def _fitted(pdf: Any, x: float, y: float, text: str, size: float = 10) -> None:
    """One centred line of a card, in a smaller size when it would not fit its width."""
    pdf.set_font("cjk", size=size)
    while size > 6 and pdf.get_string_width(text) > CARD_W - 4:
        size -= 0.5
        pdf.set_font("cjk", size=size)
    pdf.set_xy(x, y)
    pdf.cell(CARD_W, 6, text, align="C")
    pdf.set_font("cjk", size=10)

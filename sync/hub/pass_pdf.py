"""The pass sheet as a PDF, made on the hub (fpdf2): A4, three cards a row, QR codes drawn
as filled vector squares (standard QR, level Q, quiet zone: see ``pass_qr``).

Chinese names need a CJK font on the hub: the first of FONT_CANDIDATES that exists is embedded
(``setup.sh install --hub`` installs fonts-wqy-microhei).
"""

from __future__ import annotations

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


def pass_sheet_pdf(cards: list[dict[str, Any]]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
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
        pdf.set_xy(x, y + 3)
        home = f"{card['building']}-{card['unit']}-{card['room']} · {card['name']}"
        pdf.cell(CARD_W, 6, home, align="C")
        draw_qr(pdf, card["code"], x=x + 9.5, y=y + 11, size=44)
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.set_xy(x, y + 56)
        pdf.set_font("cjk", size=14)
        pdf.cell(CARD_W, 8, card["code"], align="C")
        pdf.set_font("cjk", size=9)
        pdf.set_xy(x, y + 66)
        pdf.cell(CARD_W, 6, f"有效期至 valid until {card['expires_on']}", align="C")
        pdf.set_font("cjk", size=10)
    if not cards:
        pdf.add_page()
        pdf.cell(0, 10, "没有有效通行证 No valid passes")
    return bytes(pdf.output())

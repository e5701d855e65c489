"""The QR code printed on a pass: one definition for the HTML sheet and the hub's PDF.

Standard QR only, never Micro QR: most USB gate scanners and phones cannot read Micro QR, and
``segno.make`` picks it for a 10-digit code. Level Q (25 % of the code may be lost) survives a
worn, folded or laminated card; the quiet zone is the standard four modules of white.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import segno

ERROR_LEVEL = "q"
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks


def pass_qr(code: str) -> segno.QRCode:
    import segno

    return segno.make_qr(code, error=ERROR_LEVEL, boost_error=False)


def qr_svg(code: str) -> str:
    """An inline SVG with a viewBox and no fixed size, so that the print layout scales it."""
    buffer = io.BytesIO()
    pass_qr(code).save(
        buffer,
        kind="svg",
        scale=4,
        border=QUIET_ZONE,
        xmldecl=False,
        svgns=True,
        omitsize=True,
        light="#fff",
    )
    return buffer.getvalue().decode()


def draw_qr(pdf: Any, code: str, x: float, y: float, size: float) -> None:
    """The code as filled black rectangles on a white square (quiet zone included) in an fpdf2
    document, with solid lines whatever dash pattern the page had."""
    rows = [list(row) for row in pass_qr(code).matrix_iter(border=QUIET_ZONE)]
    module = size / len(rows)
    pdf.set_dash_pattern()
    pdf.set_fill_color(255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # A run of dark modules as one rectangle: no hairline gaps between neighbours.
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")

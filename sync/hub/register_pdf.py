"""A gate's daily registers as one printable A4 PDF (fpdf2, landscape): each register on its own
pages with the compound, gate, date and guards on duty at the top, signature lines after it,
and on every page the seal (text and QR code) and "第 x 页 共 y 页". Each row ends with its
record's check code (校验码), which the seal check lists beside the row as the hub holds it."""

from __future__ import annotations

from typing import Any

from sync.hub.pass_pdf import cjk_font
from sync.hub.pass_qr import draw_qr
from sync.hub.registers import CODE_COLUMN, Day, Register
from sync.hub.seal import Seal

MARGIN = 10.0
FOOTER_H = 30.0
QR_MM = 26.0


def _document(day: Day, compound: str, seal: Seal | None) -> Any:
    from fpdf import FPDF

    class Sheet(FPDF):
        register_title = ""

        def header(self) -> None:
            self.set_font("cjk", size=15)
            self.cell(0, 8, f"{compound} · {self.register_title}", new_x="LMARGIN", new_y="NEXT")
            self.set_font("cjk", size=10)
            on_duty = "、".join(day.on_duty) or "（无记录）"
            self.cell(
                0,
                6,
                f"门岗：{day.kiosk_id}    日期：{day.day.isoformat()}    值班门卫：{on_duty}",
                new_x="LMARGIN",
                new_y="NEXT",
            )
            self.ln(2)

        def footer(self) -> None:
            top = self.h - FOOTER_H + 2
            self.set_draw_color(0)
            self.line(MARGIN, top, self.w - MARGIN, top)
            self.set_font("cjk", size=8)
            if day.unsound:
                self.set_xy(MARGIN, top + 2)
                self.set_text_color(179, 20, 27)
                self.set_font("cjk", size=10)
                self.multi_cell(self.w - 2 * MARGIN, 5, unsealed_text(day))
                self.set_text_color(0)
            elif seal is not None:
                self.set_xy(MARGIN, top + 2)
                for line in seal.lines():
                    self.cell(
                        self.w - 2 * MARGIN - QR_MM - 4, 4.5, line, new_x="LMARGIN", new_y="NEXT"
                    )
                self.set_x(MARGIN)
                self.cell(
                    0,
                    4.5,
                    "核验：在中心“封签核验”页扫描右侧二维码（或 hub verify-sheet --show），"
                    "按每行的校验码逐行对照",
                )
                draw_qr(self, seal.text(), self.w - MARGIN - QR_MM, top + 1, QR_MM)
            else:
                self.set_xy(MARGIN, top + 2)
                self.cell(0, 5, "本日无记录，无封签")
            self.set_xy(MARGIN, self.h - 9)
            self.set_font("cjk", size=9)
            self.cell(0, 5, f"第 {self.page_no()} 页 共 {{nb}} 页", align="C")

    pdf = Sheet(orientation="L", format="A4")
    pdf.set_margins(MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=FOOTER_H + 2)
    pdf.add_font("cjk", fname=cjk_font(), collection_font_number=0)
    pdf.alias_nb_pages()
    return pdf


def unsealed_text(day: Day) -> str:
    """Why a day's sheet carries no seal (the page says the same)."""
    seqs = "、".join(str(seq) for seq in day.unsound_seqs[:10])
    more = " 等" if len(day.unsound_seqs) > 10 else ""
    return (
        f"本日有 {len(day.unsound_seqs)} 条记录与哈希不符（序号 {seqs}{more}），在中心被改动过或"
        "传来时已不符：本表不加封签，不能作证。请运行 hub integrity 查看并上报。"
    )


def _register(pdf: Any, register: Register) -> None:
    from fpdf.fonts import FontFace

    pdf.register_title = register.title
    pdf.add_page()
    pdf.set_font("cjk", size=9)
    columns = (*register.columns, CODE_COLUMN)
    total = sum(c.width for c in columns)
    usable = pdf.w - 2 * MARGIN
    widths = [usable * c.width / total for c in columns]
    with pdf.table(
        col_widths=widths,
        width=usable,
        line_height=5.5,
        text_align="LEFT",
        repeat_headings=1,
        first_row_as_headings=True,
        headings_style=FontFace(emphasis="", fill_color=(225, 228, 235)),
    ) as table:
        heading = table.row()
        for column in columns:
            heading.cell(column.title)
        for values, code in zip(register.rows, register.codes, strict=True):
            row = table.row()
            for value in values:
                row.cell("" if value is None else str(value))
            row.cell(code)
    if not register.rows:
        pdf.cell(0, 8, "本日无记录", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("cjk", size=11)
    if pdf.get_y() > pdf.h - FOOTER_H - 20:
        pdf.add_page()
    pdf.cell(0, 8, f"共 {len(register.rows)} 条。", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.cell(
        0,
        8,
        "值班门卫签字：________________    物业负责人签字：________________"
        "    日期：____年__月__日",
    )


def day_pdf(
    day: Day, compound: str, seal: Seal | None, keys: tuple[str, ...] | None = None
) -> bytes:
    pdf = _document(day, compound, seal)
    for register in day.registers:
        if keys is None or register.key in keys:
            _register(pdf, register)
    return bytes(pdf.output())

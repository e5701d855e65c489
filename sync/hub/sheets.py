"""Writing tables people open in Excel: CSV (UTF-8 with a BOM, so that Excel on Chinese Windows
opens it) and XLSX (a title row, column widths, a frozen header), both streamed in constant
memory. Every text cell stays text: a visitor who types ``=HYPERLINK(…)`` or ``@SUM(1)`` as a name
is exported as those characters, never as a formula (CSV: a leading apostrophe, as OWASP advises;
XLSX: the cell is written as an inline string, so the file holds no ``<f>`` element)."""

from __future__ import annotations

import csv
import functools
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell that a spreadsheet will not evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so that Excel opens the UTF-8 file with Chinese intact
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        if buffer.tell() > CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def xlsx_stream(
    sheet_name: str,
    title: str,
    header: Sequence[str],
    widths: Sequence[float],
    rows: Iterable[Sequence[Any]],
) -> Iterator[bytes]:
    """A workbook written row by row (openpyxl's write-only mode keeps memory flat), then sent
    in chunks from a temporary file."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name[:31])
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A3"  # the title and the header stay in view
    title_cell = WriteOnlyCell(sheet, value=title)
    title_cell.font = Font(bold=True, size=14)
    title_cell.data_type = "s"
    sheet.append([title_cell])
    bold = Font(bold=True)
    header_cells = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    append, illegal = sheet.append, _illegal().search
    for row in rows:
        # Numbers, empty cells and plain text go as they are (the bare cost); only text that
        # starts with "=" or holds a control character becomes a cell of its own.
        append(
            [
                _xlsx_text(sheet, v, WriteOnlyCell)
                if v.__class__ is str and (v[:1] == "=" or illegal(v))
                else v
                for v in row
            ]
        )
    with tempfile.TemporaryFile() as output:
        workbook.save(output)
        output.seek(0)
        while chunk := output.read(CHUNK):
            yield chunk


@functools.cache
def _illegal() -> re.Pattern[str]:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE


def _xlsx_text(sheet: Any, value: str, cell_type: Any) -> Any:
    if _illegal().search(value):
        # XML cannot hold control characters: one such record (stored before total validation)
        # must not make the whole export fail.
        value = _illegal().sub("", value)
    if value.startswith("="):
        cell = cell_type(sheet, value=value)
        cell.data_type = "s"  # text, not a formula
        return cell
    return value

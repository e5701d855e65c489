"""Plain-text tables for people at a terminal: a header, and columns that stay aligned with
Chinese text (a CJK character takes two cells, so widths are display widths, not ``len``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

RIGHT = "right"


def display_width(text: str) -> int:
    """The number of terminal cells ``text`` takes: 2 for wide (CJK) characters, 0 for combining."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int, align: str = "left") -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if align == RIGHT else text + gap


def render_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    right: Iterable[int] = (),
    min_widths: Sequence[int] = (),
) -> str:
    """The rows under their headers, two spaces between columns; columns in ``right`` (indexes)
    are right-aligned (numbers). ``min_widths`` keeps rows printed later (``--follow``) under the
    same header. ``None`` is shown as an empty cell."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    widths = [
        max(display_width(h), m)
        for h, m in zip(headers, [*min_widths, *[0] * len(headers)], strict=False)
    ]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], display_width(value))
    aligned = set(right)

    def line(values: Sequence[str]) -> str:
        parts = [
            pad(value, widths[index], RIGHT if index in aligned else "left")
            for index, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def render_pairs(pairs: Iterable[tuple[str, object]]) -> str:
    """``label  value`` lines with the labels padded to one width (a record shown as a list)."""
    items = [(label, "" if value is None else str(value)) for label, value in pairs]
    width = max((display_width(label) for label, _ in items), default=0)
    return "\n".join(f"{pad(label, width)}  {value}".rstrip() for label, value in items)

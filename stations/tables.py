"""Tables that people open in a spreadsheet program: CSV and XLSX, safe to open.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which some programs skip before looking) is taken for a formula by Excel, WPS
and LibreOffice: a station name or member's employer typed as ``=HYPERLINK(…)`` would
run when an administrator opens the report. :func:`safe_cell` writes such text with a
leading apostrophe, which every spreadsheet program shows as plain text (OWASP's "CSV
injection" advice). Numbers, dates and empty cells are written as they are: ``-3`` is
a number, not a formula.

Every export people open (campaign reports, the importer's problem report) writes its
cells through here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet cell: text that could start a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


@dataclass(frozen=True)
class Table:
    """One titled table: a header row and the rows under it (cells of any type)."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def csv_bytes(tables: Sequence[Table]) -> bytes:
    """The tables as one CSV in UTF-8 with a BOM (so spreadsheet programs read Chinese).

    One table is written plainly, header first. Several are written one after another,
    each preceded by a line with its title and followed by an empty line.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for n, table in enumerate(tables):
        if len(tables) > 1:
            if n:
                writer.writerow([])
            writer.writerow(safe_row([table.title]))
        writer.writerow(safe_row(table.header))
        for row in table.rows:
            writer.writerow(safe_row(_csv_text(v) for v in row))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_SHEET_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def xlsx_bytes(tables: Sequence[Table]) -> bytes:
    """The tables as an Excel workbook, one sheet each (named by its title), with
    numbers as numbers and dates as dates; a bold header row that stays in view."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    bold = Font(bold=True)
    for table in tables:
        name = table.title.translate(_SHEET_FORBIDDEN).strip()[:31] or "Sheet"
        while name in used:
            name = name[:28] + f"~{len(used)}"
        used.add(name)
        sheet = book.create_sheet(name)
        sheet.append(safe_row(table.header))
        for cell in sheet[1]:
            cell.font = bold
        widths = [max(6, len(str(h)) * 2) for h in table.header]
        for row in table.rows:
            sheet.append(safe_row(row))
            for i, v in enumerate(row[: len(widths)]):
                widths[i] = max(widths[i], min(60, len(str(v)) * 2 if v is not None else 0))
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

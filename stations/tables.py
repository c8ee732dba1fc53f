"""Tables that people open in a spreadsheet program: CSV and XLSX, safe to open.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which some programs skip before looking) is taken for a formula by Excel, WPS
and LibreOffice: a station name or member's employer typed as ``=HYPERLINK(…)`` would
run when an administrator opens the report. :func:`safe_cell` writes such text with a
leading apostrophe, which every spreadsheet program shows as plain text (OWASP's "CSV
injection" advice). Numbers, dates and empty cells are written as they are: ``-3`` is
a number, not a formula.

Every export people open (campaign reports, the importer's problem report, the station
CSV export) writes its cells through here. The importers read such a cell back as the
text after the apostrophe (:data:`QUOTED_FORMULA`, applied in
``stations.catalog.text.as_text``), so a station exported and imported again keeps its
name, and a phone typed ``'+86 …`` in a spreadsheet (to keep it text) arrives as
``+86 …``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTED_FORMULA = r"^'([=+\-@\t\r])"
"""A cell written by :func:`safe_cell` (a regular expression; group 1 is the text's start)."""

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


# --- reading Excel files -----------------------------------------------------------------

XLSX_MAGIC = b"PK\x03\x04"  # an .xlsx is a zip archive


@dataclass
class SheetRows:
    """The rows of one sheet: its header and, lazily, each record with its row number.

    Records count from 1 at the row under the header (the importers' row numbering: a
    header, and any title line above it, is never counted), so row ``n`` is the
    spreadsheet's row ``header_row + n``. Rows with no value at all are skipped (their
    numbers stay unused). Cells keep the
    type Excel stored: whole numbers are ``int`` (never ``1939.0``), other numbers
    ``float``, dates ``datetime``, text ``str``; an empty cell is ``None``.
    """

    sheet: str
    header: list[str]
    header_row: int
    records: Iterator[tuple[int, list[Any]]]


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, str):
        return value if value.strip() else None
    return value


def read_xlsx(source: Any, *, sheet: str | None = None, name: str = "the file") -> SheetRows:
    """Open the first sheet of an .xlsx workbook (or the sheet named ``sheet``).

    ``source`` is a path or the file's bytes. The header is the first row with two
    values or more (a one-cell title line above it is skipped; a one-column sheet's
    header is its first value). Formulas are read as the values Excel last computed. Refused with
    :class:`~stations.errors.InvalidInput` (``field="file"`` or ``"sheet"``): a file that
    is not an .xlsx workbook (an old binary .xls among them), a sheet that does not
    exist, a sheet with no header.
    """
    import zipfile

    from openpyxl import load_workbook

    from stations.errors import InvalidInput

    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(
            f"{name}: cannot be read as an Excel .xlsx workbook ({type(exc).__name__}); an "
            "old .xls file must first be saved as .xlsx (or CSV)",
            field="file",
        ) from None
    names = book.sheetnames
    if sheet is not None and sheet not in names:
        raise InvalidInput(
            f"sheet: {name} has no sheet {sheet!r}; its sheets are {', '.join(names)}",
            field="sheet",
        )
    chosen = book[sheet or names[0]]
    rows = chosen.iter_rows(values_only=True)
    header: list[str] | None = None
    header_row = 0
    for number, values in enumerate(rows, start=1):
        filled = sum(_whole(v) is not None for v in values)
        # A title line above the table ("淮北市服务站点（2026 年 6 月）") is one cell;
        # the header is the first row naming two columns or more.
        if filled >= 2 or (filled == 1 and chosen.max_column == 1):
            header = ["" if v is None else str(_whole(v)).strip() for v in values]
            header_row = number
            break
    if header is None:
        raise InvalidInput(
            f"{name}: the sheet {chosen.title!r} has no header row (a row naming the columns)",
            field="file",
        )
    while header and not header[-1]:
        header.pop()
    width = len(header)

    def records() -> Iterator[tuple[int, list[Any]]]:
        try:
            for offset, values in enumerate(rows, start=1):
                cells = [_whole(v) for v in values[:width]]
                if any(v is not None for v in cells):
                    cells += [None] * (width - len(cells))
                    yield offset, cells
        finally:
            book.close()

    return SheetRows(sheet=chosen.title, header=header, header_row=header_row, records=records())

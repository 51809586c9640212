"""The printed ballot (PHIẾU TÍN NHIỆM) as a PDF: one page per token, QR code and short code on each.

Every page of a round's batch is the same sheet but for its QR and code, so the sheet is drawn once as a PDF
form XObject and each page only places it, then the QR (an inline 1-bit image, sharp on any printer)
and the code. Text is set in Be Vietnam Pro, a typeface made for Vietnamese, embedded (subset) in the PDF so
the diacritics print exactly on any machine; the font comes with the project's own dependencies.

The QR is always version 7 (45 x 45 modules) at error-correction level Q (a quarter of the symbol can be
stained, folded or torn), with a fixed mask so that every sheet is encoded the same way, printed 30 mm wide
on A4 and 25 mm on A5: a module of 0.55 mm or more, which phone and tablet cameras read at arm's length.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import zxingcpp
from PIL import Image
from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from . import fonts, tokens
from .fonts import font

QR_VERSION = 7
QR_LEVEL = "Q"
QR_MASK = 2
CODE_FONT = "Courier-Bold"  # the code is ASCII; a monospaced face keeps its groups aligned


@dataclass(frozen=True)
class Paper:
    name: str
    width: float
    height: float
    margin: float
    qr: float
    title: float  # font sizes in points
    text: float
    box: float  # width of each of the three boxes


PAPERS = {
    "A4": Paper("A4", 210 * mm, 297 * mm, 12 * mm, 30 * mm, 18, 10, 21 * mm),
    "A5": Paper("A5", 148 * mm, 210 * mm, 8 * mm, 25 * mm, 14, 8, 14.5 * mm),
}


@dataclass(frozen=True)
class BallotSheet:
    """What a round's ballot says; the same on every sheet of the round."""

    upper_committee: str | None
    committee: str
    conference: str
    held_on: dt.date
    title: str
    candidates: tuple[tuple[str, str], ...]  # (full name, post) in ballot order


def sheet_of(round_) -> BallotSheet:
    conference = round_.conference
    committee = conference.committee
    return BallotSheet(
        upper_committee=committee.parent.name if committee.parent else None,
        committee=committee.name,
        conference=conference.name,
        held_on=conference.held_on,
        title=round_.title,
        candidates=tuple((c.name, c.post) for c in round_.candidates),
    )


def qr_modules(payload: str) -> tuple[int, bytes]:
    """The QR symbol: its side in modules and one byte per module, row by row (0 dark, 255 light)."""
    symbol = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level=QR_LEVEL,
                                     version=QR_VERSION, data_mask=QR_MASK)
    pixels = memoryview(symbol.to_image(scale=1, add_quiet_zones=False))
    return pixels.shape[0], pixels.tobytes()


def qr_operators(payload: str, x: float, y: float, width: float) -> str:
    """PDF operators that paint the QR as an inline 1-bit image, one pixel per module, not interpolated.

    An inline image lives in the page's own content stream: no object per page to write, which is what makes
    thousands of sheets cheap, and pixels this large stay sharp on any printer.
    """
    side, modules = qr_modules(payload)
    packed = Image.frombytes("L", (side, side), modules).convert("1", dither=Image.Dither.NONE).tobytes()
    return (f"q {width:.3f} 0 0 {width:.3f} {x:.3f} {y:.3f} cm\n"
            f"BI /W {side} /H {side} /BPC 1 /CS /G /F /AHx /I false ID\n{packed.hex()}>\nEI Q")


PROGRESS_EVERY = 50


def print_ballots(
    sheet: BallotSheet,
    secrets: Sequence[bytes],
    out: BinaryIO,
    *,
    base_url: str,
    paper: str = "A4",
    progress: Callable[[int], None] | None = None,
    front: Callable[[Canvas], None] | None = None,
) -> int:
    """Write one page per secret to `out` and return the number of pages; `progress(done)` now and then."""
    pages = 0
    for pages in ballot_pages(sheet, secrets, out, base_url=base_url, paper=paper, front=front):
        if progress:
            progress(pages)
    return pages


def ballot_pages(
    sheet: BallotSheet, secrets: Sequence[bytes], out: BinaryIO, *, base_url: str, paper: str = "A4",
    front: Callable[[Canvas], None] | None = None,
) -> Iterator[int]:
    """Write one page per secret to `out`, yielding the number of pages done every PROGRESS_EVERY pages and
    once at the end, when the PDF is complete (so that a web page or a terminal can show progress). `front`
    draws pages of its own before the ballots (the box's key cards, with the first batch)."""
    fonts.register()
    rl_config.useA85 = 0  # binary streams: a third smaller and faster than ASCII85
    layout = PAPERS[paper]
    canvas = Canvas(out, pagesize=(layout.width, layout.height), pageCompression=1,
                    initialFontName=font("regular"))
    canvas.setTitle(f"Phiếu tín nhiệm – {sheet.committee}")
    canvas.setCreator("TrustVote")
    canvas.beginForm("sheet")
    _draw_sheet(canvas, sheet, layout)
    canvas.endForm()
    if front is not None:
        front(canvas)
        canvas.setPageSize((layout.width, layout.height))
    qr_x = layout.width - layout.margin - layout.qr
    qr_y = layout.height - layout.margin - layout.qr
    code_size = 0.9 * layout.qr / (19 * 0.6)  # "ABCD-EFGH-JKMN-PQRS" as wide as the QR, nearly
    for done, secret in enumerate(secrets, start=1):
        canvas.doForm("sheet")
        code = tokens.code_of(secret)
        canvas.addLiteral(qr_operators(tokens.payload_of_code(base_url, code), qr_x, qr_y, layout.qr))
        code = tokens.grouped(code)
        canvas.setFont(CODE_FONT, code_size)
        canvas.drawCentredString(qr_x + layout.qr / 2, qr_y - 1.3 * code_size, code[:19])
        canvas.drawCentredString(qr_x + layout.qr / 2, qr_y - 2.5 * code_size, code[20:])
        canvas.showPage()
        if done % PROGRESS_EVERY == 0 and done < len(secrets):
            yield done
    canvas.save()
    yield len(secrets)


def _centred_lines(canvas, lines, x_mid, y, font_name, size, leading=1.25):
    canvas.setFont(font_name, size)
    for line in lines:
        canvas.drawCentredString(x_mid, y, line)
        y -= size * leading
    return y


def _fit(canvas_text, font_name, size, width, minimum=5.0):
    """The largest size up to `size` at which the text fits in `width`."""
    needed = pdfmetrics.stringWidth(canvas_text, font_name, size)
    return size if needed <= width else max(minimum, size * width / needed)


def _draw_cell(canvas, value, face, size, x, row_top, width, row_height):
    """One line if it fits at 80 % of the row's size or more, else two lines at the largest size that splits it
    into two (if that beats one line), else one smaller line: never past the cell."""
    single = _fit(value, face, size, width, minimum=0.0)
    middle = row_top - row_height / 2
    if single < 0.8 * size:
        two_size = min(0.9 * size, row_height / 2.3)
        while two_size > single:
            lines = simpleSplit(value, face, two_size, width)
            if len(lines) <= 2:
                break
            two_size *= 0.95
        if two_size > single and len(lines) == 2:
            canvas.setFont(face, two_size)
            canvas.drawString(x, middle + two_size * 0.2, lines[0])
            canvas.drawString(x, middle - two_size * 0.95, lines[1])
            return
    canvas.setFont(face, single)
    canvas.drawString(x, middle - single * 0.35, value)


def _draw_sheet(canvas: Canvas, sheet: BallotSheet, layout: Paper) -> None:
    left, right = layout.margin, layout.width - layout.margin
    top = layout.height - layout.margin
    usable = right - left
    text = layout.text

    # Header: the committee on the left, the Party's name and the date in the middle, the QR on the right.
    left_width = usable * 0.40
    header_lines = [line.upper() for line in (sheet.upper_committee, sheet.committee) if line]
    y = top - text
    if sheet.upper_committee:
        size = _fit(header_lines[0], font("regular"), text, left_width)
        y = _centred_lines(canvas, [header_lines[0]], left + left_width / 2, y, font("regular"), size)
    size = _fit(header_lines[-1], font("bold"), text, left_width)
    y = _centred_lines(canvas, [header_lines[-1]], left + left_width / 2, y, font("bold"), size)
    _centred_lines(canvas, ["*"], left + left_width / 2, y, font("regular"), text)
    middle_left = left + left_width
    middle_right = right - layout.qr - 4 * mm
    middle = (middle_left + middle_right) / 2
    party = "ĐẢNG CỘNG SẢN VIỆT NAM"
    size = _fit(party, font("bold"), text + 0.5, middle_right - middle_left)
    canvas.setFont(font("bold"), size)
    canvas.drawCentredString(middle, top - text, party)
    rule = pdfmetrics.stringWidth(party, font("bold"), size)
    canvas.setLineWidth(0.6)
    canvas.line(middle - rule / 2, top - text - 2.5, middle + rule / 2, top - text - 2.5)
    date_line = f"ngày {sheet.held_on.day:02d} tháng {sheet.held_on.month:02d} năm {sheet.held_on.year}"
    canvas.setFont(font("italic"), text - 0.5)
    canvas.drawCentredString(middle, top - 2.6 * text, date_line)

    # Title, round and conference, instruction: below the QR and its code.
    y = top - layout.qr - 3.2 * (layout.qr / (19 * 0.6)) - layout.title * 0.4
    y = _centred_lines(canvas, ["PHIẾU TÍN NHIỆM"], layout.width / 2, y, font("bold"), layout.title)
    y -= layout.title * 0.1
    y = _centred_lines(canvas, simpleSplit(sheet.title, font("semibold"), text + 1, usable), layout.width / 2, y,
                       font("semibold"), text + 1)
    y = _centred_lines(canvas, simpleSplit(sheet.conference, font("regular"), text, usable), layout.width / 2, y,
                       font("regular"), text)
    instruction = ("Đánh dấu X vào một ô tương ứng với mức độ tín nhiệm đối với từng người; mỗi dòng chỉ đánh "
                   "dấu một ô. Có thể quét mã QR để bỏ phiếu trên máy tính bảng; mỗi phiếu chỉ dùng một lần.")
    y -= text * 0.2
    y = _centred_lines(canvas, simpleSplit(instruction, font("italic"), text - 1, usable), layout.width / 2, y,
                       font("italic"), text - 1)
    y -= text * 0.3

    _draw_table(canvas, sheet, layout, y + text * 0.9)


def _draw_table(canvas: Canvas, sheet: BallotSheet, layout: Paper, table_top: float) -> None:
    left, right = layout.margin, layout.width - layout.margin
    bottom = layout.margin
    number_width = layout.box * 0.45
    rest = right - left - number_width - 3 * layout.box
    columns = [number_width, rest * 0.55, rest * 0.45, layout.box, layout.box, layout.box]
    edges = [left]
    for width in columns:
        edges.append(edges[-1] + width)
    heading_size = layout.text - 0.5
    heading_height = heading_size * 2.9
    count = max(1, len(sheet.candidates))
    row_height = min(9 * mm, (table_top - bottom - heading_height) / count)
    row_size = max(5.0, min(layout.text + 1, row_height * 0.52))

    canvas.setLineWidth(0.5)
    rows_bottom = table_top - heading_height - row_height * count
    for x in edges:
        canvas.line(x, table_top, x, rows_bottom)
    canvas.line(left, table_top, right, table_top)
    canvas.line(left, table_top - heading_height, right, table_top - heading_height)

    headings = [["STT"], ["Họ và tên"], ["Chức vụ"], ["Tín nhiệm", "cao"], ["Tín nhiệm"], ["Tín nhiệm", "thấp"]]
    for index, lines in enumerate(headings):
        middle = (edges[index] + edges[index + 1]) / 2
        y = table_top - heading_height / 2 + (len(lines) - 1) * heading_size * 0.6 - heading_size * 0.35
        _centred_lines(canvas, lines, middle, y, font("bold"), heading_size, leading=1.2)

    y = table_top - heading_height
    pad = 1.5 * mm
    for number, (name, post) in enumerate(sheet.candidates, start=1):
        baseline = y - row_height / 2 - row_size * 0.35
        canvas.setFont(font("regular"), row_size)
        canvas.drawCentredString((edges[0] + edges[1]) / 2, baseline, str(number))
        for column, value, face in ((1, name, font("semibold")), (2, post, font("regular"))):
            _draw_cell(canvas, value, face, row_size, edges[column] + pad, y, columns[column] - 2 * pad,
                       row_height)
        y -= row_height
        canvas.line(left, y, right, y)

"""The printed ballot (PHIẾU TÍN NHIỆM) as a PDF: one page per token, QR code and short code on each.

Every page of a round's batch is the same sheet but for its QR and code, so the sheet is drawn once as a PDF
form XObject and each page only places it, then the QR (an inline 1-bit image, sharp on any printer)
and the code. Text is set in Be Vietnam Pro, a typeface made for Vietnamese, embedded (subset) in the PDF so
the diacritics print exactly on any machine; the font comes with the project's own dependencies.

The QR is always version 7 (45 x 45 modules) at error-correction level Q (a quarter of the symbol can be
stained, folded or torn), with a fixed mask so that every sheet is encoded the same way, printed 30 mm wide
on A4 and 25 mm on A5: a module of 0.55 mm or more, which phone and tablet cameras read at arm's length, with a
quiet zone of at least 4 modules. The typed code under it is set in IBM Plex Mono (embedded too) at 10 pt or more.

Where everything sits comes from ballots.sheet_layout, which the scan reader (ballots.sheet_reader) reads by: four
solid corner squares give a scanned or photographed page its geometry, and the table's boxes are where it says.
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

from . import fonts, sheet_layout, tokens
from .fonts import font
from .sheet_layout import SheetLayout

QR_VERSION = 7
QR_LEVEL = "Q"
QR_MASK = 2
CODE_FONT = fonts.CODE_FONT  # the code is ASCII; a monospaced face keeps its groups aligned
PAPERS = sheet_layout.PAPERS  # the papers' sizes, margins and type sizes: the layout's


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


def printed_code_lines(code: str) -> list[str]:
    """The 27 characters as printed under the QR: three lines of three groups of three, "ABC DEF GHJ" (short
    groups are easier to keep one's place in while typing; the kiosk and paper entry ignore the spaces)."""
    groups = [code[i:i + 3] for i in range(0, len(code), 3)]
    return [" ".join(groups[i:i + 3]) for i in range(0, len(groups), 3)]


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
    overlay: Callable[[Canvas, sheet_layout.SheetLayout, int], None] | None = None,
) -> int:
    """Write one page per secret to `out` and return the number of pages; `progress(done)` now and then."""
    pages = 0
    for pages in ballot_pages(sheet, secrets, out, base_url=base_url, paper=paper, front=front, overlay=overlay):
        if progress:
            progress(pages)
    return pages


def ballot_pages(
    sheet: BallotSheet, secrets: Sequence[bytes], out: BinaryIO, *, base_url: str, paper: str = "A4",
    front: Callable[[Canvas], None] | None = None,
    overlay: Callable[[Canvas, sheet_layout.SheetLayout, int], None] | None = None,
) -> Iterator[int]:
    """Write one page per secret to `out`, yielding the number of pages done every PROGRESS_EVERY pages and
    once at the end, when the PDF is complete (so that a web page or a terminal can show progress). `front`
    draws pages of its own before the ballots (the box's key cards, with the first batch); `overlay(canvas,
    layout, index)` draws on the sheet of secrets[index] (the demo's pen marks)."""
    fonts.register()
    rl_config.useA85 = 0  # binary streams: a third smaller and faster than ASCII85
    layout = sheet_layout.sheet_layout(paper, len(sheet.candidates))
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
    qr, code_size = layout.qr, layout.spec.code
    for done, secret in enumerate(secrets, start=1):
        canvas.doForm("sheet")
        code = tokens.code_of(secret)
        canvas.addLiteral(qr_operators(tokens.payload_of_code(base_url, code), qr.x, qr.y, qr.width))
        canvas.setFont(CODE_FONT, code_size)
        baseline = layout.code.top - 0.8 * code_size
        for line in printed_code_lines(code):
            canvas.drawCentredString(qr.centre[0], baseline, line)
            baseline -= sheet_layout.CODE_LEADING * code_size
        if overlay is not None:
            overlay(canvas, layout, done - 1)
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


def _draw_fiducials(canvas: Canvas, layout: SheetLayout) -> None:
    """The four solid corner squares a scan reader finds the page's geometry by (ballots.sheet_reader)."""
    for square in layout.fiducials:
        canvas.rect(square.x, square.y, square.width, square.height, stroke=0, fill=1)


def _draw_sheet(canvas: Canvas, sheet: BallotSheet, layout: SheetLayout) -> None:
    spec = layout.spec
    _draw_fiducials(canvas, layout)
    left, right = spec.margin, layout.width - spec.margin
    top = layout.height - spec.content_inset
    usable = right - left
    text = spec.text

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
    middle_right = layout.qr.x - 4 * mm
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

    # Title, round, conference and instruction in the band the layout keeps for them, under the QR (beside the
    # code's block while they are level with it): shrunk until they fit, so the table stays where the reader
    # expects it whatever the round's text.
    scale = 1.0
    while scale > 0.6 and _title_block(None, sheet, layout, scale) < layout.header_bottom:
        scale *= 0.95
    _title_block(canvas, sheet, layout, scale)

    _draw_table(canvas, sheet, layout)


INSTRUCTION = ("Đánh dấu X vào một ô tương ứng với mức độ tín nhiệm đối với từng người; mỗi dòng chỉ đánh "
               "dấu một ô. Có thể quét mã QR để bỏ phiếu trên máy tính bảng; mỗi phiếu chỉ dùng một lần.")


def _title_block(canvas: Canvas | None, sheet: BallotSheet, layout: SheetLayout, scale: float) -> float:
    """Set the title block at `scale` of its sizes (only measure it when canvas is None); the y where it ends."""
    spec = layout.spec
    usable = layout.width - 2 * spec.margin
    # the widest centred line that keeps clear of the code's block (by 3 mm) while level with it
    beside_code = 2 * (layout.code.x - 3 * mm - layout.width / 2)
    y = layout.qr.y - spec.quiet
    paragraphs = (
        (["PHIẾU TÍN NHIỆM"], font("bold"), spec.title, 0.1),
        (sheet.title, font("semibold"), spec.text + 1, 0.25),
        (sheet.conference, font("regular"), spec.text, 0.25),
        (INSTRUCTION, font("italic"), spec.text - 1, 0.25),
    )
    for value, face, size, space_before in paragraphs:
        size *= scale
        y -= size * space_before
        lines = value
        if isinstance(value, str):
            lines = simpleSplit(value, face, size, beside_code if y - size > layout.code.y else usable)
            if len(lines) > 1 and y - 1.25 * size * len(lines) < layout.code.y < y:  # later lines pass the code
                lines = simpleSplit(value, face, size, beside_code)
        for line in lines:
            y -= size
            if canvas is not None:
                canvas.setFont(face, size)
                canvas.drawCentredString(layout.width / 2, y, line)
            y -= size * 0.25
    return y - spec.text * 0.3


def _draw_table(canvas: Canvas, sheet: BallotSheet, layout: SheetLayout) -> None:
    spec = layout.spec
    edges = layout.columns
    left, right = edges[0], edges[-1]
    table_top = layout.table.top
    heading_size = spec.text - 0.5
    heading_height = layout.heading_height
    row_height = layout.row_height
    row_size = max(5.0, min(spec.text + 1, row_height * 0.52))

    canvas.setLineWidth(0.5)
    rows_bottom = layout.table.y
    for x in edges:
        canvas.line(x, table_top, x, rows_bottom)
    canvas.line(left, table_top, right, table_top)
    canvas.line(left, table_top - heading_height, right, table_top - heading_height)

    headings = [["STT"], ["Họ và tên"], ["Chức vụ"], ["Tín nhiệm", "cao"], ["Tín nhiệm"], ["Tín nhiệm", "thấp"]]
    for index, lines in enumerate(headings):
        middle = (edges[index] + edges[index + 1]) / 2
        y = table_top - heading_height / 2 + (len(lines) - 1) * heading_size * 0.6 - heading_size * 0.35
        _centred_lines(canvas, lines, middle, y, font("bold"), heading_size, leading=1.2)

    pad = 1.5 * mm
    for row, (name, post) in zip(layout.rows, sheet.candidates):
        y = row.row.top
        baseline = y - row_height / 2 - row_size * 0.35
        canvas.setFont(font("regular"), row_size)
        canvas.drawCentredString(row.number.centre[0], baseline, str(row.position))
        for column, value, face in ((1, name, font("semibold")), (2, post, font("regular"))):
            _draw_cell(canvas, value, face, row_size, edges[column] + pad, y, edges[column + 1] - edges[column] - 2 * pad,
                       row_height)
        canvas.line(left, row.row.y, right, row.row.y)

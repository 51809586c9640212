"""Where everything sits on a printed ballot, in PDF points: the one description the printer draws from and the
scan reader reads by, so that the two cannot drift apart.

A sheet depends only on its paper size and its number of candidates: the text of the header (committee, round,
conference) is fitted by the printer into a band of fixed height, so a reader that knows a round's paper and
candidate count knows where every box is without seeing the round's text.

- Four solid black squares (fiducials) near the corners, inside any printer's unprintable border, with white
  paper around them: a reader finds the page's geometry (rotation, scale, perspective of a phone photo) from them.
- The QR in the top right corner, with a quiet zone of at least 4 modules on every side (ISO/IEC 18004), and the
  typed code in a block under it.
- The table: a heading row, then one row per candidate; the three last cells of a row are its mark boxes, left to
  right "tín nhiệm cao", "tín nhiệm", "tín nhiệm thấp" (levels 1, 2, 3 of ballots.tally).

Coordinates have their origin at the bottom left of the page, as ReportLab draws; a Rect's y is its bottom.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from reportlab.lib.units import mm

PAPER_SIZES = ("A4", "A5")
MAX_CANDIDATES = 40  # the most rows the reader is tested with, on either paper (more print, in thinner rows)
QR_MODULES = 45  # version 7 (ballots.printing.QR_VERSION)
QUIET_MODULES = 4


@dataclass(frozen=True)
class Paper:
    name: str
    width: float
    height: float
    margin: float  # left and right, and at least this at the top and bottom
    qr: float  # side of the QR symbol
    title: float  # font sizes in points
    text: float
    box: float  # width of each of the three mark boxes
    code: float  # size of the typed code under the QR (10 pt at least: older delegates type it)
    fiducial: float  # side of each corner square
    fiducial_inset: float  # from the paper's edge to the square (clear of any printer's unprintable border)

    @property
    def quiet(self) -> float:
        return QUIET_MODULES * self.qr / QR_MODULES

    @property
    def content_inset(self) -> float:
        """From the top and bottom edges to the text and the table: clear of the corner squares by 2 mm."""
        return max(self.margin, self.fiducial_inset + self.fiducial + 2 * mm)


PAPERS = {
    "A4": Paper("A4", 210 * mm, 297 * mm, 12 * mm, 30 * mm, 18, 10, 21 * mm, 11, 5 * mm, 5 * mm),
    "A5": Paper("A5", 148 * mm, 210 * mm, 8 * mm, 25 * mm, 14, 8, 14.5 * mm, 10, 4 * mm, 4.5 * mm),
}

CODE_LINES = 3  # the 27 characters in three lines of three groups of three: "ABC DEF GHJ"
CODE_LINE_CHARS = 11
CODE_ADVANCE = 0.6  # IBM Plex Mono's advance width, in ems
CODE_LEADING = 1.25


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def top(self) -> float:
        return self.y + self.height

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass(frozen=True)
class RowLayout:
    position: int  # 1-based, in ballot order
    row: Rect  # the whole table row
    number: Rect  # the STT cell
    name: Rect  # the name and post cells together
    boxes: tuple[Rect, Rect, Rect]  # the mark boxes, levels 1 (high), 2 (trust), 3 (low) left to right


@dataclass(frozen=True)
class SheetLayout:
    paper: str
    candidate_count: int
    width: float
    height: float
    fiducials: tuple[Rect, Rect, Rect, Rect]  # top left, top right, bottom right, bottom left
    qr: Rect  # the symbol, without its quiet zone
    code: Rect  # the block of the typed code under the QR
    header_bottom: float  # the header's text (title, round, conference, instruction) lies above this
    table: Rect  # the whole table, heading row included
    heading_height: float
    columns: tuple[float, ...]  # x of each vertical rule of the table, left to right (7 of them)
    rows: tuple[RowLayout, ...]
    row_height: float

    @property
    def spec(self) -> Paper:
        return PAPERS[self.paper]

    @property
    def row_rules(self) -> tuple[float, ...]:
        """y of each horizontal rule of the table, top to bottom: its top, under the heading, under each row."""
        return (self.table.top, self.table.top - self.heading_height, *(row.row.y for row in self.rows))


def header_allowance(paper: Paper) -> float:
    """Height of the band for the title, the round's title (two lines), the conference and the instruction (two
    lines each), starting under the QR's quiet zone. The printer shrinks text that would not fit in it."""
    text = paper.text
    return (paper.title * 1.35 + (text + 1) * 1.25 * 2 + text * 1.25 * 2 + (text - 1) * 1.25 * 2
            + text * 0.6)


@lru_cache(maxsize=64)
def sheet_layout(paper: str, candidate_count: int) -> SheetLayout:
    """The layout of a round's ballot. Raises ValueError for an unknown paper or a negative count."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper size {paper!r}")
    if candidate_count < 0:
        raise ValueError(f"no sheet has {candidate_count} candidates")
    spec = PAPERS[paper]
    width, height = spec.width, spec.height
    inset, side = spec.fiducial_inset, spec.fiducial
    fiducials = (
        Rect(inset, height - inset - side, side, side),
        Rect(width - inset - side, height - inset - side, side, side),
        Rect(width - inset - side, inset, side, side),
        Rect(inset, inset, side, side),
    )
    top = height - spec.content_inset
    # The QR's right edge leaves its quiet zone clear of the top right square.
    qr_right = width - max(spec.margin, inset + side + spec.quiet)
    qr = Rect(qr_right - spec.qr, top - spec.qr, spec.qr, spec.qr)
    code_width = CODE_LINE_CHARS * CODE_ADVANCE * spec.code
    code_height = CODE_LINES * CODE_LEADING * spec.code
    code = Rect(qr.centre[0] - code_width / 2, qr.y - spec.quiet - code_height, code_width, code_height)
    header_bottom = qr.y - spec.quiet - header_allowance(spec)

    left, right = spec.margin, width - spec.margin
    bottom = spec.content_inset
    number_width = spec.box * 0.45
    rest = right - left - number_width - 3 * spec.box
    widths = (number_width, rest * 0.55, rest * 0.45, spec.box, spec.box, spec.box)
    columns = [left]
    for column in widths:
        columns.append(columns[-1] + column)
    heading_height = (spec.text - 0.5) * 2.9
    table_top = header_bottom
    row_height = min(9 * mm, (table_top - bottom - heading_height) / max(1, candidate_count))
    rows = []
    y = table_top - heading_height
    for position in range(1, candidate_count + 1):
        y -= row_height
        rows.append(RowLayout(
            position=position,
            row=Rect(left, y, right - left, row_height),
            number=Rect(columns[0], y, columns[1] - columns[0], row_height),
            name=Rect(columns[1], y, columns[3] - columns[1], row_height),
            boxes=tuple(Rect(columns[i], y, columns[i + 1] - columns[i], row_height) for i in (3, 4, 5)),
        ))
    table = Rect(left, y, right - left, table_top - y)
    return SheetLayout(paper, candidate_count, width, height, fiducials, qr, code, header_bottom, table,
                       heading_height, tuple(columns), tuple(rows), row_height)

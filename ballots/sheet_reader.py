"""Reading a scanned or photographed paper ballot: its code from the QR, and each row's mark from the boxes.

A reading is one entry made by "the scanner", never enough alone: the app shows it beside the sheet's image to a
teller, who confirms it or keys their own. So the reader's duty is to be right when it is sure and to say when it
is not: every doubt becomes a problem (an English msgid) that sends the sheet to the tellers with the reason.

How a page is read (coordinates of ballots.sheet_layout, which the printer draws from):
1. The QR is decoded with zxing-cpp (on a reduced copy first: a version 7 symbol needs no more than about 100
   dpi). Its code names the ballot, `layout_for(code)` the round's layout; its corners give the page's
   orientation (upside down included) and a first estimate of its geometry.
2. Each corner square is looked for where that estimate puts it, and the four give the page's geometry exactly,
   perspective included (a phone photo). A QR that does not sit where the layout puts it against the squares is
   another paper size or another layout: the page is not read on the machine's word.
3. The page is straightened to the layout at 6 pixels a millimetre, its lighting evened out (divided by its own
   background, so a photo's shadow is not ink), each table rule found near where the layout says (a sheet of
   another candidate count fails here), and each box's inside measured: the share of it covered by dark ink
   (a pen), and the share covered by any ink (a faint mark), against the sheet's empty boxes.
4. A box is marked, empty or doubtful by two thresholds; a row with a doubtful box is unclear. Ink outside the
   boxes (a line through a name, writing in the margins or under the table, a signature) is flagged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import zxingcpp

from . import tokens
from .errors import N_
from .scan_input import Page
from .sheet_layout import Rect, SheetLayout

NO_MARK, ONE_MARK, SEVERAL, UNCLEAR = "none", "one", "several", "unclear"

QR_UNREADABLE = N_("The QR code of this sheet could not be read: type its code.")
NOT_A_BALLOT = N_("The QR code on this page is not a ballot's.")
UNKNOWN_CODE = N_("This sheet's code is not a ballot of this round.")
NOT_THIS_LAYOUT = N_("This page does not match the round's ballot (another paper size or another list of "
                     "candidates), or its corners could not be found: read it by eye.")
BLANK_PAGE = N_("This page is blank.")
UNCLEAR_ROW = N_("A mark is too faint or too small to be sure of: look at the rows shown.")
SEVERAL_MARKS = N_("A row has several boxes marked: check whether the voter corrected a mark.")
OUTSIDE_INK = N_("There is writing outside the boxes (a crossed-out name, added words or a signature?): look at "
                 "the sheet.")

PX_PER_MM = 6.0
_PT = 25.4 / 72  # millimetres in a point
K = PX_PER_MM * _PT  # canonical pixels per point
QR_SEARCH_SIDE = 1600  # the long side of the reduced copy the QR is looked for in first
DARK = 0.55  # a pixel at most this share of its background's brightness is pen ink
FAINT = 0.80  # ... at most this, ink of any kind (pencil, a faint pen)
MARKED = 0.05  # a box whose inside is at least this share dark ink is marked
EMPTY_DARK = 0.010  # ... less than this dark ink and
EMPTY_FAINT = 0.025  # ... less than this ink of any kind: empty. Between the two: doubtful.
SHEET_PNG_PX_PER_MM = 4.0  # about 100 dpi: legible on a review screen


@dataclass(frozen=True)
class RowReading:
    position: int
    state: str  # NO_MARK, ONE_MARK, SEVERAL or UNCLEAR
    level: int | None  # 1 (high), 2 (trust), 3 (low) for ONE_MARK
    fills: tuple[float, float, float]  # share of each box's inside covered by dark ink, less an empty box's
    image_png: bytes = field(repr=False)

    @property
    def digit(self) -> str | None:
        """The digit paper entry uses for the row (ballots.tally: 0 none, 1-3 the level, 4 several); None if
        unclear."""
        return {NO_MARK: "0", SEVERAL: "4", ONE_MARK: str(self.level)}.get(self.state)


@dataclass(frozen=True)
class SheetReading:
    source: str
    page_number: int
    code: str | None
    paper: str | None
    rows: tuple[RowReading, ...]
    problems: tuple[str, ...]
    outside_ink: bool
    blank: bool
    sheet_png: bytes = field(repr=False)

    @property
    def needs_review(self) -> bool:
        return bool(self.problems)

    def as_marks(self) -> str | None:
        """The row digits as paper entry takes them, or None when the grid was not read or a row is unclear."""
        digits = [row.digit for row in self.rows]
        if not digits or None in digits:
            return None
        return "".join(digits)


def read_sheet(page: Page, layout_for: Callable[[str], SheetLayout | None]) -> SheetReading:
    """Read one page. Never raises for a bad page: what could not be read is a problem of the reading."""
    grey = page.image
    reduced = _reduced(grey, QR_SEARCH_SIDE)
    found = _find_qr(grey, reduced)

    def reading(problems, *, code=None, paper=None, rows=(), outside=False, blank=False, image=None):
        return SheetReading(page.source, page.number, code, paper, tuple(rows), tuple(problems), outside, blank,
                            _png(image if image is not None else _reduced(reduced, 1200)))

    if found is None:
        if min(grey.shape) >= 64 and _is_blank(reduced):
            return reading([BLANK_PAGE], blank=True)
        return reading([QR_UNREADABLE])
    text, corners = found
    try:
        code = tokens.code_of(tokens.secret_of(text))
    except tokens.MalformedCode:
        return reading([NOT_A_BALLOT])
    layout = layout_for(code)
    if layout is None:
        return reading([UNKNOWN_CODE], code=code)
    try:
        geometry = _geometry(grey, reduced, layout, corners)
        if geometry is None:
            return reading([NOT_THIS_LAYOUT], code=code, paper=layout.paper)
        sheet = _straighten(grey, layout, geometry)
        thumbnail = _picture(sheet.level)
        grid = _grid(sheet, layout)
        if grid is None:
            return reading([NOT_THIS_LAYOUT], code=code, paper=layout.paper, image=thumbnail)
        rows = _read_rows(sheet, layout, grid, thumbnail)
        outside = _outside_ink(sheet, layout, grid)
    except (cv2.error, np.linalg.LinAlgError, ValueError, IndexError):  # a geometry too degenerate to compute
        return reading([NOT_THIS_LAYOUT], code=code, paper=layout.paper)
    problems = []
    if any(row.state == UNCLEAR for row in rows):
        problems.append(UNCLEAR_ROW)
    if any(row.state == SEVERAL for row in rows):
        problems.append(SEVERAL_MARKS)
    if outside:
        problems.append(OUTSIDE_INK)
    return reading(problems, code=code, paper=layout.paper, rows=rows, outside=outside, image=thumbnail)


# --- the QR -------------------------------------------------------------------------------------------------------

def _reduced(grey: np.ndarray, side: int) -> np.ndarray:
    """The image halved (smoothed first) until its long side is under 1.5 x `side`: halving is several times
    quicker than any other reduction."""
    while max(grey.shape) >= 1.5 * side:
        grey = cv2.pyrDown(grey)
    return grey


def _find_qr(grey: np.ndarray, small: np.ndarray) -> tuple[str, np.ndarray] | None:
    """The QR's text and its four outer corners in the page's pixels (the symbol's top left, top right, bottom
    right, bottom left, whatever way up the page is), or None. `small` is the page reduced to QR_SEARCH_SIDE."""
    for image in (small, grey) if small is not grey else (grey,):
        scale = 2 ** round(np.log2(grey.shape[0] / image.shape[0]))
        for found in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
            if found.valid:
                p = found.position
                corners = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)],
                                   dtype=np.float64) * scale
                return found.text, corners
    return None


def _is_blank(grey: np.ndarray) -> bool:
    """Next to no ink: the back of a sheet in a duplex scan, a sheet fed twice, an empty photo."""
    small = _reduced(grey, 800).astype(np.float32)
    height, width = small.shape
    inner = small[height // 20:-height // 20, width // 20:-width // 20]
    background = cv2.GaussianBlur(cv2.dilate(inner, np.ones((15, 15), np.uint8)), (0, 0), 8)
    ink = inner < DARK * np.maximum(background, 1)
    return float(ink.mean()) < 0.002


# --- geometry -----------------------------------------------------------------------------------------------------

def _page_points(layout: SheetLayout, points) -> np.ndarray:
    """Layout points (origin bottom left) as pixel-like coordinates with y downwards (origin top left)."""
    return np.array([[x, layout.height - y] for x, y in points], dtype=np.float64)


def _qr_corners(layout: SheetLayout) -> np.ndarray:
    qr = layout.qr
    return _page_points(layout, [(qr.x, qr.top), (qr.right, qr.top), (qr.right, qr.y), (qr.x, qr.y)])


SQUARE_SEARCH_SIDE = 1000  # the corner squares are looked for in a copy this long: 5 mm is 15 pixels or more


def _geometry(grey: np.ndarray, reduced: np.ndarray, layout: SheetLayout, qr_corners: np.ndarray) -> np.ndarray | None:
    """The homography from layout points (y down) to the page's pixels, from the corner squares (three of them are
    enough, with the QR); None when fewer are found, or when the QR does not sit where the layout puts it against
    them (another paper size)."""
    small = _reduced(reduced, SQUARE_SEARCH_SIDE)
    factor = 2 ** round(np.log2(grey.shape[0] / small.shape[0]))  # pyrDown's pixel x is the original's 2x
    qr_small = qr_corners / factor
    guess = cv2.getPerspectiveTransform(_qr_corners(layout).astype(np.float32), qr_small.astype(np.float32))
    expected = _page_points(layout, [square.centre for square in layout.fiducials])
    predicted = cv2.perspectiveTransform(expected.reshape(-1, 1, 2), guess).reshape(-1, 2)
    qr_side = np.mean([np.linalg.norm(qr_small[i] - qr_small[(i + 1) % 4]) for i in range(4)])
    side = layout.fiducials[0].width * qr_side / layout.qr.width  # the squares' side in pixels, about
    candidates = _squares(small, side)
    if len(candidates) < 3:
        return None
    # Each corner's few nearest candidates (a phone's perspective can put a far corner well away from where the
    # QR alone predicts it); of every choice of one per corner, the one that puts the QR where the layout says.
    reach = 0.3 * np.hypot(*small.shape)
    near = []
    for at in predicted:
        distances = np.linalg.norm(candidates - at, axis=1)
        near.append([c for c in np.argsort(distances)[:3] if distances[c] <= reach])
    qr_layout = _qr_corners(layout).reshape(-1, 1, 2)
    tolerance = qr_side * factor / 12 + 2  # the QR where the layout puts it: within a twelfth of its side
    best, best_rank = None, None
    for choice in itertools.product(*[options + [None] for options in near]):
        present = [i for i in range(4) if choice[i] is not None]
        if len(present) < 3 or len({choice[i] for i in present}) < len(present):
            continue
        source = expected[present].astype(np.float32)
        target = (candidates[[choice[i] for i in present]] * factor).astype(np.float32)
        try:
            if len(present) == 4:
                homography = cv2.getPerspectiveTransform(source, target)
            else:  # a corner torn off or covered: the three others fix an affine map (exact for a scanner)
                homography = np.vstack([cv2.getAffineTransform(source, target), [0, 0, 1]])
        except cv2.error:
            continue
        placed = cv2.perspectiveTransform(qr_layout, homography).reshape(-1, 2)
        error = float(np.max(np.linalg.norm(placed - qr_corners, axis=1)))
        rank = (-len(present), error)  # four squares rather than three, then the QR placed best
        if error <= tolerance and (best_rank is None or rank < best_rank):
            best, best_rank = homography, rank
    return best


def _squares(small: np.ndarray, side: float) -> np.ndarray:
    """Centres of the solid dark squares about `side` pixels wide in the image (lit unevenly or not)."""
    kernel = max(3, int(3 * side) | 1)
    background = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel)))
    dark = (small.astype(np.float32) < 0.5 * background.astype(np.float32)).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(dark, connectivity=8)
    found = []
    for label in range(1, count):
        area = stats[label, cv2.CC_STAT_AREA]
        w, h = stats[label, cv2.CC_STAT_WIDTH], stats[label, cv2.CC_STAT_HEIGHT]
        if not 0.4 * side**2 <= area <= 2.2 * side**2 or max(w, h) > 2.2 * side:
            continue
        x, y = stats[label, cv2.CC_STAT_LEFT], stats[label, cv2.CC_STAT_TOP]
        points = np.column_stack(np.nonzero(labels[y:y + h, x:x + w] == label)[::-1]).astype(np.float32)
        (_, _), (rw, rh), _ = cv2.minAreaRect(points)
        if min(rw, rh) < 0.55 * side or max(rw, rh) > 1.4 * min(rw, rh) or area < 0.8 * rw * rh:
            continue
        found.append(centroids[label])
    return np.array(found, dtype=np.float64).reshape(-1, 2)


# --- the straightened sheet ---------------------------------------------------------------------------------------

@dataclass
class Straight:
    grey: np.ndarray  # the sheet at PX_PER_MM, upright
    level: np.ndarray  # float32: each pixel's share of its background's brightness (1 = paper, 0 = black)


def _straighten(grey: np.ndarray, layout: SheetLayout, homography: np.ndarray) -> Straight:
    width, height = int(round(layout.width * K)), int(round(layout.height * K))
    to_canonical = np.diag([K, K, 1.0])
    transform = homography @ np.linalg.inv(to_canonical)
    sheet = cv2.warpPerspective(grey, transform, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
    # The background: the page's brightest nearby pixels (over 12 mm: wider than a filled box is tall), smoothed;
    # computed at an eighth of the size, where it costs nothing.
    small = cv2.resize(sheet, (width // 8, height // 8), interpolation=cv2.INTER_AREA)
    kernel = max(3, int(12 * PX_PER_MM / 8) | 1)
    background = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel)))
    background = cv2.GaussianBlur(background, (0, 0), kernel / 2)
    background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    level = sheet.astype(np.float32) / np.maximum(background.astype(np.float32), 16)
    return Straight(sheet, level)


def _px(layout: SheetLayout, x: float, y: float) -> tuple[float, float]:
    return x * K, (layout.height - y) * K


@dataclass
class Grid:
    rules_y: list[float]  # canonical pixels, top to bottom: the table's top, under the heading, under each row
    rules_x: list[float]  # the four rules around the three box columns, left to right


def _find_rule(profile: np.ndarray, expected: float, reach: float) -> float | None:
    low, high = max(0, int(expected - reach)), min(len(profile), int(expected + reach) + 1)
    if high <= low:
        return None
    window = profile[low:high]
    best = int(np.argmax(window))
    if window[best] < 0.5:
        return None
    return float(low + best)


def _grid(sheet: Straight, layout: SheetLayout) -> Grid | None:
    """The table's rules found near where the layout puts them; None if a fifth or more are missing (another
    layout, or a page too distorted to trust)."""
    dark = sheet.level < FAINT  # a thin rule scanned at 150 dpi is grey
    x_left, _ = _px(layout, layout.columns[3], 0)
    x_right, _ = _px(layout, layout.columns[6], 0)
    _, y_top = _px(layout, 0, layout.table.top)
    _, y_bottom = _px(layout, 0, layout.table.y)
    rows_profile = dark[:, int(x_left):int(x_right)].mean(axis=1)
    reach = max(3.0, 0.3 * layout.row_height * K)
    rules_y, missing = [], 0
    for y in layout.row_rules:
        expected = (layout.height - y) * K
        found = _find_rule(rows_profile, expected, reach)
        missing += found is None
        rules_y.append(expected if found is None else found)
    columns_profile = dark[int(y_top):int(y_bottom), :].mean(axis=0)
    rules_x = []
    for x in layout.columns[3:]:
        found = _find_rule(columns_profile, x * K, 1.5 * PX_PER_MM)
        missing += found is None
        rules_x.append(x * K if found is None else found)
    if missing * 5 >= len(rules_y) + len(rules_x):
        return None
    # a rule found where it should not be (another candidate count): the rows' heights must agree with the layout
    heights = np.diff(rules_y[1:])
    if len(heights) and np.max(np.abs(heights - layout.row_height * K)) > max(3.0, 0.25 * layout.row_height * K):
        return None
    return Grid(rules_y, rules_x)


def _inside(level: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """The inside of a box between rules at x0..x1, y0..y1, clear of the rules (and a mark's stray edge)."""
    inset_x = 0.1 * (x1 - x0) + 2
    inset_y = 0.15 * (y1 - y0) + 2
    return level[int(round(y0 + inset_y)):int(round(y1 - inset_y)), int(round(x0 + inset_x)):int(round(x1 - inset_x))]


def _read_rows(sheet: Straight, layout: SheetLayout, grid: Grid, thumbnail: np.ndarray) -> list[RowReading]:
    measured = []
    for index in range(layout.candidate_count):
        y0, y1 = grid.rules_y[index + 1], grid.rules_y[index + 2]
        boxes = [_inside(sheet.level, grid.rules_x[i], y0, grid.rules_x[i + 1], y1) for i in range(3)]
        measured.append([(float((box < DARK).mean()), float((box < FAINT).mean())) if box.size else (1.0, 1.0)
                         for box in boxes])
    # an empty box of this sheet: the median of all its boxes (at most one in three of them is marked)
    everything = np.array(measured).reshape(-1, 2)
    empty_dark, empty_faint = np.median(everything, axis=0)
    rows = []
    for index, boxes in enumerate(measured):
        dark = [max(0.0, d - empty_dark) for d, _ in boxes]
        faint = [max(0.0, f - empty_faint) for _, f in boxes]
        states = ["marked" if d >= MARKED else "empty" if d < EMPTY_DARK and f < EMPTY_FAINT else "doubtful"
                  for d, f in zip(dark, faint)]
        marked = [i for i, state in enumerate(states) if state == "marked"]
        if "doubtful" in states:
            state, level = UNCLEAR, None
        elif len(marked) > 1:
            state, level = SEVERAL, None
        elif marked:
            state, level = ONE_MARK, marked[0] + 1
        else:
            state, level = NO_MARK, None
        # the row's picture, from the sheet's (about 100 dpi), with its rules above and below
        shrink = SHEET_PNG_PX_PER_MM / PX_PER_MM
        y0, y1 = grid.rules_y[index + 1] * shrink, grid.rules_y[index + 2] * shrink
        pad = 0.12 * (y1 - y0) + 1
        x0, _ = _px(layout, layout.table.x, 0)
        crop = thumbnail[max(0, int(y0 - pad)):int(y1 + pad) + 1,
                         max(0, int(x0 * shrink) - 3):int(grid.rules_x[-1] * shrink) + 4]
        rows.append(RowReading(index + 1, state, level, tuple(round(float(d), 4) for d in dark), _png(crop)))
    return rows


# --- ink outside the boxes ----------------------------------------------------------------------------------------

MIN_SPOT_MM2 = 0.8  # smaller dark spots in a blank area are dust or noise
OUTSIDE_MM2 = 2.0  # this much ink in the blank areas (a word, a signature, a scribble) is writing
STRIKE_MM = 12.0  # a straight run of ink this long through a name's cell is a line, not letters


def _outside_ink(sheet: Straight, layout: SheetLayout, grid: Grid) -> bool:
    return _ink_in_blank_areas(sheet, layout, grid) or _line_through_names(sheet, layout, grid)


def _ink_in_blank_areas(sheet: Straight, layout: SheetLayout, grid: Grid) -> bool:
    """Ink in the paper's blank areas: under the table and beside it, clear of the corner squares and of the page's
    edge (beyond which a photo shows the table it lay on)."""
    height, width = sheet.level.shape
    edge = int(4 * PX_PER_MM)
    gap = int(2.5 * PX_PER_MM)  # clear of the table's outer rules, wherever a slightly wrong geometry puts them
    table_left, _ = _px(layout, layout.table.x, 0)
    table_right, _ = _px(layout, layout.table.right, 0)
    top, bottom = int(grid.rules_y[0]), int(grid.rules_y[-1]) + gap
    squares = [(*_px(layout, sq.x, sq.top), *_px(layout, sq.right, sq.y)) for sq in layout.fiducials]
    bottom_squares = min(y0 for _, y0, _, _ in squares[2:]) - 2 * gap
    strips = (  # (x0, y0, x1, y1): under the table down to the lower squares, then the two sides
        (edge, bottom, width - edge, int(bottom_squares)),
        (edge, top, int(table_left) - gap, int(bottom_squares)),
        (int(table_right) + gap, top, width - edge, int(bottom_squares)),
        (int(squares[3][2]) + 2 * gap, max(bottom, int(bottom_squares)), int(squares[2][0]) - 2 * gap,
         height - edge),
    )
    area = 0.0
    for x0, y0, x1, y1 in strips:
        if x1 - x0 > 2 and y1 - y0 > 2:
            area += _ink_area((sheet.level[y0:y1, x0:x1] < DARK).astype(np.uint8))
    return area >= OUTSIDE_MM2


def _ink_area(ink: np.ndarray) -> float:
    """Square millimetres of ink in spots larger than dust."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA] / PX_PER_MM**2
    return float(areas[areas >= MIN_SPOT_MM2].sum())


def _stroke_kernels(length: int, room: float) -> list[np.ndarray]:
    """Line-shaped kernels `length` pixels long at angles near the horizontal that fit in `room` pixels of height."""
    kernels = []
    for angle in (0, 8, -8, 16, -16, 25, -25):
        rise = length * abs(np.sin(np.radians(angle)))
        if rise > room:
            continue
        kernel = np.zeros((int(rise) + 1, length), np.uint8)
        start, end = (0, 0), (length - 1, int(rise))
        if angle < 0:
            start, end = (0, int(rise)), (length - 1, 0)
        cv2.line(kernel, start, end, 1, 1)
        kernels.append(kernel)
    return kernels


def _line_through_names(sheet: Straight, layout: SheetLayout, grid: Grid) -> bool:
    """A long straight stroke in a name's or a post's cell: printed letters leave no run of ink as long as
    STRIKE_MM, a line drawn through a name does."""
    length = int(STRIKE_MM * PX_PER_MM)
    for index in range(layout.candidate_count):
        y0, y1 = int(grid.rules_y[index + 1]) + 3, int(grid.rules_y[index + 2]) - 2
        kernels = _stroke_kernels(length, y1 - y0 - 1)
        for left, right in ((layout.columns[1], layout.columns[2]), (layout.columns[2], grid.rules_x[0] / K)):
            cell = (sheet.level[y0:y1, int(left * K) + 3:int(right * K) - 2] < DARK).astype(np.uint8)
            if cell.shape[1] < length:
                continue
            cell = cv2.dilate(cell, np.ones((3, 3), np.uint8))  # a pen's line, thinned and broken by the scan
            if any(cv2.erode(cell, kernel, borderValue=0).any() for kernel in kernels):
                return True
    return False


def _picture(level: np.ndarray) -> np.ndarray:
    """The straightened sheet as people see it, at SHEET_PNG_PX_PER_MM: the paper evened out to plain white (no
    shadow, no scanner noise, which also makes the PNG small and quick to write), ink in 16 grey levels."""
    shrink = SHEET_PNG_PX_PER_MM / PX_PER_MM
    small = cv2.resize(level, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_LINEAR)
    grey = np.clip(small * 255, 0, 255).astype(np.uint8) & 0xF0
    grey[small > 0.86] = 255
    return grey


def _png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return encoded.tobytes() if ok else b""

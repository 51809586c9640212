"""A corpus of marked, scanned and photographed ballots whose every row's true reading is known.

Ballots are printed by the product's own printer (ballots.printing), rasterized with PDFium, marked with
synthetic pen strokes where ballots.sheet_layout puts the boxes (ticks, crosses, filled boxes, faint and small
marks, marks that cross into the next box, two boxes in a row, empty rows), sometimes with a name crossed out or
a signature in the margin, then degraded as a document scanner does (150-300 dpi, a skew of up to 3 degrees,
upside down, noise, JPEG) or as a phone photo does (perspective, uneven light, blur, the table around the sheet).

Used by tests/ballots/test_sheet_reader.py (a small corpus) and bench/scan.py (a large one).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import cv2
import numpy as np
import pypdfium2

from ballots import printing, sheet_layout, tokens
from ballots.scan_input import Page
from ballots.sheet_layout import SheetLayout

BASE_URL = "https://bau.dangbo-yenbinh.example.vn"
_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
           "Dương")
_MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Quang", "Thị Thu", "Hữu", "Thị Ngọc")
_GIVEN = ("Hùng", "Lan", "Thắng", "Hương", "Sơn", "Yến", "Tuấn", "Hạnh", "Cường", "Nhung", "Khải", "Lộc", "Vĩnh",
          "Trường", "Quế", "Nguyệt", "Thủy", "Ước", "Đông", "Kiên")
_POSTS = ("Bí thư Đảng ủy", "Phó Bí thư Thường trực", "Ủy viên Ban Thường vụ, Chủ nhiệm Ủy ban Kiểm tra Đảng ủy",
          "Ủy viên Ban Chấp hành", "Chủ tịch Hội Nông dân xã", "Chủ tịch Ủy ban nhân dân xã",
          "Bí thư Chi bộ thôn Đồng Tâm", "Trưởng Ban Tuyên giáo")
CANDIDATES = tuple((f"{_FAMILY[i % 15]} {_MIDDLE[i % 8]} {_GIVEN[i % 20]}", _POSTS[i % 8]) for i in range(40))

# how a voter marks a box: the usual ways, and the ways that make a reader (or a teller) hesitate
PLAIN_KINDS = ("cross", "cross", "tick", "fill")
HARD_KINDS = ("small", "faint", "border", "scribble", "two")
NONE_ROW, TWO_BOXES = "none", "two"


def sheet(candidates: int) -> printing.BallotSheet:
    return printing.BallotSheet(
        upper_committee="Huyện ủy Đông Anh", committee="Đảng ủy xã Yên Bình",
        conference="Hội nghị Ban Chấp hành Đảng bộ xã giữa nhiệm kỳ 2020-2025", held_on=dt.date(2026, 12, 5),
        title="Lấy phiếu tín nhiệm đối với Ban Chấp hành Đảng bộ xã", candidates=CANDIDATES[:candidates])


@dataclass
class Specimen:
    """One page and the truth about it."""

    name: str
    page: Page
    code: str
    layout: SheetLayout
    truth: str  # one digit a row, as paper entry takes them: 0 none, 1-3 the level, 4 several
    outside_ink: bool  # a crossed-out name or a signature: a human must look
    kinds: list[str] = field(default_factory=list)  # how each row was marked


def printed_pages(paper: str, candidates: int, count: int, dpi: int) -> tuple[list[np.ndarray], list[str]]:
    """`count` ballots printed by the product, rasterized in grey at `dpi`, with their codes."""
    secrets = [tokens.new_secret() for _ in range(count)]
    pdf = io.BytesIO()
    printing.print_ballots(sheet(candidates), secrets, pdf, base_url=BASE_URL, paper=paper)
    document = pypdfium2.PdfDocument(pdf.getvalue())
    images = []
    for index in range(count):
        page = document[index]
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        images.append(np.array(bitmap.to_numpy()[:, :, 0] if bitmap.to_numpy().ndim == 3 else bitmap.to_numpy()))
        page.close()
    document.close()
    return images, [tokens.code_of(secret) for secret in secrets]


def _to_px(layout: SheetLayout, dpi: int, x: float, y: float) -> tuple[int, int]:
    return int(round(x * dpi / 72)), int(round((layout.height - y) * dpi / 72))


def _stroke(image, points, dpi, ink, width_mm):
    thickness = max(1, int(round(width_mm / 25.4 * dpi)))
    cv2.polylines(image, [np.array(points, np.int32)], False, int(ink), thickness, cv2.LINE_AA)


def draw_mark(image: np.ndarray, layout: SheetLayout, dpi: int, box, kind: str, rng: np.random.Generator) -> None:
    """A pen's mark of the given kind in a box (layout Rect), drawn on the rasterized page."""
    x0, y0 = _to_px(layout, dpi, box.x, box.top)
    x1, y1 = _to_px(layout, dpi, box.right, box.y)
    w, h = x1 - x0, y1 - y0
    ink = rng.integers(20, 70)
    pen = rng.uniform(0.4, 0.7)

    def at(u, v):  # a point inside the box, u and v in 0..1, with a hand's wobble
        return (int(x0 + w * (u + rng.normal(0, 0.02))), int(y0 + h * (v + rng.normal(0, 0.04))))

    if kind == "cross":
        _stroke(image, [at(0.25, 0.2), at(0.75, 0.8)], dpi, ink, pen)
        _stroke(image, [at(0.72, 0.2), at(0.28, 0.8)], dpi, ink, pen)
    elif kind == "tick":
        _stroke(image, [at(0.3, 0.5), at(0.45, 0.8), at(0.72, 0.15)], dpi, ink, pen)
    elif kind == "fill":
        cv2.rectangle(image, at(0.15, 0.15), at(0.85, 0.85), int(ink), -1)
    elif kind == "small":  # a short tick in the middle: about a fifth of the box wide
        _stroke(image, [at(0.42, 0.5), at(0.48, 0.7), at(0.58, 0.3)], dpi, ink, pen)
    elif kind == "faint":  # a light pencil
        _stroke(image, [at(0.25, 0.25), at(0.75, 0.75)], dpi, rng.integers(120, 165), 0.45)
        _stroke(image, [at(0.72, 0.25), at(0.28, 0.75)], dpi, rng.integers(120, 165), 0.45)
    elif kind == "border":  # a cross whose arms run over the box's top and left rules
        _stroke(image, [at(-0.08, -0.25), at(0.7, 0.85)], dpi, ink, pen)
        _stroke(image, [at(0.75, -0.2), at(0.1, 0.9)], dpi, ink, pen)
    elif kind == "scribble":
        points = [at(rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)) for _ in range(8)]
        _stroke(image, points, dpi, ink, pen)
    else:
        raise ValueError(kind)


def cross_out_name(image, layout, dpi, row, rng) -> None:
    name = row.name
    y = name.y + name.height * rng.uniform(0.4, 0.6)
    _stroke(image, [_to_px(layout, dpi, name.x + 4, y + rng.uniform(-2, 2)),
                    _to_px(layout, dpi, name.x + name.width * 0.45, y + rng.uniform(-2, 2))], dpi, 40, 0.5)


def sign_margin(image, layout, dpi, rng) -> None:
    """A signature: a scribble under the table (or, on a full page, in the left margin)."""
    room = layout.table.y - layout.fiducials[3].top
    if room > 40:
        x, y, w, h = layout.table.x + 150, layout.table.y - min(room - 10, 45), 90, min(room - 20, 30)
    else:
        x, y, w, h = 3 * 72 / 25.4 + 4, layout.table.y + 60, layout.spec.margin - 6 * 72 / 25.4, 90
    points = [_to_px(layout, dpi, x + w * u, y + h * (0.5 + 0.45 * np.sin(u * 23)))
              for u in np.linspace(0, 1, 40)]
    _stroke(image, points, dpi, 30, 0.5)


def mark_sheet(image, layout, dpi, rng, *, hard: bool, outside: bool) -> tuple[str, list[str]]:
    """Mark every row as voters do (one box, about one row in twelve left empty); on a `hard` sheet one to three
    rows marked in a way that makes one hesitate (a small or faint mark, a cross over a rule, a scribble, two
    boxes); with `outside`, a name crossed out or a signature. Returns the truth (one digit a row) and the kinds."""
    kinds = [NONE_ROW if rng.random() < 0.08 else str(rng.choice(PLAIN_KINDS)) for _ in layout.rows]
    if hard:
        for position in rng.choice(len(kinds), size=int(rng.integers(1, 4)), replace=False):
            kinds[position] = str(rng.choice(HARD_KINDS))
    truth = []
    for row, kind in zip(layout.rows, kinds):
        if kind == NONE_ROW:
            truth.append("0")
        elif kind == TWO_BOXES:
            first, second = rng.choice(3, size=2, replace=False)
            draw_mark(image, layout, dpi, row.boxes[first], "cross", rng)
            draw_mark(image, layout, dpi, row.boxes[second], "tick", rng)
            truth.append("4")
        else:
            level = int(rng.choice(3, p=(0.7, 0.2, 0.1))) + 1
            if kind == "border" and level == 1:
                level = 2  # a cross over the first box's left rule would run into the post's cell
            draw_mark(image, layout, dpi, row.boxes[level - 1], kind, rng)
            truth.append(str(level))
    if outside:
        if rng.random() < 0.5:
            cross_out_name(image, layout, dpi, layout.rows[int(rng.integers(len(layout.rows)))], rng)
        else:
            sign_margin(image, layout, dpi, rng)
    return "".join(truth), kinds


def scanner(image: np.ndarray, dpi: int, rng: np.random.Generator, *, upside_down: bool, jpeg: bool) -> np.ndarray:
    """A document scanner's page: skewed up to 3 degrees, maybe upside down, noise, maybe JPEG. The scan is a
    little larger than the sheet (the glass around it, or the feeder's margin), so a skewed sheet keeps its
    corners."""
    margin = int(0.03 * max(image.shape))
    image = cv2.copyMakeBorder(image, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=235)
    height, width = image.shape
    angle = rng.uniform(-3, 3) + (180 if upside_down else 0)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    matrix[:, 2] += rng.normal(0, 0.01 * dpi, 2)  # the sheet not quite in the corner of the glass
    page = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=235)
    page = cv2.GaussianBlur(page, (0, 0), 0.5 * dpi / 150)
    noisy = page.astype(np.float32) * rng.uniform(0.92, 1.0) + rng.normal(0, rng.uniform(2, 6), page.shape)
    page = np.clip(noisy, 0, 255).astype(np.uint8)
    if jpeg:
        ok, encoded = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 85))])
        page = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return page


def phone(image: np.ndarray, rng: np.random.Generator, *, size: tuple[int, int] = (2250, 3000)) -> np.ndarray:
    """A phone's photo of the sheet on a table: perspective, uneven light, blur, noise, JPEG."""
    height, width = image.shape
    out_w, out_h = size
    if rng.random() < 0.5:  # held the other way round
        image = cv2.rotate(image, cv2.ROTATE_180)
    fill = rng.uniform(0.72, 0.85)  # the sheet's share of the photo's height
    scale = out_h * fill / height
    cx, cy = out_w / 2 + rng.normal(0, 0.03 * out_w), out_h / 2 + rng.normal(0, 0.03 * out_h)
    corners = np.array([[cx - width * scale / 2, cy - height * scale / 2], [cx + width * scale / 2, cy - height * scale / 2],
                        [cx + width * scale / 2, cy + height * scale / 2], [cx - width * scale / 2, cy + height * scale / 2]])
    corners += rng.uniform(-0.05, 0.05, (4, 2)) * [width * scale, height * scale]
    top_shrink = rng.uniform(0, 0.06) * width * scale  # the top farther from the lens
    corners[0, 0] += top_shrink
    corners[1, 0] -= top_shrink
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [width, 0], [width, height], [0, height]]),
                                         corners.astype(np.float32))
    table = int(rng.integers(60, 140))
    photo = cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_AREA, borderValue=table)
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / out_w + np.sin(angle) * yy / out_h)
    light = 1.0 - rng.uniform(0.25, 0.45) * (ramp - ramp.min()) / (ramp.max() - ramp.min())
    photo = photo.astype(np.float32) * light
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.7, 1.4))
    photo += rng.normal(0, rng.uniform(2, 5), photo.shape)
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 90))])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def corpus(*, papers=("A4", "A5"), counts=(15, 40), dpis=(150, 200, 300), per_setting: int = 1,
           photos_per_setting: int = 0, seed: int = 14, hard_share: float = 0.35,
           outside_share: float = 0.15) -> tuple[list, list]:
    """Scanner pages and phone photos of marked ballots: (scans, photos), lists of Specimen."""
    rng = np.random.default_rng(seed)
    scans, photos = [], []
    for paper in papers:
        for candidates in counts:
            layout = sheet_layout.sheet_layout(paper, candidates)
            for dpi in dpis:
                images, codes = printed_pages(paper, candidates, per_setting, dpi)
                for n, (image, code) in enumerate(zip(images, codes)):
                    outside = rng.random() < outside_share
                    truth, kinds = mark_sheet(image, layout, dpi, rng, hard=rng.random() < hard_share,
                                              outside=outside)
                    upside = bool(rng.random() < 0.3)
                    page = scanner(image, dpi, rng, upside_down=upside, jpeg=bool(rng.random() < 0.5))
                    name = f"{paper}-{candidates}-{dpi}dpi-{n}{'-upside-down' if upside else ''}"
                    scans.append(Specimen(name, Page(name, 1, page), code, layout, truth, outside, kinds))
            if photos_per_setting:
                images, codes = printed_pages(paper, candidates, photos_per_setting, 200)
                for n, (image, code) in enumerate(zip(images, codes)):
                    outside = rng.random() < outside_share
                    truth, kinds = mark_sheet(image, layout, 200, rng, hard=rng.random() < hard_share,
                                              outside=outside)
                    name = f"{paper}-{candidates}-photo-{n}"
                    photos.append(Specimen(name, Page(name, 1, phone(image, rng)), code, layout, truth, outside,
                                           kinds))
    return scans, photos


@dataclass
class Score:
    sheets: int = 0
    rows: int = 0
    wrong_rows: int = 0  # read definitely on a sheet with no problem, and not the truth: counted wrongly
    sheets_to_review: int = 0
    missed_outside_ink: int = 0  # a crossed-out name or signature on a sheet that reached no human
    wrong: list = field(default_factory=list)

    @property
    def review_share(self) -> float:
        return self.sheets_to_review / self.sheets if self.sheets else 0.0


def score(specimens, read) -> Score:
    """Read every specimen with `read(specimen) -> SheetReading` and count what would reach the tally wrongly."""
    result = Score()
    for specimen in specimens:
        reading = read(specimen)
        result.sheets += 1
        result.rows += len(specimen.truth)
        if reading.problems:
            result.sheets_to_review += 1
            continue
        if reading.code != specimen.code:
            result.wrong_rows += len(specimen.truth)
            result.wrong.append((specimen.name, "code", reading.code))
            continue
        if specimen.outside_ink:
            result.missed_outside_ink += 1
            result.wrong.append((specimen.name, "outside ink missed"))
        marks = reading.as_marks()
        for position, (got, want) in enumerate(zip(marks, specimen.truth), start=1):
            if got != want:
                result.wrong_rows += 1
                result.wrong.append((specimen.name, position, specimen.kinds[position - 1], want, got,
                                     reading.rows[position - 1].fills))
    return result

"""Reading scanned and photographed ballots (ballots/sheet_reader.py, ballots/scan_input.py) against a small corpus
whose truth is known (tests/scan_corpus.py): ballots printed by the product, marked, scanned at 150-300 dpi,
skewed, upside down, compressed, or photographed with a phone. A row is counted wrongly if the machine's reading
would reach the tally without a human (the sheet has no problem) and differs from the truth: there must be none.
Run with -s to see the figures (they are in the README)."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from ballots import scan_input, sheet_layout, sheet_reader
from ballots.scan_input import Page, PageRefusal
from tests import scan_corpus


@pytest.fixture(scope="module")
def small_corpus():
    """12 scanner pages (A4 and A5, 15 and 40 candidates, 150, 200 and 300 dpi) and 4 phone photos."""
    return scan_corpus.corpus(per_setting=1, photos_per_setting=1, seed=14)


def _read(specimen):
    return sheet_reader.read_sheet(specimen.page, lambda code: specimen.layout if code == specimen.code else None)


def _plain(specimen) -> bool:
    return not specimen.outside_ink and not set(specimen.kinds) & set(scan_corpus.HARD_KINDS)


def _report(kind, specimens, score):
    plain = sum(map(_plain, specimens))
    print(f"\n{kind}: {score.sheets} sheets ({plain} marked plainly), {score.rows} rows; counted wrongly: "
          f"{score.wrong_rows}; sent to review: {score.sheets_to_review} sheets ({score.review_share:.0%}); "
          f"outside ink missed: {score.missed_outside_ink}")


@pytest.mark.parametrize("kind", ["scanner", "phone"])
def test_no_row_is_counted_wrongly_and_plain_sheets_need_no_review(small_corpus, kind):
    specimens = small_corpus[0] if kind == "scanner" else small_corpus[1]
    readings = {}

    def read(specimen):
        readings[specimen.name] = _read(specimen)
        return readings[specimen.name]

    score = scan_corpus.score(specimens, read)
    _report(kind, specimens, score)
    assert score.wrong_rows == 0 and score.missed_outside_ink == 0, score.wrong
    # every sheet marked the usual way (crosses, ticks, filled boxes, empty rows) is read without a human's help
    for specimen in specimens:
        if _plain(specimen):
            assert readings[specimen.name].problems == (), (specimen.name, readings[specimen.name].problems)
            assert readings[specimen.name].as_marks() == specimen.truth
    # and the sheets with writing outside the boxes all went to a teller, for that reason
    for specimen in specimens:
        if specimen.outside_ink:
            assert sheet_reader.OUTSIDE_INK in readings[specimen.name].problems, specimen.name
    if kind == "scanner":
        assert any("upside-down" in s.name for s in specimens)


def test_a_reading_keeps_the_images_and_the_digits_paper_entry_takes(small_corpus):
    specimen = next(s for s in small_corpus[0] if _plain(s))
    reading = _read(specimen)
    assert reading.code == specimen.code and reading.paper == specimen.layout.paper
    assert len(reading.rows) == specimen.layout.candidate_count
    marks = reading.as_marks()
    assert len(marks) == specimen.layout.candidate_count and set(marks) <= set("01234")
    for image in [reading.sheet_png] + [row.image_png for row in reading.rows]:
        decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_UNCHANGED)
        assert decoded is not None and decoded.ndim == 2
    sheet = cv2.imdecode(np.frombuffer(reading.sheet_png, np.uint8), cv2.IMREAD_UNCHANGED)
    # upright and straightened, about 100 dpi
    assert abs(sheet.shape[1] - specimen.layout.width / 72 * 25.4 * 4) < 2


def test_a_page_of_another_paper_size_or_another_list_is_not_read(small_corpus):
    a4_15 = next(s for s in small_corpus[0] if s.name.startswith("A4-15-200"))
    for paper, count in (("A5", 15), ("A4", 40)):
        reading = sheet_reader.read_sheet(a4_15.page, lambda code: sheet_layout.sheet_layout(paper, count))
        assert reading.problems == (sheet_reader.NOT_THIS_LAYOUT,) and reading.rows == ()
        assert reading.as_marks() is None and reading.code == a4_15.code
    reading = sheet_reader.read_sheet(a4_15.page, lambda code: None)  # a code of no ballot of the round
    assert reading.problems == (sheet_reader.UNKNOWN_CODE,) and reading.code == a4_15.code


def test_a_blank_page_and_a_page_without_a_ballot_qr():
    blank = np.full((1754, 1240), 243, np.uint8)
    blank += np.random.default_rng(1).integers(0, 6, blank.shape, dtype=np.uint8)
    reading = sheet_reader.read_sheet(Page("back.png", 2, blank), lambda code: None)
    assert reading.blank and reading.problems == (sheet_reader.BLANK_PAGE,) and reading.as_marks() is None
    text = blank.copy()
    cv2.putText(text, "Bien ban kiem phieu", (100, 300), cv2.FONT_HERSHEY_SIMPLEX, 3, 0, 6)
    reading = sheet_reader.read_sheet(Page("other.png", 1, text), lambda code: None)
    assert not reading.blank and reading.problems == (sheet_reader.QR_UNREADABLE,)


# --- input -------------------------------------------------------------------------------------------------------

def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares a size and holds almost nothing: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 64


def _encoded(image: np.ndarray, ext: str) -> bytes:
    return cv2.imencode(ext, image)[1].tobytes()


def test_images_of_each_kind_are_decoded_to_grey_pages(small_corpus):
    page = small_corpus[0][0].page.image
    for ext in (".png", ".jpg", ".tif"):
        (decoded,) = scan_input.pages_of(_encoded(page, ext), f"scan{ext}")
        assert isinstance(decoded, Page) and decoded.image.shape == page.shape and decoded.image.dtype == np.uint8
    colour = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    (decoded,) = scan_input.pages_of(_encoded(colour, ".jpg"), "colour.jpg")
    assert decoded.image.ndim == 2


def test_bad_files_and_bombs_are_refused_before_decoding_and_the_rest_carries_on(small_corpus, monkeypatch):
    (refusal,) = scan_input.pages_of(b"PK\x03\x04 a spreadsheet", "list.xlsx")
    assert refusal == PageRefusal("list.xlsx", None, scan_input.NOT_A_SCAN, {"file": "list.xlsx"})
    # a 100-megapixel photo, and a PNG that declares 40000 x 40000 pixels in 100 bytes
    (refusal,) = scan_input.pages_of(_png_header(10_000, 10_000), "photo.png")
    assert refusal.message == scan_input.PAGE_TOO_LARGE and refusal.params["pixels"] == "100"
    (refusal,) = scan_input.pages_of(_png_header(40_000, 40_000), "bomb.png")
    assert refusal.message == scan_input.PAGE_TOO_LARGE
    # a damaged image: its header is fine, its data is not
    good = _encoded(small_corpus[0][0].page.image, ".png")
    (refusal,) = scan_input.pages_of(good[:len(good) // 3], "torn.png")
    assert refusal.message == scan_input.PAGE_UNREADABLE and refusal.number == 1
    # a TIFF of three pages whose second is a bomb (8000 x 8000 in a few kilobytes): pages 1 and 3 are read
    frames = [Image.fromarray(np.full((400, 300), 255, np.uint8)), Image.new("1", (8000, 8000), 1),
              Image.fromarray(np.full((400, 300), 200, np.uint8))]
    tiff = io.BytesIO()
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    assert len(tiff.getvalue()) < 200_000
    pages = list(scan_input.pages_of(tiff.getvalue(), "batch.tif"))
    assert [type(p) for p in pages] == [Page, PageRefusal, Page]
    assert pages[1].message == scan_input.PAGE_TOO_LARGE and pages[1].number == 2
    assert pages[2].image.mean() == 200


def _pdf(pages: list[tuple[float, float]]) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out)
    for width, height in pages:
        canvas.setPageSize((width, height))
        canvas.drawString(20, 20, "trang")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_pdf_pages_are_read_one_by_one_with_their_limits(monkeypatch):
    a4 = (595.3, 841.9)
    pages = list(scan_input.pages_of(_pdf([a4, (14_400, 14_400), a4]), "scan.pdf"))  # a 200-inch page
    assert [type(p) for p in pages] == [Page, PageRefusal, Page]
    assert pages[0].image.shape == (round(841.9 * 200 / 72), round(595.3 * 200 / 72))
    assert pages[1].message == scan_input.PAGE_TOO_LARGE and pages[1].number == 2
    monkeypatch.setattr(scan_input, "MAX_PAGES", 2)
    (refusal,) = scan_input.pages_of(_pdf([a4] * 3), "long.pdf")
    assert refusal.message == scan_input.TOO_MANY_PAGES and refusal.params["pages"] == 3
    (refusal,) = scan_input.pages_of(b"%PDF-1.7\n garbage", "broken.pdf")
    assert refusal.message == scan_input.NOT_A_SCAN


def test_a_printed_pdf_read_straight_has_every_row_empty():
    """The product's own PDF through the PDF path: the QR, the squares and the table found, nothing marked."""
    import io as _io

    from ballots import printing, tokens

    secret = tokens.new_secret()
    pdf = _io.BytesIO()
    printing.print_ballots(scan_corpus.sheet(40), [secret], pdf, base_url=scan_corpus.BASE_URL, paper="A5")
    (page,) = scan_input.pages_of(pdf.getvalue(), "ballots.pdf")
    reading = sheet_reader.read_sheet(page, lambda code: sheet_layout.sheet_layout("A5", 40))
    assert reading.code == tokens.code_of(secret) and reading.problems == ()
    assert reading.as_marks() == "0" * 40


def _marked_page(paper: str, candidates: int, dpi: int, marks: dict, *, name_crossed: int | None = None,
                 cover_square: int | None = None):
    """One printed sheet with the given marks ({position: [(box index, kind), ...]}), scanned plainly."""
    rng = np.random.default_rng(5)
    layout = sheet_layout.sheet_layout(paper, candidates)
    (image,), (code,) = scan_corpus.printed_pages(paper, candidates, 1, dpi)
    for position, strokes in marks.items():
        for box, kind in strokes:
            scan_corpus.draw_mark(image, layout, dpi, layout.rows[position - 1].boxes[box], kind, rng)
    if name_crossed:
        scan_corpus.cross_out_name(image, layout, dpi, layout.rows[name_crossed - 1], rng)
    if cover_square is not None:  # a corner torn off, or under a thumb
        square = layout.fiducials[cover_square]
        x0, y0 = (round(v * dpi / 72) for v in (square.x - 5, layout.height - square.top - 5))
        x1, y1 = (round(v * dpi / 72) for v in (square.right + 5, layout.height - square.y + 5))
        image[y0:y1, x0:x1] = 255
    page = scan_corpus.scanner(image, dpi, rng, upside_down=False, jpeg=False)
    return Page("marked.png", 1, page), code, layout


def test_each_row_is_classified_and_every_doubt_is_a_reason_for_review():
    marks = {1: [(0, "cross")], 3: [(1, "faint")], 4: [(0, "cross"), (2, "tick")], 5: [(2, "fill")],
             6: [(1, "tick")]}
    page, code, layout = _marked_page("A4", 8, 200, marks, name_crossed=7)
    reading = sheet_reader.read_sheet(page, lambda c: layout if c == code else None)
    states = [(row.state, row.level) for row in reading.rows]
    assert states == [("one", 1), ("none", None), ("unclear", None), ("several", None), ("one", 3), ("one", 2),
                      ("none", None), ("none", None)]
    assert [row.digit for row in reading.rows] == ["1", "0", None, "4", "3", "2", "0", "0"]
    assert reading.as_marks() is None  # an unclear row: no digits to enter on the machine's word
    assert set(reading.problems) == {sheet_reader.UNCLEAR_ROW, sheet_reader.SEVERAL_MARKS, sheet_reader.OUTSIDE_INK}
    assert reading.outside_ink


def test_three_corner_squares_and_the_qr_are_enough():
    page, code, layout = _marked_page("A5", 15, 150, {2: [(0, "cross")]}, cover_square=3)
    reading = sheet_reader.read_sheet(page, lambda c: layout)
    assert reading.problems == () and reading.as_marks() == "010000000000000"


def test_a_photo_taken_sideways_is_read_the_right_way_up(small_corpus):
    """A phone held sideways writes the page turned a quarter (its EXIF orientation is not applied): the QR's
    corners say which way is up."""
    specimen = next(s for s in small_corpus[1] if _plain(s))
    for turn in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE):
        page = Page(specimen.name, 1, cv2.rotate(specimen.page.image, turn))
        reading = sheet_reader.read_sheet(page, lambda code: specimen.layout)
        assert reading.problems == () and reading.as_marks() == specimen.truth


@pytest.mark.parametrize("shape,value", [((5, 7), 255), ((40, 3000), 0), ((1200, 900), None)])
def test_odd_pages_give_a_reason_never_an_error(shape, value):
    image = (np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8) if value is None
             else np.full(shape, value, np.uint8))
    reading = sheet_reader.read_sheet(Page("odd.png", 1, image), lambda code: None)
    assert reading.problems in ((sheet_reader.QR_UNREADABLE,), (sheet_reader.BLANK_PAGE,)) and reading.rows == ()
    assert cv2.imdecode(np.frombuffer(reading.sheet_png, np.uint8), cv2.IMREAD_UNCHANGED) is not None


def test_a_ballot_qr_on_a_page_with_no_sheet_around_it(small_corpus):
    """The QR cut out of a sheet (a photo of the QR alone): the code is read, the grid is not."""
    specimen = small_corpus[0][0]
    layout = specimen.layout
    scans, _ = scan_corpus.printed_pages(layout.paper, layout.candidate_count, 1, 200)
    px = 200 / 72
    qr = layout.qr
    crop = scans[0][round((layout.height - qr.top - 20) * px):round((layout.height - qr.y + 20) * px),
                    round((qr.x - 20) * px):round((qr.right + 20) * px)]
    reading = sheet_reader.read_sheet(Page("qr.png", 1, np.ascontiguousarray(crop)), lambda code: layout)
    assert reading.code is not None and reading.problems == (sheet_reader.NOT_THIS_LAYOUT,) and reading.rows == ()

"""The printed ballot PDF, read back the way a printer and a tablet camera would: poppler renders and extracts
each page, zxing-cpp decodes its QR. A handful of pages per PDF keeps this quick."""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ballots import printing, sheet_layout, tokens
from tests import pdfs
from tests.conftest import poppler
from tests.factories import make_round

BASE_URL = "https://bau.dangbo-yenbinh.example.vn"
LONG_POST = "Ủy viên Ban Thường vụ, Chủ nhiệm Ủy ban Kiểm tra Đảng ủy"
FIRST_FIVE = (
    ("Nguyễn Thị Phương Thảo", "Bí thư Đảng ủy"),
    ("Đỗ Thị Huệ", "Phó Bí thư Thường trực"),
    ("Trần Quốc Vượng", LONG_POST),
    ("Lê Văn Dũng", "Ủy viên Ban Thường vụ"),
    ("Hoàng Thị Ngọc Ánh", "Ủy viên Ban Chấp hành"),
)
_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
           "Dương")
_MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Quang", "Thị Thu", "Hữu", "Thị Ngọc")
_GIVEN = ("Hùng", "Lan", "Thắng", "Hương", "Sơn", "Yến", "Tuấn", "Hạnh", "Cường", "Nhung", "Khải", "Lộc", "Vĩnh",
          "Trường", "Quế", "Nguyệt", "Thủy", "Ước", "Đông", "Kiên")
_POSTS = ("Ủy viên Ban Chấp hành", "Chủ tịch Hội Nông dân xã", "Chủ tịch Ủy ban nhân dân xã",
          "Bí thư Chi bộ thôn Đồng Tâm", "Trưởng Ban Tuyên giáo", "Phó Chủ tịch Hội đồng nhân dân xã")
FORTY = FIRST_FIVE + tuple(
    (f"{_FAMILY[i % 15]} {_MIDDLE[i % 8]} {_GIVEN[i % 20]}", _POSTS[i % 6]) for i in range(35))


def _sheet(candidates) -> printing.BallotSheet:
    return printing.BallotSheet(
        upper_committee="Huyện ủy Đông Anh",
        committee="Đảng ủy xã Yên Bình",
        conference="Hội nghị Ban Chấp hành Đảng bộ xã giữa nhiệm kỳ 2020-2025",
        held_on=dt.date(2026, 12, 5),
        title="Lấy phiếu tín nhiệm đối với Ban Chấp hành Đảng bộ xã",
        candidates=tuple(candidates),
    )


def _numbered(candidates) -> str:
    return " ".join(f"{number} {name} {post}" for number, (name, post) in enumerate(candidates, start=1))


def _shown_code(secret: bytes) -> str:
    """The code as it is printed under the QR: nine groups of three characters, three groups a line."""
    code = tokens.code_of(secret)
    return " ".join(code[i:i + 3] for i in range(0, 27, 3))


@dataclass
class Printed:
    """One PDF and what poppler and zxing-cpp read from it, each read once and kept."""

    pdf: Path
    sheet: printing.BallotSheet
    secrets: list[bytes]
    pages: int
    progress: list[int]
    _texts: list[str] = field(default_factory=list)
    _qrs: list[list[str]] = field(default_factory=list)

    def text(self, page: int) -> str:
        """The text of a page (1-based), in content-stream order."""
        if not self._texts:
            self._texts = [pdfs.words(pdfs.page_text(self.pdf, n)) for n in range(1, self.pages + 1)]
        return self._texts[page - 1]

    def qr_texts(self) -> list[list[str]]:
        """For each page, the text of every QR code found on it at 100 dpi in grey."""
        if not self._qrs:
            self._qrs = pdfs.qr_texts(self.pdf)
            assert len(self._qrs) == self.pages
        return self._qrs


def _print(folder: Path, sheet, secrets, paper, name="ballots") -> Printed:
    pdf = folder / f"{name}.pdf"
    calls: list[int] = []
    with pdf.open("wb") as out:
        pages = printing.print_ballots(sheet, secrets, out, base_url=BASE_URL, paper=paper, progress=calls.append)
    return Printed(pdf, sheet, list(secrets), pages, calls)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """printed("A4", 40): three ballots of a 40-candidate sheet on A4, printed once for the module."""
    made = {}

    def get(paper: str, candidates: int) -> Printed:
        if (paper, candidates) not in made:
            folder = tmp_path_factory.mktemp(f"{paper}-{candidates}")
            sheet = _sheet(FORTY[:candidates])
            made[paper, candidates] = _print(folder, sheet, [tokens.new_secret() for _ in range(3)], paper)
        return made[paper, candidates]

    return get


LAYOUTS = [("A4", 5), ("A4", 40), ("A5", 5), ("A5", 40)]


@pytest.mark.parametrize("paper,candidates", LAYOUTS)
def test_every_page_has_one_qr_that_reads_as_that_pages_secret(printed, paper, candidates):
    ballots = printed(paper, candidates)
    qrs = ballots.qr_texts()
    assert ballots.pages == len(qrs) == 3
    assert all(len(found) == 1 for found in qrs), qrs
    read = [tokens.secret_of(found[0]) for found in qrs]
    assert read == ballots.secrets  # page n carries secret n: each secret exactly once, none other
    assert len(set(read)) == 3


@pytest.mark.parametrize("paper,candidates", LAYOUTS)
def test_the_qr_payload_is_the_base_url_then_the_code_in_the_fragment(printed, paper, candidates):
    ballots = printed(paper, candidates)
    for found, secret in zip(ballots.qr_texts(), ballots.secrets):
        assert found[0].startswith(BASE_URL + "/b#1.")
        assert found[0] == tokens.qr_payload(BASE_URL, secret)


@pytest.mark.parametrize("paper,candidates", LAYOUTS)
def test_every_page_lists_every_candidate_with_their_post_in_ballot_order(printed, paper, candidates):
    ballots = printed(paper, candidates)
    expected = _numbered(FORTY[:candidates])
    assert LONG_POST in expected  # the long post is among them on every layout
    for page in range(1, ballots.pages + 1):
        assert expected in ballots.text(page)


@pytest.mark.parametrize("paper,candidates", LAYOUTS)
def test_every_page_has_the_title_the_headings_the_committees_and_the_conference(printed, paper, candidates):
    ballots = printed(paper, candidates)
    sheet = ballots.sheet
    for page in range(1, ballots.pages + 1):
        text = ballots.text(page)
        # the committees are printed in capitals in the header
        for expected in ("PHIẾU TÍN NHIỆM", "ĐẢNG CỘNG SẢN VIỆT NAM", "HUYỆN ỦY ĐÔNG ANH", "ĐẢNG ỦY XÃ YÊN BÌNH",
                         sheet.conference, sheet.title, "ngày 05 tháng 12 năm 2026", "STT Họ và tên Chức vụ",
                         "Tín nhiệm cao", "Tín nhiệm thấp"):
            assert expected in text, expected


@pytest.mark.parametrize("paper,candidates", LAYOUTS)
def test_every_page_shows_its_own_code_and_no_other(printed, paper, candidates):
    ballots = printed(paper, candidates)
    for page, secret in enumerate(ballots.secrets, start=1):
        text = ballots.text(page)
        assert _shown_code(secret) in text
        assert tokens.secret_of(_shown_code(secret)) == secret  # typed as printed, spaces and all
        others = [s for s in ballots.secrets if s != secret]
        assert not any(_shown_code(other) in text for other in others)


@pytest.mark.parametrize("paper", ["A4", "A5"])
def test_every_font_is_embedded_the_code_in_a_monospaced_face(printed, paper):
    listing = pdfs.run(poppler("pdffonts"), str(printed(paper, 5).pdf))
    embedded = {}
    for line in listing.splitlines()[2:]:
        columns = line.split()
        # name, type (one or two words), encoding, emb, sub, uni, object, generation
        embedded[columns[0].split("+")[-1]] = columns[-5]
    assert set(embedded) == {"BeVietnamPro-Regular", "BeVietnamPro-Bold", "BeVietnamPro-Italic",
                             "BeVietnamPro-SemiBold", "IBMPlexMono-SemiBold"}, listing
    assert set(embedded.values()) == {"yes"}, listing


def _word_boxes(pdf: Path, page: int = 1) -> list[tuple[str, float, float, float, float]]:
    """Every word of a page with its box in points from the top left: (text, x_min, y_min, x_max, y_max)."""
    layout = pdfs.run(poppler("pdftotext"), "-raw", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-")
    return [(unicodedata.normalize("NFC", text), float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1, text
            in re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
                          layout)]


@pytest.mark.parametrize("paper", ["A4", "A5"])
def test_the_code_is_printed_at_10_points_or_more_under_the_qr(printed, paper):
    """Older delegates type the code from paper (issue 12): 10 pt at least, in three lines under the QR."""
    ballots = printed(paper, 5)
    groups = _shown_code(ballots.secrets[0]).split()
    boxes = [box for box in _word_boxes(ballots.pdf) if box[0] in groups]
    assert [box[0] for box in boxes] == groups
    layout = sheet_layout.sheet_layout(paper, 5)
    qr_bottom = layout.height - layout.qr.y
    for _, x0, y0, x1, y1 in boxes:
        # poppler's word box is the font's ascent plus descent: 1.3 em for IBM Plex Mono
        assert (y1 - y0) / 1.3 >= 10 - 0.05, (y0, y1)
        assert y0 > qr_bottom and layout.qr.x - 10 < x0 < x1 < layout.qr.right + 10
    assert len({round(box[4]) for box in boxes}) == 3  # three lines


@pytest.mark.parametrize("paper", ["A4", "A5"])
def test_the_qr_has_a_quiet_zone_of_four_modules(printed, paper):
    """Nothing is printed within 4 modules of the QR symbol (the standard's quiet zone), the corner squares
    included: rendered at 300 dpi, the frame around the symbol is white."""
    ballots = printed(paper, 5)
    prefix = ballots.pdf.with_name(f"quiet-{paper}")
    pdfs.run(poppler("pdftoppm"), "-r", "300", "-gray", "-f", "1", "-l", "1", "-singlefile", str(ballots.pdf),
             str(prefix))
    with Image.open(f"{prefix}.pgm") as rendered:
        page = np.asarray(rendered)
    layout = sheet_layout.sheet_layout(paper, 5)
    px, qr = 300 / 72, layout.qr
    quiet = 4 * qr.width / 45
    # pixel edges of the symbol (rounded inwards by one pixel) and of its quiet zone (rounded outwards)
    left, right = round(qr.x * px) + 1, round(qr.right * px) - 1
    top, bottom = round((layout.height - qr.top) * px) + 1, round((layout.height - qr.y) * px) - 1
    margin = int(quiet * px) + 1
    frame = page[top - margin:bottom + margin, left - margin:right + margin].copy()
    assert frame[margin:-margin, margin:-margin].min() < 50  # the symbol is there
    frame[margin - 2:-margin + 2, margin - 2:-margin + 2] = 255
    assert frame.min() > 200


@pytest.mark.parametrize("paper,size", [("A4", "595 x 842"), ("A5", "420 x 595")])
def test_the_pages_have_the_size_of_the_paper(printed, paper, size):
    info = pdfs.run(poppler("pdfinfo"), "-f", "1", "-l", "3", str(printed(paper, 5).pdf))
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert len(sizes) == 3
    # A4 is 210 x 297 mm = 595.3 x 841.9 pt; A5 is 148 x 210 mm = 419.5 x 595.3 pt
    assert {f"{round(float(w))} x {round(float(h))}" for w, h in sizes} == {size}


def test_progress_is_reported_every_50_pages_and_at_the_end(tmp_path):
    sheet = _sheet(FIRST_FIVE)
    secrets = [tokens.new_secret() for _ in range(120)]
    ballots = _print(tmp_path, sheet, secrets, "A5")
    # 120 pages: at 50, at 100, and the last 20 at the end
    assert ballots.pages == 120 and ballots.progress == [50, 100, 120]
    assert pdfs.page_count(ballots.pdf) == 120


def test_progress_ends_at_the_total_without_repeating_it(tmp_path):
    # 100 pages: at 50 and at 100, and not a second 100 at the end
    ballots = _print(tmp_path, _sheet(FIRST_FIVE), [tokens.new_secret() for _ in range(100)], "A4")
    assert ballots.progress == [50, 100]
    few = _print(tmp_path, _sheet(FIRST_FIVE), [tokens.new_secret() for _ in range(3)], "A4", name="few")
    assert few.pages == 3 and few.progress == [3]


@pytest.mark.parametrize("paper", ["A4", "A5"])
def test_a_long_post_is_wrapped_onto_two_lines_at_a_readable_size(printed, paper):
    """The post of the third candidate does not fit one line of its cell: it goes onto two lines, not onto
    one line shrunk to a size nobody can read. Two lines fit at 8.9 pt on A4 and 6.3 pt on A5."""
    ballots = printed(paper, 5)
    layout = pdfs.run(poppler("pdftotext"), "-raw", "-bbox", "-f", "1", "-l", "1", str(ballots.pdf), "-")
    words = [(unicodedata.normalize("NFC", text), float(y_min), float(y_max)) for y_min, y_max, text in
             re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', layout)]
    texts = [w[0] for w in words]
    row = ["3", "Trần", "Quốc", "Vượng", *LONG_POST.split()]
    start = next(i for i in range(len(texts)) if texts[i:i + len(row)] == row)
    name = words[start + 1:start + 4]
    post = words[start + 4:start + len(row)]
    name_height = name[0][2] - name[0][1]
    post_height = post[0][2] - post[0][1]
    baselines = sorted({round(y_max, 1) for _, _, y_max in post})
    assert len(baselines) == 2, (f"the post is on {len(baselines)} line(s), its words {post_height:.1f} pt high "
                                 f"against {name_height:.1f} pt for the name")
    # the name is set at the row's size; the post's two lines at no less than 60 % of it
    assert post_height >= 0.6 * name_height, (post_height, name_height)


def test_a_round_from_the_database_is_printed_with_its_committee_candidates_and_codes(session, world, tmp_path):
    issued = make_round(session, world, until="issued", title="Lấy phiếu tín nhiệm Ban Chấp hành", convened=30,
                        present=28, issue=3)
    round_ = issued.round
    sheet = printing.sheet_of(round_)
    assert sheet == printing.BallotSheet(
        upper_committee="Huyện ủy Đông Anh", committee="Đảng ủy xã Yên Bình",
        conference="Hội nghị sơ kết giữa nhiệm kỳ", held_on=dt.date(2026, 12, 5),
        title="Lấy phiếu tín nhiệm Ban Chấp hành",
        candidates=(("Nguyễn Văn Hùng", "Bí thư"), ("Trần Thị Lan", "Phó Bí thư"),
                    ("Lê Đức Thắng", "Ủy viên Ban Thường vụ"), ("Phạm Thị Hương", "Ủy viên Ban Chấp hành")))
    ballots = _print(tmp_path, sheet, issued.secrets, "A4")
    assert [tokens.secret_of(found[0]) for found in ballots.qr_texts()] == issued.secrets
    for page, secret in enumerate(issued.secrets, start=1):
        text = ballots.text(page)
        assert ("1 Nguyễn Văn Hùng Bí thư 2 Trần Thị Lan Phó Bí thư 3 Lê Đức Thắng Ủy viên Ban Thường vụ "
                "4 Phạm Thị Hương Ủy viên Ban Chấp hành") in text
        for expected in ("HUYỆN ỦY ĐÔNG ANH", "ĐẢNG ỦY XÃ YÊN BÌNH", "Hội nghị sơ kết giữa nhiệm kỳ",
                         "Lấy phiếu tín nhiệm Ban Chấp hành", "ngày 05 tháng 12 năm 2026", "PHIẾU TÍN NHIỆM"):
            assert expected in text
        assert _shown_code(secret) in text


def test_the_key_cards_print_their_code_in_the_embedded_monospaced_face(tmp_path):
    from ballots import ballot_box, box, key_cards

    key = box.new_key()
    cards = box.split_key(key, round_id=7, needed=2, cards=3)
    made = ballot_box.Made(box.public_bytes(key), 2, [ballot_box.IssuedCard(card, holder) for card, holder in
                                                      zip(cards, ["Nguyễn Văn An", "Trần Thị Bình", None])])
    pdf = tmp_path / "cards.pdf"
    with pdf.open("wb") as out:
        printing.print_ballots(_sheet(FORTY[:5]), [tokens.new_secret()], out, base_url=BASE_URL, paper="A4",
                               front=key_cards.front(_sheet(FORTY[:5]), made))
    listing = pdfs.run(poppler("pdffonts"), str(pdf))
    assert "IBMPlexMono-SemiBold" in listing and "Courier" not in listing, listing
    assert {line.split()[-5] for line in listing.splitlines()[2:]} == {"yes"}, listing
    text = pdfs.run(poppler("pdftotext"), "-f", "1", "-l", "1", str(pdf), "-")
    assert tokens.grouped(cards[0].code)[:19] in text  # the card's code, typed as printed

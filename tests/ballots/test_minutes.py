"""The counting minutes PDF, read back the way a person and a phone would: poppler extracts each page's text
(-layout, so a table row stays on one line) and renders it, zxing-cpp decodes the QR. No database."""

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ballots import minutes, minutes_pages, results, rules, signing
from ballots.formats import canonical_json
from ballots.tally import CROSSED_OUT, HIGH, LOW, NONE, NOT_ISSUED, TRUST, Sheet, tally
from tests import pdfs
from tests.conftest import poppler

LONG_NAME = "Tôn Nữ Thị Hoàng Yến Khánh Linh"
LONG_POST = "Ủy viên Ban Thường vụ, Chủ nhiệm Ủy ban Kiểm tra Đảng ủy"
CANDIDATES = [
    ("Nguyễn Thị Phương Thảo", "Bí thư Đảng ủy"),
    ("Đỗ Thị Huệ", "Phó Bí thư Thường trực"),
    ("Trần Quốc Vượng", "Phó Chủ tịch Ủy ban nhân dân xã"),
    ("Lê Văn Dũng", "Ủy viên Ban Thường vụ"),
    (LONG_NAME, LONG_POST),
]
# per candidate (high, trust, low) on the 30 valid sheets
COUNTS = [(10, 3, 17), (5, 3, 22), (30, 0, 0), (14, 0, 16), (7, 0, 23)]
ROUND = {
    "id": 7, "title": "đối với Ban Chấp hành Đảng bộ xã", "committee": "Đảng ủy xã Yên Bình", "level": "xã",
    "parent": "Huyện ủy Đông Anh", "conference": "Hội nghị Ban Chấp hành Đảng bộ xã giữa nhiệm kỳ",
    "held_on": "2026-12-05", "place": "Yên Bình", "term": "2020–2025",
    "board": ["Hà Văn Minh", "Phạm Thị Thu", "Ngô Quang Hải"],
}


def _valid_sheets(counts) -> list[Sheet]:
    """Sheets whose columns give each candidate exactly their (high, trust, low)."""
    columns = [[HIGH] * high + [TRUST] * trust + [LOW] * low for high, trust, low in counts]
    assert len({len(column) for column in columns}) == 1
    return [Sheet(bytes(column[i] for column in columns)) for i in range(len(columns[0]))]


def _document(*, candidates, sheets, rule_set, convened, present, issued, **extra) -> dict:
    counted = tally(sheets, candidates=len(candidates), rule_set=rule_set, convened=convened, present=present,
                    issued=issued)
    doc = results.document(
        round_info=dict(ROUND), rule_set=rule_set, tally=counted, candidates=candidates,
        token_commitment="ab" * 32, digest=results.ballots_digest(sheets), audit_head=(42, "cd" * 32),
        approved_by=["Phạm Thị Thu", "Hà Văn Minh"])
    doc.update({"sealed_at": "2026-12-05T09:05:00Z", "set_aside": {"duplicates": 2},
                "rulings": {"sheets": 3, "anomaly": None}})
    doc.update(extra)
    return doc


def five_document(rule_set=None, **extra) -> dict:
    """33 collected of 35 issued: 30 valid, and 3 invalid (a crossed-out name, a sheet the board did not issue,
    a row left empty, which voids the sheet under QĐ 96's default "ballot" policy)."""
    invalid = [Sheet(bytes([LOW] * 5), frozenset({CROSSED_OUT})), Sheet(bytes(5), frozenset({NOT_ISSUED})),
               Sheet(bytes([HIGH, NONE, HIGH, HIGH, HIGH]))]
    return _document(candidates=CANDIDATES, sheets=_valid_sheets(COUNTS) + invalid,
                     rule_set=rule_set or rules.preset("qd96-2023"), convened=36, present=35, issued=35, **extra)


@dataclass
class Minutes:
    """One minutes PDF and what poppler and zxing-cpp read from it, each read once and kept."""

    pdf: Path
    _pages: list[str] = field(default_factory=list)
    _qrs: list[list[str]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return pdfs.page_count(self.pdf)

    def layout(self, page: int) -> str:
        """The text of a page (1-based) laid out as printed: one line a table row (unless a cell wraps)."""
        if not self._pages:
            self._pages = [pdfs.page_text(self.pdf, n, layout=True) for n in range(1, self.pages + 1)]
        return self._pages[page - 1]

    def text(self, page: int) -> str:
        return pdfs.words(self.layout(page))

    def all_text(self) -> str:
        return " ".join(self.text(page) for page in range(1, self.pages + 1))

    def row(self, number: int) -> "Row":
        """The results table's row of a candidate: its first line (number, the start of the name and post, and
        every count and percentage: cells are set at the top of the row) and the lines its cells wrap onto."""
        for page in range(1, self.pages + 1):
            lines = self.layout(page).splitlines()
            for index, line in enumerate(lines):
                if re.match(rf"\s*{number}\s{{2,}}\S", line) and "%" in line:
                    block = [line]
                    for more in lines[index + 1:]:
                        if not more.strip() or re.match(r"\s*\d+\s{2,}\S", more) or "Tín nhiệm thấp" in more:
                            break
                        block.append(more)
                    return Row(pdfs.words(line), pdfs.words(" ".join(block)))
        raise AssertionError(f"no table row {number}")

    def qr_texts(self) -> list[list[str]]:
        """For each page, the text of every QR code found on it at 100 dpi in grey."""
        if not self._qrs:
            self._qrs = pdfs.qr_texts(self.pdf)
        return self._qrs


@dataclass
class Row:
    first_line: str
    words: str

    @property
    def figures(self) -> str:
        """The counts and percentages at the end of the first line."""
        tokens = self.first_line.split()
        start = len(tokens)
        while start > 0 and re.fullmatch(r"[\d.]+|[\d.]+,\d\d%|—", tokens[start - 1]):
            start -= 1
        return " ".join(tokens[start:])


def _write(folder: Path, name: str, data: bytes) -> Minutes:
    assert data.startswith(b"%PDF-")
    pdf = folder / f"{name}.pdf"
    pdf.write_bytes(data)
    return Minutes(pdf)


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def five(tmp_path_factory, key):
    """The five-candidate round: its document, envelope, and its minutes drawn as a draft and signed."""
    folder = tmp_path_factory.mktemp("five")
    doc = five_document()
    envelope = results.sign_document(key, doc)
    return {"document": doc, "envelope": envelope,
            "draft": _write(folder, "draft", minutes.minutes_pdf(doc)),
            "signed": _write(folder, "signed", minutes.minutes_pdf(doc, signed=envelope))}


def forty_document() -> dict:
    """40 candidates with long names and posts, 1.234 sheets collected (all valid) of 1.240 issued."""
    names = [(f"{LONG_NAME} {number}", f"Phó Chủ tịch Hội đồng nhân dân xã kiêm Trưởng Ban Kinh tế – Xã hội {number}")
             for number in range(1, 41)]
    # candidate n gets n*10 low, 1.234 - n*10 - 100 high and 100 trust
    counts = [(1234 - n * 10 - 100, 100, n * 10) for n in range(1, 41)]
    return _document(candidates=names, sheets=_valid_sheets(counts), rule_set=rules.preset("qd96-2023"),
                     convened=1250, present=1245, issued=1240)


@pytest.fixture(scope="module")
def forty(tmp_path_factory, key):
    folder = tmp_path_factory.mktemp("forty")
    doc = forty_document()
    return {"document": doc, "signed": _write(folder, "signed", minutes.minutes_pdf(
        doc, signed=results.sign_document(key, doc)))}


# --- what the minutes say ---------------------------------------------------------------------------------


def test_the_header_title_conference_and_board_are_printed_in_vietnamese(five):
    text = five["signed"].text(1)
    for expected in ("HUYỆN ỦY ĐÔNG ANH", "ĐẢNG ỦY XÃ YÊN BÌNH", "ĐẢNG CỘNG SẢN VIỆT NAM",
                     "Yên Bình, ngày 05 tháng 12 năm 2026", "BIÊN BẢN KIỂM PHIẾU",
                     "Lấy phiếu tín nhiệm đối với Ban Chấp hành Đảng bộ xã", "Nhiệm kỳ 2020–2025",
                     "Hội nghị: Hội nghị Ban Chấp hành Đảng bộ xã giữa nhiệm kỳ.",
                     "Ban kiểm phiếu gồm các đồng chí: Hà Văn Minh, Phạm Thị Thu, Ngô Quang Hải."):
        assert expected in text, expected


def test_a_title_that_already_says_lay_phieu_tin_nhiem_is_not_said_twice(tmp_path):
    doc = five_document()
    doc["round"]["title"] = "Lấy phiếu tín nhiệm Ban Thường vụ"
    text = _write(tmp_path, "title", minutes.minutes_pdf(doc)).all_text()
    assert "Lấy phiếu tín nhiệm Ban Thường vụ" in text and "tín nhiệm Lấy phiếu" not in text


def test_the_numbers_of_people_and_sheets_with_every_reason_for_invalid_sheets(five):
    text = five["signed"].all_text()
    # 36 convened, 35 present; 35 issued, 33 collected (2 not); 30 valid, 3 invalid: one for each reason
    for expected in (
        "1. Số người được triệu tập: 36 người; có mặt: 35 người; vắng mặt: 1 người.",
        "2. Số phiếu phát ra: 35 phiếu; số phiếu thu về: 33 phiếu; số phiếu không thu về: 3 phiếu.",
        "3. Số phiếu hợp lệ: 30 phiếu; số phiếu không hợp lệ: 3 phiếu, trong đó:",
        "– Phiếu không do Ban kiểm phiếu phát ra: 1 phiếu.",
        "– Phiếu gạch tên in sẵn: 1 phiếu.",
        "– Phiếu không đánh dấu hoặc đánh dấu nhiều ô: 1 phiếu.",
        "4. Phiếu trùng mã (cùng một phiếu đã được tính), để riêng, không tính: 2 phiếu.",
        "5. Số tờ phiếu do Ban kiểm phiếu quyết định vì các lần nhập phiếu không khớp nhau: 3 tờ.",
        "6. Bất thường: không có.",
        "Tỷ lệ phần trăm tính trên số phiếu thu về (33 phiếu).",
        "Quy định áp dụng: Quy định 96-QĐ/TW (2023).",
    ):
        assert expected in text, expected
    # extra writing voids nothing under QĐ 96, so it is not listed as a reason
    assert "ghi thêm tên" not in text


def test_extra_writing_is_a_listed_reason_under_qd262(tmp_path):
    doc = five_document(rules.preset("qd262-2014"))
    text = _write(tmp_path, "qd262", minutes.minutes_pdf(doc)).all_text()
    assert "– Phiếu ghi thêm tên hoặc viết thêm: 0 phiếu." in text
    assert "Quy định áp dụng: Quy định 262-QĐ/TW (2014)." in text


def test_each_row_shows_counts_and_percentages_of_the_33_collected_with_a_decimal_comma(five):
    signed = five["signed"]
    # 10/33 = 30.303 -> 30,30 %; 3/33 = 9.0909 -> 9,09 %; 17/33 = 51.5151 -> 51,52 % (half up)
    rows = [signed.row(number) for number in range(1, 6)]
    assert [row.figures for row in rows] == [
        "10 30,30% 3 9,09% 17 51,52%",
        "5 15,15% 3 9,09% 22 66,67%",  # 22/33 = 66.666... -> 66,67 %
        "30 90,91% 0 0,00% 0 0,00%",  # 30/33 = 90.909... -> 90,91 %
        "14 42,42% 0 0,00% 16 48,48%",
        "7 21,21% 0 0,00% 23 69,70%",  # 23/33 = 69.6969... -> 69,70 %
    ]
    assert rows[0].first_line.startswith("1 Nguyễn Thị Phương Thảo Bí thư Đảng ủy 10")
    assert rows[3].first_line.startswith("4 Lê Văn Dũng Ủy viên Ban Thường vụ 14")
    # a long name and a long post wrap within their cells: every word is there, in the row's own lines
    for number, (name, post) in enumerate(CANDIDATES, start=1):
        words = rows[number - 1].words.split()
        assert words[0] == str(number)
        assert all(word in words for word in (name + " " + post).split()), (number, words)


def test_the_flags_crossed_and_the_named_consequences_are_stated(five):
    text = five["signed"].all_text()
    qd96 = rules.preset("qd96-2023").consequences
    half, two_thirds = qd96[rules.MORE_THAN_HALF], qd96[rules.TWO_THIRDS_OR_MORE]
    # 17 low of 33: 2*17 = 34 > 33, more than half; 3*17 = 51 < 66, not two thirds
    assert f"Tín nhiệm thấp trên một nửa. Theo quy định: {half}." in text
    # 22 of 33: 3*22 = 66 >= 66, two thirds or more, but not more than two thirds (66 > 66 is false)
    assert f"Tín nhiệm thấp trên một nửa; từ hai phần ba trở lên. Theo quy định: {half}; {two_thirds}." in text
    # 23 of 33: 3*23 = 69 > 66, all three; QĐ 96 names no consequence for "more than two thirds"
    assert ("Tín nhiệm thấp trên một nửa; từ hai phần ba trở lên; trên hai phần ba. Theo quy định: "
            f"{half}; {two_thirds}.") in text
    # 16 of 33: 2*16 = 32, not more than half: no flag line for candidate 4, and 3 flag lines in all
    assert text.count("Tín nhiệm thấp trên một nửa") == 3
    assert ("trên một nửa: 3 đồng chí (STT 1, 2, 5); từ hai phần ba trở lên: 2 đồng chí (STT 2, 5); "
            "trên hai phần ba: 1 đồng chí (STT 5).") in text


def test_the_base_is_stated_in_words_and_the_percentages_follow_it(tmp_path):
    issued = _write(tmp_path, "issued", minutes.minutes_pdf(
        five_document(rules.preset("qd96-2023").with_settings(base="issued"))))
    assert "Tỷ lệ phần trăm tính trên số phiếu phát ra (35 phiếu)." in issued.all_text()
    # 17/35 = 48.571 -> 48,57 %: no longer more than half (2*17 = 34 < 35); 22 and 23 still are (44, 46 > 35)
    # but no longer two thirds (3*22 = 66 and 3*23 = 69 < 70)
    assert issued.row(1).figures.endswith("17 48,57%")
    assert ("trên một nửa: 2 đồng chí (STT 2, 5); từ hai phần ba trở lên: không có; trên hai phần ba: không có."
            in issued.all_text())
    convened = _write(tmp_path, "convened", minutes.minutes_pdf(
        five_document(rules.preset("qd96-2023").with_settings(base="convened"))))
    assert "Tỷ lệ phần trăm tính trên số người được triệu tập (36 người)." in convened.all_text()
    assert convened.row(2).figures.endswith("22 61,11%")  # 22/36 = 61.111


def test_rows_not_counted_are_shown_only_when_there_are_any(five, tmp_path):
    assert "Ô không hợp lệ" not in five["signed"].all_text() and "Ô không" not in five["signed"].all_text()
    # under the "row" policy the sheet with an empty row counts, except that row: 31 valid sheets
    rows = five_document(rules.preset("qd96-2023").with_settings(invalid_mark_policy="row"))
    pdf = _write(tmp_path, "rows", minutes.minutes_pdf(rows))
    assert "không hợp lệ" in pdf.text(1) and "Ô" in pdf.layout(1)
    assert "3. Số phiếu hợp lệ: 31 phiếu; số phiếu không hợp lệ: 2 phiếu, trong đó:" in pdf.all_text()
    assert pdf.row(2).figures.endswith("22 66,67% 1")  # candidate 2's row was the empty one
    assert pdf.row(1).figures.endswith("17 51,52% 0")


def test_an_anomaly_and_the_boards_ruling_are_stated_in_words(tmp_path):
    doc = five_document(rulings={"sheets": 0, "anomaly": "Phiếu thừa là phiếu không do Ban kiểm phiếu phát ra; "
                                                           "kết quả vẫn có giá trị."})
    counted_more = _document(candidates=CANDIDATES, sheets=_valid_sheets(COUNTS), rule_set=rules.preset("qd96-2023"),
                             convened=36, present=29, issued=29, rulings=doc["rulings"])
    text = _write(tmp_path, "anomaly", minutes.minutes_pdf(counted_more)).all_text()
    assert "6. Bất thường: số phiếu thu về (30) nhiều hơn số phiếu phát ra (29)." in text
    assert ("Quyết định của Ban kiểm phiếu: Phiếu thừa là phiếu không do Ban kiểm phiếu phát ra; kết quả vẫn có "
            "giá trị.") in text


def test_the_time_approvals_and_signature_block_close_the_minutes(five):
    text = five["signed"].all_text()
    # sealed at 09:05 UTC: 16:05 in Vietnam (UTC+7)
    assert "Biên bản được lập lúc 16 giờ 05 phút, ngày 05 tháng 12 năm 2026 và đọc công khai tại hội nghị." in text
    assert "Đã được các thành viên Ban kiểm phiếu phê duyệt: Hà Văn Minh, Phạm Thị Thu." in text
    assert "T/M BAN KIỂM PHIẾU" in text and "TRƯỞNG BAN" in text and "(Ký, ghi rõ họ tên)" in text


def test_a_draft_not_yet_sealed_leaves_the_time_to_be_written_in(tmp_path):
    doc = five_document(sealed_at=None, approved_by=[])
    text = _write(tmp_path, "unsealed", minutes.minutes_pdf(doc)).all_text()
    assert "Biên bản được lập lúc …… giờ …… phút, ngày 05 tháng 12 năm 2026 và đọc công khai tại hội nghị." in text
    assert "Chưa có thành viên Ban kiểm phiếu nào phê duyệt." in text


def test_numbers_of_a_thousand_or_more_have_a_dot_between_thousands(forty):
    text = forty["signed"].all_text()
    assert "1. Số người được triệu tập: 1.250 người; có mặt: 1.245 người; vắng mặt: 5 người." in text
    assert "2. Số phiếu phát ra: 1.240 phiếu; số phiếu thu về: 1.234 phiếu; số phiếu không thu về: 6 phiếu." in text
    assert "Tỷ lệ phần trăm tính trên số phiếu thu về (1.234 phiếu)." in text
    # candidate 1: 1.124 high = 91.0859 -> 91,09 %; 100 trust = 8.1037 -> 8,10 %; 10 low = 0.8103 -> 0,81 %
    assert forty["signed"].row(1).figures == "1.124 91,09% 100 8,10% 10 0,81%"


# --- pages ------------------------------------------------------------------------------------------------


def test_forty_candidates_with_long_names_run_over_numbered_pages_in_order(forty):
    signed = forty["signed"]
    pages = signed.pages
    assert pages >= 2
    for page in range(1, pages + 1):
        text = signed.text(page)
        assert f"Trang {page}/{pages}" in text
        assert "Biên bản kiểm phiếu – đợt lấy phiếu số 7" in text
    # every row once, in order, its numbers on its line; the table's heading again on each page it runs onto
    found = [signed.row(number) for number in range(1, 41)]
    for position, row in enumerate(found, start=1):
        low = position * 10
        high = 1234 - low - 100
        assert row.first_line.startswith(f"{position} Tôn Nữ")
        expected = f"{minutes.number(high)} {minutes.share(high, 1234)} 100 8,10% {low} {minutes.share(low, 1234)}"
        assert row.figures == expected
    table_pages = [page for page in range(1, pages + 1) if re.search(r"^\s*40\s", signed.layout(page), re.M)
                   or re.search(r"^\s*1\s{2,}", signed.layout(page), re.M)]
    for page in range(table_pages[0], table_pages[-1] + 1):
        assert "STT Họ và tên Chức vụ" in signed.text(page)
    assert "T/M BAN KIỂM PHIẾU" in signed.text(pages)
    # 40 and 41 low of 1.234 are far from half: nobody crosses
    assert "trên một nửa: không có; từ hai phần ba trở lên: không có; trên hai phần ba: không có." in signed.all_text()


def test_the_pages_are_a4_and_the_be_vietnam_pro_fonts_are_embedded(five):
    info = pdfs.run(poppler("pdfinfo"), "-f", "1", "-l", "1", str(five["signed"].pdf))
    width, height = re.search(r"Page\s+1 size:\s+([\d.]+) x ([\d.]+) pts", info).groups()
    assert (round(float(width)), round(float(height))) == (595, 842)
    listing = pdfs.run(poppler("pdffonts"), str(five["signed"].pdf))
    embedded = {line.split()[0].split("+")[-1]: line.split()[-5] for line in listing.splitlines()[2:]}
    for style in ("Regular", "Bold", "Italic", "SemiBold"):
        assert embedded.get(f"BeVietnamPro-{style}") == "yes", listing


# --- draft and seal ---------------------------------------------------------------------------------------


def test_the_draft_mark_is_on_every_page_of_the_draft_and_on_no_page_of_the_signed_minutes(five, forty, tmp_path):
    draft = five["draft"]
    assert draft.pages >= 2
    for page in range(1, draft.pages + 1):
        assert minutes_pages.DRAFT_MARK in draft.text(page)
    long_draft = _write(tmp_path, "forty-draft", minutes.minutes_pdf(forty["document"]))
    assert all(minutes_pages.DRAFT_MARK in long_draft.text(page) for page in range(1, long_draft.pages + 1))
    for signed in (five["signed"], forty["signed"]):
        assert "DỰ THẢO" not in signed.all_text() and "chưa niêm phong" not in signed.all_text()


def test_the_draft_has_no_qr_and_the_signed_minutes_one_with_the_result_and_key_fingerprints(five, key):
    assert all(found == [] for found in five["draft"].qr_texts())
    found = [text for page in five["signed"].qr_texts() for text in page]
    sha = hashlib.sha256(canonical_json(five["document"]).encode()).hexdigest()
    assert found == [f"trustvote.result/1 sha256={sha} key={signing.fingerprint(key)}"]
    assert minutes.result_fingerprint(five["document"]) == sha
    assert five["envelope"]["fingerprint"] == signing.fingerprint(key)


def test_both_fingerprints_are_printed_in_groups_of_four_under_the_qr(five, key):
    signed = five["signed"]
    last = signed.layout(signed.pages)
    for value in (minutes.result_fingerprint(five["document"]), signing.fingerprint(key)):
        groups = [value[i:i + 4] for i in range(0, 64, 4)]
        assert " ".join(groups[:8]) in last and " ".join(groups[8:]) in last
    assert "Mã kết quả (SHA-256 của kết quả đã ký):" in signed.text(signed.pages)
    assert "Khóa ký (SHA-256 của khóa công khai):" in signed.text(signed.pages)
    assert "Mã kết quả" not in five["draft"].all_text()
    # and the start of the result's fingerprint on every page, so a page cannot come from other minutes
    start = " ".join(minutes.grouped_hex(minutes.result_fingerprint(five["document"]), 4)[0:1])
    assert all(f"mã kết quả {start}" in signed.text(page) for page in range(1, signed.pages + 1))


def test_minutes_refuse_an_envelope_of_another_document_or_a_bad_signature(five, key):
    other = five_document(set_aside={"duplicates": 3})
    with pytest.raises(ValueError, match="another result document"):
        minutes.minutes_pdf(other, signed=five["envelope"])
    forged = dict(five["envelope"], signature=results.sign_document(Ed25519PrivateKey.generate(),
                                                                    five["document"])["signature"])
    with pytest.raises(ValueError, match="does not verify"):
        minutes.minutes_pdf(five["document"], signed=forged)


def test_the_result_fingerprint_changes_with_any_number_in_the_document(five):
    changed = five_document()
    changed["candidates"][0]["low"] = 16
    assert minutes.result_fingerprint(changed) != minutes.result_fingerprint(five["document"])
    assert minutes.result_fingerprint(five_document()) == minutes.result_fingerprint(five["document"])

"""Two tellers count a closed round in the browser, each in their own session, as new users would.

The round has 3 ballots cast on tablets (set up through the domain) and a pile of paper sheets that both tellers
key, each in their own pass, with the keyboard alone (a keyboard-wedge scanner types the code and Enter, then one
digit per candidate and Enter): two sheets on which they agree, one they key differently (the board rules on it),
one sheet whose code was already used on a tablet (set aside as a duplicate) and one whose code no one issued
(collected, invalid). Then the count, the results table, the draft minutes, two approvals, the seal, the sealed
minutes' text with exact diacritics, and the signed result checked by the standalone verifier with a recount.

On SQLite it writes docs/screenshots/count-entry.png, count-queue.png, count-results.png and renders the sealed
minutes' first page to docs/minutes-sealed.png.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.settings import Settings
from ballots import signing, tokens
from tests import pdfs
from tests.browser.conftest import LANDSCAPE, PORTRAIT, download, tablet_page
from tests.factories import TELLERS, make_round
from tests.browser.test_round_flow import PICTURES, Shots, assert_fits, assert_tap_targets

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "verifier" / "trustvote_verify.py"
MINUTES_PNG = PICTURES / "minutes-sealed.png"
TITLE = "Lấy phiếu tín nhiệm giữa nhiệm kỳ 2020–2025"
CANDIDATES = ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Đức Thắng", "Phạm Thị Hương"]
POSTS = ["Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Chấp hành"]
CODE_FIELD = "Mã phiếu"
MARKS_FIELD = "Đánh dấu, mỗi người một chữ số theo thứ tự trên phiếu"

# The round: 10 convened, 9 present, 8 ballots issued. Ballots 0-2 are cast on tablets; ballots 3-5 come back on
# paper; ballots 6-7 never come back. Ballot 0's sheet turns up on the paper pile as well.
CONVENED, PRESENT, ISSUED = 10, 9, 8
TABLET_MARKS = [b"\x01\x02\x03\x03", b"\x01\x01\x02\x03", b"\x02\x01\x03\x03"]
AGREED_A, DISPUTED, AGREED_B = 3, 4, 5  # which issued ballots are the paper sheets keyed
PAPER = {AGREED_A: "1213", DISPUTED: "1231", AGREED_B: "2313"}
TELLER2_MISREAD = "1331"  # teller2 reads the second row of the disputed sheet as low trust; the board rules "1231"

# 3 tablet + 3 paper + 1 unknown = 7 collected; the unknown one is invalid; duplicates are set aside, not counted.
# "Not collected" counts the issued ballots that never came back: 8 issued - (7 collected - 1 not issued) = 2; the
# sheet no one issued is collected but brings back no issued ballot.
COLLECTED, VALID, INVALID, NOT_COLLECTED = 7, 6, 1, 2
# per candidate over the 6 valid ballots (1233, 1123, 2133 on tablets; 1213, 1231, 2313 on paper)
COUNTS = [(4, 2, 0), (2, 3, 1), (2, 1, 3), (1, 0, 5)]  # (high, trust, low)
# percentages over the 7 collected (the default rule set's base), rounded half up, with a decimal comma
PERCENTS = {0: "0,00", 1: "14,29", 2: "28,57", 3: "42,86", 4: "57,14", 5: "71,43"}

FLASH_FIRST = "Đã ghi. Lần nhập 1/2."
FLASH_AGREE = "Đã ghi. Các lần nhập khớp nhau (2 người)."
FLASH_DISAGREE = "Đã ghi. Các lần nhập tờ phiếu này không khớp nhau: chờ ban kiểm phiếu quyết định."
FLASH_TABLET = "Phiếu trùng: phiếu này đã được dùng trên máy tính bảng. Để riêng tờ phiếu này; không tính."
FLASH_UNKNOWN = "Không do ban kiểm phiếu phát ra: tính là phiếu thu về, không hợp lệ."


@dataclass
class ClosedRound:
    id: int
    codes: list[str]  # as printed under the QR, grouped
    unknown: str  # a well-formed code no board issued


@pytest.fixture
def closed_round(session, world) -> ClosedRound:
    """Through the domain: the round, both tellers on its board, ballots issued, 3 cast on tablets, closed."""
    built = make_round(session, world, until="closed", title=TITLE, convened=CONVENED, present=PRESENT,
                       board=TELLERS, issue=ISSUED, tablet=TABLET_MARKS)
    assert [c.person.full_name for c in built.round.candidates] == CANDIDATES
    return ClosedRound(built.id, built.grouped, tokens.grouped(tokens.code_of(tokens.new_secret())))


@contextmanager
def logged_in(browser: Browser, base_url: str, username: str, password: str) -> Iterator[Page]:
    """A browser context of the user's own (own cookies: own session), logged in from the log-in page."""
    with tablet_page(browser, base_url) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # the confirm() before counting and approving
        page.goto("/")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(password)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("heading", name=f"Xin chào, {username}")).to_be_visible()
        yield page


def check_layout(page: Page) -> None:
    """Fits and has finger-sized buttons at a laptop / landscape tablet size and held upright."""
    for size in (LANDSCAPE, PORTRAIT):
        page.set_viewport_size(size)
        assert_fits(page)
        assert_tap_targets(page)
    page.set_viewport_size(LANDSCAPE)


def open_counting(page: Page) -> None:
    """From the home page's list of counting boards, as a teller finds the round."""
    page.goto("/")
    boards = page.locator("section", has=page.get_by_role("heading", name="Ban kiểm phiếu đồng chí tham gia"))
    boards.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", name="Kiểm phiếu", level=1)).to_be_visible()


def flash(page: Page):
    return page.locator("p.flash")


def key_sheet(page: Page, code: str, marks: str, message: str) -> None:
    """One paper sheet with the keyboard alone: the scanner types the code and Enter (focus moves to the marks),
    then one digit per candidate and Enter records the sheet; the page comes back ready for the next one."""
    code_field, marks_field = page.get_by_label(CODE_FIELD), page.get_by_label(MARKS_FIELD)
    expect(code_field).to_be_focused()
    before = flash(page).all_inner_texts()
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(marks_field).to_be_focused()
    expect(code_field).to_have_value(code)  # the scanner's Enter did not submit: the page is the same
    assert flash(page).all_inner_texts() == before
    page.keyboard.type(marks)
    page.keyboard.press("Enter")
    expect(flash(page)).to_have_text(message)
    expect(code_field).to_have_value("")
    expect(marks_field).to_have_value("")


def expect_marks_shown(page: Page, marks: str) -> None:
    """Each digit typed shows against its candidate, with the level's name; the next row is outlined."""
    labels = ["—", "Tín nhiệm cao", "Tín nhiệm", "Tín nhiệm thấp", "Nhiều ô"]
    rows = page.locator(".entry-rows li")
    for index in range(len(CANDIDATES)):
        cell = rows.nth(index).locator(".row-mark")
        if index < len(marks):
            expect(cell).to_have_text(f"{marks[index]} · {labels[int(marks[index])]}")
        else:
            expect(cell).to_have_text("")
    if len(marks) < len(CANDIDATES):
        expect(rows.nth(len(marks))).to_have_class("current")


def expect_thresholds(results) -> None:
    """Under the row of the one person who crossed: 2*5 > 7, 3*5 >= 2*7, 3*5 > 2*7, in that order, with the rule
    set's words for the consequences."""
    notes = results.locator("table.results tbody tr.notes")
    expect(notes).to_have_count(1)
    expect(notes.locator(".flag")).to_have_text([
        re.compile(r"^Trên 1/2 tín nhiệm thấp \(2 × thấp > N\): (?!Trên 1/2)"),
        re.compile(r"^Từ 2/3 trở lên tín nhiệm thấp \(3 × thấp ≥ 2 × N\): (?!Từ 2/3)"),
        "Trên 2/3 tín nhiệm thấp (3 × thấp > 2 × N)"])


def test_two_tellers_key_the_paper_ballots_count_approve_and_seal(browser, live_server, world, closed_round,
                                                                 settings: Settings, db_url, tmp_path):
    on_sqlite = db_url.startswith("sqlite")
    codes, round_id = closed_round.codes, closed_round.id
    with logged_in(browser, live_server, "teller", world.password) as teller, \
            logged_in(browser, live_server, "teller2", world.password) as teller2:
        shots = Shots(teller, enabled=on_sqlite)

        # The teller finds the round on the home page; voting is closed, 3 ballots came in on tablets.
        open_counting(teller)
        expect(teller.locator(".heading .state")).to_have_text("Đã khóa, nhập phiếu giấy")
        tiles = teller.locator("#paper .tile-number")
        expect(tiles).to_have_text(["3", "0", "0", "0", "0"])
        check_layout(teller)

        # teller's pass over the pile, keyboard only, checking the words after each sheet.
        teller.get_by_role("link", name="Nhập phiếu giấy").click()
        expect(teller.get_by_role("heading", name="Nhập phiếu giấy", level=1)).to_be_visible()
        expect(teller.locator(".entry-rows .row-name")).to_contain_text(CANDIDATES)
        expect(teller.get_by_label(CODE_FIELD)).to_be_focused()
        check_layout(teller)
        # the first sheet, photographed half keyed: three digits against their candidates
        teller.keyboard.type(codes[AGREED_A])
        teller.keyboard.press("Enter")
        expect(teller.get_by_label(MARKS_FIELD)).to_be_focused()
        teller.keyboard.type(PAPER[AGREED_A][:3])
        expect_marks_shown(teller, PAPER[AGREED_A][:3])
        expect(teller.locator(".entry-ready")).to_have_text("Còn 1 dòng")
        check_layout(teller)
        teller.get_by_label(MARKS_FIELD).focus()  # check_layout resized the page; the teller's cursor stays put
        shots.take("count-entry")
        teller.keyboard.type(PAPER[AGREED_A][3:])
        expect_marks_shown(teller, PAPER[AGREED_A])
        expect(teller.locator(".entry-ready")).to_have_text("Đã nhập đủ 4 dòng: nhấn Enter.")
        teller.keyboard.press("Enter")
        expect(flash(teller)).to_have_text(FLASH_FIRST)
        expect_marks_shown(teller, "")
        key_sheet(teller, codes[DISPUTED], PAPER[DISPUTED], FLASH_FIRST)
        key_sheet(teller, codes[0], "1233", FLASH_TABLET)  # the sheet of a ballot cast on a tablet
        key_sheet(teller, closed_round.unknown, "", "Không do ban kiểm phiếu phát ra: tính là phiếu thu về, "
                                                    "không hợp lệ. Lần nhập 1/2.")
        key_sheet(teller, codes[AGREED_B], PAPER[AGREED_B], FLASH_FIRST)
        expect(teller.locator(".heading .tag")).to_have_text("Đồng chí đã nhập 4 tờ phiếu")

        # teller2's own pass in its own session, in its own order, misreading one row of the disputed sheet.
        open_counting(teller2)
        teller2.get_by_role("link", name="Nhập phiếu giấy").click()
        key_sheet(teller2, codes[AGREED_B], PAPER[AGREED_B], FLASH_AGREE)
        key_sheet(teller2, closed_round.unknown, "", FLASH_UNKNOWN + " Các lần nhập khớp nhau (2 người).")
        key_sheet(teller2, codes[0], "1233", FLASH_TABLET)
        key_sheet(teller2, codes[DISPUTED], TELLER2_MISREAD, FLASH_DISAGREE)
        key_sheet(teller2, codes[AGREED_A], PAPER[AGREED_A], FLASH_AGREE)

        # The disagreement waits for the board, with both readings; counting is not possible yet.
        open_counting(teller)
        expect(tiles).to_have_text(["3", "4", "3", "1", "1"])  # 3 tablet; 4 sheets, 3 settled, 1 waits; 1 set aside
        queue = teller.locator("#queue")
        expect(queue.get_by_role("heading", level=2)).to_have_text("Chờ ban kiểm phiếu quyết định 1")
        sheet = queue.locator("article.sheet")
        expect(sheet).to_have_count(1)
        expect(sheet.get_by_role("heading", level=3)).to_contain_text("Các lần nhập không khớp")
        expect(sheet.locator("tbody tr td:nth-child(1)")).to_have_text(["teller", "teller2"])
        expect(sheet.locator("tbody tr td:nth-child(2)")).to_have_text(["2", "3"])  # its place in each stack, the duplicate set aside
        expect(sheet.locator("code.marks")).to_have_text([PAPER[DISPUTED], TELLER2_MISREAD])
        expect(teller.get_by_role("button", name="Kiểm phiếu")).to_be_disabled()
        check_layout(teller)
        shots.take("count-queue")

        # The board looks at the sheet together and rules: it reads 1231.
        sheet.get_by_label(MARKS_FIELD).fill(PAPER[DISPUTED])
        sheet.get_by_role("button", name="Ghi quyết định").click()
        expect(flash(teller)).to_have_text("Đã ghi quyết định của ban kiểm phiếu.")
        expect(teller.locator("#queue")).to_have_count(0)
        expect(tiles).to_have_text(["3", "4", "4", "0", "1"])

        # Count (after the confirm dialog), then the results table.
        teller.get_by_role("button", name="Kiểm phiếu").click()
        expect(flash(teller)).to_have_text("Đã kiểm phiếu. Hãy đọc kết quả và biên bản, rồi phê duyệt.")
        expect(teller.locator(".heading .state")).to_have_text("Đã kiểm phiếu")
        results = teller.locator("#results")
        expect(results.locator(".tag")).to_have_text("Dự thảo: chưa niêm phong")
        expect(results.locator(".tile-number")).to_have_text(
            [str(n) for n in (CONVENED, PRESENT, ISSUED, COLLECTED, VALID, INVALID)])
        expect(results.locator(".tile-label")).to_have_text(
            ["Số được triệu tập", "Số có mặt", "Đã phát", "Thu về", "Hợp lệ", "Không hợp lệ"])
        rows = results.locator("table.results tbody tr.candidate")
        expect(rows).to_have_count(len(CANDIDATES))
        for index, (name, post, counts) in enumerate(zip(CANDIDATES, POSTS, COUNTS)):
            cells = [str(index + 1), name, post]
            for count in counts:
                cells += [str(count), PERCENTS[count]]
            expect(rows.nth(index).locator("td")).to_contain_text(cells)
        expect(rows.nth(3)).to_have_class("candidate crossed has-notes")  # 5 low of 7: more than half
        expect_thresholds(results)

        # The draft minutes, read before approving.
        draft = tmp_path / "draft.pdf"
        suggested = download(results.get_by_role("link", name="Dự thảo biên bản (PDF)"), draft)
        assert suggested == f"bien-ban-kiem-phieu-dot-{round_id}-du-thao.pdf"
        draft_text = pdfs.text(draft)
        assert "DỰ THẢO" in draft_text and "BIÊN BẢN KIỂM PHIẾU" in draft_text

        # teller approves in their session; teller2 sees it and approves in theirs, which seals the result.
        teller.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        expect(flash(teller)).to_have_text(
            "Đã phê duyệt. Kết quả được niêm phong khi đủ số thành viên ban kiểm phiếu phê duyệt.")
        expect(teller.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu")).to_have_count(0)
        open_counting(teller2)
        approval = teller2.locator("#approval")
        expect(approval).to_contain_text("Đã phê duyệt: teller")
        check_layout(teller2)
        Shots(teller2, enabled=on_sqlite).take("count-results")
        approval.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        expect(flash(teller2)).to_have_text(
            "Đã phê duyệt. Đủ số người phê duyệt: kết quả đã được niêm phong và ký số.")
        expect(teller2.locator(".heading .state")).to_have_text("Đã niêm phong")
        expect(teller2.locator("#approval")).to_contain_text("teller, teller2")
        expect(teller2.locator("#results .tag")).to_have_count(0)
        expect(teller2.locator("#results .tile-number")).to_have_text(
            [str(n) for n in (CONVENED, PRESENT, ISSUED, COLLECTED, VALID, INVALID)])
        expect_thresholds(teller2.locator("#results"))  # now from the sealed document
        teller.reload()
        expect(teller.locator(".heading .state")).to_have_text("Đã niêm phong")
        expect(teller.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu")).to_have_count(0)
        expect(teller.get_by_role("button", name="Kiểm phiếu")).to_have_count(0)
        check_layout(teller)

        # The sealed minutes: the numbers and the words, with exact diacritics.
        sealed = tmp_path / "minutes.pdf"
        suggested = download(teller.get_by_role("link", name="Biên bản (PDF)", exact=True), sealed)
        assert suggested == f"bien-ban-kiem-phieu-dot-{round_id}.pdf"
        text = pdfs.text(sealed)
        for words in ("BIÊN BẢN KIỂM PHIẾU", "T/M BAN KIỂM PHIẾU", "ĐẢNG ỦY XÃ YÊN BÌNH", TITLE,
                      "Hội nghị sơ kết giữa nhiệm kỳ", "Hội trường xã", *CANDIDATES, *POSTS,
                      f"Số phiếu phát ra: {ISSUED} phiếu; số phiếu thu về: {COLLECTED} phiếu; "
                      f"số phiếu không thu về: {NOT_COLLECTED} phiếu.",
                      "không do Ban kiểm phiếu phát ra"):
            assert words in text, f"{words!r} not in the sealed minutes:\n{text}"
        assert "DỰ THẢO" not in text
        if on_sqlite:
            subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "1", "-singlefile", str(sealed),
                            str(MINUTES_PNG.with_suffix(""))], check=True, timeout=60)

        # The signed result and the sealed ballot list, checked by the standalone verifier with a recount.
        result = tmp_path / "result.json"
        download(teller.get_by_role("link", name="Kết quả đã ký (JSON)"), result)
        ballots = tmp_path / "ballots.json"
        download(teller.get_by_role("link", name="Danh sách phiếu đã niêm phong, để kiểm lại"), ballots)
        document = json.loads(result.read_text(encoding="utf-8"))["result"]
        numbers = document["numbers"]
        assert (numbers["issued"], numbers["collected"], numbers["valid"], numbers["invalid"]) == (
            ISSUED, COLLECTED, VALID, INVALID)
        assert [(c["high"], c["trust"], c["low"]) for c in document["candidates"]] == COUNTS
        assert len(json.loads(ballots.read_text())["ballots"]) == COLLECTED
        public_key = signing.public_bytes(signing.load_private_key(settings.signing_key_path)).hex()
        verified = subprocess.run([sys.executable, str(VERIFIER), str(result), "--public-key", public_key,
                                   "--ballots", str(ballots)], capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "signature: ok" in verified.stdout and "recount from the ballots: ok" in verified.stdout
        assert "RESULT VERIFIED" in verified.stdout

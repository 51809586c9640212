"""The ballot box ceremony in the browser: a board of 3 (2 cards open the box), from the printed key cards to the
sealed minutes, as the people in the room do it.

An organizer issues the ballots on the web page; the PDF's first pages are the box's 4 key cards (one for each
board member, then the upper-level committee's recovery card), then the ballots. Both are rasterized and read
back as a board would: each card's QR by zxing-cpp, its holder and typed code by poppler; each ballot's QR too.
Delegates vote on a kiosk tablet with the ballots' codes; while voting is open the database holds only sealed
ballots. Voting is closed; on the count page the close record (how many sealed ballots, their digest) is the
database's; the board presents cards with the keyboard, as a scanner types: a ballot's code, a corrupted card, a
forged card of this round, the same card twice, a card of another round and a single card are each refused in
Vietnamese with nothing opened (and no card echoed back into the page); the count is refused while the box is
shut. Two members open it with their cards; two tellers key the paper ballots; the count, two approvals, the seal;
the sealed minutes state the close record and the names of the two holders who opened the box.

On SQLite (with TRUSTVOTE_SCREENSHOTS=1, `make screenshots`) it writes docs/screenshots/count-box.png,
count-box-portrait.png, count-box-opened.png, count-box-opened-portrait.png and renders the first key card to
docs/key-card-a4.png.
"""

from __future__ import annotations

import json
import re
import secrets as random_source
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.support import Translations
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from ballots import accounts, box, tokens
from ballots.errors import BoxNotOpen, CardOfAnotherRound, CardRepeated, NotEnoughCards, WrongCard
from ballots.models import AuditEntry, Ballot, BallotBox, SealedBallot, Token
from tests import pdfs
from tests.browser.conftest import LANDSCAPE, PORTRAIT, download, tablet_page
from tests.browser.test_counting_flow import FLASH_AGREE, FLASH_FIRST, check_layout, key_sheet
from tests.browser.test_kiosk import confirm_and_expect_recorded, expect_ballot, mark, type_code
from tests.browser.test_round_flow import PICTURES, Shots
from tests.conftest import fresh, poppler
from tests.factories import TELLERS, make_round

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CATALOG = Translations.load(str(ROOT / "app" / "translations"), ["vi"])
KEY_CARD_PNG = PICTURES / "key-card-a4.png"
TITLE = "Lấy phiếu tín nhiệm giữa nhiệm kỳ 2020–2025"
CANDIDATES = ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Đức Thắng", "Phạm Thị Hương"]
POSTS = ["Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Chấp hành"]
# The board: three tellers of the commune with full Vietnamese names (the cards and the minutes print them).
# Their cards are printed in the order of their names (Python's), the recovery card last.
BOARD = {"tuan": "Hồ Sỹ Tuấn", "viet": "Trịnh Quốc Việt", "hang": "Đỗ Thị Thu Hằng"}
CARD_ORDER = ["Hồ Sỹ Tuấn", "Trịnh Quốc Việt", "Đỗ Thị Thu Hằng", None]
OPENERS = ("Hồ Sỹ Tuấn", "Đỗ Thị Thu Hằng")  # the two who open the box; Trịnh Quốc Việt keeps his card
RECOVERY_WORDS = "Thẻ dự phòng – cấp ủy cấp trên trực tiếp giữ, niêm phong"
CONVENED, PRESENT, ISSUED = 8, 7, 6
TABLET_MARKS = [[1, 1, 2, 3], [2, 1, 1, 3], [1, 3, 2, 2]]  # every row marked: all valid
PAPER_MARKS = ["1213", "3312"]  # ballots 3 and 4 come back on paper; ballot 5 never comes back
COLLECTED, VALID, INVALID = 5, 5, 0
PERCENTS = {n: f"{100 * n // COLLECTED},00" for n in range(COLLECTED + 1)}  # of 5 collected: exact, decimal comma


def vi(message: str, **values) -> str:
    """The words the app shows for an English msgid, from the Vietnamese catalog it serves; a message missing from
    the catalog (shown in English) fails here."""
    words = CATALOG.gettext(message)
    assert words != message, f"not translated into Vietnamese: {message!r}"
    return words % values if values else words


@dataclass
class DraftRound:
    id: int
    other_card: str  # a valid card of another round's box (its QR payload)


@pytest.fixture
def draft_round(session, world) -> DraftRound:
    """Through the domain: the board's three tellers, the round in draft with them on its board (the default
    majority: 2 cards open the box, 2 approvals seal), and another round of the commune with ballots issued."""
    board = []
    for username, name in BOARD.items():
        account = accounts.create_account(session, username=username, display_name=name, password=world.password,
                                          actor="test")
        accounts.grant_role(session, account=account, committee=world.commune, role="teller", actor="test")
        board.append(account)
    built = make_round(session, world, title=TITLE, convened=CONVENED, present=PRESENT, board=board)
    assert [c.person.full_name for c in built.round.candidates] == CANDIDATES
    other = make_round(session, world, until="issued", title="Lấy phiếu tín nhiệm (đợt khác)", board=TELLERS,
                       issue=2)
    assert other.id != built.id
    return DraftRound(built.id, other.box.cards[0].card.payload)


@contextmanager
def logged_in(browser: Browser, base_url: str, username: str, password: str, name: str) -> Iterator[Page]:
    """A browser context of the user's own, logged in from the log-in page; `confirm()` dialogs are accepted."""
    with tablet_page(browser, base_url) as page:
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto("/")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(password)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("heading", name=f"Xin chào, {name}")).to_be_visible()
        yield page


# --- the printed PDF, read back ---------------------------------------------------------------------------------

@dataclass
class PrintedCard:
    holder: str | None
    payload: str  # what its QR holds: "TVK1.<code>"
    typed: str  # the code as printed under the QR, in groups


@dataclass
class Printed:
    cards: list[PrintedCard]
    codes: list[str]  # the ballots' codes, read from their QR codes, in page order


def holder_on(text: str) -> str | None:
    """Whose card a card page says it is."""
    if RECOVERY_WORDS in text:
        return None
    found = re.search(r"Đồng chí (.+?) – thành viên Ban kiểm phiếu", text)
    assert found, text
    return found.group(1)


def bare(text: str) -> str:
    """A page's text without spaces, line breaks or dashes: a code printed in groups over lines reads whole."""
    return "".join(text.split()).replace("-", "")


def read_printed(pdf: Path) -> Printed:
    """The cards and the ballots as the board reads them from paper: zxing-cpp on each page rendered at 100 dpi,
    poppler's text for the words and the typed code."""
    pages = pdfs.page_count(pdf)
    assert pages == len(CARD_ORDER) + ISSUED, pages
    qr = pdfs.qr_texts(pdf)  # 100 dpi, grey
    cards, codes = [], []
    for number, found in enumerate(qr, start=1):
        assert len(found) == 1, (number, found)  # one QR a page, read from the rendered page
        text = pdfs.words(pdfs.page_text(pdf, number))
        if number <= len(CARD_ORDER):
            payload = found[0]
            assert payload.startswith(box.CARD_PREFIX + "."), payload
            card = box.parse_card(payload)
            typed = tokens.grouped(card.code)
            assert card.code in bare(text), f"the typed code of card {number} is not on its page:\n{text}"
            assert box.parse_card(typed) == card  # the typed code is the same card as the QR
            for words in ("THẺ KHÓA HÒM PHIẾU", "ĐẢNG ỦY XÃ YÊN BÌNH", TITLE, "Hội nghị sơ kết giữa nhiệm kỳ",
                          "chỉ mở được khi có 2 trong 4 thẻ khóa", "Thẻ không được in lại"):
                assert words in text, f"{words!r} not on card page {number}:\n{text}"
            cards.append(PrintedCard(holder_on(text), payload, typed))
        else:
            assert "THẺ KHÓA" not in text
            for name in CANDIDATES:
                assert name in text, f"{name!r} not on ballot page {number}:\n{text}"
            fragment = found[0].split("#", 1)[1]
            assert fragment.startswith("1."), found[0]
            code = fragment[2:]
            assert code in bare(text), f"ballot page {number} does not show its code {code}:\n{text}"
            codes.append(tokens.grouped(code))
    return Printed(cards, codes)


def rasterize(pdf: Path, page: int, out: Path, dpi: int) -> Path:
    subprocess.run([poppler("pdftoppm"), "-r", str(dpi), "-png", "-f", str(page), "-l", str(page), "-singlefile",
                    str(pdf), str(out.with_suffix(""))], check=True, timeout=60)
    return out


# --- the count page -------------------------------------------------------------------------------------------

def open_counting(page: Page) -> None:
    page.goto("/")
    boards = page.locator("section", has=page.get_by_role("heading", name="Ban kiểm phiếu đồng chí tham gia"))
    boards.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", name="Kiểm phiếu", level=1)).to_be_visible()


def present(page: Page, first: str, second: str, *, status: int, by_click: bool = False):
    """Cards presented at the box's form with the keyboard alone, as a wedge scanner types: the first card's text
    in the field that has the focus, Tab to the second, its text, Enter (or a tap on the button)."""
    expect(page.locator("#card-1")).to_be_focused()
    page.keyboard.type(first)
    page.keyboard.press("Tab")
    expect(page.locator("#card-2")).to_be_focused()
    page.keyboard.type(second)
    with page.expect_response(lambda r: r.url.endswith("/box/open") and r.request.method == "POST") as answer:
        if by_click:
            page.locator("#box").get_by_role("button").click()
        else:
            page.keyboard.press("Enter")
    assert answer.value.status == status, (answer.value.status, page.locator("p.alert").all_inner_texts())
    page.wait_for_load_state()
    return answer.value


def box_state(session, round_id: int) -> tuple[int, int, bool, int]:
    """(sealed rows, opened ballot rows, box open?, box.open audit entries), as committed."""
    session = fresh(session)
    sealed = session.scalar(select(func.count()).select_from(SealedBallot).where(SealedBallot.round_id == round_id))
    opened = session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == round_id))
    entries = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "box.open"))
    is_open = session.get(BallotBox, round_id).is_open
    session.rollback()  # no read transaction left open: on SQLite it would hold up the opening's WAL checkpoint
    return sealed, opened, is_open, entries


def expect_refused(page: Page, session, round_id: int, words: str, secrets: list[str]) -> None:
    """Refused with these words, nothing opened, the form back empty with the focus on its first field, and no
    card's text anywhere in the page."""
    expect(page.locator("p.alert")).to_have_text(words)
    assert box_state(session, round_id) == (len(TABLET_MARKS), 0, False, 0)
    expect(page.locator("#card-1")).to_have_value("")
    expect(page.locator("#card-2")).to_have_value("")
    html = page.content()
    for secret in secrets:
        code = secret.removeprefix(box.CARD_PREFIX + ".")
        assert code not in html and code.replace("-", "") not in html, "a presented card is echoed in the page"


def per_candidate(all_marks: list[str]) -> list[tuple[int, int, int]]:
    return [tuple(sum(1 for m in all_marks if m[row] == level) for level in "123") for row in range(len(CANDIDATES))]


# --- the ceremony ---------------------------------------------------------------------------------------------

def test_a_board_of_three_opens_the_sealed_box_with_two_key_cards(browser, live_server, world, draft_round,
                                                                   session, db_url, tmp_path):
    on_sqlite = db_url.startswith("sqlite")
    round_id, password = draft_round.id, world.password

    # The organizer issues the ballots on the web page: one PDF, the key cards first.
    with logged_in(browser, live_server, "organizer", password, "organizer") as organizer:
        organizer.goto(f"/rounds/{round_id}")
        organizer.get_by_role("link", name="Phiếu: phát, in, hủy").click()
        expect(organizer.get_by_role("heading", name="Phiếu", exact=True)).to_be_visible()
        organizer.get_by_label("Số phiếu").fill(str(ISSUED))
        with organizer.expect_download(timeout=30_000) as started:
            organizer.get_by_role("button", name="Phát phiếu và tải tệp PDF").click()
        pdf = tmp_path / "phieu.pdf"
        started.value.save_as(pdf)
        expect(organizer.locator("#batches")).to_contain_text(str(ISSUED), timeout=10_000)

        printed = read_printed(pdf)
        assert [c.holder for c in printed.cards] == CARD_ORDER
        assert len(set(printed.codes)) == ISSUED
        # the pictures to look at: a member's card, the recovery card, the first ballot (kept with the test's files)
        rasterize(pdf, 1, tmp_path / "card-member.png", 100)
        rasterize(pdf, len(CARD_ORDER), tmp_path / "card-recovery.png", 100)
        rasterize(pdf, len(CARD_ORDER) + 1, tmp_path / "ballot.png", 100)
        if on_sqlite:
            rasterize(pdf, 1, KEY_CARD_PNG, 100)  # enough for its QR to read on a screen
        # nothing of a card is kept by the server: only each card's commitment
        session = fresh(session)
        found = session.get(BallotBox, round_id)
        assert found.cards_needed == 2 and len(found.cards) == len(CARD_ORDER)
        assert sorted(c.commitment for c in found.cards) == sorted(
            box.parse_card(c.payload).commitment for c in printed.cards)
        session.rollback()  # the test's reads never hold a transaction open while the app works
        card_of = {c.holder: c for c in printed.cards}

        # Voting opens.
        organizer.get_by_role("button", name="Mở bỏ phiếu").click()
        expect(organizer.get_by_role("status")).to_have_text("Đã mở bỏ phiếu: các máy tính bảng có thể nhận phiếu.")

        # Three delegates vote on a kiosk tablet, each typing the code printed on their ballot.
        with tablet_page(browser, live_server) as tablet:
            for index, marks in enumerate(TABLET_MARKS):
                tablet.goto(f"/kiosk/{round_id}")
                type_code(tablet, printed.codes[index])
                expect_ballot(tablet)
                mark(tablet, marks)
                confirm_and_expect_recorded(tablet, "Đã đánh dấu tất cả các dòng.")

        # While voting is open the database holds the ballots sealed, and only sealed.
        session = fresh(session)
        sealed = list(session.scalars(select(SealedBallot.sealed).where(SealedBallot.round_id == round_id)))
        assert len(sealed) == len(TABLET_MARKS)
        assert session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == round_id)) == 0
        assert len({len(s) for s in sealed}) == 1  # all the same length: nothing of the marks shows
        for marks in TABLET_MARKS:
            assert not any(bytes(marks) in s for s in sealed)
        assert session.scalar(select(func.count()).select_from(Token).where(
            Token.round_id == round_id, Token.state == "cast")) == len(TABLET_MARKS)
        session.rollback()

        # Voting closes.
        organizer.reload()
        organizer.get_by_role("button", name="Kết thúc bỏ phiếu").click()
        expect(organizer.get_by_role("status")).to_have_text("Đã kết thúc bỏ phiếu.")

    # The close record: the database's sealed ballots, their number and digest.
    session = fresh(session)
    found = session.get(BallotBox, round_id)
    assert (found.sealed_count, found.sealed_digest) == (len(TABLET_MARKS), box.digest(sealed))
    close_digest = found.sealed_digest
    session.rollback()
    opened_words = [vi("The ballot box is open: %(count)s tablet ballots, in random order.",
                       count=len(TABLET_MARKS))]

    with logged_in(browser, live_server, "tuan", password, BOARD["tuan"]) as tuan, \
            logged_in(browser, live_server, "viet", password, BOARD["viet"]) as viet:
        shots = Shots(tuan, enabled=on_sqlite)
        open_counting(tuan)
        expect(tuan.locator(".heading .state")).to_have_text("Đã khóa, nhập phiếu giấy")
        expect(tuan.locator("#card-1")).to_be_focused()  # the page opens ready for the first card's scan
        section = tuan.locator("#box")
        expect(section.get_by_role("heading", level=2)).to_have_text(vi("Ballot box"))
        expect(section).to_contain_text(vi("When voting closed the box held %(count)s sealed tablet ballots.",
                                           count=len(TABLET_MARKS)))
        expect(section.locator("code")).to_have_text(" ".join(close_digest[i:i + 4] for i in range(0, 64, 4)))
        expect(section.locator("input[type=password][name=card]")).to_have_count(2)
        expect(section.locator("label")).to_have_text([vi("Key card %(number)s", number=n) for n in (1, 2)])
        expect(tuan.locator("#paper .tile-number").first).to_have_text(str(len(TABLET_MARKS)))
        check_layout(tuan)
        tuan.locator("#card-1").focus()
        shots.take("count-box")
        tuan.set_viewport_size(PORTRAIT)
        shots.take("count-box-portrait")
        tuan.set_viewport_size(LANDSCAPE)

        # The count needs the box open.
        tuan.get_by_role("button", name="Kiểm phiếu", exact=True).click()
        expect(tuan.locator("p.alert")).to_have_text(vi(BoxNotOpen.message))
        assert box_state(session, round_id) == (len(TABLET_MARKS), 0, False, 0)

        mine, hers = card_of[OPENERS[0]], card_of[OPENERS[1]]
        other_round = box.parse_card(draft_round.other_card).round_id
        corrupted = mine.payload[:-3] + ("Z" if mine.payload[-3] != "Z" else "Y") + mine.payload[-2:]
        forged = box.Card(round_id, box.parse_card(mine.payload).index, random_source.token_bytes(32)).payload
        refusals = [
            ("a ballot's code", printed.codes[5], mine.payload, vi(WrongCard.message)),
            ("a corrupted card", corrupted, hers.payload, vi(WrongCard.message)),
            ("a forged card of this round", forged, hers.payload, vi(WrongCard.message)),
            ("the same card twice", mine.payload, mine.typed, vi(CardRepeated.message)),
            ("a card of another round", draft_round.other_card, mine.payload,
             vi(CardOfAnotherRound.message, round=other_round)),
        ]
        # Each refusal's page comes back with the cursor in the first card's field (autofocus), ready for the next.
        for _what, first, second, words in refusals:
            present(tuan, first, second, status=400)
            expect_refused(tuan, session, round_id, words, [first, second])
        tuan.screenshot(path=tmp_path / "refused.png", full_page=True)  # to look at; not one of the README's
        # one card alone is not enough (the second field left empty)
        present(tuan, hers.payload, "", status=400, by_click=True)
        expect_refused(tuan, session, round_id, vi(NotEnoughCards.message, needed=2, count=1), [hers.payload])

        # Two members open the box on this screen: the first scans his card's QR, the second types her code.
        present(tuan, mine.payload, hers.typed, status=303)
        expect(tuan.locator("p.flash")).to_have_text(opened_words)
        assert box_state(session, round_id) == (0, len(TABLET_MARKS), True, 1)
        session = fresh(session)
        opened = sorted(session.scalars(select(Ballot.marks).where(Ballot.round_id == round_id)))
        assert opened == sorted(bytes(m) for m in TABLET_MARKS)
        found = session.get(BallotBox, round_id)
        assert found.opened_by == list(OPENERS) and found.opened_count == len(TABLET_MARKS)
        session.rollback()
        section = tuan.locator("#box")
        expect(section).to_contain_text(", ".join(OPENERS))
        expect(section.locator("input[name=card]")).to_have_count(0)
        expect(tuan.locator("#paper .tile-number").first).to_have_text(str(len(TABLET_MARKS)))
        check_layout(tuan)
        shots.take("count-box-opened")
        tuan.set_viewport_size(PORTRAIT)
        shots.take("count-box-opened-portrait")
        tuan.set_viewport_size(LANDSCAPE)
        # opened once: a second presentation is refused (the form is gone; the post is answered anyway)
        assert "TVK1" not in tuan.content() and hers.typed not in tuan.content()

        # Two tellers key the paper ballots that came back, each in their own session, keyboard only.
        for teller, message in ((tuan, FLASH_FIRST), (viet, FLASH_AGREE)):
            open_counting(teller)
            teller.get_by_role("link", name="Nhập phiếu giấy").click()
            for offset, marks in enumerate(PAPER_MARKS):
                key_sheet(teller, printed.codes[len(TABLET_MARKS) + offset], marks, message)

        # The count, the results, two approvals, the seal.
        open_counting(tuan)
        tuan.get_by_role("button", name="Kiểm phiếu", exact=True).click()
        expect(tuan.locator("p.flash")).to_have_text("Đã kiểm phiếu. Hãy đọc kết quả và biên bản, rồi phê duyệt.")
        results = tuan.locator("#results")
        expect(results.locator(".tile-number")).to_have_text(
            [str(n) for n in (CONVENED, PRESENT, ISSUED, COLLECTED, VALID, INVALID)])
        all_marks = ["".join(map(str, m)) for m in TABLET_MARKS] + PAPER_MARKS
        rows = results.locator("table.results tbody tr.candidate")
        expect(rows).to_have_count(len(CANDIDATES))
        for index, (name, post, counts) in enumerate(zip(CANDIDATES, POSTS, per_candidate(all_marks))):
            cells = [str(index + 1), name, post]
            for count in counts:
                cells += [str(count), PERCENTS[count]]
            expect(rows.nth(index).locator("td")).to_contain_text(cells)
        tuan.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        expect(tuan.locator("p.flash")).to_have_text(
            "Đã phê duyệt. Kết quả được niêm phong khi đủ số thành viên ban kiểm phiếu phê duyệt.")

    with logged_in(browser, live_server, "hang", password, BOARD["hang"]) as hang:
        open_counting(hang)
        hang.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        expect(hang.locator("p.flash")).to_have_text(
            "Đã phê duyệt. Đủ số người phê duyệt: kết quả đã được niêm phong và ký số.")
        expect(hang.locator(".heading .state")).to_have_text("Đã niêm phong")
        expect(hang.locator("#box")).to_contain_text(", ".join(OPENERS))

        # The sealed minutes: section 7 states the close record and who opened the box, with exact diacritics.
        minutes = tmp_path / "minutes.pdf"
        download(hang.get_by_role("link", name="Biên bản (PDF)", exact=True), minutes)
        text = pdfs.words(pdfs.text(minutes))
        for words in (f"7. Hòm phiếu điện tử (phiếu bỏ trên máy tính bảng): khi kết thúc bỏ phiếu có "
                      f"{len(TABLET_MARKS)} phiếu niêm phong; mã niêm phong:",
                      f"Hòm phiếu được mở bằng thẻ khóa của: {', '.join(OPENERS)}; số phiếu mở ra: "
                      f"{len(TABLET_MARKS)} phiếu, ghi lại theo thứ tự ngẫu nhiên."):
            assert words in text, f"{words!r} not in the sealed minutes:\n{text}"
        digest = text.split("mã niêm phong:", 1)[1].split("Hòm phiếu được mở", 1)[0]
        assert "".join(digest.split()) == close_digest, digest
        assert BOARD["viet"] not in text.split("Hòm phiếu được mở bằng thẻ khóa của:", 1)[1].split(";", 1)[0]
        rasterize(minutes, 1, tmp_path / "minutes.png", 70)

        # the signed result records the box too
        result = tmp_path / "result.json"
        download(hang.get_by_role("link", name="Kết quả đã ký (JSON)"), result)
        document = json.loads(result.read_text(encoding="utf-8"))["result"]
        assert document["ballot_box"]["sealed"] == len(TABLET_MARKS)
        assert document["ballot_box"]["opened_by"] == list(OPENERS)

"""Delegates vote on a shared 10-inch tablet: scan, mark, confirm, recorded, reset for the next voter.

The camera is Chromium's fake one, fed with a video made from a printed ballot: the PDF's first page rendered,
its QR cropped and framed as a camera would see it. Headless Chromium on Linux has no BarcodeDetector, so the
kiosk sends frames to POST /api/v1/scan, where zxing-cpp reads them: the test checks that path. Then a typed
code, a refused second use, a malformed code, the back button after the reset, the `/b#1.CODE` page a
tablet's own camera app opens, and a barcode scanner typing into the code field. On SQLite it writes the kiosk
screenshots in docs/screenshots/.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from ballots import box, printing, tokens
from ballots.models import SealedBallot
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LANDSCAPE,
    PORTRAIT,
    tablet_page,
)
from tests.browser.test_round_flow import Shots, assert_fits, assert_tap_targets
from tests.factories import make_round

pytestmark = pytest.mark.browser

TITLE = "Lấy phiếu tín nhiệm giữa nhiệm kỳ 2020–2025"
CANDIDATES = ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Đức Thắng", "Phạm Thị Hương"]
LEVELS = ["Tín nhiệm cao", "Tín nhiệm", "Tín nhiệm thấp"]  # marks 1, 2, 3
PRINTED_BASE = "http://192.168.1.10:5000"  # the venue address printed in the QR; the kiosk reads only its fragment
MIN_CHOICE = 48  # px: a choice button a finger hits on a 10-inch screen
FRAME = (640, 480)  # the fake camera's picture
DPI = 200  # the printed sheet as the camera sees it: the 30 mm QR about 240 px wide before framing

RECORDED = "Phiếu của đồng chí đã được ghi nhận"
USED = "Phiếu này đã được sử dụng. Mỗi phiếu chỉ được dùng một lần."
MALFORMED = "Mã phiếu không hợp lệ: hãy kiểm tra và nhập lại."
WHOLE_BALLOT_WARNING = ("Còn 1 dòng chưa đánh dấu. Theo quy định của đợt lấy phiếu này, dòng không đánh dấu làm "
                        "cả phiếu không hợp lệ.")


@dataclass
class VotingRound:
    id: int
    secrets: list[bytes]
    pdf: bytes  # the printed sheet of secrets[0], the one shown to the camera
    cards: list[str]  # the key cards that open the round's ballot box


@pytest.fixture
def voting_round(session, world) -> VotingRound:
    issued = make_round(session, world, until="open", title=TITLE, convened=40, present=36, spares=2, issue=5)
    pdf = io.BytesIO()
    printing.print_ballots(printing.sheet_of(issued.round), issued.secrets[:1], pdf, base_url=PRINTED_BASE)
    assert issued.round.invalid_mark_policy == "ballot"  # the default rule set's (qd96)
    return VotingRound(issued.id, issued.secrets, pdf.getvalue(), issued.cards())


def marks_in_the_box(session, voting_round: VotingRound) -> list[bytes]:
    """The round's tablet ballots as the board reads them with its key cards, sorted (they are sealed until then)."""
    key = box.combine([box.parse_card(card) for card in voting_round.cards])
    return sorted(box.unseal(key, voting_round.id, sealed) for sealed in session.scalars(
        select(SealedBallot.sealed).where(SealedBallot.round_id == voting_round.id)))


def camera_picture(pdf: bytes, tmp_path: Path) -> Image.Image:
    """The printed ballot's corner with the QR and the code under it, as a camera held over the sheet sees it."""
    (tmp_path / "ballot.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-f", "1", "-l", "1", "-png", "-singlefile",
                    str(tmp_path / "ballot.pdf"), str(tmp_path / "ballot")], check=True, timeout=60)
    with Image.open(tmp_path / "ballot.png") as rendered:
        sheet = rendered.convert("L")
    layout, px = printing.PAPERS["A4"], DPI / 72  # the layout is in points
    # the QR sits in the top right corner, inside the margin; take it with the code printed under it
    left, top, side = sheet.width - (layout.margin + layout.qr) * px, layout.margin * px, layout.qr * px
    pad = 6 * printing.mm * px
    corner = sheet.crop((round(left - pad), round(top - pad), round(left + side + pad), round(top + side + 2 * pad)))
    corner.thumbnail((FRAME[0] - 40, FRAME[1] - 20), Image.Resampling.LANCZOS)
    picture = Image.new("L", FRAME, 235)  # the table under the sheet
    picture.paste(corner, ((FRAME[0] - corner.width) // 2, (FRAME[1] - corner.height) // 2))
    return picture


def write_y4m(picture: Image.Image, path: Path, frames: int = 3) -> None:
    """A short YUV4MPEG2 video (4:2:0, grey: U and V at 128) that Chromium's fake camera plays in a loop."""
    width, height = picture.size
    luma = picture.point(lambda value: 16 + value * 219 // 255).tobytes()  # studio range
    chroma = bytes([128]) * (width // 2 * height // 2)
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + luma + chroma + chroma) * frames)


@pytest.fixture
def camera_browser(browser: Browser, voting_round, tmp_path) -> Iterator[Browser]:
    """A Chromium of this test's own whose camera films the first ballot's printed QR (the session's browser has
    no camera). Launched through the session's Playwright: a second sync_playwright() cannot run in this thread."""
    picture = camera_picture(voting_round.pdf, tmp_path)
    found = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in found] == [tokens.qr_payload(PRINTED_BASE, voting_round.secrets[0])]
    video = tmp_path / "camera.y4m"
    write_y4m(picture, video)
    camera = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        yield camera
    finally:
        camera.close()


@pytest.fixture
def tablet(camera_browser: Browser, live_server) -> Iterator[Page]:
    """The kiosk tablet: landscape 10-inch, Vietnamese, with the camera."""
    with tablet_page(camera_browser, live_server) as page:
        yield page


def code_of(secret: bytes) -> str:
    return tokens.grouped(tokens.code_of(secret))


def rows(page: Page):
    return page.locator("#ballot-screen .ballot-row")


def choice(page: Page, row: int, level: int):
    """The button of `level` (1 high, 2 trust, 3 low) in a row of the ballot on screen."""
    return rows(page).nth(row).get_by_role("button", name=LEVELS[level - 1], exact=True)


def expect_marks(page: Page, marks: list[int]) -> None:
    for row, mark in enumerate(marks):
        for level in (1, 2, 3):
            expect(choice(page, row, level)).to_have_attribute("aria-pressed", str(level == mark).lower())


def expect_ballot(page: Page) -> None:
    """The ballot screen: every candidate with exact diacritics, three levels each, nothing marked."""
    screen = page.locator("#ballot-screen")
    expect(screen).to_be_visible()
    expect(page.locator("#scan-screen")).to_be_hidden()
    expect(screen.get_by_role("heading")).to_have_text("Chọn một mức tín nhiệm cho từng người")
    expect(screen.locator(".name")).to_have_text(CANDIDATES)
    expect(screen.locator(".post")).to_have_text(
        ["Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Chấp hành"])
    for row in range(len(CANDIDATES)):
        expect(rows(page).nth(row).get_by_role("button")).to_have_text(LEVELS)
    expect_marks(page, [0] * len(CANDIDATES))


def mark(page: Page, marks: list[int]) -> None:
    for row, level in enumerate(marks):
        if level:
            choice(page, row, level).click()
    expect_marks(page, marks)


def confirm_and_expect_recorded(page: Page, warning: str) -> None:
    page.get_by_role("button", name="Tiếp tục").click()
    screen = page.locator("#confirm-screen")
    expect(screen.get_by_role("heading")).to_have_text("Kiểm tra lại lựa chọn")
    expect(screen.locator("p").first).to_have_text(warning)
    screen.get_by_role("button", name="Xác nhận bỏ phiếu").click()
    expect(page.locator("#recorded-screen")).to_be_visible()
    expect(page.locator("#recorded-text")).to_have_text(RECORDED)
    assert page.locator(".choice, .summary").count() == 0, "the voter's ballot is still in the page"


def expect_scan_screen_empty(page: Page, timeout: float = 10_000) -> None:
    """The scan screen as the next voter finds it: no ballot, no mark, no message, an empty code field."""
    expect(page.locator("#scan-screen")).to_be_visible(timeout=timeout)
    for screen in ("#ballot-screen", "#confirm-screen", "#recorded-screen"):
        expect(page.locator(screen)).to_be_hidden()
    expect(page.locator("#scan-error")).to_be_hidden()
    expect(page.get_by_label("Hoặc nhập mã in dưới mã QR")).to_have_value("")
    assert page.locator(".choice, main [aria-pressed=true], .summary").count() == 0


def type_code(page: Page, code: str) -> None:
    page.get_by_label("Hoặc nhập mã in dưới mã QR").fill(code)
    page.get_by_role("button", name="Mở phiếu").click()


def check_tablet_layout(page: Page) -> None:
    """No sideways scrolling; every button tall enough for a finger, the choices at least MIN_CHOICE px."""
    assert_fits(page)
    assert_tap_targets(page)
    short = page.evaluate(
        """min => [...document.querySelectorAll('.choice')].filter(el => el.offsetParent !== null)
               .map(el => Math.round(el.getBoundingClientRect().height)).filter(height => height < min)""",
        MIN_CHOICE)
    assert not short, f"choice buttons shorter than {MIN_CHOICE}px at {page.viewport_size}: {short}"


def nothing_kept(page: Page) -> None:
    assert page.context.cookies() == []
    assert page.evaluate("localStorage.length === 0 && sessionStorage.length === 0")


def test_delegates_vote_on_a_kiosk_tablet_with_the_camera_a_typed_code_and_a_refused_second_use(
        tablet: Page, voting_round: VotingRound, session, db_url):
    page = tablet
    shots = Shots(page, enabled=db_url.startswith("sqlite"))
    first, second = voting_round.secrets[:2]
    documents, opened = [], []
    page.on("response", lambda response: documents.append(response)
            if response.request.resource_type == "document" else None)
    page.on("request", lambda request: opened.append(request)
            if request.url.endswith("/api/v1/ballots/open") else None)

    # The first voter holds the ballot to the camera: the server reads the frame (no BarcodeDetector here).
    def read_by_server(response):
        return (response.url.endswith("/api/v1/scan") and response.request.method == "POST"
                and response.json().get("found") is True)

    with page.expect_response(read_by_server, timeout=15_000) as scanned:
        page.goto(f"/kiosk/{voting_round.id}")
    assert scanned.value.json()["text"] == tokens.qr_payload(PRINTED_BASE, first)
    assert not page.evaluate("'BarcodeDetector' in window")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator(".kiosk-round")).to_have_text(TITLE)
    expect_ballot(page)
    check_tablet_layout(page)

    # Marks: a tap picks a level, a tap on another level of the same row changes it; the last row stays empty.
    # The buttons do not move under the finger when one is pressed.
    boxes = [choice(page, 0, level).bounding_box() for level in (1, 2, 3)]
    choice(page, 0, 1).click()
    assert [choice(page, 0, level).bounding_box() for level in (1, 2, 3)] == boxes
    choice(page, 1, 2).click()
    expect_marks(page, [1, 2, 0, 0])
    choice(page, 1, 3).click()  # changes her mind
    choice(page, 2, 2).click()
    first_marks = [1, 3, 2, 0]
    expect_marks(page, first_marks)
    check_tablet_layout(page)
    shots.take("kiosk-ballot")
    page.set_viewport_size(PORTRAIT)
    check_tablet_layout(page)
    shots.take("kiosk-ballot-portrait")
    page.set_viewport_size(LANDSCAPE)

    # The check screen warns, under the round's rules (qd96: an unmarked row voids the whole ballot).
    page.get_by_role("button", name="Tiếp tục").click()
    confirm = page.locator("#confirm-screen")
    expect(confirm.get_by_role("heading")).to_have_text("Kiểm tra lại lựa chọn")
    expect(confirm.locator(".kiosk-warning")).to_have_text(WHOLE_BALLOT_WARNING)
    expect(confirm.locator(".summary .name")).to_have_text(CANDIDATES)
    expect(confirm.locator(".summary .level")).to_have_text(
        ["Tín nhiệm cao", "Tín nhiệm thấp", "Tín nhiệm", "Chưa đánh dấu"])
    expect(confirm.get_by_role("button")).to_have_text(["Quay lại sửa", "Xác nhận bỏ phiếu"])
    check_tablet_layout(page)
    shots.take("kiosk-confirm")

    # Back to change: the choices are kept.
    confirm.get_by_role("button", name="Quay lại sửa").click()
    expect(page.locator("#ballot-screen")).to_be_visible()
    expect_marks(page, first_marks)
    page.get_by_role("button", name="Tiếp tục").click()
    confirm.get_by_role("button", name="Xác nhận bỏ phiếu").click()
    expect(page.locator("#recorded-text")).to_have_text(RECORDED)
    expect(page.locator("#ballot-screen")).to_be_hidden()
    expect(page.locator("#confirm-screen")).to_be_hidden()
    assert page.locator(".choice, .summary").count() == 0, "the voter's ballot is still in the page"
    check_tablet_layout(page)
    shots.take("kiosk-recorded")

    # After the reset delay (6 s) the next voter finds the scan screen, empty. The first sheet is still in
    # front of the camera, and the camera does not open it again.
    expect_scan_screen_empty(page)
    expect(page.locator("#camera")).to_be_visible()
    asked = len(opened)
    with page.expect_response(read_by_server):  # the camera still reads the used sheet...
        pass
    page.wait_for_timeout(1_000)
    assert len(opened) == asked  # ...and leaves it alone
    expect_scan_screen_empty(page)
    check_tablet_layout(page)
    shots.take("kiosk-scan")

    # The second voter types the code printed under the QR, and marks every row.
    type_code(page, code_of(second))
    expect_ballot(page)
    second_marks = [2, 2, 1, 3]
    mark(page, second_marks)
    confirm_and_expect_recorded(page, "Đã đánh dấu tất cả các dòng.")
    expect_scan_screen_empty(page)

    # The back button, once the screen is back for the next voter: nothing of the voters before. The kiosk
    # adds no history entry per voter or screen, so back leaves it (for the tablet's blank start page).
    assert page.evaluate("history.length") == 2
    page.go_back()
    assert page.url == "about:blank" or page.locator("#scan-screen").is_visible(), page.url
    assert page.locator("main [aria-pressed=true], .choice, .summary").count() == 0
    assert not any(name in page.content() for name in CANDIDATES)
    # Forward again: a fresh kiosk page, whose camera refuses the used sheet still in front of it.
    page.go_forward()
    expect(page.locator("#scan-screen")).to_be_visible()
    expect(page.locator("#scan-error")).to_have_text(USED)
    expect(page.locator("#ballot-screen")).to_be_hidden()
    assert page.locator("main [aria-pressed=true], .choice, .summary").count() == 0
    nothing_kept(page)
    assert documents and all(r.headers.get("cache-control") == "no-store" for r in documents), \
        [(r.url, r.headers.get("cache-control")) for r in documents]

    # A typo: refused before any lookup.
    mistyped = code_of(voting_round.secrets[2])
    type_code(page, mistyped[:-1] + ("0" if mistyped[-1] != "0" else "1"))
    expect(page.locator("#scan-error")).to_have_text(MALFORMED)
    expect(page.locator("#ballot-screen")).to_be_hidden()
    # The first sheet's code, typed again: refused, in Vietnamese, and no ballot opens.
    with page.expect_response(lambda r: r.url.endswith("/api/v1/ballots/open")
                              and r.request.post_data_json["code"] == code_of(first)) as refused:
        type_code(page, code_of(first))
    assert refused.value.status == 409
    expect(page.locator("#scan-error")).to_have_text(USED)
    expect(page.locator("#scan-screen")).to_be_visible()
    expect(page.locator("#ballot-screen")).to_be_hidden()
    assert page.locator("main [aria-pressed=true], .choice, .summary").count() == 0
    nothing_kept(page)

    # In the database: two ballots, with the marks chosen, in ballot order.
    session.rollback()
    session.expire_all()
    cast = marks_in_the_box(session, voting_round)
    assert cast == sorted([bytes(first_marks), bytes(second_marks)])


def test_a_tablets_camera_app_or_a_barcode_scanner_opens_the_ballot(page: Page, voting_round: VotingRound, session,
                                                                    live_server):
    # A tablet's own camera app opens the QR's URL: the code is in the fragment, read and wiped by the page.
    secret = voting_round.secrets[3]
    payload = tokens.qr_payload(live_server, secret)
    fragment = payload.split("#", 1)[1]
    assert fragment == "1." + tokens.code_of(secret)
    response = page.goto("/b#" + fragment)
    assert response.headers.get("cache-control") == "no-store"
    expect_ballot(page)
    assert "#" not in page.url and tokens.code_of(secret) not in page.url
    # /b serves every round: the header names the ballot's
    expect(page.locator(".kiosk-org")).to_have_text("Đảng ủy xã Yên Bình · Hội nghị sơ kết giữa nhiệm kỳ")
    expect(page.locator(".kiosk-round")).to_have_text(TITLE)
    marks = [3, 1, 2, 2]
    mark(page, marks)
    confirm_and_expect_recorded(page, "Đã đánh dấu tất cả các dòng.")
    nothing_kept(page)
    # the same QR opened again in the same tab (only the fragment changes): refused, and wiped from the address
    page.goto("/b#" + fragment)
    expect(page.locator("#scan-screen")).to_be_visible()
    expect(page.locator("#scan-error")).to_have_text(USED)
    assert page.locator(".choice").count() == 0
    assert "#" not in page.url
    expect(page.locator(".kiosk-round")).to_have_text("Lấy phiếu tín nhiệm")
    expect(page.locator(".kiosk-org")).to_be_hidden()
    # this browser has no camera: no empty video box, a note instead
    expect(page.locator("#camera")).to_be_hidden()
    expect(page.locator(".camera-off")).to_be_visible()
    expect(page.locator(".camera-off")).to_have_text("Không dùng được máy ảnh ở đây: hãy nhập mã in dưới mã QR.")
    # opened afresh, as a new tab would: refused too
    page.goto("about:blank")
    page.goto("/b#" + fragment)
    expect(page.locator("#scan-error")).to_have_text(USED)
    expect(page.locator("#scan-error")).to_be_visible()
    assert page.locator(".choice").count() == 0 and "#" not in page.url

    # A USB or Bluetooth barcode scanner is a keyboard: it types the QR's text into the focused code field and
    # presses Enter.
    page.goto(f"/kiosk/{voting_round.id}")
    field = page.get_by_label("Hoặc nhập mã in dưới mã QR")
    expect(field).to_be_focused()
    page.keyboard.type(tokens.qr_payload(PRINTED_BASE, voting_round.secrets[4]), delay=2)
    page.keyboard.press("Enter")
    expect_ballot(page)
    scanned_marks = [1, 1, 2, 1]
    mark(page, scanned_marks)
    confirm_and_expect_recorded(page, "Đã đánh dấu tất cả các dòng.")
    nothing_kept(page)

    session.rollback()
    session.expire_all()
    cast = marks_in_the_box(session, voting_round)
    assert cast == sorted([bytes(marks), bytes(scanned_marks)])

"""Counting scanned paper ballots in the browser: a teller uploads the scanner's batch, another confirms each sheet
on the review screen with the keyboard alone, the board rules on the doubtful one with its image, then the count
and the seal; the images are gone after it.

The batch is the round's own sheets printed by the product, marked and scanned (tests/scan_batch.py, with the pen
strokes of tests/scan_corpus.py): one sheet with a faint mark the scanner doubts, one page upside down, and one
page of another round (a photo-sized PNG beside the PDF). On SQLite it writes docs/screenshots/scan-review.png
(laptop, 1280 × 800) and scan-review-tablet.png (a 10-inch tablet held upright, 800 × 1280).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import scan_batch
from tests.browser.conftest import LANDSCAPE, PORTRAIT
from tests.browser.test_counting_flow import flash, logged_in, open_counting
from tests.browser.test_round_flow import SCREENSHOTS, assert_fits, assert_tap_targets
from tests.factories import TELLERS, make_round

pytestmark = pytest.mark.browser

TITLE = "Lấy phiếu tín nhiệm giữa nhiệm kỳ 2020–2025"
MARKS = {1: "1231", 2: "3111", 3: "2213"}  # issued ballot -> its marks; ballot 0 was cast on a tablet
DOUBTFUL, UPSIDE_DOWN = 2, 3
MARKS_FIELD = "Đánh dấu, mỗi người một chữ số theo thứ tự trên phiếu"
CONFIRM = "Xác nhận: tờ phiếu đúng như máy quét đọc (Enter)"


@pytest.fixture
def batch(session, world, tmp_path):
    """The round closed (6 issued, 1 cast on a tablet), and the scanner's files: a PDF of 3 sheets, a PNG of
    another round's sheet."""
    built = make_round(session, world, until="closed", title=TITLE, board=TELLERS, issue=6,
                       tablet=[b"\x01\x02\x03\x03"])
    other = make_round(session, world, until="issued", board=TELLERS, issue=1, title="Đợt khác")
    sheets = [scan_batch.Sheet(built.secrets[n], MARKS[n], faint_row=2 if n == DOUBTFUL else None,
                               upside_down=n == UPSIDE_DOWN) for n in sorted(MARKS)]
    pdf, png = tmp_path / "may-quet-01.pdf", tmp_path / "anh-chup.png"
    pdf.write_bytes(scan_batch.pdf_of(scan_batch.pages(built.round, sheets)))
    png.write_bytes(scan_batch.png_of(scan_batch.pages(other.round, [scan_batch.Sheet(other.secrets[0], "1111")])[0]))
    return built, [str(pdf), str(png)]


def review_shots(page, enabled: bool) -> None:
    """The review screen on a laptop and on a 10-inch tablet held upright: it fits, and a finger can use it."""
    for size, name in ((LANDSCAPE, "scan-review"), (PORTRAIT, "scan-review-tablet")):
        page.set_viewport_size(size)
        assert_fits(page)
        assert_tap_targets(page)
        image = page.locator(".review-image img")
        expect(image).to_be_visible()
        assert page.evaluate("img => img.naturalWidth", image.element_handle()) > 300  # the sheet itself, shown
        page.evaluate("window.scrollTo(0, 0)")
        if enabled:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=False, animations="disabled")
    page.set_viewport_size(LANDSCAPE)


def test_a_scanned_batch_is_confirmed_ruled_counted_and_sealed(browser, live_server, world, batch, db_url):
    built, files = batch
    with logged_in(browser, live_server, "teller", world.password) as teller, \
            logged_in(browser, live_server, "teller2", world.password) as teller2:
        # teller sends the scanner's files from the count page; each page's outcome is listed as it is read
        open_counting(teller)
        teller.get_by_role("link", name="Phiếu giấy đã quét").click()
        expect(teller.get_by_role("heading", name="Phiếu giấy đã quét", level=1)).to_be_visible()
        expect(teller.locator("#scan-camera")).to_have_attribute("capture", "environment")
        teller.locator("#scan-files").set_input_files(files)
        teller.get_by_role("button", name="Gửi và đọc").click()
        expect(teller.locator(".scan-progress p")).to_have_text("Xong: đã đọc 4 trang từ 2 tệp.", timeout=60_000)
        expect(teller.locator(".scan-progress progress")).to_have_attribute("value", "2")
        results = teller.locator(".scan-results li")
        expect(results).to_have_count(4)
        expect(results.nth(0)).to_contain_text("may-quet-01.pdf, 1: Đã đọc: chờ kiểm phiếu viên xác nhận.")
        expect(results.nth(1)).to_contain_text("Máy quét không chắc chắn về tờ phiếu này")
        expect(results.nth(2)).to_contain_text("may-quet-01.pdf, 3: Đã đọc")  # the page upside down
        expect(results.nth(3)).to_contain_text("Không do Ban kiểm phiếu phát ra")
        expect(results.nth(1)).to_have_class("scan-review")
        expect(teller.locator(".heading .tag")).to_have_text("4 tờ phiếu chờ đồng chí")
        for size in (LANDSCAPE, PORTRAIT):
            teller.set_viewport_size(size)
            assert_fits(teller)
            assert_tap_targets(teller)
        teller.set_viewport_size(LANDSCAPE)
        if db_url.startswith("sqlite"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            teller.screenshot(path=SCREENSHOTS / "scan-upload.png", full_page=True, animations="disabled")

        # teller2 reviews each sheet in turn with the keyboard alone: Enter confirms a clean reading
        open_counting(teller2)
        teller2.get_by_role("link", name="Phiếu giấy đã quét").click()
        teller2.get_by_role("link", name="Xem các tờ phiếu đang chờ tôi").click()
        expect(teller2.get_by_role("heading", name="Xem và xác nhận tờ phiếu đã quét")).to_be_visible()
        expect(teller2.get_by_role("button", name=CONFIRM)).to_be_focused()
        expect(teller2.locator(".review-rows .row-seen")).to_have_text(
            ["1 · Tín nhiệm cao", "2 · Tín nhiệm", "3 · Tín nhiệm thấp", "1 · Tín nhiệm cao"])
        teller2.keyboard.press("Enter")
        expect(flash(teller2)).to_have_text("Đã xác nhận: các lần nhập khớp nhau, tờ phiếu được tính.")

        # the doubtful sheet: no confirm button, the reason shown, the faint row marked; the teller keys it
        expect(teller2.get_by_role("button", name=CONFIRM)).to_have_count(0)
        expect(teller2.locator(".review-reading .notice")).to_contain_text("quá mờ")
        expect(teller2.locator(".review-rows li").nth(2)).to_have_class("row-doubt")
        expect(teller2.get_by_label(MARKS_FIELD)).to_be_focused()
        review_shots(teller2, enabled=db_url.startswith("sqlite"))
        teller2.keyboard.type(MARKS[DOUBTFUL])
        expect(teller2.locator(".review-rows .row-mark").nth(2)).to_have_text("1 · Tín nhiệm cao")
        teller2.keyboard.press("Enter")
        expect(flash(teller2)).to_contain_text("chờ Ban kiểm phiếu quyết định")

        # the page scanned upside down was read upright; then the other round's sheet: collected, invalid
        expect(teller2.locator(".review-rows .row-seen")).to_have_text(
            ["2 · Tín nhiệm", "2 · Tín nhiệm", "1 · Tín nhiệm cao", "3 · Tín nhiệm thấp"])
        teller2.keyboard.press("Enter")
        expect(teller2.locator(".review-reading .notice")).to_contain_text("Không do Ban kiểm phiếu phát ra")
        teller2.keyboard.press("Enter")
        expect(flash(teller2)).to_have_text(["Đã xác nhận: các lần nhập khớp nhau, tờ phiếu được tính.",
                                             "Không còn tờ phiếu đã quét nào chờ đồng chí."])

        # the board rules on the doubtful sheet with its image in front of it
        open_counting(teller)
        sheet = teller.locator("#queue article.sheet")
        expect(sheet).to_have_count(1)
        expect(sheet.locator("tr.scanner-row")).to_contain_text("Máy quét")
        expect(sheet.locator("figure.sheet-image img")).to_be_visible()
        sheet.get_by_label(MARKS_FIELD).fill(MARKS[DOUBTFUL])
        sheet.get_by_role("button", name="Ghi quyết định").click()
        expect(flash(teller)).to_have_text("Đã ghi quyết định của ban kiểm phiếu.")

        # count: 1 tablet + 3 of this round's sheets + 1 sheet no one here issued = 5 collected, 1 invalid
        teller.get_by_role("button", name="Kiểm phiếu").click()
        expect(teller.locator(".heading .state")).to_have_text("Đã kiểm phiếu")
        tiles = teller.locator("#results .tile-number")
        expect(tiles).to_have_text(["10", "10", "6", "5", "4", "1"])
        teller.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        open_counting(teller2)
        teller2.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        expect(teller2.locator(".heading .state")).to_have_text("Đã niêm phong")

        # after the seal the images are gone: the image of a sheet answers 409, in Vietnamese
        gone = teller2.request.get(f"/count/rounds/{built.id}/scans/1/image")
        assert gone.status == 409 and "không còn được giữ" in gone.text()

"""The record, in the browser (issue 12, items 1-3): what the board's pages say about re-scans, duplicates, rulings
and an anomaly is what happened.

1. A teller who scans again a sheet they entered is offered to correct it (or, holding another sheet with that code,
   to set it aside): nothing is set aside on their word alone, and the duplicates counted are physical sheets.
2. A sheet only one teller has entered waits for another teller: the board has no ruling to record on it, and a
   forged ruling is refused.
3. More sheets collected than issued: the red banner stays until the board rules; after the ruling and after the
   seal the count page shows the ruling's text instead; the published result and the upper level's dashboard show
   the figures with the ruling. The published result also shows invalid ballots by reason and marks not counted.

Screenshots of each page are written to the test's temporary folder (look at them with --basetemp).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ballots import tokens
from tests.browser.test_counting_flow import CODE_FIELD, MARKS_FIELD, flash, logged_in
from tests.factories import TELLERS, Paper, make_round

pytestmark = pytest.mark.browser

FLASH_FIRST = "Đã ghi. Lần nhập 1/2."
FLASH_TABLET = "Phiếu trùng: phiếu này đã được dùng trên máy tính bảng. Để riêng tờ phiếu này; không tính."
FLASH_COPY = "Phiếu trùng: một tờ phiếu khác có mã của tờ phiếu đã nhập. Để riêng tờ phiếu này; không tính."
RULING = "Hai tờ phiếu thừa không do Ban kiểm phiếu phát ra, đã tính là phiếu không hợp lệ; kết quả vẫn có giá trị."


def key(page: Page, code: str, marks: str) -> None:
    """A sheet keyed as a scanner and a teller do: the code and Enter, the digits and Enter."""
    expect(page.get_by_label(CODE_FIELD)).to_be_focused()
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.get_by_label(MARKS_FIELD)).to_be_focused()
    page.keyboard.type(marks)
    page.keyboard.press("Enter")


def tiles(page: Page):
    return page.locator("#paper .tile-number")


def test_a_teller_scanning_a_sheet_again_is_offered_a_correction_and_duplicates_count_sheets(
        browser, live_server, session, world, tmp_path):
    built = make_round(session, world, until="closed", board=TELLERS, issue=6, tablet=("1231", "2222"))
    codes = built.grouped
    with logged_in(browser, live_server, "teller", world.password) as teller:
        teller.goto(f"/count/rounds/{built.id}/entry")
        key(teller, codes[2], "1231")
        expect(flash(teller)).to_have_text(FLASH_FIRST)

        # the same sheet again, with the same marks: nothing recorded, no "set aside", an offer
        key(teller, codes[2], "1231")
        offer = teller.locator("#offer")
        expect(offer).to_contain_text("Đồng chí đã nhập tờ phiếu này (tờ thứ 1 của đồng chí). Chưa ghi gì thêm.")
        expect(offer).to_contain_text("Lần nhập vừa rồi giống lần nhập trước.")
        expect(offer).not_to_contain_text("Để riêng tờ phiếu này")
        expect(flash(teller)).to_have_count(0)
        expect(teller.get_by_label(CODE_FIELD)).to_be_focused()  # the next sheet can be scanned at once
        teller.screenshot(path=tmp_path / "entry-offer.png", full_page=True)

        # the sheet of a ballot cast on a tablet: a duplicate; scanned again: still one
        key(teller, codes[0], "1231")
        expect(flash(teller)).to_have_text(FLASH_TABLET)
        key(teller, codes[0], "1231")
        expect(teller.locator("#offer")).to_contain_text("Đồng chí đã để riêng một tờ phiếu có mã này")
        expect(teller.locator("#offer").get_by_role("button", name=re.compile("^Sửa"))).to_have_count(0)

        # the first sheet, misread: scanned again with other marks, and corrected from the offer
        key(teller, codes[2], "3333")
        expect(teller.locator("#offer")).to_contain_text("Lần nhập vừa rồi khác với lần nhập trước của đồng chí.")
        teller.get_by_role("button", name="Sửa lần nhập của tôi theo lần nhập vừa rồi").click()
        expect(flash(teller)).to_have_text(FLASH_FIRST.replace("Đã ghi.", "Đã sửa."))

        # a photocopy of that sheet turns up: the teller holding it says it is another sheet
        key(teller, codes[2], "3333")
        teller.get_by_role("button", name="Đây là một tờ phiếu khác cùng mã: để riêng như phiếu trùng").click()
        expect(flash(teller)).to_have_text(FLASH_COPY)

        teller.goto(f"/count/rounds/{built.id}")
        # 2 tablet; 1 sheet entered, 0 settled, 1 waiting; 2 duplicates (one sheet of each kind), not 4 scans
        expect(tiles(teller)).to_have_text(["2", "1", "0", "1", "2"])
        expect(teller.locator("#paper .duplicates")).to_have_text(
            "Phiếu trùng để riêng (mỗi tờ phiếu tính một lần, không tính số lần quét): 1 tờ có mã đã dùng trên máy "
            "tính bảng, 1 tờ trùng mã với một tờ phiếu giấy khác.")
        teller.screenshot(path=tmp_path / "count-duplicates.png", full_page=True)


def test_a_sheet_only_one_teller_entered_waits_for_another_teller_not_for_a_ruling(
        browser, live_server, session, world, tmp_path):
    built = make_round(session, world, until="closed", board=TELLERS, issue=6, tablet=("1231",))
    codes = built.grouped
    with logged_in(browser, live_server, "teller", world.password) as teller:
        teller.goto(f"/count/rounds/{built.id}/entry")
        key(teller, codes[3], "1233")
        expect(flash(teller)).to_have_text(FLASH_FIRST)
        teller.goto(f"/count/rounds/{built.id}")
        waiting = teller.locator("#waiting")
        expect(waiting.get_by_role("heading", level=2)).to_have_text("Chờ người nhập khác 1")
        expect(waiting.locator("tbody tr")).to_have_count(1)
        expect(waiting.locator("tbody td").nth(1)).to_have_text("teller (thứ tự 1 trong xấp)")
        # the same teller cannot settle it as "the board": there is no ruling to record
        expect(teller.locator("#queue")).to_have_count(0)
        expect(teller.get_by_role("button", name="Ghi quyết định")).to_have_count(0)
        expect(teller.get_by_role("button", name="Kiểm phiếu")).to_be_disabled()
        teller.screenshot(path=tmp_path / "count-waiting.png", full_page=True)
        # and a ruling posted by hand is refused, nothing recorded
        sheet = waiting.locator("tbody td").first.inner_text()
        csrf = teller.locator("input[name=csrf_token]").first.get_attribute("value")
        forged = teller.request.post(f"/count/rounds/{built.id}/sheets/{sheet}/ruling",
                                     form={"csrf_token": csrf, "marks": "1233"})
        assert forged.status == 409, forged.status
        assert "một người khác phải tự nhập tờ phiếu" in forged.text()
        teller.reload()
        expect(teller.locator("#waiting tbody tr")).to_have_count(1)

        # once another teller enters it differently, the independent entries disagree: now it is the board's
        with logged_in(browser, live_server, "teller2", world.password) as teller2:
            teller2.goto(f"/count/rounds/{built.id}/entry")
            key(teller2, codes[3], "1232")
            expect(flash(teller2)).to_contain_text("chờ ban kiểm phiếu quyết định")
        teller.reload()
        expect(teller.locator("#waiting")).to_have_count(0)
        expect(teller.locator("#queue article.sheet")).to_have_count(1)
        expect(teller.locator("#queue").get_by_role("button", name="Ghi quyết định")).to_be_visible()


@pytest.fixture
def counted_with_more_collected(session, world):
    """3 ballots issued, 2 cast on tablets (the second with its fourth row left empty: a mark not counted under the
    "row" reading), ballot 2 on paper, and 2 sheets no one issued: 5 collected of 3 issued, counted."""
    strangers = [tokens.code_of(tokens.new_secret()) for _ in range(2)]
    return make_round(session, world, until="counted", board=TELLERS, issue=3, tablet=("1231", "2220"),
                      settings={"invalid_mark_policy": "row"},
                      paper=[(2, "1133"), (strangers[0], Paper("")), (strangers[1], Paper(""))])


def test_the_anomaly_banner_gives_way_to_the_boards_ruling_on_every_page_that_shows_the_figures(
        browser, live_server, world, counted_with_more_collected, tmp_path):
    round_id = counted_with_more_collected.id
    with logged_in(browser, live_server, "teller", world.password) as teller, \
            logged_in(browser, live_server, "teller2", world.password) as teller2:
        teller.goto(f"/count/rounds/{round_id}")
        results = teller.locator("#results")
        expect(results.locator(".alert")).to_have_text(
            "Thu về 5 phiếu, phát ra 3 phiếu. Số phiếu thu về nhiều hơn số phiếu phát ra: ban kiểm phiếu phải "
            "quyết định trước khi phê duyệt.", use_inner_text=True)
        teller.locator("#anomaly").get_by_label("Quyết định của ban kiểm phiếu").fill(RULING)
        teller.locator("#anomaly").get_by_role("button", name="Ghi quyết định").click()
        expect(flash(teller)).to_contain_text("Đã ghi quyết định")

        # after the ruling: the figures with the ruling's text, no red banner
        expect(results.locator(".alert")).to_have_count(0)
        note = results.locator(".anomaly-ruled")
        expect(note).to_contain_text("Thu về 5 phiếu, phát ra 3 phiếu. Số phiếu thu về nhiều hơn số phiếu phát ra.")
        expect(note.locator(".ruling")).to_have_text(RULING)
        teller.screenshot(path=tmp_path / "count-ruled.png", full_page=True)

        teller.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        teller2.goto(f"/count/rounds/{round_id}")
        teller2.get_by_role("button", name="Tôi phê duyệt kết quả kiểm phiếu").click()
        expect(teller2.locator(".heading .state")).to_have_text("Đã niêm phong")
        # after the seal, from the sealed document
        sealed = teller2.locator("#results")
        expect(sealed.locator(".alert")).to_have_count(0)
        expect(sealed.locator(".anomaly-ruled .ruling")).to_have_text(RULING)
        teller2.get_by_role("button", name="Công bố kết quả").click()

        # the published result, as the board sees it
        expect(teller2.get_by_role("heading", level=1)).to_be_visible()
        teller2.goto(f"/results/rounds/{round_id}")
        expect(teller2.locator(".alert")).to_have_count(0)
        expect(teller2.locator(".anomaly-ruled")).to_contain_text("Thu về 5 phiếu, phát ra 3 phiếu.")
        expect(teller2.locator(".anomaly-ruled .ruling")).to_have_text(RULING)
        # invalid ballots by reason, and the mark not counted under candidate 4 (the "row" reading)
        expect(teller2.locator(".invalid-reasons")).to_have_text(
            "Phiếu không hợp lệ theo lý do: Không do ban kiểm phiếu phát ra: 2.")
        expect(teller2.locator("tr.notes .marks-not-counted")).to_have_text(["1 ô không được tính"])
        teller2.screenshot(path=tmp_path / "result-ruled.png", full_page=True)

    # the upper level's dashboard: "5/3" with the note and the ruling
    with logged_in(browser, live_server, "district_viewer", world.password) as reader:
        reader.goto(f"/results/committees/{world.district.id}/below")
        row = reader.locator("table.dashboard tbody tr", has_text="Đảng ủy xã Yên Bình")
        expect(row.locator("td.num").first).to_have_text("5/3")
        expect(reader.locator("table.dashboard .anomaly-note")).to_have_text(
            "Thu về 5 phiếu, phát ra 3 phiếu. Số phiếu thu về nhiều hơn số phiếu phát ra. Quyết định của ban kiểm "
            f"phiếu: {RULING}", use_inner_text=True)
        reader.screenshot(path=tmp_path / "dashboard-ruled.png", full_page=True)

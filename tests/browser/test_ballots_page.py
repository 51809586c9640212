"""A teller on a tablet issues ballots: the progress bar runs, the PDF downloads, the accounting follows."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_round_flow import Shots, check_layout
from tests.factories import make_round

pytestmark = pytest.mark.browser


@pytest.fixture
def round_id(session, world):
    return make_round(session, world, title="Lấy phiếu tín nhiệm đối với BCH", convened=130, present=120,
                      spares=3).id


def test_a_teller_issues_ballots_with_a_progress_bar_and_gets_the_pdf(page: Page, world, round_id, db_url,
                                                                      tmp_path):
    shots = Shots(page, enabled=db_url.startswith("sqlite"))
    page.goto("/")
    page.get_by_label("Tên đăng nhập").fill("teller")
    page.get_by_label("Mật khẩu").fill(world.password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("link", name="Lấy phiếu tín nhiệm đối với BCH").click()
    expect(page.get_by_role("heading", name="Phiếu", exact=True)).to_be_visible()
    expect(page.locator("#accounting")).to_contain_text("còn được phát thêm 123 phiếu")
    check_layout(page)

    # a draft round: nothing to void yet, voting cannot be opened
    expect(page.locator("#voting")).to_contain_text("Hãy phát phiếu trước")
    expect(page.locator("#void")).to_have_count(0)
    page.evaluate("window.notReloaded = true")  # gone if the page reloads instead of bringing itself up to date
    page.get_by_label("Số phiếu").fill("120")
    # the progress text may pass too quickly to poll for: record every text it shows
    page.evaluate("""() => {
        window.progressSeen = [];
        const text = document.querySelector('.progress-text');
        new MutationObserver(() => window.progressSeen.push(text.textContent))
            .observe(text, {childList: true, characterData: true, subtree: true});
    }""")
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Phát phiếu và tải tệp PDF").click()
    saved = tmp_path / "phieu.pdf"
    download.value.save_as(saved)
    assert download.value.suggested_filename.endswith(".pdf")
    assert saved.read_bytes().startswith(b"%PDF")
    expect(page.locator(".progress-text")).to_contain_text("Đã in xong")
    seen = page.evaluate("window.progressSeen")
    assert any("trên 120 phiếu" in text for text in seen), seen
    expect(page.locator("progress")).to_have_attribute("value", "120")
    # the page brings itself up to date in place: state, numbers, "open voting", the batch, the void form; the
    # message under the bar stays
    expect(page.locator(".heading .state")).to_have_text("Đã phát phiếu, chưa mở bỏ phiếu")
    expect(page.get_by_role("button", name="Mở bỏ phiếu")).to_be_visible()
    expect(page.locator("#accounting")).to_contain_text("còn được phát thêm 3 phiếu")
    expect(page.locator("#accounting [data-field=issued]")).to_have_text("120")
    expect(page.locator("#batches")).to_contain_text("120")
    expect(page.locator("#void")).to_be_visible()
    expect(page.locator(".progress-text")).to_contain_text("Đã in xong")
    assert page.evaluate("window.notReloaded") is True
    check_layout(page)
    shots.take("ballots")

    # a refusal comes back as a message under the bar, not as a broken download
    page.get_by_label("Số phiếu").fill("10")
    page.get_by_role("button", name="Phát phiếu và tải tệp PDF").click()
    expect(page.locator(".progress-text")).to_contain_text("Không phát được phiếu: Phát thêm 10 phiếu")

"""An organizer on a 10-inch tablet logs in and sets up a round in draft, as a real user would, in Vietnamese.

The screenshots it takes on SQLite are the ones in docs/screenshots/ (the PostgreSQL run checks the same flow
without writing them again).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ballots import rules
from tests.browser.conftest import LANDSCAPE, PORTRAIT

# The README's pictures are written into docs/ only when asked (make screenshots sets TRUSTVOTE_SCREENSHOTS=1):
# otherwise a test run takes them into a scratch folder and leaves the working tree as it found it.
PICTURES = (Path(__file__).resolve().parents[2] / "docs" if os.environ.get("TRUSTVOTE_SCREENSHOTS") == "1"
            else Path(tempfile.gettempdir()) / "trustvote-screenshots")
SCREENSHOTS = PICTURES / "screenshots"
MIN_TAP = 44  # px: the smallest comfortable target for a finger (WCAG 2.5.5, Apple HIG)
COMMUNE_MEMBERS = ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Đức Thắng", "Phạm Thị Hương"]
TITLE = "Lấy phiếu tín nhiệm giữa nhiệm kỳ 2020–2025"
GRASSROOTS = rules.PRESETS["grassroots-2017"]

pytestmark = pytest.mark.browser


class Shots:
    """Full-page screenshots with stable names, written on one engine only."""

    def __init__(self, page: Page, enabled: bool) -> None:
        self.page, self.enabled = page, enabled
        if enabled:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(self, name: str) -> None:
        if self.enabled:
            self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, animations="disabled")


def assert_fits(page: Page) -> None:
    """Nothing wider than the screen: a tablet user never scrolls sideways."""
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"{page.url} scrolls sideways at {page.viewport_size}: {sizes}"


def assert_tap_targets(page: Page) -> None:
    """Every visible button (primary ones included) and every link in the top bar is tall enough for a finger."""
    small = page.evaluate(
        """min => [...document.querySelectorAll('main button, main .button, .topnav a, .topnav button')]
               .filter(el => el.offsetParent !== null)
               .map(el => [el.textContent.trim(), Math.round(el.getBoundingClientRect().height)])
               .filter(([, height]) => height < min)""",
        MIN_TAP,
    )
    assert not small, f"buttons shorter than {MIN_TAP}px on {page.url}: {small}"


def check_layout(page: Page) -> None:
    assert_fits(page)
    assert_tap_targets(page)


def candidate_rows(page: Page):
    return page.locator("#candidates tbody tr")


def test_organizer_logs_in_and_sets_up_a_round_on_a_tablet(page: Page, world, db_url):
    shots = Shots(page, enabled=db_url.startswith("sqlite"))

    # Not logged in: the home page is the log-in page, in Vietnamese.
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    check_layout(page)
    shots.take("login")

    page.get_by_label("Tên đăng nhập").fill("organizer")
    page.get_by_label("Mật khẩu").fill(world.password)
    page.get_by_role("button", name="Đăng nhập").click()

    # The committee tree: the province is open; the user opens the district to see its communes.
    expect(page.get_by_role("heading", name="Xin chào, organizer")).to_be_visible()
    expect(page.get_by_role("heading", name="Các cấp ủy đồng chí phụ trách")).to_be_visible()
    expect(page.get_by_role("link", name="Tỉnh ủy Thử Nghiệm")).to_be_visible()
    district = page.locator("summary", has=page.get_by_role("link", name="Huyện ủy Đông Anh"))
    district.locator(".count").click()  # on the summary, beside the link: opens the branch, stays on the page
    expect(page.get_by_role("link", name="Đảng ủy xã Yên Bình")).to_be_visible()
    expect(page.get_by_role("link", name="Đảng ủy xã Hòa Lạc")).to_be_visible()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    check_layout(page)
    shots.take("tree")

    # The commune, its members, its conference.
    page.get_by_role("link", name="Đảng ủy xã Yên Bình").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Đảng ủy xã Yên Bình")
    members = page.locator("#members tbody tr td:nth-child(2)")
    expect(members).to_have_text(COMMUNE_MEMBERS)
    check_layout(page)
    page.get_by_role("link", name="Hội nghị sơ kết giữa nhiệm kỳ").click()
    expect(page.get_by_role("heading", name="Hội nghị sơ kết giữa nhiệm kỳ")).to_be_visible()
    expect(page.get_by_text("Hội trường xã")).to_be_visible()
    check_layout(page)

    # A new round.
    page.get_by_role("link", name="Đợt lấy phiếu mới").click()
    expect(page.get_by_role("heading", name="Đợt lấy phiếu tín nhiệm mới")).to_be_visible()
    page.get_by_label("Tên đợt").fill(TITLE)
    expect(page.get_by_label("Quy định áp dụng")).to_have_value(rules.DEFAULT_PRESET)
    page.get_by_label("Số được triệu tập").fill("35")
    page.get_by_label("Số có mặt").fill("32")
    check_layout(page)
    shots.take("round-new")
    page.get_by_role("button", name="Tạo đợt lấy phiếu").click()

    # The round in draft: numbers, every member of the commune a candidate, with exact diacritics.
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "Đã tạo đợt lấy phiếu (dự thảo) với mọi thành viên của cấp ủy trong danh sách.")
    expect(page.locator(".heading .state")).to_have_text("Dự thảo")
    facts = page.locator("#numbers .facts")
    expect(facts.locator("dd")).to_have_text(["35", "32", "3", "0", "Đủ"])
    names = page.locator("#candidates tbody tr td:nth-child(3)")
    expect(names).to_have_text(COMMUNE_MEMBERS)
    for index, post in enumerate(["Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Chấp hành"]):
        expect(candidate_rows(page).nth(index).locator("input[name^=post-]")).to_have_value(post)
    expect(page.locator("#candidates h2 .count")).to_have_text("4")

    # Take one person off the ballot, name the board and switch the rule set: one form, one save, nothing lost.
    save = page.get_by_role("button", name="Lưu dự thảo")
    page.get_by_role("checkbox", name="Phạm Thị Hương").uncheck()
    expect(page.locator(".unsaved-note")).to_have_text("Có thay đổi chưa lưu")
    board = page.locator("#board")
    expect(board.locator("ul.checks label")).to_have_text(["teller", "teller2"])
    board.get_by_label("teller2", exact=True).check()
    settings = page.locator("#settings")
    places = settings.get_by_label("Số nơi tối đa một người được lấy phiếu")
    entries = settings.get_by_label("Số lần nhập độc lập mỗi phiếu giấy")
    expect(places).to_have_value("2")
    expect(entries).to_have_value("2")
    expect(page.locator("#rule_set h2")).to_have_text(f"Quy định áp dụng: {rules.PRESETS[rules.DEFAULT_PRESET].title}")
    page.locator("#rule_set").get_by_label("Quy định áp dụng").select_option(label=GRASSROOTS.title)
    save.click()
    expect(page.get_by_role("status").first).to_contain_text("Đã lưu.")
    expect(page.locator(".unsaved-note")).to_have_text("")
    expect(page.locator("#candidates h2 .count")).to_have_text("3")
    for name in COMMUNE_MEMBERS[:3]:
        expect(page.get_by_role("checkbox", name=name)).to_be_checked()
    expect(page.get_by_role("checkbox", name="Phạm Thị Hương")).not_to_be_checked()
    expect(names).to_have_text(COMMUNE_MEMBERS)  # still listed, so that she can be put back
    expect(board.get_by_label("teller2", exact=True)).to_be_checked()
    expect(board.get_by_label("teller", exact=True)).not_to_be_checked()
    # switching the rule set reset the settings to the new rule set's values
    expect(page.locator("#rule_set h2")).to_have_text(f"Quy định áp dụng: {GRASSROOTS.title}")
    expect(places).to_have_value("")
    expect(entries).to_have_value("3")
    expect(settings.locator("#consequence-more_than_half")).to_have_value(
        "Trên 1/2 tín nhiệm thấp: xem xét theo quy định")
    expect(settings.locator("#consequence-two_thirds_or_more")).to_have_value("")

    # No English left on the page (the words a missing translation would show).
    body = page.locator("main").inner_text()
    for english in ("Candidates", "Counting board", "Settings", "Save", "Rule set", "Draft", "Delegates"):
        assert english not in body, f"untranslated {english!r} on the round page"

    check_layout(page)
    shots.take("round")

    # The same page held upright.
    page.set_viewport_size(PORTRAIT)
    check_layout(page)
    shots.take("round-portrait")
    page.set_viewport_size(LANDSCAPE)

"""The kiosk for elderly and low-vision delegates (issue 16) and a ballot that suggests no choice (issue 12, item 14).

- axe-core (axe-playwright-python's copy, no CDN), WCAG 2.2 AA tags, on every kiosk screen and state, in every mode
  (normal, large text, high contrast), at 800x1280, 1280x800 and 390x844: no violation, no sideways scrolling;
- high contrast: names and buttons at least 10:1 (VVSG 2.0), computed from the rendered colours;
- a whole vote with the keyboard alone in large text: the focus on each new screen's heading, each choice announced,
  the settings back to normal for the next voter, a barcode scanner still typing into the code field;
- the three levels look alike, chosen or not; after a tablet vote, the board's practice for the paper sheet.
The pages are the same on either engine: the matrix runs on SQLite, the vote with the board's setting on both.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ballots import tokens
from tests.browser.conftest import PORTRAIT, tablet_page
from tests.browser.test_kiosk import VotingRound, marks_in_the_box
from tests.browser.test_round_flow import Shots, assert_fits
from tests.factories import make_round

pytestmark = pytest.mark.browser

VIEWPORTS = [{"width": 800, "height": 1280}, {"width": 1280, "height": 800}, {"width": 390, "height": 844}]
MODES = {"normal": [], "large text": ["Rất lớn"], "high contrast": ["Tương phản cao"]}
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
CANDIDATES = 4
HAND_BACK = "Đồng chí hãy trả lại tờ phiếu giấy cho Ban kiểm phiếu. Không bỏ tờ phiếu này vào hòm phiếu."
TRAY = "Đồng chí hãy bỏ tờ phiếu giấy vào khay phiếu đã dùng đặt cạnh hòm phiếu, không bỏ vào hòm phiếu."

# WCAG's relative luminance and contrast ratio, over the colours the browser rendered (a transparent background is
# the first opaque one of its ancestors)
CONTRASTS = """selector => [...document.querySelectorAll(selector)].filter(el => el.offsetParent !== null).map(el => {
  const rgb = text => text.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  let node = el, background = null;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] > 0) { background = c; break; }
    node = node.parentNode;
  }
  background = background || [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background)];
  return [el.textContent.trim().slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
})"""


class Axe:
    """axe-core (axe-playwright-python's copy of axe.min.js, no CDN) on a page: injected once per document (its
    560 kB go over Playwright's pipe once, not once per check) and run with the WCAG 2.2 AA tags, answering only
    the violations (the passes and incompletes are most of axe's work to serialise)."""

    def __init__(self):
        import axe_playwright_python

        self.source = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()

    def violations(self, page: Page) -> list[str]:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.source)
        return page.evaluate(AXE_RUN, WCAG_22_AA)


AXE_RUN = """async tags => (await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']}))
  .violations.map(v => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.slice(0, 4).map(n => n.target))}`)"""


def code_of(secret: bytes) -> str:
    return tokens.code_of(secret)


def set_mode(page: Page, mode: str) -> None:
    for button in MODES[mode]:
        page.locator("#kiosk-display").get_by_role("button", name=button, exact=True).click()


@pytest.fixture
def open_round(session, world):
    return make_round(session, world, until="open", convened=40, present=36, issue=30)


def test_every_kiosk_screen_in_every_mode_and_size_passes_axe_wcag22_aa(browser, live_server, open_round, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the pages are the same on either engine: the matrix runs once, on SQLite")
    secrets = iter(open_round.secrets)
    axe = Axe()
    checked, problems = [], []

    def check(page: Page, state: str) -> None:
        """The state on screen, at each of the three sizes: nothing wider than the screen, no axe violation.
        The page is resized, not reloaded: the state stays, and axe stays injected."""
        for viewport in VIEWPORTS:
            page.set_viewport_size(viewport)
            where = f"{state}, {viewport['width']}x{viewport['height']}"
            assert_fits(page)
            checked.append(where)
            if found := axe.violations(page):
                problems.append((where, found))

    with tablet_page(browser, live_server) as page:
        for mode in MODES:
            page.goto(f"/kiosk/{open_round.id}")
            set_mode(page, mode)
            expect(page.locator(".camera-off")).to_be_visible()  # no camera here: it says what to do
            check(page, f"scan, {mode}")
            page.locator("#code").fill("ABCD")
            page.locator("#code").press("Enter")
            expect(page.locator("#scan-error")).to_be_visible()
            check(page, f"scan with a refusal, {mode}")
            page.locator("#code").fill(code_of(next(secrets)))
            page.locator("#code").press("Enter")
            expect(page.locator("#ballot-screen h1")).to_be_focused()
            check(page, f"ballot, {mode}")
            rows = page.locator("#ballot-screen .choices")
            rows.nth(0).get_by_role("button").nth(0).click()
            rows.nth(1).get_by_role("button").nth(2).click()
            check(page, f"ballot partly marked, {mode}")
            page.get_by_role("button", name="Tiếp tục").click()
            expect(page.locator("#confirm-screen .kiosk-warning")).to_be_visible()
            check(page, f"check screen with unmarked rows, {mode}")
            page.get_by_role("button", name="Quay lại sửa").click()
            rows.nth(2).get_by_role("button").nth(1).click()
            rows.nth(3).get_by_role("button").nth(1).click()
            page.get_by_role("button", name="Tiếp tục").click()
            expect(page.locator("#confirm-screen .kiosk-warning")).to_have_count(0)
            check(page, f"check screen all marked, {mode}")
            # the thank-you screen stays while axe looks at it three times (it goes after a few seconds)
            page.locator("#kiosk").evaluate("el => { el.dataset.reset = 600; }")
            page.get_by_role("button", name="Xác nhận bỏ phiếu").click()
            expect(page.locator("#recorded-paper")).to_have_text(HAND_BACK)
            check(page, f"recorded, {mode}")
        page.goto("/b")  # the page a camera app opens
        check(page, "the camera app's page /b")

    # The pages without JavaScript (plain forms). The kiosk's scripts are not served, so the browser shows what a
    # browser without JavaScript shows (the kiosk has no <noscript> content); Playwright's own switch
    # (java_script_enabled=False) cannot be used: axe, run through page.evaluate, would then never answer.
    no_js = browser.new_context(base_url=live_server, viewport=VIEWPORTS[0], locale="vi-VN")
    no_js.set_default_timeout(10_000)
    no_js.route("**/*.js", lambda route: route.abort())
    try:
        plain = no_js.new_page()
        plain.goto(f"/kiosk/{open_round.id}")
        expect(plain.locator("#kiosk-display")).to_be_hidden()  # the settings need the script: not offered
        plain.locator("#code").fill(code_of(next(secrets)))
        plain.get_by_role("button", name="Mở phiếu").click()
        expect(plain.locator("form .ballot-row")).to_have_count(CANDIDATES)
        check(plain, "ballot form without JavaScript")
        plain.locator(".ballot-row").nth(0).locator("input").nth(1).check()
        plain.get_by_role("button", name="Xác nhận bỏ phiếu").click()
        expect(plain.locator(".recorded-paper")).to_have_text(HAND_BACK)
        check(plain, "recorded without JavaScript")
        plain.goto(f"/kiosk/{open_round.id}")
        plain.locator("#code").fill("ABCD")
        plain.get_by_role("button", name="Mở phiếu").click()
        expect(plain.locator(".kiosk-error")).to_be_visible()
        check(plain, "refused without JavaScript")
    finally:
        no_js.close()
    assert len(checked) == (len(MODES) * 7 + 1 + 3) * len(VIEWPORTS)
    assert problems == [], "\n".join(f"{where}: {found}" for where, found in problems)


def test_high_contrast_gives_names_and_buttons_at_least_10_to_1(page: Page, open_round):
    page.goto(f"/kiosk/{open_round.id}")
    page.locator("#kiosk-display").get_by_role("button", name="Tương phản cao").click()
    page.locator("#code").fill(code_of(open_round.secrets[0]))
    page.locator("#code").press("Enter")
    rows = page.locator("#ballot-screen .choices")
    rows.nth(0).get_by_role("button").nth(0).click()  # a chosen level and unchosen ones
    ratios = page.evaluate(CONTRASTS, ".name, .post, .kiosk-head p, h1, button")
    assert len(ratios) >= 2 * CANDIDATES + 3 * CANDIDATES + 4  # names, posts, levels, the settings
    low = [(text, round(ratio, 1)) for text, ratio in ratios if ratio < 10]
    assert low == [], low
    # and in the normal mode, the one the delegate starts with, at least AA's 4.5:1 (some grey text is below 10:1)
    page.locator("#kiosk-display").get_by_role("button", name="Tương phản cao").click()
    assert min(ratio for _text, ratio in page.evaluate(CONTRASTS, ".name, .post, h1, button")) >= 4.5


def test_a_whole_vote_with_the_keyboard_alone_in_large_text(page: Page, open_round, session, db_url):
    page.goto(f"/kiosk/{open_round.id}")
    code = page.locator("#code")
    expect(code).to_be_focused()
    # large text, reached from the code field: the display settings come before it
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    expect(page.locator(":focus")).to_have_text("Lớn")
    page.keyboard.press("Space")
    assert page.evaluate("document.documentElement.classList.contains('kiosk-size-2')")
    expect(page.locator("#kiosk-display button[data-size='2']")).to_have_attribute("aria-pressed", "true")
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(code).to_be_focused()
    page.keyboard.type(code_of(open_round.secrets[0]))
    page.keyboard.press("Enter")

    # the ballot: the focus on its heading; each level reached by Tab, chosen by Space or Enter, and announced
    expect(page.locator(":focus")).to_have_text("Chọn một mức tín nhiệm cho từng người")
    marks = [1, 3, 2, 2]
    names = page.locator("#ballot-screen .name").all_text_contents()
    levels = ["Tín nhiệm cao", "Tín nhiệm", "Tín nhiệm thấp"]
    for row, level in enumerate(marks):
        for _ in range(level):
            page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text(levels[level - 1])
        page.keyboard.press("Space" if row % 2 else "Enter")
        expect(page.locator("#kiosk-announce")).to_have_text(f"{names[row]}: {levels[level - 1]}")
        for _ in range(3 - level):
            page.keyboard.press("Tab")
    assert_fits(page)
    page.set_viewport_size(PORTRAIT)  # an upright 10-inch tablet, for the README
    assert_fits(page)
    Shots(page, enabled=db_url.startswith("sqlite")).take("kiosk-large-text")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Tiếp tục")
    page.keyboard.press("Enter")

    expect(page.locator(":focus")).to_have_text("Kiểm tra lại lựa chọn")
    expect(page.locator("#confirm-screen .summary .level")).to_have_text([levels[m - 1] for m in marks])
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Quay lại sửa")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Xác nhận bỏ phiếu")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_text("Phiếu của đồng chí đã được ghi nhận")
    expect(page.locator("#recorded-paper")).to_have_text(HAND_BACK)
    assert page.evaluate("document.documentElement.classList.contains('kiosk-size-2')")

    # the next voter: normal text again, the focus on the scan screen's heading
    expect(page.locator("#scan-screen h1")).to_be_focused(timeout=15_000)
    assert page.evaluate("document.documentElement.className") == ""
    expect(page.locator("#kiosk-display button[aria-pressed='true']")).to_have_text(["Thường"])
    expect(page.locator("#kiosk-announce")).to_have_text("")
    # a barcode scanner types while the focus is on the heading: its characters go into the code field
    page.keyboard.type(tokens.qr_payload("https://192.168.1.10:8443", open_round.secrets[1]))
    page.keyboard.press("Enter")
    expect(page.locator("#ballot-screen h1")).to_be_focused()

    session.rollback()
    session.expire_all()
    assert bytes(marks) in marks_in_the_box(session, VotingRound(open_round.id, open_round.secrets, b"", open_round.cards()))


def test_the_three_levels_look_alike_and_the_kiosk_says_what_to_do_with_the_paper_sheet(
        browser, live_server, open_round, world):
    # the board's practice, set on the venue checklist by an organizer: the used sheet goes to the tray
    with tablet_page(browser, live_server) as clerk:
        clerk.goto("/")
        clerk.get_by_label("Tên đăng nhập").fill("organizer")
        clerk.get_by_label("Mật khẩu").fill(world.password)
        clerk.get_by_role("button", name="Đăng nhập").click()
        clerk.goto(f"/rounds/{open_round.id}/venue")
        clerk.get_by_label("Bỏ vào khay phiếu đã dùng đặt cạnh hòm phiếu").check()
        clerk.get_by_role("button", name="Lưu").click()
        expect(clerk.locator(".flash")).to_contain_text("Đã lưu")

    with tablet_page(browser, live_server) as page:
        page.goto(f"/kiosk/{open_round.id}")
        page.locator("#code").fill(code_of(open_round.secrets[2]))
        page.locator("#code").press("Enter")
        rows = page.locator("#ballot-screen .choices")
        style = "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color, getComputedStyle(el).borderColor]"
        unchosen = {tuple(rows.nth(0).get_by_role("button").nth(i).evaluate(style)) for i in range(3)}
        assert len(unchosen) == 1, unchosen
        for row, level in enumerate([0, 1, 2]):
            rows.nth(row).get_by_role("button").nth(level).click()
        chosen = {tuple(rows.nth(row).get_by_role("button").nth(row).evaluate(style)) for row in range(3)}
        assert len(chosen) == 1, f"the chosen levels differ in colour: {chosen}"
        assert chosen != unchosen
        page.get_by_role("button", name="Tiếp tục").click()
        colours = {page.locator("#confirm-screen .summary .level").nth(i).evaluate("el => getComputedStyle(el).color")
                   for i in range(3)}
        assert len(colours) == 1, f"the levels on the check screen differ in colour: {colours}"
        page.get_by_role("button", name="Xác nhận bỏ phiếu").click()
        expect(page.locator("#recorded-paper")).to_have_text(TRAY)

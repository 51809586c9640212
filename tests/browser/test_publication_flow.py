"""Published results read in the browser by three viewers at three levels of the tree, as new users would.

Set up through the domain: the commune Yên Bình's round counted, sealed with the app instance's own key and
published; its sibling Hòa Lạc's round open for voting; a third commune with no round; and a round of the district
itself, counted by the district's own board and published. The default audience is the committee and its direct
upper level, so:

- the district's viewer opens the dashboard of the communes below it from the home page, reads each one's state,
  sorts and filters it, opens the published result (numbers, SVG bars, threshold flags with the rule set's words)
  and downloads the Excel workbook (read back with openpyxl) and the minutes PDF (read back with pdftotext);
- the commune's viewer reads its own result and nothing of the district's (dashboard and result: 403);
- the province's viewer reads the district's result and the province's dashboard, but not the commune's result
  (page and downloads: 403).

Every reading and download is in the audit log. On SQLite it writes docs/screenshots/dashboard.png,
result.png and result-tablet.png.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.settings import SIGNING_KEY_FILE
from ballots import committees, signing
from ballots.models import AuditEntry
from tests import pdfs
from tests.browser.conftest import LANDSCAPE, PORTRAIT, download
from tests.browser.test_counting_flow import logged_in
from tests.browser.test_round_flow import Shots, assert_fits, assert_tap_targets
from tests.factories import accounts_with_role, make_conference, make_round, sealed_round

pytestmark = pytest.mark.browser

COMMUNE_TITLE = "Lấy phiếu tín nhiệm Ban Chấp hành Đảng bộ xã"
SIBLING_TITLE = "Lấy phiếu tín nhiệm Ban Chấp hành xã Hòa Lạc"
DISTRICT_TITLE = "Lấy phiếu tín nhiệm Ban Chấp hành Đảng bộ huyện"
THIRD_COMMUNE = "Đảng ủy xã Xuân Nộn"

# The commune's round (tests.factories.sealed_round): 10 convened, 10 present, 5 issued, 4 collected, all valid;
# percentages of the 4 collected. Phạm Thị Hương has 3 low of 4: past every threshold.
COMMUNE_NUMBERS = [10, 10, 5, 4, 4, 0]
COMMUNE_ROWS = [  # name, post, (high, trust, low), the percentages shown
    ("Nguyễn Văn Hùng", "Bí thư", (3, 1, 0), ("75,00", "25,00", "0,00")),
    ("Trần Thị Lan", "Phó Bí thư", (3, 1, 0), ("75,00", "25,00", "0,00")),
    ("Lê Đức Thắng", "Ủy viên Ban Thường vụ", (2, 0, 2), ("50,00", "0,00", "50,00")),
    ("Phạm Thị Hương", "Ủy viên Ban Chấp hành", (0, 1, 3), ("0,00", "25,00", "75,00")),
]
FLAGS = [  # the rule set's (Quy định 96-QĐ/TW) words after each threshold's name
    re.compile(r"^Trên 1/2 tín nhiệm thấp \(2 × thấp > N\): không quy hoạch"),
    re.compile(r"^Từ 2/3 trở lên tín nhiệm thấp \(3 × thấp ≥ 2 × N\): cấp có "),
    "Trên 2/3 tín nhiệm thấp (3 × thấp > 2 × N)",
]
# the workbook's two-row heading: each kind of mark over its count and share, the thresholds under their group
EXCEL_GROUPS = (None, None, None, "Tín nhiệm cao", None, "Tín nhiệm", None, "Tín nhiệm thấp", None, None,
                "Ngưỡng tín nhiệm thấp", None, None)
EXCEL_HEADERS = ("STT", "Họ và tên", "Chức vụ", "Số phiếu", "Tỷ lệ", "Số phiếu", "Tỷ lệ", "Số phiếu", "Tỷ lệ",
                 "Ô không hợp lệ", "Trên 1/2", "Từ 2/3 trở lên", "Trên 2/3")

# The district's round: 6 convened, 5 present, 4 issued, 3 cast on tablets and 1 on paper; no one crosses.
DISTRICT_MARKS = [b"\x01\x02", b"\x01\x01", b"\x02\x01"]
DISTRICT_PAPER = "13"
PUBLISHED, OPEN, NOT_STARTED = "Đã công khai", "Đang bỏ phiếu", "Chưa bắt đầu"


@dataclass
class Tree:
    commune_round: int
    district_round: int


@pytest.fixture
def tree(session, world, instance) -> Tree:
    """Through the domain, signed with the running app instance's own key."""
    key = signing.load_private_key(instance / SIGNING_KEY_FILE)
    commune_round = sealed_round(session, world, key, publish=True, title=COMMUNE_TITLE)

    # Hòa Lạc: ballots issued, voting open.
    make_round(session, world, until="open", title=SIBLING_TITLE, convened=9, present=8,
               conference=make_conference(session, world.sibling, name="Hội nghị Ban Chấp hành xã",
                                          place="Nhà văn hóa xã"),
               board=accounts_with_role(session, world, world.sibling, "teller", "hoalac_teller"))

    # A third commune that has not begun.
    committees.create_committee(session, name=THIRD_COMMUNE, level="Đảng ủy xã", parent=world.district, actor="test")

    # The district's own round, counted by its own board and published to it and to the province.
    district_round = make_round(
        session, world, until="published", title=DISTRICT_TITLE, convened=6, present=5,
        conference=make_conference(session, world.district, name="Hội nghị Ban Chấp hành Đảng bộ huyện",
                                   held_on=dt.date(2026, 12, 12), place="Hội trường huyện ủy"),
        board=accounts_with_role(session, world, world.district, "teller", "district_teller", "district_teller2"),
        issue=4, tablet=DISTRICT_MARKS, paper=[(3, DISTRICT_PAPER)], key=key).round

    # The province's viewer.
    accounts_with_role(session, world, world.province, "viewer", "province_viewer")
    session.commit()
    assert [c.person.full_name for c in district_round.candidates] == ["Nguyễn Văn Hùng", "Hoàng Minh Đức"]
    return Tree(commune_round.id, district_round.id)


def assert_tables_fit(page: Page) -> None:
    """No table needs its own sideways scroll either (.table-scroll would hide it from assert_fits)."""
    wide = page.evaluate("""[...document.querySelectorAll('.table-scroll')]
        .filter(el => el.scrollWidth > el.clientWidth).map(el => [el.scrollWidth, el.clientWidth])""")
    assert not wide, f"a table scrolls sideways on {page.url} at {page.viewport_size}: {wide}"


def check_layout(page: Page) -> None:
    """Fits, tables included, with finger-sized buttons, at a laptop / landscape tablet size and held upright."""
    for size in (LANDSCAPE, PORTRAIT):
        page.set_viewport_size(size)
        assert_fits(page)
        assert_tables_fit(page)
        assert_tap_targets(page)
    page.set_viewport_size(LANDSCAPE)


def dashboard_rows(page: Page):
    return page.locator("table.dashboard tbody tr")


def expect_dashboard_row(row, committee: str, title: str, state: str, quorum: str, turnout: str,
                         crossed: list[str]) -> None:
    expect(row.locator("td")).to_have_text([re.compile(f"^{re.escape(committee)} Đảng ủy xã$"), title, state,
                                            quorum, turnout, *crossed])


def expect_forbidden(page: Page, path: str, *, leaks: tuple[str, ...] = ()) -> None:
    """The page answers 403 and shows none of the result's words."""
    response = page.goto(path)
    assert response is not None and response.status == 403, (path, response and response.status)
    text = page.content()
    for words in leaks:
        assert words not in text, f"{words!r} leaks on {path}"


def expect_download_forbidden(page: Page, path: str) -> None:
    response = page.request.get(path)
    assert response.status == 403 and not response.body().startswith((b"%PDF", b"PK")), (path, response.status)


def test_viewers_at_three_levels_read_what_is_published_to_them(browser, live_server, world, tree: Tree, session,
                                                                 db_url, tmp_path):
    on_sqlite = db_url.startswith("sqlite")
    district = world.district

    # --- The district's viewer: the dashboard of the communes below it, from the home page.
    with logged_in(browser, live_server, "district_viewer", world.password) as page:
        shots = Shots(page, enabled=on_sqlite)
        roles = page.locator("section", has=page.get_by_role("heading", name="Vai trò của đồng chí"))  # their only roles
        expect(roles.locator("tbody tr td").first).to_contain_text("Huyện ủy Đông Anh")
        roles.get_by_role("link", name="Các cấp ủy trực thuộc").click()
        expect(page.get_by_role("heading", name="Các cấp ủy trực thuộc", level=1)).to_be_visible()
        expect(page.locator(".crumbs")).to_have_text("Huyện ủy Đông Anh")
        expect(page.locator(".tiles .tile-number")).to_have_text(["1", "1", "0", "0", "1"])
        expect(page.locator(".tiles .tile-label")).to_have_text(
            [NOT_STARTED, OPEN, "Kiểm phiếu", "Đã niêm phong", PUBLISHED])
        expect(page.get_by_text("3 dòng.")).to_be_visible()
        rows = dashboard_rows(page)
        expect(rows).to_have_count(3)  # by name: Hòa Lạc, Xuân Nộn, Yên Bình
        expect_dashboard_row(rows.nth(0), "Đảng ủy xã Hòa Lạc", SIBLING_TITLE, OPEN, "✓", "—", ["—", "—", "—"])
        expect_dashboard_row(rows.nth(1), THIRD_COMMUNE, "—", NOT_STARTED, "—", "—", ["—", "—", "—"])
        expect_dashboard_row(rows.nth(2), "Đảng ủy xã Yên Bình", COMMUNE_TITLE, PUBLISHED, "✓", "4/5",
                             ["1", "1", "1"])
        expect(rows.nth(2).locator("td.num.bad")).to_have_count(3)  # the crossings stand out
        expect(rows.nth(0).get_by_role("link")).to_have_count(0)  # nothing to drill into before publication
        check_layout(page)
        shots.take("dashboard")

        # Sorting by state (the column's link), then again the other way.
        page.locator("table.dashboard thead").get_by_role("link", name="Trạng thái").click()
        expect(page.locator("table.dashboard thead")).to_contain_text("Trạng thái ▲")
        expect(rows.locator("td:nth-child(3)")).to_have_text([NOT_STARTED, OPEN, PUBLISHED])
        page.locator("table.dashboard thead").get_by_role("link", name=re.compile("^Trạng thái")).click()
        expect(rows.locator("td:nth-child(3)")).to_have_text([PUBLISHED, OPEN, NOT_STARTED])
        # Filtering: only the communes where someone is past half low trust.
        page.get_by_label("Chỉ những nơi có người trên một nửa tín nhiệm thấp").check()
        page.get_by_role("button", name="Lọc").click()
        expect(rows).to_have_count(1)
        expect(page.get_by_text("1 dòng.")).to_be_visible()
        expect(page.get_by_label("Chỉ những nơi có người trên một nửa tín nhiệm thấp")).to_be_checked()
        # ... and by state, from the form.
        page.get_by_label("Chỉ những nơi có người trên một nửa tín nhiệm thấp").uncheck()
        page.get_by_label("Trạng thái").select_option(label=OPEN)
        page.get_by_role("button", name="Lọc").click()
        expect(rows.locator("td:nth-child(1)")).to_have_text([re.compile("^Đảng ủy xã Hòa Lạc")])
        check_layout(page)

        # The whole table as Excel, read back.
        page.get_by_label("Trạng thái").select_option(label="Tất cả")
        page.get_by_role("button", name="Lọc").click()
        expect(rows).to_have_count(3)
        board_xlsx = tmp_path / "tong-hop.xlsx"
        assert download(page.get_by_role("link", name="Excel"), board_xlsx) == f"tong-hop-{district.id}.xlsx"
        table = list(load_workbook(board_xlsx).active.iter_rows(values_only=True))
        assert table[0][0] == "Kết quả lấy phiếu tín nhiệm các cấp ủy trực thuộc Huyện ủy Đông Anh"
        assert table[1][:5] == ("Cấp ủy", "Cấp", "Đợt lấy phiếu", "Ngày hội nghị", "Trạng thái")
        published = next(row for row in table[2:] if row[0] == "Đảng ủy xã Yên Bình")
        assert published[2] == COMMUNE_TITLE and published[4] == "Đã công khai" and published[5] == "Có"
        assert published[6:12] == (5, 4, 0.8, 1, 1, 1)  # numbers as numbers
        assert published[12:] == ("2020-2025", None)  # the term; no committee between: it is directly below
        assert {row[0] for row in table[2:]} == {"Đảng ủy xã Yên Bình", "Đảng ủy xã Hòa Lạc", THIRD_COMMUNE}

        # Drill down into the published result.
        page.get_by_role("link", name=COMMUNE_TITLE).click()
        expect(page).to_have_url(re.compile(f"/results/rounds/{tree.commune_round}$"))
        expect(page.get_by_role("heading", name=COMMUNE_TITLE, level=1)).to_be_visible()
        expect(page.locator(".heading .state")).to_have_text(PUBLISHED)
        expect(page.locator("main")).to_contain_text("Đảng ủy xã Yên Bình · Hội nghị sơ kết giữa nhiệm kỳ")
        expect(page.locator(".tiles .tile-number")).to_have_text([str(n) for n in COMMUNE_NUMBERS])
        expect(page.get_by_text("Tỷ lệ phần trăm tính trên 4 phiếu thu về.")).to_be_visible()
        candidates = page.locator("table.results tbody tr.candidate")
        expect(candidates).to_have_count(len(COMMUNE_ROWS))
        for index, (name, post, counts, percents) in enumerate(COMMUNE_ROWS):
            cells = candidates.nth(index).locator("td")
            expect(cells.nth(0)).to_have_text(str(index + 1))
            expect(cells.nth(1)).to_contain_text(name)
            expect(cells.nth(2)).to_have_text(post)
            for column, (count, percent) in enumerate(zip(counts, percents), start=3):
                expect(cells.nth(column)).to_have_text(f"{count}{percent} %")
            # the bars: high, trust, low as shares of the 180-px track, drawn by the app
            bars = cells.nth(6).locator("svg.bars")
            expect(bars).to_be_visible()
            widths = [float(w) for w in bars.locator("rect:not(.bar-bg)").evaluate_all(
                "rects => rects.map(r => r.getAttribute('width'))")]
            assert widths == [180 * count / 4 for count in counts], (name, widths)
        # Only Phạm Thị Hương crossed, and every threshold, with the rule set's words for each consequence.
        expect(page.locator("table.results tr.candidate.crossed")).to_have_count(1)
        expect(candidates.nth(3)).to_have_class("candidate crossed has-notes")
        notes = page.locator("table.results tr.notes")  # under the person's row, across the table
        expect(notes).to_have_count(1)
        expect(notes).to_have_class("notes crossed")
        expect(notes.locator(".flag")).to_have_text(FLAGS)
        assert notes.evaluate("row => row.previousElementSibling.id") == "candidate-4"
        # Nguyễn Văn Hùng is rated at the district too, which this viewer reads: linked across; his trust over time
        expect(candidates.nth(0).get_by_role("link")).to_have_text(["cũng được lấy phiếu tại Huyện ủy Đông Anh",
                                                                     "Lịch sử tín nhiệm"])
        expect(page.get_by_text("Dấu vân tay của kết quả:")).to_be_visible()
        expect(page.get_by_role("link", name="Gói kết quả gửi cấp trên")).to_have_count(0)  # the board's
        check_layout(page)
        shots.take("result")
        page.set_viewport_size(PORTRAIT)
        shots.take("result-tablet")
        page.set_viewport_size(LANDSCAPE)

        # The Excel workbook: Vietnamese headers and names exact, numbers as numbers.
        xlsx = tmp_path / "result.xlsx"
        suggested = download(page.get_by_role("link", name="Excel", exact=True), xlsx)
        assert suggested == f"ket-qua-dot-{tree.commune_round}.xlsx"
        book = load_workbook(xlsx)
        assert len(book.worksheets) == 1
        sheet = list(book.worksheets[0].iter_rows(values_only=True))
        assert sheet[0][0] == "Đảng ủy xã Yên Bình" and sheet[1][0] == COMMUNE_TITLE
        lines = {row[0]: row[2] for row in sheet if row[0] and row[1] is None}  # a label, then its value in C
        assert lines["Hội nghị"] == "Hội nghị sơ kết giữa nhiệm kỳ"
        assert {label: lines[label] for label in (
            "Số người được triệu tập", "Số người có mặt", "Số người vắng mặt", "Số phiếu phát ra", "Số phiếu thu về",
            "Số phiếu hợp lệ", "Số phiếu không hợp lệ", "Tỷ lệ tính trên")} == {
            "Số người được triệu tập": 10, "Số người có mặt": 10, "Số người vắng mặt": 0, "Số phiếu phát ra": 5,
            "Số phiếu thu về": 4, "Số phiếu hợp lệ": 4, "Số phiếu không hợp lệ": 0,
            "Tỷ lệ tính trên": "số phiếu thu về"}
        header = sheet.index(EXCEL_HEADERS)
        assert sheet[header - 1] == EXCEL_GROUPS
        body = sheet[header + 1:]
        assert [row[:3] for row in body] == [(i + 1, name, post) for i, (name, post, _, _) in enumerate(COMMUNE_ROWS)]
        for row, (_, _, (high, trust, low), _) in zip(body, COMMUNE_ROWS):
            assert (row[3], row[5], row[7]) == (high, trust, low)
            assert (row[4], row[6], row[8]) == (high / 4, trust / 4, low / 4)
            assert all(isinstance(value, int) for value in (row[0], row[3], row[5], row[7], row[9]))
        assert body[3][10:] == ("Có", "Có", "Có") and body[2][10:] == (None, None, None)

        # The minutes PDF: exact diacritics.
        pdf = tmp_path / "minutes.pdf"
        suggested = download(page.get_by_role("link", name="Biên bản (PDF)"), pdf)
        assert suggested == f"ket-qua-dot-{tree.commune_round}.pdf"
        text = pdfs.text(pdf)
        for words in ("BIÊN BẢN KIỂM PHIẾU", "ĐẢNG ỦY XÃ YÊN BÌNH", COMMUNE_TITLE, "Hội nghị sơ kết giữa nhiệm kỳ",
                      "Hội trường xã", *(name for name, *_ in COMMUNE_ROWS), *(post for _, post, *_ in COMMUNE_ROWS),
                      "Số phiếu phát ra: 5 phiếu; số phiếu thu về: 4 phiếu"):
            assert words in text, f"{words!r} not in the minutes:\n{text}"
        assert "DỰ THẢO" not in text

        # The link across to the district's own result, which this viewer reads as the district's viewer.
        page.get_by_role("link", name="cũng được lấy phiếu tại Huyện ủy Đông Anh").click()
        expect(page.get_by_role("heading", name=DISTRICT_TITLE, level=1)).to_be_visible()

    # --- The commune's viewer: its own result, nothing of the district's.
    with logged_in(browser, live_server, "viewer", world.password) as page:
        roles = page.locator("section", has=page.get_by_role("heading", name="Vai trò của đồng chí"))  # their only roles
        roles.get_by_role("link", name="Kết quả đã công khai").click()
        expect(page.get_by_role("heading", name="Kết quả đã công khai", level=1)).to_be_visible()
        listed = page.locator("main table tbody tr")
        expect(listed).to_have_count(1)
        expect(listed.locator("td").first).to_have_text("Đảng ủy xã Yên Bình")
        check_layout(page)
        page.get_by_role("link", name=COMMUNE_TITLE).click()
        expect(page.locator(".tiles .tile-number")).to_have_text([str(n) for n in COMMUNE_NUMBERS])
        expect(page.locator("table.results tbody tr.candidate")).to_have_count(len(COMMUNE_ROWS))
        expect(page.get_by_text("cũng được lấy phiếu tại")).to_have_count(0)  # the district's is not theirs
        expect_forbidden(page, f"/results/committees/{district.id}/below", leaks=("Đảng ủy xã Hòa Lạc", "4/5"))
        expect_forbidden(page, f"/results/rounds/{tree.district_round}", leaks=(DISTRICT_TITLE, "Hoàng Minh Đức"))
        for kind in ("pdf", "xlsx", "csv", "json"):
            expect_download_forbidden(page, f"/results/rounds/{tree.district_round}/{kind}")

    # --- The province's viewer: the district's result and the province's dashboard, not the commune's result.
    with logged_in(browser, live_server, "province_viewer", world.password) as page:
        roles = page.locator("section", has=page.get_by_role("heading", name="Vai trò của đồng chí"))  # their only roles
        roles.get_by_role("link", name="Các cấp ủy trực thuộc").click()
        expect(page.locator(".crumbs")).to_have_text("Tỉnh ủy Thử Nghiệm")
        rows = dashboard_rows(page)
        expect(rows).to_have_count(1)
        expect(rows.locator("td")).to_have_text([re.compile("^Huyện ủy Đông Anh Huyện ủy$"), DISTRICT_TITLE,
                                                 PUBLISHED, "✓", "4/4", "0", "0", "0"])
        check_layout(page)
        page.get_by_role("link", name=DISTRICT_TITLE).click()
        expect(page.get_by_role("heading", name=DISTRICT_TITLE, level=1)).to_be_visible()
        expect(page.locator(".tiles .tile-number")).to_have_text(["6", "5", "4", "4", "4", "0"])
        candidates = page.locator("table.results tbody tr.candidate")
        expect(candidates.locator("td:nth-child(2)")).to_have_text(["Nguyễn Văn Hùng", "Hoàng Minh Đức"])
        expect(candidates.locator("td:nth-child(4)")).to_have_text(["375,00 %", "250,00 %"])
        expect(page.locator("table.results .flag")).to_have_count(0)
        expect(page.get_by_text("cũng được lấy phiếu tại")).to_have_count(0)  # the commune's is not theirs
        check_layout(page)
        page.get_by_role("link", name="Kết quả đã công khai", exact=True).first.click()
        expect(page.locator("main table tbody tr")).to_have_count(1)
        expect(page.locator("main table tbody tr td").first).to_have_text("Huyện ủy Đông Anh")
        expect_forbidden(page, f"/results/rounds/{tree.commune_round}", leaks=(COMMUNE_TITLE, "Phạm Thị Hương"))
        expect_forbidden(page, f"/results/committees/{district.id}/below", leaks=("Đảng ủy xã Yên Bình",))
        for kind in ("pdf", "xlsx", "csv", "json"):
            expect_download_forbidden(page, f"/results/rounds/{tree.commune_round}/{kind}")

    # Every reading and download, with who.
    session.rollback()
    session.expire_all()
    audited = set(session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject)).all())
    commune_subject, district_subject = f"round:{tree.commune_round}", f"round:{tree.district_round}"
    assert {("district_viewer", "result.view", commune_subject),
            ("district_viewer", "result.download.xlsx", commune_subject),
            ("district_viewer", "result.download.pdf", commune_subject),
            ("district_viewer", "result.view", district_subject),
            ("viewer", "result.view", commune_subject),
            ("province_viewer", "result.view", district_subject)} <= audited
    assert not any(actor == "province_viewer" and subject == commune_subject for actor, _, subject in audited)
    assert not any(actor == "viewer" and subject == district_subject for actor, _, subject in audited)

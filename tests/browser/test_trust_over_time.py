"""Today's tree in the browser: a commune formed in 2025 from two old ones, a person followed across the merger,
the province's dashboard at every level, as new users would.

Set up through the domain, signed with the running app instance's own key: the commune Yên Bình's round of 2023 (the
old term) and the district's, both published; the communes Yên Bình and Hòa Lạc merged into Yên Hòa on 1 July
2025, Nguyễn Văn Hùng seated on it; its round of 2027 published to every upper level. Then:

- the organizer opens the new commune: its history (formed from the two, their names linked) and the members, and
  the old commune, which no longer exists;
- the district's viewer follows Nguyễn Văn Hùng from a result to his trust over time: three rounds, two terms, the
  chart drawn by the app, the table, the Excel;
- the province's viewer opens its dashboard at every level: the new commune's result (published to every level
  above), the roll-up by level, and cannot read the old commune's result (published to the district only).

Every page fits a 10-inch tablet held either way. On SQLite (`make screenshots`) it writes
docs/screenshots/trust-over-time.png, trust-over-time-portrait.png, dashboard-every-level.png and
committee-history.png.
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from app.settings import SIGNING_KEY_FILE
from ballots import committees, signing
from tests.browser.conftest import PORTRAIT
from tests.browser.test_counting_flow import logged_in
from tests.browser.test_publication_flow import check_layout
from tests.browser.test_round_flow import Shots
from tests.factories import accounts_with_role, rated_round

pytestmark = pytest.mark.browser


@pytest.fixture
def merged(session, world, instance):
    key = signing.load_private_key(instance / SIGNING_KEY_FILE)
    accounts_with_role(session, world, world.province, "viewer", "province_viewer")
    old = rated_round(session, world, world.commune, key, held_on=dt.date(2023, 4, 3), low={1: 1})
    rated_round(session, world, world.district, key, held_on=dt.date(2023, 5, 10), low={1: 2})
    new = committees.create_committee(session, name="Đảng ủy xã Yên Hòa", level="Đảng ủy xã", parent=world.district,
                                      actor="organizer")
    committees.record_formation(session, new, sources=[world.commune, world.sibling], on=dt.date(2025, 7, 1),
                                actor="organizer")
    for person, post in ((world.people["Nguyễn Văn Hùng"], "Bí thư"), (world.people["Vũ Thị Yến"], "Phó Bí thư")):
        committees.add_member(session, committee=new, person=person, post=post, actor="organizer")
    latest = rated_round(session, world, new, key, held_on=dt.date(2027, 10, 15), term="2025-2030", low={1: 3},
                         ballots=6, audience=["committee", "upper", "above"])
    session.commit()
    return {"new": new, "old": old, "latest": latest}


def test_a_person_followed_across_the_merger_and_the_province_at_every_level(browser, live_server, world, merged,
                                                                            db_url):
    on_sqlite = db_url.startswith("sqlite")
    new = merged["new"]

    with logged_in(browser, live_server, "organizer", world.password) as page:
        shots = Shots(page, enabled=on_sqlite)
        page.goto(f"/committees/{new.id}")
        history = page.locator("#history")
        expect(history).to_contain_text("Thành lập ngày 01/07/2025 từ Đảng ủy xã Hòa Lạc")
        expect(history.get_by_role("link")).to_have_text(["Đảng ủy xã Hòa Lạc", "Đảng ủy xã Yên Bình"])
        expect(page.locator("#members tbody tr")).to_have_count(2)
        check_layout(page)
        shots.take("committee-history")
        history.get_by_role("link", name="Đảng ủy xã Yên Bình").click()
        expect(page.locator(".notice")).to_contain_text("Cấp ủy này đã kết thúc hoạt động ngày 30/06/2025")
        expect(page.get_by_role("link", name="Thêm thành viên")).to_have_count(0)
        check_layout(page)

    with logged_in(browser, live_server, "district_viewer", world.password) as page:
        shots = Shots(page, enabled=on_sqlite)
        page.goto(f"/results/rounds/{merged['latest'].id}")
        page.locator("#candidate-1").get_by_role("link", name="Lịch sử tín nhiệm").click()
        expect(page.get_by_role("heading", name="Nguyễn Văn Hùng", level=1)).to_be_visible()
        rows = page.locator("table.history tbody tr.candidate")
        expect(rows).to_have_count(3)  # newest first: the new commune, the district, the old commune
        expect(rows.locator("td:nth-child(2) a")).to_have_text(
            ["Đảng ủy xã Yên Hòa", "Huyện ủy Đông Anh", "Đảng ủy xã Yên Bình"])
        expect(rows.locator("td:nth-child(6)")).to_have_text(["350,00 %", "250,00 %", "125,00 %"])  # count, share
        chart = page.locator("svg.trust-chart")
        expect(chart.locator("rect.bar-low")).to_have_count(3)
        expect(chart.locator("text.value")).to_have_text(["25,00 %", "50,00 %", "50,00 %"])  # oldest first
        expect(chart.locator("line.threshold")).to_have_count(2)
        check_layout(page)
        shots.take("trust-over-time")
        page.set_viewport_size(PORTRAIT)
        shots.take("trust-over-time-portrait")

    with logged_in(browser, live_server, "province_viewer", world.password) as page:
        shots = Shots(page, enabled=on_sqlite)
        page.goto(f"/results/committees/{world.province.id}/below")
        page.get_by_role("link", name="Mọi cấp dưới").click()
        rows = page.locator("table.dashboard tbody tr")
        new_row = rows.filter(has_text="Đảng ủy xã Yên Hòa")
        expect(new_row.locator("td:nth-child(5)")).to_have_text("6/6")  # published to every level above: read here
        expect(new_row.locator(".path")).to_have_text("Huyện ủy Đông Anh")
        rollup = page.locator("#rollup tbody tr")
        expect(rollup).to_have_count(2)  # the district; the communes below it
        expect(rollup.nth(1)).to_contain_text("Đảng ủy xã")
        check_layout(page)
        shots.take("dashboard-every-level")
        # the old commune's result was published to its own committee and the district, not to the province
        page.get_by_label("Nhiệm kỳ").select_option("2020-2025")
        page.get_by_role("button", name="Lọc").click()
        old_row = rows.filter(has_text="Đảng ủy xã Yên Bình")
        expect(old_row.locator("td:nth-child(5)")).to_have_text("—")
        expect(old_row.get_by_role("link")).to_have_count(0)
        expect(old_row).to_contain_text("đã kết thúc hoạt động")

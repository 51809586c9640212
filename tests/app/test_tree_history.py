"""The tree's history and a person's trust over time, through the screens: a dated rename, a merger, ending a
committee, carrying members over; the history page with its chart and Excel; the dashboard at every level."""

import datetime as dt
import io

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import load_workbook

from ballots import committees
from ballots.models import Committee
from tests.conftest import fresh
from tests.factories import accounts_with_role, rated_round

KEY = Ed25519PrivateKey.generate()
HELD = dt.date(2023, 5, 10)


def test_a_rename_with_a_date_keeps_the_old_name_and_a_correction_after_printing_is_refused(login_as, session,
                                                                                            world):
    rated_round(session, world, world.commune, KEY, held_on=HELD)
    client = login_as("organizer")
    edit = f"/committees/{world.commune.id}/edit"
    refused = client.submit(edit, data={"name": "Đảng ủy xã Yên Bình Mới", "level": "Đảng ủy xã",
                                        "parent_id": world.district.id, "effective_on": ""})
    assert refused.status_code == 409
    assert "đã được in trên phiếu" in refused.get_data(as_text=True)  # the refusal says why, in Vietnamese
    done = client.submit(edit, data={"name": "Đảng ủy xã Yên Bình Mới", "level": "Đảng ủy xã",
                                     "parent_id": world.district.id, "effective_on": "2025-07-01"})
    assert done.status_code == 302
    page = client.get(f"/committees/{world.commune.id}").get_data(as_text=True)
    assert "Trước ngày 01/07/2025: Đảng ủy xã Yên Bình" in page and "Đảng ủy xã Yên Bình Mới" in page


def test_recording_a_merger_ends_the_old_committees_and_their_people_are_seated_again(login_as, session, world):
    new = committees.create_committee(session, name="Đảng ủy xã Yên Hòa", level="Đảng ủy xã", parent=world.district,
                                      actor="test")
    session.commit()
    client = login_as("organizer")
    form = client.get(f"/committees/{new.id}/formation?q=yen binh").get_data(as_text=True)
    assert "Huyện ủy Đông Anh / Đảng ủy xã Yên Bình" in form and "Đảng ủy xã Hòa Lạc" not in form  # the search
    response = client.submit(f"/committees/{new.id}/formation", data={
        "sources": [str(world.commune.id), str(world.sibling.id)], "formed_on": "2025-07-01"})
    assert response.status_code == 302
    fresh(session)
    assert session.get(Committee, world.commune.id).closed_on == dt.date(2025, 6, 30)
    hung = world.people["Nguyễn Văn Hùng"]
    seated = client.submit(f"/committees/{new.id}/carry-over", data={"person_id": str(hung.id), "post": "Bí thư"})
    assert seated.status_code == 302
    page = client.get(f"/committees/{new.id}").get_data(as_text=True)
    assert "Thành lập ngày 01/07/2025" in page and "Nguyễn Văn Hùng" in page
    assert [m.person_id for m in fresh(session).get(Committee, new.id).memberships] == [hung.id]
    old = client.get(f"/committees/{world.commune.id}").get_data(as_text=True)
    assert "Cấp ủy này đã kết thúc hoạt động ngày 30/06/2025" in old and "Đã hợp nhất vào" in old
    assert f'/committees/{world.commune.id}/members/new"' not in old  # nothing new on a committee that ended
    assert client.submit(f"/committees/{world.commune.id}/members/new", data={
        "full_name": "Đinh Văn Mới", "post": "Ủy viên", "code": ""}).status_code == 409


def test_ending_a_committee_is_for_the_organizer_above_it(login_as, session, world):
    assert login_as("commune_organizer").get(f"/committees/{world.commune.id}/close").status_code == 403
    client = login_as("organizer")
    assert client.submit(f"/committees/{world.sibling.id}/close", data={"closed_on": "2025-06-30"}).status_code == 302
    assert fresh(session).get(Committee, world.sibling.id).closed_on == dt.date(2025, 6, 30)
    refused = client.submit(f"/committees/{world.district.id}/close", data={"closed_on": "2025-06-30"})
    assert refused.status_code == 409 and "vẫn còn cấp ủy trực thuộc" in refused.get_data(as_text=True)


def test_the_history_page_draws_its_chart_and_exports_only_the_readers_rows(login_as, session, world):
    hung = world.people["Nguyễn Văn Hùng"]
    rated_round(session, world, world.commune, KEY, held_on=HELD, low={1: 3})
    rated_round(session, world, world.district, KEY, held_on=dt.date(2023, 6, 1), low=(1,))
    session.commit()
    client = login_as("district_viewer")
    page = client.get(f"/results/people/{hung.id}").get_data(as_text=True)
    chart = page[page.index("<svg"):page.index("</svg>")]
    assert chart.count('class="bar-low"') == 2 and "75,00 %" in chart and "100,00 %" in chart
    assert "http" not in chart.replace("http://www.w3.org/2000/svg", "")  # drawn by the app, nothing fetched
    assert "Đảng ủy xã Yên Bình" in page and "Huyện ủy Đông Anh" in page
    book = load_workbook(io.BytesIO(client.get(f"/results/people/{hung.id}/xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[3][2] == "Cấp ủy (tên khi lấy phiếu)" and [r[2] for r in rows[4:]] == [
        "Đảng ủy xã Yên Bình", "Huyện ủy Đông Anh"]
    # the commune's viewer reads the commune's round only; a sibling's viewer nothing, not even the name
    assert login_as("viewer").get(f"/results/people/{hung.id}").get_data(as_text=True).count('class="bar-low"') == 1
    refused = login_as("sibling_viewer").get(f"/results/people/{hung.id}")
    assert refused.status_code == 403 and "Nguyễn Văn Hùng" not in refused.get_data(as_text=True)
    listed = client.get("/results/people?q=hung").get_data(as_text=True)
    assert f"/results/people/{hung.id}" in listed


def test_the_dashboard_shows_every_level_below_with_its_rollup(login_as, session, world):
    accounts_with_role(session, world, world.province, "viewer", "province_viewer")
    rated_round(session, world, world.commune, KEY, held_on=HELD, audience=["committee", "upper", "above"])
    session.commit()
    client = login_as("province_viewer")
    direct = client.get(f"/results/committees/{world.province.id}/below").get_data(as_text=True)
    assert "Huyện ủy Đông Anh" in direct and "Đảng ủy xã Yên Bình" not in direct.split('id="rollup"')[0]
    every = client.get(f"/results/committees/{world.province.id}/below?scope=all").get_data(as_text=True)
    assert "Đảng ủy xã Yên Bình" in every and ">4/4<" in every  # published to every upper level: read here
    assert "Tổng hợp theo từng cấp dưới" in every and "cấp dưới thứ 2" in every
    book = load_workbook(io.BytesIO(client.get(
        f"/results/committees/{world.province.id}/below?scope=all&format=xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "Kết quả lấy phiếu tín nhiệm các cấp ủy cấp dưới Tỉnh ủy Thử Nghiệm"
    commune = next(r for r in rows if r[0] == "Đảng ủy xã Yên Bình")
    assert commune[6:8] == (4, 4) and commune[-1] == "Huyện ủy Đông Anh"

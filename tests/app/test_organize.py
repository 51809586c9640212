"""The organizer's screens, tried as a new user would: tree, members, roster import, conference, round in draft."""

import io
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from ballots.models import AuditEntry, Committee, Membership, Person, Round
from tests.ballots.test_roster import GOOD, csv_bytes, xlsx_bytes
from tests.conftest import count_rows
from tests.factories import make_conference, make_round


def test_the_organizer_sees_the_whole_tree_below_the_province(login_as, world):
    page = login_as("organizer").get("/").get_data(as_text=True)
    for name in ("Tỉnh ủy Thử Nghiệm", "Huyện ủy Đông Anh", "Đảng ủy xã Yên Bình", "Đảng ủy xã Hòa Lạc"):
        assert name in page


def test_a_commune_organizer_sees_only_the_commune(login_as, world):
    client = login_as("commune_organizer")
    page = client.get("/").get_data(as_text=True)
    assert "Đảng ủy xã Yên Bình" in page and "Đảng ủy xã Hòa Lạc" not in page
    assert client.get(f"/committees/{world.sibling.id}").status_code == 403
    assert client.get(f"/committees/{world.district.id}/edit").status_code == 403


@pytest.mark.parametrize("who", ["viewer", "teller", "district_viewer", "admin"])
def test_other_roles_get_403_on_organizer_pages(login_as, world, who):
    client = login_as(who)
    commune, conference = world.commune.id, world.conference.id
    for path in (f"/committees/{commune}", f"/committees/{commune}/import", f"/conferences/{conference}",
                 f"/conferences/{conference}/rounds/new"):
        assert client.get(path).status_code == 403, path


def test_an_unknown_id_is_404(login_as):
    client = login_as("organizer")
    for path in ("/committees/99999", "/conferences/99999", "/rounds/99999", "/seats/99999/edit"):
        assert client.get(path).status_code == 404


def test_the_committee_page_lists_members_and_who_sits_elsewhere(login_as, world):
    page = login_as("organizer").get(f"/committees/{world.commune.id}").get_data(as_text=True)
    assert "Nguyễn Văn Hùng" in page and "Phó Bí thư" in page
    assert "Huyện ủy Đông Anh" in page  # Nguyễn Văn Hùng also sits on the district committee


def test_adding_a_child_committee_and_a_member(login_as, session, world):
    client = login_as("organizer")
    response = client.submit(f"/committees/{world.commune.id}/new-child",
                             data={"name": "Chi bộ thôn Đoài", "level": "Chi bộ", "parent_id": world.commune.id})
    assert response.status_code == 302
    cell = session.scalar(select(Committee).where(Committee.name == "Chi bộ thôn Đoài"))
    assert cell.parent_id == world.commune.id
    response = client.submit(f"/committees/{cell.id}/members/new",
                             data={"full_name": "Đinh Thị Huệ", "post": "Bí thư chi bộ", "code": ""})
    assert response.status_code == 302
    assert "Đinh Thị Huệ" in client.get(f"/committees/{cell.id}").get_data(as_text=True)


def test_a_committee_cannot_be_moved_below_itself(login_as, session, world):
    client = login_as("organizer")
    page = client.get(f"/committees/{world.district.id}/edit").get_data(as_text=True)
    assert f'value="{world.commune.id}"' not in page  # not offered
    response = client.submit(f"/committees/{world.district.id}/edit",
                             data={"name": "Huyện ủy Đông Anh", "level": "Huyện ủy", "parent_id": world.commune.id})
    assert response.status_code == 400
    session.rollback()
    assert session.get(Committee, world.district.id).parent_id == world.province.id


def test_an_empty_name_keeps_what_was_typed_and_says_what_is_wrong(login_as, world):
    response = login_as("organizer").submit(f"/committees/{world.commune.id}/edit",
                                            data={"name": "", "level": "Cấp ủy đã sửa", "parent_id": world.district.id})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Cần nhập ô này." in page and 'value="Cấp ủy đã sửa"' in page


def test_a_sibling_with_the_same_name_is_refused_with_a_message(login_as, world):
    response = login_as("organizer").submit(f"/committees/{world.district.id}/new-child",
                                            data={"name": "Đảng ủy xã Hòa Lạc", "level": "Đảng ủy xã",
                                                  "parent_id": world.district.id})
    assert response.status_code == 409
    assert "Đã có cấp ủy tên Đảng ủy xã Hòa Lạc ở vị trí này." in response.get_data(as_text=True)


def test_members_can_be_reordered(login_as, session, world):
    client = login_as("organizer")
    seat = session.scalar(select(Membership).join(Person).where(Person.full_name == "Trần Thị Lan"))
    client.submit(f"/committees/{world.commune.id}", f"/seats/{seat.id}/move/up")
    session.rollback()
    names = [m.person.full_name for m in session.get(Committee, world.commune.id).memberships]
    assert names[:2] == ["Trần Thị Lan", "Nguyễn Văn Hùng"]


def _upload(client, committee_id, filename, data):
    return client.submit(f"/committees/{committee_id}/import",
                         data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def test_a_roster_with_one_bad_row_imports_nothing_then_the_fixed_file_imports(login_as, session, world):
    client = login_as("organizer")
    seats_before = count_rows(session, Membership)
    bad = GOOD + [["Huyện ủy Đông Anh / Đảng ủy xã Không Có", "Lý Thị Mai", "Ủy viên", "", ""]]
    response = _upload(client, world.province.id, "danh-sach.xlsx", xlsx_bytes(bad))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Danh sách có lỗi; chưa nhập dòng nào." in page
    assert "không có cấp ủy Huyện ủy Đông Anh / Đảng ủy xã Không Có thuộc Tỉnh ủy Thử Nghiệm" in page
    assert '<td class="num">5</td>' in page
    assert count_rows(session, Membership) == seats_before

    response = _upload(client, world.province.id, "danh-sach.xlsx", xlsx_bytes(GOOD))
    assert response.status_code == 302
    assert "thêm 3 vị trí" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert count_rows(session, Membership) == seats_before + 3


def test_a_roster_error_quotes_the_value_at_fault(login_as, session, world):
    long_post = "Ủy viên Ban Chấp hành" + " kiêm nhiệm" * 12
    bad = GOOD + [["Huyện ủy Đông Anh / Đảng ủy xã Hòa Lạc", "Lý Thị Mai", long_post, "", ""]]
    response = _upload(login_as("organizer"), world.province.id, "danh-sach.csv", csv_bytes(bad))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"cột Chức vụ có {len(long_post)} ký tự, quá 120: “{long_post[:40]}…”" in page


def test_a_csv_roster_imports_too(login_as, session, world):
    response = _upload(login_as("organizer"), world.province.id, "danh-sach.csv", csv_bytes(GOOD))
    assert response.status_code == 302


@pytest.mark.parametrize("filename,data,message", [
    ("danh-sach.pdf", b"%PDF", "Danh sách phải là tệp Excel (.xlsx) hoặc CSV (.csv)."),
    ("danh-sach.xlsx", b"garbage", "Tệp không phải là tệp Excel đọc được."),
    ("danh-sach.csv", csv_bytes([], header=["Họ và tên"]), "Danh sách thiếu các cột: Cấp ủy, Chức vụ."),
])
def test_a_bad_file_gets_a_vietnamese_message_and_nothing_is_written(login_as, session, world, filename, data,
                                                                     message):
    client = login_as("organizer")
    before = count_rows(session, AuditEntry), count_rows(session, Membership)
    response = _upload(client, world.province.id, filename, data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert (count_rows(session, AuditEntry), count_rows(session, Membership)) == before


def test_an_upload_without_a_file_is_refused(login_as, world):
    response = login_as("organizer").submit(f"/committees/{world.province.id}/import", data={})
    assert response.status_code == 400 and "Hãy chọn một tệp." in response.get_data(as_text=True)


def test_an_oversized_upload_is_413_not_500(login_as, world):
    body = b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n" + b"x" * (9 << 20)
    response = login_as("organizer").post(f"/committees/{world.province.id}/import", data=body,
                                          content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413
    assert "Tệp hoặc biểu mẫu gửi lên quá lớn." in response.get_data(as_text=True)


def test_the_starting_file_has_the_vietnamese_headers(login_as, world):
    from openpyxl import load_workbook

    response = login_as("organizer").get(f"/committees/{world.commune.id}/import/mau-danh-sach.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in sheet[1]] == ["Cấp ủy", "Họ và tên", "Chức vụ", "Mã", "Năm sinh"]
    assert sheet["B2"].value == "Nguyễn Văn Hùng"


def _new_round(client, world, **data):
    return client.submit(f"/conferences/{world.conference.id}/rounds/new", data={
        "title": "Lấy phiếu tín nhiệm đối với Ban Chấp hành", "rule_set": "qd96-2023",
        "convened": "30", "present": "28", **data})


class _FormReader(HTMLParser):
    """What a browser would send for the form with id `form_id`, as {name: [values]}."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.select, self.fields = form_id, False, None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif self.inside and tag == "input" and "name" in attrs:
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields.setdefault(attrs["name"], []).append(attrs.get("value", "on"))
        elif self.inside and tag == "select":
            self.select = attrs["name"]
        elif self.inside and tag == "option" and self.select and "selected" in attrs:
            self.fields.setdefault(self.select, []).append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def draft_form(client, round_id: int, **changes) -> dict:
    """The round page's one form as the browser shows it, with `changes` made (a list for several values)."""
    reader = _FormReader("draft")
    reader.feed(client.get(f"/rounds/{round_id}").get_data(as_text=True))
    data = {name: values if len(values) > 1 else values[0] for name, values in reader.fields.items()}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def test_creating_a_round_in_draft_with_candidates_board_and_rule_set(login_as, session, world):
    client = login_as("organizer")
    response = _new_round(client, world)
    assert response.status_code == 302
    round_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/rounds/{round_id}").get_data(as_text=True)
    assert "Nguyễn Văn Hùng" in page and "Dự thảo" in page

    lan, hung = world.people["Trần Thị Lan"], world.people["Nguyễn Văn Hùng"]
    others = [p.id for name, p in world.people.items() if name in ("Lê Đức Thắng", "Phạm Thị Hương")]
    # one save: candidates, board and rule set together
    response = client.post(f"/rounds/{round_id}", data=draft_form(
        client, round_id, **{f"order-{hung.id}": "2", f"post-{hung.id}": "Bí thư Đảng ủy",
                             f"order-{lan.id}": "1", f"post-{lan.id}": "Phó Bí thư Đảng ủy"},
        **{f"include-{pid}": None for pid in others},
        tellers=[str(world.accounts["teller"].id), str(world.accounts["teller2"].id)], rule_set="qd262-2014"))
    assert response.status_code == 303

    session.rollback()
    round_ = session.get(Round, round_id)
    assert [(c.person.full_name, c.post) for c in round_.candidates] == [
        ("Trần Thị Lan", "Phó Bí thư Đảng ủy"), ("Nguyễn Văn Hùng", "Bí thư Đảng ủy")]
    assert len(round_.board) == 2
    assert round_.rule_set == "qd262-2014" and round_.extra_writing_policy == "void"


def test_settings_can_be_overridden_in_draft(login_as, session, world):
    client = login_as("organizer")
    round_id = int(_new_round(client, world).headers["Location"].rsplit("/", 1)[1])
    response = client.post(f"/rounds/{round_id}", data=draft_form(client, round_id, **{
        "base": "issued", "invalid_mark_policy": "row", "extra_writing_policy": "void", "places_limit": "",
        "paper_entries": "3", "audience": ["committee", "upper", "candidate"], "publisher": "organizer",
        "consequence-more_than_half": "Xem xét cho thôi giữ chức vụ", "consequence-two_thirds_or_more": ""}))
    assert response.status_code == 303
    session.rollback()
    round_ = session.get(Round, round_id)
    assert (round_.base, round_.invalid_mark_policy, round_.places_limit, round_.paper_entries) == (
        "issued", "row", None, 3)
    assert round_.audience == ["committee", "upper", "candidate"] and round_.publisher == "organizer"
    assert round_.consequences == {"more_than_half": "Xem xét cho thôi giữ chức vụ"}
    entries = session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"round:{round_id}")).all()
    assert entries.count("round.settings") == 1 and "round.numbers" not in entries  # only what changed


@pytest.mark.parametrize("data", [
    {"base": "present"},
    {"paper_entries": "5"},
    {"audience": []},
    {"places_limit": "0"},
    {"places_limit": "hai"},
    {"publisher": "everyone"},
])
def test_bad_settings_are_refused_with_400_and_nothing_changes(login_as, session, world, data):
    client = login_as("organizer")
    round_id = int(_new_round(client, world).headers["Location"].rsplit("/", 1)[1])
    good = {"base": "collected", "invalid_mark_policy": "ballot", "extra_writing_policy": "ignore",
            "places_limit": "2", "paper_entries": "2", "audience": ["committee", "upper"], "publisher": "board"}
    assert client.post(f"/rounds/{round_id}", data=draft_form(client, round_id, **good)).status_code == 303
    # the title typed in the same submission is not saved either: the whole draft is one change
    response = client.post(f"/rounds/{round_id}", data=draft_form(client, round_id, **{**good, **data, "title": "Đổi tên"}))
    assert response.status_code == 400
    session.rollback()
    assert session.get(Round, round_id).base == "collected"
    assert session.get(Round, round_id).title != "Đổi tên"


def test_a_refused_save_keeps_everything_typed_in_every_part(login_as, session, world):
    client = login_as("organizer")
    round_id = int(_new_round(client, world).headers["Location"].rsplit("/", 1)[1])
    hung = world.people["Nguyễn Văn Hùng"]
    response = client.post(f"/rounds/{round_id}", data=draft_form(
        client, round_id, title="Tên mới của đợt", convened="20", present="25",
        **{f"post-{hung.id}": "Bí thư (sửa)"}))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Số có mặt (25) không được lớn hơn số được triệu tập (20)." in page
    assert 'value="Tên mới của đợt"' in page and 'value="Bí thư (sửa)"' in page and 'value="25"' in page
    session.rollback()
    assert session.get(Round, round_id).present == 28


def test_a_person_on_too_many_places_is_refused_with_a_clear_message(login_as, session, world):
    from ballots import rounds

    hung = world.people["Nguyễn Văn Hùng"]
    for committee in (world.district, world.sibling):
        created = make_round(session, world, conference=make_conference(session, committee), title="Vòng",
                             rule_set="grassroots-2017", board=()).round
        rounds.set_candidates(session, created, [(hung.id, "Ủy viên")], actor="t")
    session.commit()
    response = _new_round(login_as("organizer"), world)
    assert response.status_code == 400
    assert ("Nguyễn Văn Hùng sẽ được lấy phiếu tại 3 nơi, vượt quá 2 nơi mà quy định cho phép."
            in response.get_data(as_text=True))
    assert count_rows(session, Round) == 2


def test_impossible_numbers_are_refused_and_kept_in_the_form(login_as, world):
    response = _new_round(login_as("organizer"), world, convened="20", present="25")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Số có mặt (25) không được lớn hơn số được triệu tập (20)." in page and 'value="25"' in page


def test_a_round_that_left_draft_refuses_changes_with_409(login_as, session, world):
    client = login_as("organizer")
    round_id = int(_new_round(client, world).headers["Location"].rsplit("/", 1)[1])
    session.get(Round, round_id).state = "issued"
    session.commit()
    page = client.get(f"/rounds/{round_id}").get_data(as_text=True)
    assert "không còn là dự thảo" in page
    from tests.conftest import csrf_from

    response = client.post(f"/rounds/{round_id}",
                           data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True)), "title": "T",
                                 "convened": "40", "present": "40", "spares": "0", "rule_set": "qd96-2023",
                                 "base": "collected", "invalid_mark_policy": "ballot", "extra_writing_policy": "ignore",
                                 "paper_entries": "2", "audience": ["committee"], "publisher": "board"})
    assert response.status_code == 409
    session.rollback()
    assert session.get(Round, round_id).convened == 30


def test_a_new_conference_needs_a_real_date(login_as, world):
    response = login_as("organizer").submit(f"/committees/{world.commune.id}/conferences/new", data={
        "name": "Hội nghị", "held_on": "31/02/2026", "place": "", "term": "2020-2025"})
    assert response.status_code == 400 and "Hãy nhập ngày." in response.get_data(as_text=True)

"""A person's trust over time: every round they were rated in, across committees and terms, each row shown only to
the readers its result is published to; its Excel; the list of people a reader may follow."""

import datetime as dt
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import load_workbook
from sqlalchemy import select

from ballots import accounts, exports, history
from ballots.errors import NoHistory
from ballots.models import AuditEntry
from tests.conftest import fresh
from tests.factories import PASSWORD, accounts_with_role, rated_round

KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def career(session, world):
    """Nguyễn Văn Hùng (Bí thư of the commune, Ủy viên of the district) rated in four rounds: the commune 2023
    (published to the commune and the district; 2 low of 4), the district 2023 (to the district and the province;
    4 low of 4), the commune 2027 (sealed, not published), the commune 2028 (published to each rated person only,
    their own rows); and a sibling's round he is not in. Every board is the world's two tellers. Hùng and Trần Thị
    Lan get accounts of their own. Returns the rounds by name."""
    accounts_with_role(session, world, world.province, "viewer", "province_viewer")
    own = accounts.create_account(session, username="hung", display_name="Nguyễn Văn Hùng", password=PASSWORD,
                                  person_code="CB-001", actor="test")
    lan = accounts.create_account(session, username="lan", display_name="Trần Thị Lan", password=PASSWORD,
                                  actor="test")
    lan.person_id = world.people["Trần Thị Lan"].id
    found = {
        # Hùng is the commune's first candidate: 2 of 4 low (not more than half), then 3 of 4 (more than half)
        "commune": rated_round(session, world, world.commune, KEY, held_on=dt.date(2023, 4, 3), low={1: 2}),
        "district": rated_round(session, world, world.district, KEY, held_on=dt.date(2023, 5, 10), low=(1,)),
        "sealed": rated_round(session, world, world.commune, KEY, held_on=dt.date(2027, 10, 1), term="2025-2030",
                              until="sealed"),
        "own": rated_round(session, world, world.commune, KEY, held_on=dt.date(2028, 3, 1), term="2025-2030",
                           audience=["candidate"]),
        "sibling": rated_round(session, world, world.sibling, KEY, held_on=dt.date(2023, 4, 5)),
    }
    session.commit()
    world.accounts.update(hung=own, lan=lan)
    return found


# who reads which of Hùng's rounds: the round's audience, as a result page says it
ENTITLED = {
    "viewer": ["commune"],  # the commune's viewer: the commune's results
    "district_viewer": ["commune", "district"],  # the district: its own and its communes'
    "province_viewer": ["district"],  # the province: the district's only (the commune's names the district alone)
    "teller": ["commune", "district", "own"],  # on every board here: every round it counted, once published
    "hung": ["own"],  # himself, where the audience shows each rated person their own rows
}
NOBODY = ["sibling_viewer", "organizer", "commune_organizer", "admin", "lan"]


@pytest.mark.parametrize("reader", sorted(ENTITLED))
def test_each_reader_sees_exactly_the_published_rows_the_audience_gives_them(session, world, career, reader):
    account = world.accounts[reader]
    rows = history.trust_over_time(session, world.people["Nguyễn Văn Hùng"], account)
    assert [r.round_id for r in rows] == [career[name].id for name in ENTITLED[reader]]
    assert all(r.name == "Nguyễn Văn Hùng" for r in rows)
    session.commit()  # the reading is audited, with who read whose history
    entry = fresh(session).scalars(select(AuditEntry).where(AuditEntry.action == "result.history.view")).one()
    assert (entry.actor, entry.subject) == (reader, f"person:{world.people['Nguyễn Văn Hùng'].id}")
    assert json.loads(entry.details) == {"rounds": [r.round_id for r in rows]}


@pytest.mark.parametrize("reader", NOBODY)
def test_a_reader_with_no_published_row_learns_nothing_not_even_that_he_was_rated(session, world, career, reader):
    with pytest.raises(NoHistory):
        history.trust_over_time(session, world.people["Nguyễn Văn Hùng"], world.accounts[reader])
    assert history.people(session, world.accounts[reader], search="Hùng") == []


def test_a_rated_person_reads_their_own_rows_and_no_colleagues(session, world, career):
    lan = world.accounts["lan"]
    rows = history.trust_over_time(session, world.people["Trần Thị Lan"], lan)
    assert [r.round_id for r in rows] == [career["own"].id] and rows[0].reach == "own"
    assert [k.name for k in history.people(session, lan)] == ["Trần Thị Lan"]


def test_the_rows_carry_the_counts_percentages_base_and_thresholds_as_sealed(session, world, career):
    rows = history.trust_over_time(session, world.people["Nguyễn Văn Hùng"], world.accounts["district_viewer"])
    commune, district = rows
    # the commune, 2023: 2 low of 4 collected: 2*2 = 4 is not more than 4; the district: 4 of 4, every threshold
    assert (commune.committee, commune.parent, commune.post, commune.term) == (
        "Đảng ủy xã Yên Bình", "Huyện ủy Đông Anh", "Bí thư", "2020-2025")
    assert (commune.high, commune.trust, commune.low, commune.base, commune.base_name) == (2, 0, 2, 4, "collected")
    assert commune.share(commune.low) == "50.00" and commune.crossed == []
    assert (district.committee, district.post, district.low, district.share(district.low)) == (
        "Huyện ủy Đông Anh", "Ủy viên Ban Chấp hành", 4, "100.00")
    assert district.crossed == ["more_than_half", "two_thirds_or_more", "more_than_two_thirds"]
    assert "Trên 1/2" in district.consequences["more_than_half"]


def test_the_workbook_holds_the_readers_rows_with_vietnamese_headers_and_numbers(session, world, career):
    rows = history.trust_over_time(session, world.people["Nguyễn Văn Hùng"], world.accounts["district_viewer"])
    book = load_workbook(io.BytesIO(exports.history_workbook("Nguyễn Văn Hùng", rows)))
    cells = list(book.active.iter_rows(values_only=True))
    assert cells[0][0] == "Kết quả lấy phiếu tín nhiệm qua các kỳ: Nguyễn Văn Hùng"
    assert cells[3][:7] == ("Ngày hội nghị", "Nhiệm kỳ", "Cấp ủy (tên khi lấy phiếu)", "Cấp ủy cấp trên trực tiếp",
                            "Hội nghị", "Đợt lấy phiếu", "Chức vụ")
    commune, district = cells[4], cells[5]
    assert commune[0].date() == dt.date(2023, 4, 3) and commune[2] == "Đảng ủy xã Yên Bình"
    assert (commune[11], commune[12], commune[15]) == (2, 0.5, 4)
    assert (district[11], district[12], district[16:19]) == (4, 1.0, ("Có", "Có", "Có"))
    assert len(cells) == 6


def test_the_people_a_reader_may_follow_are_those_of_the_results_published_to_them(session, world, career):
    province = history.people(session, world.accounts["province_viewer"])
    assert [k.name for k in province] == ["Hoàng Minh Đức", "Nguyễn Văn Hùng"]  # the district's candidates
    district = {k.name: k for k in history.people(session, world.accounts["district_viewer"])}
    assert district["Nguyễn Văn Hùng"].rounds == 2 and district["Nguyễn Văn Hùng"].last_committee == \
        "Huyện ủy Đông Anh"
    assert "Vũ Thị Yến" in district  # the sibling's round is published to the district too
    assert [k.name for k in history.people(session, world.accounts["district_viewer"], search="hung")] == [
        "Nguyễn Văn Hùng"]

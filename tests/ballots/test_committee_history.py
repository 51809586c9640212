"""The tree's history: dated renames and moves (old rounds keep the names they were held under), committees formed
from others (the 2025 mergers) and closed, one person across the old and the new committee."""

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from ballots import committees, dashboard, history, printing, rounds, sealing, signing
from ballots.errors import ChangeDateRefused, CommitteeClosed, Conflict, InvalidInput, NamePrinted
from ballots.models import CommitteeOrigin, Result
from tests.conftest import fresh
from tests.factories import make_conference, make_round, rated_round

KEY = Ed25519PrivateKey.generate()
HELD = dt.date(2023, 5, 10)  # the mid-term of 2020–2025
RENAMED = dt.date(2025, 2, 1)
OLD = "Đảng ủy xã Yên Bình"


def _rename(session, committee, name, on, *, parent=None, level=None):
    committees.update_committee(session, committee, name=name, level=level or committee.level,
                                parent=parent or committee.parent, on=on, actor="organizer")


def test_a_dated_rename_keeps_the_old_name_on_the_rounds_held_before_it(session, world):
    old_round = rated_round(session, world, world.commune, KEY, held_on=HELD, low=(4,))
    _rename(session, world.commune, "Đảng ủy xã Yên Bình Mới", RENAMED, level="Đảng ủy xã (mới)")
    session.commit()
    fresh(session)
    commune = world.commune
    assert commune.name == "Đảng ủy xã Yên Bình Mới"
    assert commune.known_as(HELD) == (OLD, "Đảng ủy xã", "Huyện ủy Đông Anh")
    assert commune.name_on(RENAMED - dt.timedelta(days=1)) == OLD and commune.name_on(RENAMED) == commune.name
    # the sealed result is as it was signed, and the instance still finds every sealed result intact
    assert json.loads(session.get(Result, old_round.id).document)["round"]["committee"] == OLD
    assert sealing.verify_sealed(session, signing.public_bytes(KEY)) == []
    # what readers see of the old round names it as it was held: the dashboard and the person's history
    row = next(r for r in dashboard.rows(session, world.district, world.accounts["district_viewer"])
               if r.round_id == old_round.id)
    assert (row.committee, row.held_as) == ("Đảng ủy xã Yên Bình Mới", OLD)
    rated = history.trust_over_time(session, world.people["Phạm Thị Hương"], world.accounts["district_viewer"])
    assert [(r.committee, r.low, r.base) for r in rated] == [(OLD, 4, 4)]
    # a round held after the rename is printed and sealed with the new name
    later = make_round(session, world, until="issued", conference=make_conference(
        session, commune, held_on=dt.date(2027, 10, 1), term="2025-2030"), board=("teller", "teller2"))
    assert printing.sheet_of(later.round).committee == "Đảng ủy xã Yên Bình Mới"
    assert sealing.round_info(later.round)["committee"] == "Đảng ủy xã Yên Bình Mới"


def test_renaming_the_upper_level_keeps_the_name_its_committees_were_held_under(session, world):
    rated_round(session, world, world.commune, KEY, held_on=HELD)
    _rename(session, world.district, "Đảng ủy Đông Anh", RENAMED)
    assert world.commune.known_as(HELD).parent == "Huyện ủy Đông Anh"
    assert world.commune.known_as(RENAMED).parent == "Đảng ủy Đông Anh"


def test_a_dated_move_keeps_the_old_upper_level_for_the_rounds_before_it(session, world):
    rated_round(session, world, world.commune, KEY, held_on=HELD)
    _rename(session, world.commune, OLD, dt.date(2025, 7, 1), parent=world.province)
    assert world.commune.parent is world.province
    assert world.commune.known_as(HELD) == (OLD, "Đảng ủy xã", "Huyện ủy Đông Anh")
    assert world.commune.known_as(dt.date(2025, 7, 1)).parent == "Tỉnh ủy Thử Nghiệm"


def test_a_change_that_would_rename_a_printed_round_is_refused(session, world):
    rated_round(session, world, world.commune, KEY, held_on=HELD)
    with pytest.raises(ChangeDateRefused):  # dated on the day the round was held: its ballots bore the old name
        _rename(session, world.commune, "Tên mới", HELD)
    with pytest.raises(NamePrinted):  # a correction without a date would rewrite it too
        committees.update_committee(session, world.commune, name="Tên mới", level="Đảng ủy xã",
                                    parent=world.district, actor="organizer")
    with pytest.raises(NamePrinted):  # the district's name is printed on the commune's round, as its upper level
        committees.update_committee(session, world.district, name="Tên mới", level="Huyện ủy",
                                    parent=world.province, actor="organizer")
    # a correction that names no printed round goes through (the province's level is on no ballot below it)
    committees.update_committee(session, world.sibling, name="Đảng ủy xã Hoà Lạc", level="Đảng ủy xã",
                                parent=world.district, actor="organizer")
    assert world.sibling.name == "Đảng ủy xã Hoà Lạc" and not world.sibling.former


def test_a_change_is_refused_while_a_round_is_under_way_or_a_draft_is_held_before_it(session, world):
    under_way = rated_round(session, world, world.commune, KEY, held_on=HELD, until="open")
    with pytest.raises(ChangeDateRefused, match="not sealed yet"):
        _rename(session, world.commune, "Tên mới", RENAMED)
    draft = rated_round(session, world, world.sibling, KEY, held_on=HELD, until="draft")
    with pytest.raises(ChangeDateRefused, match="still in draft"):
        _rename(session, world.sibling, "Tên mới", RENAMED)
    _rename(session, world.sibling, "Tên mới", HELD)  # dated on its day: it will be printed with the new name
    assert world.sibling.name_on(HELD) == "Tên mới" and under_way.state == "open" and draft.state == "draft"
    with pytest.raises(InvalidInput):  # changes go forward in time
        _rename(session, world.sibling, "Tên khác", HELD)


def test_a_commune_formed_from_two_ends_them_and_keeps_one_person_across_the_merger(session, world):
    hung = world.people["Nguyễn Văn Hùng"]
    old_round = rated_round(session, world, world.commune, KEY, held_on=HELD, low=(1,),
                            audience=["committee", "upper"])
    rated_round(session, world, world.sibling, KEY, held_on=HELD)
    merged = committees.create_committee(session, name="Đảng ủy xã Yên Hòa", level="Đảng ủy xã",
                                         parent=world.district, actor="organizer")
    committees.record_formation(session, merged, sources=[world.commune, world.sibling], on=dt.date(2025, 7, 1),
                                actor="organizer")
    assert (world.commune.closed_on, world.sibling.closed_on) == (dt.date(2025, 6, 30), dt.date(2025, 6, 30))
    assert merged.formed_on == dt.date(2025, 7, 1)
    assert [c.name for c in merged.sources] == ["Đảng ủy xã Hòa Lạc", OLD]
    assert [c.name for c in world.commune.successors] == ["Đảng ủy xã Yên Hòa"]
    # the new committee is seated from the old ones: the same person, not a copy
    former = {f.person.full_name: f for f in committees.former_members(session, merged)}
    assert former["Nguyễn Văn Hùng"].seats == ((OLD, "Bí thư"),) and "Vũ Thị Yến" in former
    committees.add_member(session, committee=merged, person=former["Nguyễn Văn Hùng"].person, post="Bí thư",
                          actor="organizer")
    assert "Nguyễn Văn Hùng" not in {f.person.full_name for f in committees.former_members(session, merged)}
    new_round = rated_round(session, world, merged, KEY, held_on=dt.date(2027, 10, 1), term="2025-2030")
    assert {c.person_id for c in new_round.candidates} == {hung.id}
    # one history across the old commune and the new one, for the district that reads both
    rated = history.trust_over_time(session, hung, world.accounts["district_viewer"])
    assert [(r.round_id, r.committee, r.term, r.low) for r in rated] == [
        (old_round.id, OLD, "2020-2025", 4), (new_round.id, "Đảng ủy xã Yên Hòa", "2025-2030", 0)]
    session.commit()
    assert fresh(session).scalars(select(CommitteeOrigin.source_id).where(
        CommitteeOrigin.committee_id == merged.id)).all() == sorted([world.commune.id, world.sibling.id])


def test_a_closed_committee_keeps_its_history_and_takes_nothing_new(session, world):
    rated_round(session, world, world.sibling, KEY, held_on=HELD)
    committees.close_committee(session, world.sibling, on=dt.date(2025, 6, 30), actor="organizer")
    person = committees.create_person(session, full_name="Đinh Văn Mới")
    for attempt in (
        lambda: committees.add_member(session, committee=world.sibling, person=person, post="Ủy viên", actor="t"),
        lambda: committees.create_committee(session, name="Chi bộ 1", level="Chi bộ", parent=world.sibling,
                                            actor="t"),
        lambda: rounds.create_conference(session, committee=world.sibling, name="Hội nghị", held_on=HELD,
                                         place="", term="2025-2030", actor="t"),
        lambda: _rename(session, world.sibling, "Tên mới", dt.date(2025, 7, 1)),
        lambda: committees.close_committee(session, world.sibling, on=dt.date(2025, 7, 1), actor="t"),
    ):
        with pytest.raises(CommitteeClosed):
            attempt()
    assert [m.person.full_name for m in world.sibling.memberships] == ["Vũ Thị Yến"]


def test_closing_waits_for_the_rounds_to_be_sealed_and_the_committees_below_to_go(session, world):
    rated_round(session, world, world.commune, KEY, held_on=HELD, until="counted")
    with pytest.raises(Conflict, match="not sealed"):
        committees.close_committee(session, world.commune, on=dt.date(2025, 6, 30), actor="organizer")
    with pytest.raises(Conflict, match="committees below"):
        committees.close_committee(session, world.district, on=dt.date(2025, 6, 30), actor="organizer")
    rated_round(session, world, world.sibling, KEY, held_on=dt.date(2025, 8, 1))
    with pytest.raises(Conflict, match="after the day"):  # it met after the day it would have ended
        committees.close_committee(session, world.sibling, on=dt.date(2025, 6, 30), actor="organizer")


def test_a_committee_cannot_be_formed_from_one_above_or_below_it_or_one_that_outlived_it(session, world):
    for source in (world.district, world.province):
        with pytest.raises(InvalidInput):
            committees.record_formation(session, world.commune, sources=[source], on=dt.date(2025, 7, 1),
                                        actor="organizer")
    committees.close_committee(session, world.sibling, on=dt.date(2025, 8, 1), actor="organizer")
    with pytest.raises(InvalidInput, match="still existed"):
        committees.record_formation(session, world.commune, sources=[world.sibling], on=dt.date(2025, 7, 1),
                                    actor="organizer")
    with pytest.raises(InvalidInput):
        committees.record_formation(session, world.commune, sources=[], on=dt.date(2025, 7, 1), actor="organizer")
    with pytest.raises(InvalidInput, match="before it was formed"):  # the commune met in 2026
        committees.record_formation(session, world.commune, sources=[world.sibling], on=dt.date(2027, 1, 1),
                                    actor="organizer")


def test_a_committee_others_were_formed_from_cannot_be_deleted(session, world):
    empty = committees.create_committee(session, name="Đảng ủy xã Cũ", level="Đảng ủy xã", parent=world.district,
                                        actor="organizer")
    committees.record_formation(session, world.sibling, sources=[empty], on=dt.date(2025, 7, 1), actor="organizer")
    with pytest.raises(Conflict, match="formed from this one"):
        committees.delete_committee(session, empty, actor="organizer")

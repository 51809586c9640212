"""The upper-level dashboard at a province's shape: committees directly below and at every depth, terms, filters,
and the roll-up of each level, whose numbers come only from the results each round's audience gives the reader."""

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ballots import committees, dashboard
from tests.factories import accounts_with_role, add_members, make_imported_result, rated_round

KEY = Ed25519PrivateKey.generate()
HELD = dt.date(2027, 10, 1)
TERM = "2025-2030"


def _cell(session, world, name):
    cell = committees.create_committee(session, name=name, level="Chi bộ", parent=world.commune, actor="test")
    add_members(session, cell, [(f"Đỗ Văn {name[-1]}", "Bí thư chi bộ"), (f"Lý Thị {name[-1]}", "Chi ủy viên")])
    return cell


def _tree(session, world):
    """The commune's round published to its upper level only; the sibling's published to every upper level; two
    chi bộ of the commune, one published to the commune only, one to every level above (the province among them)."""
    accounts_with_role(session, world, world.province, "viewer", "province_viewer")
    found = {
        "commune": rated_round(session, world, world.commune, KEY, held_on=HELD, term=TERM, low=(4,)),
        "sibling": rated_round(session, world, world.sibling, KEY, held_on=HELD, term=TERM, ballots=6,
                               audience=["committee", "upper", "above"]),
        "cell 1": rated_round(session, world, _cell(session, world, "Chi bộ 1"), KEY, held_on=HELD, term=TERM,
                              ballots=3, low=(1,)),
        "cell 2": rated_round(session, world, _cell(session, world, "Chi bộ 2"), KEY, held_on=HELD, term=TERM,
                              ballots=5, low=(1, 2), audience=["committee", "upper", "above"]),
    }
    session.commit()
    return found


def test_the_rollup_adds_up_only_the_results_each_rounds_audience_gives_the_reader(session, world):
    rounds = _tree(session, world)
    board = dashboard.board(session, world.province, world.accounts["province_viewer"], scope="all")
    shown = {r.round_id: r for r in board.rows if r.round_id}
    # the province reads the sibling's and the second chi bộ's results ("above"), not the commune's nor the first
    # chi bộ's (their audience stops at the level directly above)
    assert shown[rounds["sibling"].id].issued == 6 and shown[rounds["cell 2"].id].crossed == (2, 2, 2)
    assert shown[rounds["commune"].id].issued is None and shown[rounds["commune"].id].phase == "published"
    assert shown[rounds["cell 1"].id].crossed is None
    assert shown[rounds["cell 2"].id].path == "Huyện ủy Đông Anh / Đảng ủy xã Yên Bình"
    levels = {(t.depth, t.level): t for t in board.rollup}
    district, communes, cells = levels[1, "Huyện ủy"], levels[2, "Đảng ủy xã"], levels[3, "Chi bộ"]
    assert (district.committees, district.phases["not_started"], district.readable) == (1, 1, 0)
    assert (communes.committees, communes.readable, communes.unreadable) == (2, 1, 1)
    assert (communes.issued, communes.collected, communes.crossed) == (6, 6, [0, 0, 0])
    assert (cells.committees, cells.readable, cells.unreadable, cells.issued, cells.crossed) == (2, 1, 1, 5, [2, 2, 2])


def test_the_direct_upper_level_reads_what_its_committees_publish_to_it(session, world):
    rounds = _tree(session, world)
    board = dashboard.board(session, world.district, world.accounts["district_viewer"], scope="all")
    shown = {r.round_id: r for r in board.rows if r.round_id}
    assert shown[rounds["commune"].id].crossed == (1, 1, 1) and shown[rounds["sibling"].id].issued == 6
    assert shown[rounds["cell 1"].id].crossed is None  # a chi bộ's result goes to the commune, not two levels up
    assert shown[rounds["cell 2"].id].crossed == (2, 2, 2)
    levels = {(t.depth, t.level): t for t in board.rollup}
    assert (levels[1, "Đảng ủy xã"].readable, levels[1, "Đảng ủy xã"].issued) == (2, 10)
    assert (levels[2, "Chi bộ"].readable, levels[2, "Chi bộ"].unreadable) == (1, 1)
    # the commune's own viewer reads both of its chi bộ
    commune = dashboard.board(session, world.commune, world.accounts["viewer"])
    assert sorted(r.issued for r in commune.rows) == [3, 5]


def test_an_organizer_sees_the_states_and_no_number(session, world):
    _tree(session, world)
    board = dashboard.board(session, world.province, world.accounts["organizer"], scope="all")
    assert {r.phase for r in board.rows if r.round_id} == {"published"}
    assert all(r.crossed is None and r.issued is None for r in board.rows)
    assert all(t.readable == 0 and t.issued == 0 for t in board.rollup)


def test_the_rows_are_of_one_term_and_the_committees_below_filter_by_scope_level_and_name(session, world):
    rounds = _tree(session, world)
    old = rated_round(session, world, world.commune, KEY, held_on=dt.date(2023, 4, 1), term="2020-2025")
    reader = world.accounts["district_viewer"]
    newest = dashboard.board(session, world.district, reader)
    assert newest.terms == ["2025-2030", "2020-2025"] and newest.term == "2025-2030"
    assert {r.round_id for r in newest.rows} == {rounds["commune"].id, rounds["sibling"].id}  # directly below
    earlier = dashboard.board(session, world.district, reader, term="2020-2025")
    # the sibling held no round in that term: it shows as not started, beside the commune's round of 2023
    assert sorted((r.committee, r.round_id) for r in earlier.rows) == [
        ("Đảng ủy xã Hòa Lạc", None), ("Đảng ủy xã Yên Bình", old.id)]
    every = dashboard.board(session, world.district, reader, scope="all", term=dashboard.ALL_TERMS)
    assert len([r for r in every.rows if r.round_id]) == 5 and every.levels == ["Chi bộ", "Đảng ủy xã"]
    cells = dashboard.arrange(every.rows, level="Chi bộ")
    assert [r.committee for r in cells] == ["Chi bộ 1", "Chi bộ 2"]
    assert [r.committee for r in dashboard.arrange(every.rows, search="yen binh")] == [
        "Đảng ủy xã Yên Bình", "Đảng ủy xã Yên Bình", "Chi bộ 1", "Chi bộ 2"]  # in the tree's order


def test_a_committee_formed_after_a_term_or_closed_does_not_show_as_not_started_in_it(session, world):
    old = rated_round(session, world, world.commune, KEY, held_on=dt.date(2023, 4, 1), term="2020-2025")
    new = committees.create_committee(session, name="Đảng ủy xã Mới", level="Đảng ủy xã", parent=world.district,
                                      formed_on=dt.date(2025, 7, 1), actor="test")
    add_members(session, new, [("Mai Thị Hạnh", "Bí thư")])
    committees.close_committee(session, world.sibling, on=dt.date(2025, 6, 30), actor="test")
    current = rated_round(session, world, new, KEY, held_on=HELD, term=TERM, until="draft")
    reader = world.accounts["district_viewer"]
    rows = dashboard.board(session, world.district, reader, term="2020-2025").rows
    assert [(r.committee, r.round_id) for r in rows] == [("Đảng ủy xã Yên Bình", old.id)]
    rows = dashboard.board(session, world.district, reader, term=TERM).rows
    assert sorted((r.committee, r.round_id) for r in rows) == [
        ("Đảng ủy xã Mới", current.id), ("Đảng ủy xã Yên Bình", None)]  # the closed sibling: no row


def test_a_row_with_more_collected_than_issued_carries_the_boards_ruling_and_only_that_row(session, world):
    ruling = "Phiếu thừa là phiếu không do Ban kiểm phiếu phát ra; kết quả vẫn có giá trị."
    make_imported_result(session, world, issued=9, collected=11,
                         document={"round": {"term": "2020-2025"}, "rulings": {"sheets": 0, "anomaly": ruling}})
    rated_round(session, world, world.commune, KEY, held_on=HELD, term="2020-2025")
    session.commit()
    rows = dashboard.board(session, world.district, world.accounts["district_viewer"], term="2020-2025").rows
    by_name = {row.committee: row for row in rows}
    odd, plain = by_name["Đảng ủy xã Hòa Lạc"], by_name["Đảng ủy xã Yên Bình"]
    # 11 collected of 9 issued: the figures and the ruling that explains them travel together
    assert (odd.collected, odd.issued, odd.has_anomaly, odd.anomaly_ruling) == (11, 9, True, ruling)
    assert (plain.has_anomaly, plain.anomaly_ruling) == (False, None)

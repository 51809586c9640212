"""Rounds in draft: default candidates, rule sets and overrides, places per person, the counting board."""

import pytest
from sqlalchemy import func, select

from ballots import rounds, rules
from ballots.errors import CandidateOnBoard, InvalidInput, RoundNotDraft, TooManyPlaces
from ballots.models import AuditEntry, Candidate
from tests.factories import make_conference, make_round


def _audit_count(session):
    return session.scalar(select(func.count()).select_from(AuditEntry))


def test_a_new_round_lists_every_member_in_committee_order(session, world):
    round_ = make_round(session, world, board=()).round
    assert [(c.person.full_name, c.post, c.position) for c in round_.candidates] == [
        ("Nguyễn Văn Hùng", "Bí thư", 1), ("Trần Thị Lan", "Phó Bí thư", 2),
        ("Lê Đức Thắng", "Ủy viên Ban Thường vụ", 3), ("Phạm Thị Hương", "Ủy viên Ban Chấp hành", 4)]
    assert round_.state == "draft" and round_.rule_set == "qd96-2023"


def test_a_new_round_copies_the_presets_settings(session, world):
    round_ = make_round(session, world, board=(), rule_set="qd262-2014").round
    assert rules.rule_set_of(round_) == rules.preset("qd262-2014")


def test_switching_the_rule_set_takes_every_setting_of_the_new_preset(session, world):
    round_ = make_round(session, world, board=()).round
    rounds.override_settings(session, round_, base="issued", actor="test")
    rounds.choose_rule_set(session, round_, "grassroots-2017", actor="test")
    assert round_.places_limit is None and round_.paper_entries == 3 and round_.base == "collected"
    rounds.choose_rule_set(session, round_, "qd262-2014", actor="test")
    assert round_.extra_writing_policy == "void" and round_.places_limit == 2 and round_.paper_entries == 2


def test_an_override_changes_only_that_setting_and_is_audited(session, world):
    round_ = make_round(session, world, board=()).round
    before = _audit_count(session)
    rounds.override_settings(session, round_, invalid_mark_policy="row", actor="test")
    assert round_.invalid_mark_policy == "row" and round_.base == "collected"
    assert _audit_count(session) == before + 1


def test_a_person_on_more_places_than_the_rule_set_allows_is_refused(session, world):
    # Nguyễn Văn Hùng sits on the commune and the district: with a limit of 2, a third place is refused
    hung = world.people["Nguyễn Văn Hùng"]
    make_round(session, world, board=())
    make_round(session, world, conference=make_conference(session, world.district), title="Huyện", board=())
    sibling_round = make_round(session, world, conference=make_conference(session, world.sibling), title="Hòa Lạc",
                               board=()).round
    with pytest.raises(TooManyPlaces) as refused:
        rounds.set_candidates(session, sibling_round, [(hung.id, "Ủy viên")], actor="test")
    assert refused.value.params == {"name": "Nguyễn Văn Hùng", "count": 3, "limit": 2}
    assert "Nguyễn Văn Hùng would be rated in 3 places" in str(refused.value)


def test_the_places_limit_counts_within_one_term_only(session, world):
    hung = world.people["Nguyễn Văn Hùng"]
    make_round(session, world, board=())
    for name, term in (("Hội nghị huyện", "2020-2025"), ("Hội nghị nhiệm kỳ sau", "2025-2030")):
        make_round(session, world, conference=make_conference(session, world.district, name=name, term=term),
                   title=name, board=())
    assert rounds.places_of(session, hung.id, term="2020-2025") == 2
    assert rounds.places_of(session, hung.id, term="2025-2030") == 1


def _rated_at_every_committee(session, world, person) -> list:
    """Rounds under grassroots-2017 at the commune, the district and the sibling commune, each rating `person`
    alone."""
    made = []
    for committee in (world.commune, world.district, world.sibling):
        round_ = make_round(session, world, conference=make_conference(session, committee, name=committee.name),
                            title="Vòng", rule_set="grassroots-2017", board=()).round
        rounds.set_candidates(session, round_, [(person.id, "Ủy viên")], actor="test")
        made.append(round_)
    return made


def test_grassroots_2017_rates_at_every_committee_so_a_third_place_is_allowed(session, world):
    hung = world.people["Nguyễn Văn Hùng"]
    _rated_at_every_committee(session, world, hung)
    assert rounds.places_of(session, hung.id, term="2020-2025") == 3


def test_switching_to_a_stricter_rule_set_rechecks_the_places(session, world):
    made = _rated_at_every_committee(session, world, world.people["Nguyễn Văn Hùng"])
    with pytest.raises(TooManyPlaces):
        rounds.choose_rule_set(session, made[-1], "qd96-2023", actor="test")
    assert made[-1].rule_set == "grassroots-2017"


def test_candidates_are_replaced_in_the_given_order(session, world):
    round_ = make_round(session, world, board=()).round
    lan, hung = world.people["Trần Thị Lan"], world.people["Nguyễn Văn Hùng"]
    rounds.set_candidates(session, round_, [(lan.id, "Phó Bí thư Đảng ủy"), (hung.id, "Bí thư Đảng ủy")],
                          actor="test")
    assert [(c.person_id, c.post, c.position) for c in round_.candidates] == [
        (lan.id, "Phó Bí thư Đảng ủy", 1), (hung.id, "Bí thư Đảng ủy", 2)]


@pytest.mark.parametrize("entries", ["twice", "unknown", "empty_post"])
def test_a_bad_candidate_list_is_refused_and_the_list_stays(session, world, entries):
    round_ = make_round(session, world, board=()).round
    lan = world.people["Trần Thị Lan"]
    bad = {"twice": [(lan.id, "A"), (lan.id, "B")], "unknown": [(999999, "A")], "empty_post": [(lan.id, "  ")]}
    with pytest.raises(InvalidInput):
        rounds.set_candidates(session, round_, bad[entries], actor="test")
    assert len(round_.candidates) == 4


def test_a_teller_who_is_a_candidate_cannot_sit_on_the_board(session, world):
    round_ = make_round(session, world, board=()).round
    kiem = world.people["Bùi Văn Kiểm"]  # the "teller" account belongs to this person
    rounds.set_candidates(session, round_, [(kiem.id, "Ủy viên")], actor="test")
    with pytest.raises(CandidateOnBoard):
        rounds.set_board(session, round_, [world.accounts["teller"].id], actor="test")


def test_a_board_member_cannot_be_made_a_candidate(session, world):
    round_ = make_round(session, world, board=()).round
    rounds.set_board(session, round_, [world.accounts["teller"].id], actor="test")
    with pytest.raises(CandidateOnBoard):
        rounds.set_candidates(session, round_, [(world.people["Bùi Văn Kiểm"].id, "Ủy viên")], actor="test")


def test_the_board_takes_only_tellers_of_the_committee(session, world):
    round_ = make_round(session, world, board=()).round
    with pytest.raises(InvalidInput):
        rounds.set_board(session, round_, [world.accounts["viewer"].id], actor="test")
    rounds.set_board(session, round_, [world.accounts["teller"].id, world.accounts["teller2"].id], actor="test")
    assert sorted(m.account_id for m in round_.board) == sorted(
        [world.accounts["teller"].id, world.accounts["teller2"].id])


@pytest.mark.parametrize("convened,present", [(-1, 0), (10, 11), (0, -2)])
def test_impossible_numbers_are_refused(session, world, convened, present):
    round_ = make_round(session, world, board=(), convened=30, present=28).round
    with pytest.raises(InvalidInput):
        rounds.set_numbers(session, round_, convened=convened, present=present, actor="test")
    assert (round_.convened, round_.present) == (30, 28)


def test_quorum_is_two_thirds_present_exactly(session, world):
    round_ = make_round(session, world, board=(), convened=30, present=20).round
    assert round_.has_quorum  # 3*20 = 60 >= 60
    rounds.set_numbers(session, round_, convened=30, present=19, actor="test")
    assert not round_.has_quorum  # 57 < 60
    assert round_.absent == 11


def test_nothing_changes_once_the_round_has_left_draft(session, world):
    round_ = make_round(session, world, until="issued", convened=30, present=28, issue=1).round
    before = _audit_count(session)
    lan = world.people["Trần Thị Lan"]
    for change in (
        lambda: rounds.set_candidates(session, round_, [(lan.id, "Bí thư")], actor="test"),
        lambda: rounds.choose_rule_set(session, round_, "qd262-2014", actor="test"),
        lambda: rounds.override_settings(session, round_, base="issued", actor="test"),
        lambda: rounds.set_numbers(session, round_, convened=40, present=40, actor="test"),
        lambda: rounds.set_board(session, round_, [], actor="test"),
    ):
        with pytest.raises(RoundNotDraft):
            change()
    assert _audit_count(session) == before
    assert session.scalar(select(func.count()).select_from(Candidate).where(Candidate.round_id == round_.id)) == 4
    assert round_.rule_set == "qd96-2023" and round_.base == "collected" and round_.convened == 30

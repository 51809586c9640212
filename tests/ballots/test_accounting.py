"""The ballot accounting of a round (issued, voided, cast, unused), its turnout and the quorum, on SQLite and
PostgreSQL: one implementation, which every place that shows a number uses."""

from ballots import accounting, dashboard, issuing
from tests.factories import make_imported_result, make_round


def test_accounting_counts_every_printed_sheet_the_void_ones_too(session, world):
    built = make_round(session, world, until="open", convened=30, present=28, issue=28, void=[3, 4],
                       tablet=["1230", "2222", "3311"])  # 28 present, no spares
    round_ = built.round
    numbers = accounting.ballot_accounting(session, round_)
    # printed 28; voided 2; issued = 28 - 2 = 26; cast 3; unused = 28 - 2 void - 3 cast = 23;
    # room = 28 present + 0 spares - 26 issued = 2 (the two voided sheets may be replaced)
    assert (numbers.printed, numbers.voided, numbers.issued, numbers.cast, numbers.unused) == (28, 2, 26, 3, 23)
    assert (numbers.present, numbers.spares, numbers.room) == (28, 0, 2)

    issuing.issue_ballots(session, round_, count=2, actor="teller")  # the two replacements
    numbers = accounting.ballot_accounting(session, round_)
    # printed 28 + 2 = 30; voided 2; issued = 30 - 2 = 28; cast 3; unused = 30 - 2 - 3 = 25; room = 28 - 28 = 0
    assert (numbers.printed, numbers.voided, numbers.issued, numbers.cast, numbers.unused) == (30, 2, 28, 3, 25)
    assert numbers.room == 0
    assert numbers.printed == numbers.voided + numbers.cast + numbers.unused


def test_accounting_of_a_round_without_ballots_is_all_zero(session, world):
    round_ = make_round(session, world, convened=30, present=28, spares=3).round
    numbers = accounting.ballot_accounting(session, round_)
    assert (numbers.printed, numbers.voided, numbers.issued, numbers.cast, numbers.unused) == (0, 0, 0, 0, 0)
    assert numbers.room == 28 + 3


def test_turnout_counts_issued_cast_and_remaining(session, world):
    round_ = make_round(session, world, until="open", issue=5, void=[4], tablet=["1230"]).round
    # 5 printed, 1 voided: 4 issued; 1 cast, 3 remaining
    assert accounting.turnout(session, round_) == accounting.Turnout(issued=4, cast=1, remaining=3)


def test_a_result_with_nobody_convened_is_quorate_nowhere(session, world):
    """3*0 >= 2*0 holds, but with nobody convened there was no conference to be quorate: the round, the rule and
    the upper level's dashboard (a local round's row and an imported result's row) all say so."""
    round_ = make_round(session, world, convened=0, present=0).round
    imported = make_imported_result(session, world, convened=0, present=0, issued=0, collected=0)
    assert accounting.has_quorum(0, 0) is False
    assert round_.has_quorum is False
    rows = dashboard.rows(session, world.district, world.accounts["district_viewer"])
    assert next(row for row in rows if row.round_id == round_.id).quorum is False
    assert next(row for row in rows if row.imported_id == imported.id).quorum is False

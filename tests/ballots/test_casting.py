"""Casting on a tablet, in the domain: opening and closing, the ballot shown, exactly once, throttling."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from ballots import casting, guessing, tokens
from ballots.errors import (
    BallotAlreadyUsed,
    BallotVoided,
    Conflict,
    InvalidInput,
    InvalidMarks,
    KioskThrottled,
    RoundNotOpen,
    UnknownBallot,
    WrongRound,
)
from ballots.models import AuditEntry, Ballot, Token
from tests.factories import make_round


@pytest.fixture
def issued(session, world):
    built = make_round(session, world, until="issued", issue=5)
    return built.round, built.codes


@pytest.fixture
def voting(session, world):
    built = make_round(session, world, until="open", issue=5)
    return built.round, built.codes


def _cast(session, code, marks=b"\x01\x02\x03\x00", submission="s" * 16, **kwargs):
    return casting.cast_ballot(session, code=code, marks=marks, submission=submission, **kwargs)


def test_a_round_opens_only_once_its_ballots_are_issued(session, world, issued):
    draft = make_round(session, world, title="Vòng khác", board=()).round
    with pytest.raises(Conflict):
        casting.open_voting(session, draft, actor="test")
    round_, _codes = issued
    casting.open_voting(session, round_, actor="test")
    assert round_.state == "open"
    with pytest.raises(Conflict):
        casting.open_voting(session, round_, actor="test")


def test_a_ballot_shows_its_round_and_candidates_only_while_voting_is_open(session, issued):
    round_, codes = issued
    with pytest.raises(RoundNotOpen):
        casting.show_ballot(session, code=codes[0])
    casting.open_voting(session, round_, actor="test")
    view = casting.show_ballot(session, code=tokens.grouped(codes[0]).lower(), kiosk_round=round_.id)
    assert view.candidates[0] == ("Nguyễn Văn Hùng", "Bí thư") and len(view.candidates) == 4
    assert view.invalid_mark_policy == "ballot" and view.committee == "Đảng ủy xã Yên Bình"


def test_a_cast_spends_the_token_and_stores_an_anonymous_ballot(session, voting):
    round_, codes = voting
    assert _cast(session, codes[0]) == casting.RECORDED
    ballot = session.scalars(select(Ballot)).one()
    assert ballot.marks == b"\x01\x02\x03\x00" and len(ballot.id) == 16 and ballot.round_id == round_.id
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.action, entry.at, entry.details) == ("ballot.cast", None, "{}")


def test_a_retry_of_the_same_submission_is_already_recorded_and_adds_nothing(session, voting):
    _round, codes = voting
    _cast(session, codes[0], submission="retry-0123456789")
    session.commit()
    assert _cast(session, codes[0], submission="retry-0123456789") == casting.ALREADY_RECORDED
    assert session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_another_submission_with_a_spent_token_is_refused(session, voting):
    _round, codes = voting
    _cast(session, codes[0], submission="first-0123456789")
    with pytest.raises(BallotAlreadyUsed):
        _cast(session, codes[0], submission="second-012345678")


def test_refusals_say_which_and_write_nothing(session, world):
    built = make_round(session, world, until="open", issue=5, void=[1])
    round_, codes = built.round, built.codes
    before = (session.scalar(select(func.count()).select_from(Ballot)),
              session.scalar(select(func.count()).select_from(AuditEntry)))
    cases = [
        (BallotVoided, dict(code=codes[1])),
        (UnknownBallot, dict(code=tokens.code_of(tokens.new_secret()))),
        (tokens.MalformedCode, dict(code=codes[2][:-1] + ("0" if codes[2][-1] != "0" else "1"))),
        (WrongRound, dict(code=codes[2], kiosk_round=round_.id + 1000)),
        (InvalidMarks, dict(code=codes[2], marks=b"\x01\x02")),
        (InvalidMarks, dict(code=codes[2], marks=b"\x01\x02\x03\x04")),  # a tablet cannot tick two boxes
        (InvalidInput, dict(code=codes[2], submission="short")),
    ]
    for error, kwargs in cases:
        with pytest.raises(error):
            _cast(session, **kwargs)
        session.rollback()
    assert (session.scalar(select(func.count()).select_from(Ballot)),
            session.scalar(select(func.count()).select_from(AuditEntry))) == before
    assert session.scalar(select(Token.state).where(Token.secret_hash == tokens.hash_secret(
        tokens.secret_of(codes[2])))) == "issued"


def test_after_closing_no_ballot_is_taken_but_a_retry_still_hears_the_truth(session, voting):
    round_, codes = voting
    _cast(session, codes[0], submission="before-close-0001")
    casting.close_voting(session, round_, actor="test")
    session.commit()
    with pytest.raises(RoundNotOpen):
        _cast(session, codes[1])
    assert _cast(session, codes[0], submission="before-close-0001") == casting.ALREADY_RECORDED
    with pytest.raises(RoundNotOpen):
        casting.close_voting(session, round_, actor="test")


@pytest.mark.parametrize("marks,expected", [("1230", b"\x01\x02\x03\x00"), ([3, 3, 0], b"\x03\x03\x00")])
def test_marks_are_read_from_digits_or_a_list(marks, expected):
    assert casting.parse_marks(marks) == expected


@pytest.mark.parametrize("marks", ["", "12a", "124", [1, "2"], [True], None, {"0": 1}, "١٢"])
def test_bad_marks_are_refused(marks):
    with pytest.raises(InvalidMarks):
        casting.parse_marks(marks)


def test_guessing_is_throttled_per_tablet_without_holding_up_the_others(session):
    now = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc)
    for _ in range(guessing.MAX_FAILURES_PER_TABLET):
        guessing.record(session, tablet="tablet:a", address="10.0.0.2", now=now)
    with pytest.raises(KioskThrottled):
        guessing.check(session, tablet="tablet:a", address="10.0.0.2", now=now)
    guessing.check(session, tablet="tablet:b", address="10.0.0.2", now=now)  # same address, other tablet
    guessing.check(session, tablet="tablet:a", address="10.0.0.2", now=now + guessing.FAILURE_WINDOW * 2)

"""Casting on a tablet, in the domain: opening and closing, the ballot shown, exactly once, throttling."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from ballots import box, casting, committees, guessing, printing, tokens
from ballots.errors import (
    BallotAlreadyUsed,
    BallotVoided,
    Conflict,
    InvalidInput,
    InvalidMarks,
    RoundNotOpen,
    UnknownBallot,
    WrongRound,
)
from ballots.models import AuditEntry, Ballot, KioskFailure, SealedBallot, Token
from tests.factories import logged_casts, make_round


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


def test_a_cast_spends_the_token_and_stores_its_ballot_sealed(session, world):
    built = make_round(session, world, until="open", issue=5)
    assert _cast(session, built.codes[0]) == casting.RECORDED
    assert session.scalar(select(Token.state).where(Token.secret_hash == tokens.hash_secret(built.secrets[0]))) == "cast"
    sealed = session.scalars(select(SealedBallot)).one()
    assert len(sealed.id) == 16 and sealed.round_id == built.id and session.scalar(select(func.count(Ballot.id))) == 0
    # readable with the board's cards only: the round's key rebuilt from two of them opens it
    key = box.combine([box.parse_card(card) for card in built.cards()])
    assert box.unseal(key, built.id, sealed.sealed) == b"\x01\x02\x03\x00"
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.action, entry.at, entry.details) == ("ballot.cast", None, '{"ballots":1}')


def test_a_sealed_ballot_opens_under_no_other_round_and_with_no_other_key(session, world):
    built = make_round(session, world, until="open", issue=5)
    _cast(session, built.codes[0])
    sealed = session.scalars(select(SealedBallot.sealed)).one()
    key = box.combine([box.parse_card(card) for card in built.cards()])
    with pytest.raises(box.BoxTampered):
        box.unseal(key, built.id + 1, sealed)
    with pytest.raises(box.BoxTampered):
        box.unseal(box.new_key(), built.id, sealed)
    with pytest.raises(box.BoxTampered):
        box.unseal(key, built.id, sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_a_retry_of_the_same_submission_is_already_recorded_and_adds_nothing(session, voting):
    _round, codes = voting
    _cast(session, codes[0], submission="retry-0123456789")
    session.commit()
    assert _cast(session, codes[0], submission="retry-0123456789") == casting.ALREADY_RECORDED
    assert session.scalar(select(func.count()).select_from(SealedBallot)) == 1


def test_another_submission_with_a_spent_token_is_refused(session, voting):
    _round, codes = voting
    _cast(session, codes[0], submission="first-0123456789")
    with pytest.raises(BallotAlreadyUsed):
        _cast(session, codes[0], submission="second-012345678")


def test_one_batch_spends_each_token_once_whatever_else_it_holds(session, world):
    # a batch is spent by one statement: the same code three times (a double tap's twin retry and another
    # tablet's submission), a voided sheet, wrong marks and good casts beside them
    built = make_round(session, world, until="open", issue=6, void=[5])
    codes, marks = built.codes, b"\x01\x02\x03\x00"
    batch = [casting.Cast(codes[0], marks, "twin-0123456789ab"), casting.Cast(codes[1], marks, "good-0123456789ab"),
             casting.Cast(codes[0], marks, "twin-0123456789ab"), casting.Cast(codes[0], marks, "othr-0123456789ab"),
             casting.Cast(codes[5], marks, "void-0123456789ab"), casting.Cast(codes[2], b"\x01\x02", "mrks-0123456789ab"),
             casting.Cast(codes[3], marks, "good-0123456789ac", kiosk_round=built.id)]
    outcomes = casting.cast_ballots(session, batch)
    assert [o if isinstance(o, str) else type(o) for o in outcomes] == [
        casting.RECORDED, casting.RECORDED, casting.ALREADY_RECORDED, BallotAlreadyUsed, BallotVoided, InvalidMarks,
        casting.RECORDED]
    assert session.scalar(select(func.count()).select_from(SealedBallot)) == 3
    assert logged_casts(session, built.id) == 3
    spent = session.execute(select(Token.secret_hash, Token.submission_hash).where(Token.state == "cast")).all()
    assert sorted(spent) == sorted((tokens.hash_secret(built.secrets[i]), casting.submission_hash(s))
                                   for i, s in ((0, "twin-0123456789ab"), (1, "good-0123456789ab"),
                                                (3, "good-0123456789ac")))


def test_refusals_say_which_and_write_nothing(session, world):
    built = make_round(session, world, until="open", issue=5, void=[1])
    round_, codes = built.round, built.codes
    before = (session.scalar(select(func.count()).select_from(SealedBallot)),
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
    assert (session.scalar(select(func.count()).select_from(SealedBallot)),
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


def test_a_failures_answer_waits_longer_with_each_recent_failure_of_its_tablet_up_to_a_bound(session):
    """FREE_PER_SOURCE answered at once, then 0.5 s doubling up to MAX_DELAY; another tablet behind the same address
    waits for nothing; failures older than the window no longer count."""
    now = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc)
    delays = [guessing.fail(session, tablet="tablet:a", address="10.0.0.2", now=now) for _ in range(9)]
    assert delays == [0, 0, 0, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert guessing.fail(session, tablet="tablet:b", address="10.0.0.2", now=now) == 0
    assert guessing.fail(session, tablet="tablet:a", address="10.0.0.2", now=now + guessing.FAILURE_WINDOW * 2) == 0


def test_an_address_waits_once_all_its_tablets_together_failed_often(session):
    now = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc)
    delays = [guessing.fail(session, tablet=f"tablet:{i}", address="10.0.0.9", now=now)
              for i in range(guessing.FREE_PER_ADDRESS + 3)]  # one failure per tablet: none past its own allowance
    assert delays[:guessing.FREE_PER_ADDRESS] == [0] * guessing.FREE_PER_ADDRESS
    assert delays[guessing.FREE_PER_ADDRESS:] == [0.5, 1.0, 2.0]


def test_failures_stop_being_written_once_their_source_and_address_wait_the_longest(session):
    """A flood adds no rows past the bound: more would change no delay."""
    now = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc)
    for _ in range(200):
        guessing.fail(session, tablet="address:10.0.0.3", address="10.0.0.3", now=now)
    written = session.scalar(select(func.count()).select_from(KioskFailure))
    assert written == guessing.FREE_PER_ADDRESS + 5  # where the address's delay reaches MAX_DELAY
    assert guessing.fail(session, tablet="address:10.0.0.3", address="10.0.0.3", now=now) == guessing.MAX_DELAY


def test_a_cast_is_looked_up_before_any_throttle(session, world):
    """A tablet that has sent many wrong codes still casts a real ballot, in the same batch as its guesses."""
    built = make_round(session, world, until="open", issue=2)
    now_failing = [casting.Cast(tokens.code_of(tokens.new_secret()), b"\x01" * 4, f"guess-{i:012d}", built.id,
                                tablet="tablet:x", address="10.0.0.4") for i in range(12)]
    real = casting.Cast(built.codes[0], b"\x01" * 4, "real-submission-0001", built.id, tablet="tablet:x",
                        address="10.0.0.4")
    outcomes = casting.cast_ballots(session, [*now_failing, real])
    assert outcomes[-1] == casting.RECORDED
    assert [o.delay for o in outcomes[:-1]] == [0, 0, 0, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0]


def test_a_name_changed_while_voting_is_open_leaves_the_ballot_as_printed(session, world):
    built = make_round(session, world, until="open", issue=3)
    seat = next(m for m in world.commune.memberships if m.person.full_name == "Nguyễn Văn Hùng")
    committees.update_member(session, seat, full_name="Nguyễn Văn Hưng", post=seat.post,
                             editor=world.accounts["organizer"], actor="test")
    view = casting.show_ballot(session, code=built.codes[0])
    assert view.candidates[0][0] == "Nguyễn Văn Hùng"  # as on the paper sheets printed at issue
    assert printing.sheet_of(built.round).candidates[0][0] == "Nguyễn Văn Hùng"
    # control: a round still in draft shows the person's name as it is now
    draft = make_round(session, world, title="Vòng sau").round
    assert draft.candidates[0].name == "Nguyễn Văn Hưng"

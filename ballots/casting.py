"""Voting on a tablet: opening and closing a round, showing a ballot, casting it exactly once.

Takes a Session, flushes, never commits: the caller commits before the tablet says "recorded" (durability).
A cast spends the token with one conditional UPDATE (the condition lives in the UPDATE, so two tablets with
the same sheet cannot both win, on SQLite or PostgreSQL) and inserts an anonymous ballot: a random id, its round
and its marks, nothing that links it to the token, the tablet or the time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets as random_source
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from . import audit, tokens
from .errors import (
    N_,
    BallotAlreadyUsed,
    BallotVoided,
    Conflict,
    InvalidInput,
    InvalidMarks,
    KioskThrottled,
    RoundNotOpen,
    WrongRound,
)
from .issuing import UnknownBallot
from .models import Ballot, Candidate, KioskFailure, Round, Token, utcnow
from .tally import HIGH, LOW, NONE, TRUST

TABLET_MARKS = frozenset((NONE, HIGH, TRUST, LOW))  # a tablet cannot tick two boxes
SUBMISSION = re.compile(r"[A-Za-z0-9_-]{16,64}")


def open_voting(session: Session, round_: Round, *, actor: str) -> None:
    """Open an issued round for casting. Raises Conflict unless the round's ballots are issued."""
    if round_.state != "issued":
        raise Conflict(N_("Only a round whose ballots are issued can be opened for voting."))
    round_.state = "open"
    session.flush()
    audit.record(session, actor=actor, action="round.open", subject=f"round:{round_.id}")


def close_voting(session: Session, round_: Round, *, actor: str) -> None:
    """Close casting. On PostgreSQL the ballot and token tables are rewritten in the order of their ids, so
    that no row's place in the file tells when it was written (SQLite's ballot table has no rowid and keeps
    its rows in id order, and updates tokens in place). Raises RoundNotOpen."""
    if round_.state != "open":
        raise RoundNotOpen()
    round_.state = "closed"
    session.flush()
    audit.record(session, actor=actor, action="round.close", subject=f"round:{round_.id}")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("CLUSTER ballot USING pk_ballot"))
        session.execute(text("CLUSTER token USING pk_token"))


@dataclass(frozen=True)
class BallotView:
    """What a tablet shows: the round and its candidates, and what an unmarked row means under its rule set."""

    round_id: int
    committee: str
    conference: str
    title: str
    candidates: tuple[tuple[str, str], ...]
    invalid_mark_policy: str  # "ballot": an unmarked row voids the whole ballot; "row": only that row


def _token_row(session: Session, secret_hash: bytes):
    row = session.execute(select(Token.id, Token.round_id, Token.state, Token.submission_hash)
                          .where(Token.secret_hash == secret_hash)).first()
    if row is None:
        raise UnknownBallot()
    return row


def _refuse_unusable(row, round_: Round, kiosk_round: int | None) -> None:
    if kiosk_round is not None and row.round_id != kiosk_round:
        raise WrongRound()
    if row.state == "void":
        raise BallotVoided()
    if row.state == "cast":
        raise BallotAlreadyUsed()
    if round_.state != "open":
        raise RoundNotOpen()


def show_ballot(session: Session, *, code: str, kiosk_round: int | None = None) -> BallotView:
    """The ballot a code opens, if it may be cast now. Writes nothing.

    Raises MalformedCode, UnknownBallot, WrongRound, BallotVoided, BallotAlreadyUsed, RoundNotOpen.
    """
    row = _token_row(session, tokens.hash_secret(tokens.secret_of(code)))
    round_ = session.get(Round, row.round_id)
    _refuse_unusable(row, round_, kiosk_round)
    return BallotView(round_id=round_.id, committee=round_.conference.committee.name,
                      conference=round_.conference.name, title=round_.title,
                      candidates=tuple((c.person.full_name, c.post) for c in round_.candidates),
                      invalid_mark_policy=round_.invalid_mark_policy)


def submission_hash(submission: str) -> bytes:
    if not isinstance(submission, str) or not SUBMISSION.fullmatch(submission):
        raise InvalidInput(N_("The submission id must be 16 to 64 letters, digits, dashes or underscores."))
    return hashlib.sha256(submission.encode()).digest()


def parse_marks(marks: str | list) -> bytes:
    """Marks as sent by a tablet: a string such as "1230" or a list of integers, one per candidate."""
    if isinstance(marks, str) and marks.isdigit() and marks.isascii():
        values = [int(ch) for ch in marks]
    elif isinstance(marks, list) and all(type(v) is int for v in marks):
        values = marks
    else:
        raise InvalidMarks()
    if not values or any(v not in TABLET_MARKS for v in values):
        raise InvalidMarks()
    return bytes(values)


RECORDED, ALREADY_RECORDED = "recorded", "already_recorded"


def cast_ballot(
    session: Session, *, code: str, marks: bytes, submission: str, kiosk_round: int | None = None
) -> str:
    """Spend the token and record its ballot; return RECORDED, or ALREADY_RECORDED for a retry of the same
    submission (the ballot table is not touched then). The caller commits before telling the voter.

    Raises MalformedCode and InvalidInput before any lookup; then UnknownBallot, WrongRound, BallotVoided,
    BallotAlreadyUsed (another submission spent it), RoundNotOpen, InvalidMarks (not one per candidate).
    """
    secret_hash = tokens.hash_secret(tokens.secret_of(code))
    ours = submission_hash(submission)
    row = _token_row(session, secret_hash)
    if row.state == "cast" and row.submission_hash == ours and (kiosk_round is None or row.round_id == kiosk_round):
        return ALREADY_RECORDED
    # share-lock the round: it cannot be closed between this check and the commit
    round_ = session.execute(select(Round).where(Round.id == row.round_id).with_for_update(read=True)
                             .execution_options(populate_existing=True)).scalar_one()  # the locked row, not a copy
    _refuse_unusable(row, round_, kiosk_round)
    candidates = session.scalar(select(func.count()).select_from(Candidate).where(Candidate.round_id == round_.id))
    if len(marks) != candidates or any(m not in TABLET_MARKS for m in marks):
        raise InvalidMarks()
    spent = session.execute(
        update(Token)
        .where(Token.secret_hash == secret_hash, Token.state == "issued", Token.round_id == round_.id)
        .values(state="cast", submission_hash=ours)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        # another tablet spent it since the check above; if it was this very submission, say so
        again = session.execute(select(Token.state, Token.submission_hash)
                                .where(Token.secret_hash == secret_hash)).one()
        if again.state == "cast" and again.submission_hash == ours:
            return ALREADY_RECORDED
        raise BallotVoided() if again.state == "void" else BallotAlreadyUsed()
    session.add(Ballot(id=random_source.token_bytes(16), round_id=round_.id, marks=marks))
    # content-free and untimed: the log says a ballot was cast in this round, nothing else
    audit.record(session, actor="kiosk", action="ballot.cast", subject=f"round:{round_.id}", timed=False)
    return RECORDED


@dataclass(frozen=True)
class Turnout:
    issued: int
    cast: int
    remaining: int


def turnout(session: Session, round_: Round) -> Turnout:
    """Ballots issued (less voided), cast on tablets, and not yet used: counts only, never content."""
    by_state = dict(session.execute(select(Token.state, func.count()).where(Token.round_id == round_.id)
                                    .group_by(Token.state)).all())
    cast, unused = by_state.get("cast", 0), by_state.get("issued", 0)
    return Turnout(issued=cast + unused, cast=cast, remaining=unused)


MAX_FAILURES_PER_TABLET = 10
MAX_FAILURES_PER_ADDRESS = 500  # a venue's tablets may all share one address behind its Wi-Fi router
FAILURE_WINDOW = dt.timedelta(minutes=5)


def check_guessing(session: Session, *, tablet: str, address: str, now: dt.datetime | None = None) -> None:
    """Raise KioskThrottled if this tablet session (or, far more generously, its address) has sent too many
    codes that matched no ballot lately. Other tablets behind the same address are not held up."""
    since = (now or utcnow()) - FAILURE_WINDOW
    # one query for both counts: this runs before every cast, the hot path
    by_tablet, by_address = session.execute(
        select(func.count().filter(KioskFailure.tablet == tablet), func.count().filter(KioskFailure.address == address))
        .where(KioskFailure.at > since, or_(KioskFailure.tablet == tablet, KioskFailure.address == address))
    ).one()
    if by_tablet >= MAX_FAILURES_PER_TABLET or by_address >= MAX_FAILURES_PER_ADDRESS:
        raise KioskThrottled(minutes=int(FAILURE_WINDOW.total_seconds() // 60))


def record_guess(session: Session, *, tablet: str, address: str, now: dt.datetime | None = None) -> None:
    """Remember a code that matched no ballot (its own transaction's business: the caller commits it)."""
    now = now or utcnow()
    session.execute(delete(KioskFailure).where(KioskFailure.at < now - FAILURE_WINDOW))
    session.add(KioskFailure(tablet=tablet[:64], address=address[:64], at=now))
    session.flush()

"""Voting on a tablet: opening and closing a round, showing a ballot, casting it exactly once.

Takes a Session, flushes, never commits: the caller commits before the tablet says "recorded" (durability).
A cast spends the token with one conditional UPDATE (the condition lives in the UPDATE, so two tablets with
the same sheet cannot both win, on SQLite or PostgreSQL) and stores its ballot sealed to the round's key
(ballots.ballot_box): a random id, its round and the sealed bytes. The same transaction writes both, and
whoever holds the database can join them (PostgreSQL's xmin, the WAL), so the marks are never written readable
until the board opens the box after the close.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause, bindparam, select, text
from sqlalchemy.orm import Session

from . import audit, ballot_box, guessing, tokens
from .errors import (
    N_,
    BallotAlreadyUsed,
    BallotError,
    BallotVoided,
    InvalidInput,
    InvalidMarks,
    RoundNotIssued,
    RoundNotOpen,
    RoundNotSealed,
    UnknownBallot,
    WrongRound,
)
from .lifecycle import RoundState, TokenState, advance, require_state
from .models import BallotBox, Candidate, Round, Token
from .tally import HIGH, LOW, NONE, TRUST

TABLET_MARKS = frozenset((NONE, HIGH, TRUST, LOW))  # a tablet cannot tick two boxes
SUBMISSION = re.compile(r"[A-Za-z0-9_-]{16,64}")


def open_voting(session: Session, round_: Round, *, actor: str) -> None:
    """Open an issued round for casting. Raises RoundNotIssued unless the round's ballots are issued."""
    require_state(round_, RoundState.ISSUED, refusal=RoundNotIssued)
    advance(round_, RoundState.OPEN)
    session.flush()
    audit.record(session, actor=actor, action="round.open", subject=f"round:{round_.id}")


def close_voting(session: Session, round_: Round, *, actor: str) -> None:
    """Close casting, and record how many sealed ballots the box holds and their digest (the opening must find
    exactly these). Raises RoundNotOpen."""
    require_state(round_, RoundState.OPEN, refusal=RoundNotOpen)
    advance(round_, RoundState.CLOSED)
    session.flush()
    audit.record(session, actor=actor, action="round.close", subject=f"round:{round_.id}")
    if ballot_box.box_of(session, round_) is not None:
        ballot_box.record_close(session, round_, actor=actor)


@dataclass(frozen=True)
class BallotView:
    """What a tablet shows: the round and its candidates, and what an unmarked row means under its rule set."""

    round_id: int
    committee: str
    conference: str
    title: str
    candidates: tuple[tuple[str, str], ...]
    invalid_mark_policy: str  # "ballot": an unmarked row voids the whole ballot; "row": only that row


def _unusable(*, token_round: int, token_state: str, round_state: str, kiosk_round: int | None) -> BallotError | None:
    """Why a known ballot cannot be cast now, in the order a voter needs to hear it (another round's ballot,
    voided, already used, voting not open), or None when it can."""
    if kiosk_round is not None and token_round != kiosk_round:
        return WrongRound()
    if token_state == TokenState.VOID:
        return BallotVoided()
    if token_state == TokenState.CAST:
        return BallotAlreadyUsed()
    if round_state != RoundState.OPEN:
        return RoundNotOpen()
    return None


def show_ballot(session: Session, *, code: str, kiosk_round: int | None = None) -> BallotView:
    """The ballot a code opens, if it may be cast now. Writes nothing.

    Raises MalformedCode, UnknownBallot, WrongRound, BallotVoided, BallotAlreadyUsed, RoundNotOpen,
    RoundNotSealed.
    """
    secret_hash = tokens.hash_secret(tokens.secret_of(code))
    row = session.execute(select(Token.round_id, Token.state).where(Token.secret_hash == secret_hash)).first()
    if row is None:
        raise UnknownBallot()
    round_ = session.get(Round, row.round_id)
    refusal = _unusable(token_round=row.round_id, token_state=row.state, round_state=round_.state,
                        kiosk_round=kiosk_round)
    if refusal is not None:
        raise refusal
    if session.get(BallotBox, round_.id) is None:
        raise RoundNotSealed()
    return BallotView(round_id=round_.id, committee=round_.conference.committee.name,
                      conference=round_.conference.name, title=round_.title,
                      candidates=tuple((c.name, c.post) for c in round_.candidates),
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


@dataclass(frozen=True)
class Cast:
    """One tablet's cast, as sent: the code, its marks (parsed), the random id of this submission, and the round
    the kiosk serves (None from a camera app's page, which serves any round)."""

    code: str
    marks: bytes
    submission: str
    kiosk_round: int | None = None
    tablet: str | None = None  # the tablet session (app.kiosk.tablets), to throttle guessing; None: not throttled here
    address: str = ""


_token = Token.__table__
_round = Round.__table__
_candidate = Candidate.__table__
_box = BallotBox.__table__


def _spend_statement(dialect: str, casts: int) -> TextClause:
    """The one statement that spends the tokens of a batch of `casts` casts, each one's conditions in its WHERE:
    the token is issued (so two tablets with the same sheet cannot both win), of the kiosk's round when the cast
    names one, its round open (share-locked on PostgreSQL: it cannot be closed before this transaction commits;
    on SQLite BEGIN IMMEDIATE holds the write lock), the round has a ballot box to seal the ballot in, and the
    marks one per candidate. Takes one cast per code (else the database would let any of them win); returns each
    token it spent with the submission that spent it. A cast it did not spend is explained by `_refusal`.

    One statement for the batch rather than one a cast: on PostgreSQL each statement is a round trip, and the
    statements, not the sealing, were most of a cast's cost."""
    binary = "bytea" if dialect == "postgresql" else "blob"
    share = " FOR SHARE" if dialect == "postgresql" else ""
    rows = ", ".join(f"(CAST(:hash{i} AS {binary}), CAST(:ours{i} AS {binary}), CAST(:candidates{i} AS integer), "
                     f"CAST(:kiosk_round{i} AS integer))" for i in range(casts))
    return text(
        f"WITH cast_in (hash, ours, candidates, kiosk_round) AS (VALUES {rows}) "
        f"UPDATE {_token.name} SET state = '{TokenState.CAST}', submission_hash = cast_in.ours FROM cast_in "
        f"WHERE {_token.name}.secret_hash = cast_in.hash AND {_token.name}.state = '{TokenState.ISSUED}' "
        f"AND (cast_in.kiosk_round IS NULL OR {_token.name}.round_id = cast_in.kiosk_round) "
        f"AND EXISTS (SELECT 1 FROM {_round.name} WHERE {_round.name}.id = {_token.name}.round_id "
        f"AND {_round.name}.state = '{RoundState.OPEN}'{share}) "
        f"AND EXISTS (SELECT 1 FROM {_box.name} WHERE {_box.name}.round_id = {_token.name}.round_id) "
        f"AND (SELECT count(*) FROM {_candidate.name} WHERE {_candidate.name}.round_id = {_token.name}.round_id) "
        f"= cast_in.candidates "
        f"RETURNING {_token.name}.secret_hash, {_token.name}.round_id, {_token.name}.submission_hash")


@functools.cache
def _spend(dialect: str, casts: int) -> TextClause:
    """Built once for each batch size (at most the group commit's largest batch): SQLAlchemy caches their
    compiled form, so a batch pays for no statement construction."""
    return _spend_statement(dialect, casts)


def _spend_tokens(session: Session, casts: list[tuple[Cast, bytes, bytes]]) -> dict[bytes, tuple[int, bytes]]:
    """Spend the tokens of these casts (each with its secret's hash and its submission's) in one statement;
    return the tokens spent, by secret hash: their round and the submission that spent them."""
    if not casts:
        return {}
    params = {}
    for i, (cast, secret_hash, ours) in enumerate(casts):
        params.update({f"hash{i}": secret_hash, f"ours{i}": ours, f"candidates{i}": len(cast.marks),
                       f"kiosk_round{i}": cast.kiosk_round})
    statement = _spend(session.get_bind().dialect.name, len(casts))
    return {bytes(row.secret_hash): (row.round_id, bytes(row.submission_hash))
            for row in session.execute(statement, params)}


_EXPLAIN = (select(_token.c.round_id, _token.c.state, _token.c.submission_hash, _round.c.state.label("round_state"),
                   select(_box.c.round_id).where(_box.c.round_id == _token.c.round_id).exists().label("has_box"))
            .join_from(_token, _round, _round.c.id == _token.c.round_id)
            .where(_token.c.secret_hash == bindparam("secret_hash")))


def _refusal(session: Session, cast: Cast, secret_hash: bytes, ours: bytes) -> str | BallotError:
    """Why the spending UPDATE matched no row, read in the same transaction: ALREADY_RECORDED for a retry of the
    same submission, else the refusal in the order a voter needs it (unknown, wrong round, voided, used, round
    not open, no ballot box, marks)."""
    row = session.execute(_EXPLAIN, {"secret_hash": secret_hash}).first()
    if row is None:
        return UnknownBallot()
    if row.state == TokenState.CAST and row.submission_hash == ours and cast.kiosk_round in (None, row.round_id):
        return ALREADY_RECORDED
    unusable = _unusable(token_round=row.round_id, token_state=row.state, round_state=row.round_state,
                         kiosk_round=cast.kiosk_round)
    if unusable is None and not row.has_box:  # issued before tablet ballots were sealed, or its box removed
        return RoundNotSealed()
    return unusable or InvalidMarks()


def _tablet_marks(cast: Cast) -> bool:
    return bool(cast.marks) and all(m in TABLET_MARKS for m in cast.marks)


def cast_ballots(session: Session, casts: Sequence[Cast]) -> list[str | BallotError]:
    """Spend each cast's token and record its ballot, all in the session's transaction, so that casts arriving
    together share one commit; return, for each cast in order, RECORDED, ALREADY_RECORDED (a retry of the same
    submission: the ballot table is not touched) or the BallotError that refuses it (MalformedCode,
    InvalidInput, UnknownBallot, WrongRound, BallotVoided, BallotAlreadyUsed, RoundNotOpen, InvalidMarks), for
    which nothing was written but, for a code that matched no ballot from a cast that names its tablet, the guess
    that the throttle counts (the UnknownBallot then carries the seconds its answer is held: ballots.guessing).
    Every code is looked up, whatever its tablet sent before: a ballot that can be cast always is. Flushes, never
    commits: the caller commits before telling any voter.

    The batch's tokens are spent by one conditional UPDATE (each token by exactly one cast); each accepted cast adds
    one sealed ballot (a random id, its round and its marks sealed to the round's key: no token, no time, nothing
    readable); each round of the batch one content-free, untimed audit entry that counts them.
    """
    checked: list[tuple[Cast, bytes, bytes] | BallotError] = []
    for cast in casts:
        try:
            checked.append((cast, tokens.hash_secret(tokens.secret_of(cast.code)), submission_hash(cast.submission)))
        except BallotError as exc:  # malformed input: refused before any lookup
            checked.append(exc)
    # a code's first cast in the batch is the one that may spend it, as if the casts had come one after another
    first_of_each_code = {c[1]: c for c in reversed(checked) if not isinstance(c, BallotError) and _tablet_marks(c[0])}
    spent = _spend_tokens(session, list(first_of_each_code.values()))
    outcomes: list[str | BallotError] = []
    accepted: list[tuple[int, bytes]] = []
    per_round: dict[int, int] = {}
    guesses = None  # the recent failures of the batch's tablets: read once, and only if a code matches nothing
    for item in checked:
        if isinstance(item, BallotError):
            outcomes.append(item)
            continue
        cast, secret_hash, ours = item
        round_id, spender = spent.get(secret_hash, (None, None))
        if spender == ours:  # this cast spent the token: it alone records a ballot (a twin retry is told so below)
            del spent[secret_hash]
            accepted.append((round_id, cast.marks))
            per_round[round_id] = per_round.get(round_id, 0) + 1
            outcomes.append(RECORDED)
            continue
        refusal = _refusal(session, cast, secret_hash, ours)
        if isinstance(refusal, UnknownBallot) and cast.tablet is not None:
            if guesses is None:
                guesses = guessing.Guesses(session, [(c.tablet, c.address) for c in casts if c.tablet is not None])
            refusal.delay = guesses.fail(session, cast.tablet, cast.address)  # recorded with the batch
        outcomes.append(refusal)
    if accepted:
        ballot_box.seal_casts(session, accepted)
        # content-free and untimed: the log says how many ballots a batch cast in a round, nothing else (one entry
        # a batch: what a batch holds is no secret from the database, whose transaction ids group it anyway)
        for round_id, count in sorted(per_round.items()):
            audit.record(session, actor="kiosk", action="ballot.cast", subject=f"round:{round_id}", timed=False,
                         details={"ballots": count})
    return outcomes


def cast_ballot(
    session: Session, *, code: str, marks: bytes, submission: str, kiosk_round: int | None = None
) -> str:
    """Spend the token and record its ballot; return RECORDED, or ALREADY_RECORDED for a retry of the same
    submission (the ballot table is not touched then). The caller commits before telling the voter.

    Raises MalformedCode and InvalidInput before any lookup; then UnknownBallot, WrongRound, BallotVoided,
    BallotAlreadyUsed (another submission spent it), RoundNotOpen, InvalidMarks (not one per candidate).
    A refused cast may have run its UPDATE (which matched nothing): the caller rolls back, as on any error.
    """
    (outcome,) = cast_ballots(session, [Cast(code, marks, submission, kiosk_round)])
    if isinstance(outcome, BallotError):
        raise outcome
    return outcome

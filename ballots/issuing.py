"""Issuing ballots (one-time tokens), voiding lost or spoiled ones, and the board's accounting of them.

Takes a Session, flushes, never commits. The secrets are returned to the caller, which prints them in the same
request; the database keeps only their hashes, so a lost batch is voided and new ballots issued, never reprinted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from . import audit, ballot_box, tokens
from .accounting import has_quorum, live_count
from .errors import (
    N_,
    BallotNotVoidable,
    CandidateDeparted,
    InvalidInput,
    IssuingClosed,
    QuorumNotMet,
    TooManyBallots,
    UnknownBallot,
)
from .fields import one_line
from .lifecycle import ISSUING, TOKEN_STATE_WORDS, RoundState, TokenState, advance, require_state
from .models import IssueBatch, Round, Token

PAPERS = ("A4", "A5")
MAX_BATCH = 5000


@dataclass(frozen=True)
class Issued:
    batch: IssueBatch
    secrets: list[bytes]
    box: ballot_box.Made | None = None  # with the first batch: the ballot box and its key cards, to print now


def check_can_issue(session: Session, round_: Round, count: int) -> None:
    """Raise the refusal that issuing `count` ballots would meet, or return. Writes nothing."""
    require_state(round_, *ISSUING, refusal=IssuingClosed)
    if not 1 <= count <= MAX_BATCH:
        raise InvalidInput(N_("Issue between 1 and %(max)s ballots at a time."), max=MAX_BATCH)
    if not round_.candidates:
        raise InvalidInput(N_("The round has no candidate to print on its ballots."))
    if not round_.board:
        raise InvalidInput(N_("The round has no counting board: name it before issuing ballots."))
    if round_.state == RoundState.DRAFT:  # the first batch fixes the names: none of someone who left the committee
        seated = {seat.person_id for seat in round_.conference.committee.memberships}
        departed = [c.person.full_name for c in round_.candidates if c.person_id not in seated]
        if departed:
            raise CandidateDeparted(names=", ".join(departed), committee=round_.conference.committee.name)
    if not has_quorum(round_.convened, round_.present):
        raise QuorumNotMet(present=round_.present, convened=round_.convened)
    total = live_count(session, round_) + count
    if total > round_.present + round_.spares:
        raise TooManyBallots(count=count, total=total, present=round_.present, spares=round_.spares)


def issue_ballots(session: Session, round_: Round, *, count: int, paper: str = "A4", actor: str) -> Issued:
    """Create `count` tokens for the round and return their secrets (to print now, never again).

    Checks the state, the quorum (3*present >= 2*convened) and that live ballots stay within present + spares.
    Records the batch's digest and the round's commitment over all its tokens, and an audit entry. The first
    batch also fixes the names on the ballot and makes the ballot box, whose key cards it returns.
    Raises IssuingClosed, QuorumNotMet, TooManyBallots, InvalidInput.
    """
    if paper not in PAPERS:
        raise InvalidInput(N_("Unknown paper size: %(value)s."), value=paper)
    check_can_issue(session, round_, count)
    secrets = [tokens.new_secret() for _ in range(count)]
    hashes = [tokens.hash_secret(secret) for secret in secrets]
    batch = IssueBatch(round_id=round_.id, count=count, paper=paper, commitment=tokens.commitment(hashes),
                       issued_by=actor)
    session.add(batch)
    session.flush()
    # one multi-row INSERT in hash order, not in the order the sheets are printed: an id says nothing of a sheet
    session.execute(insert(Token), [{"round_id": round_.id, "batch_id": batch.id, "secret_hash": h,
                                     "state": "issued"} for h in sorted(hashes)])
    round_.commitment = tokens.commitment(
        session.scalars(select(Token.secret_hash).where(Token.round_id == round_.id)))
    made = None
    if round_.state == RoundState.DRAFT:
        advance(round_, RoundState.ISSUED)
        _fix_names(round_)
        made = ballot_box.make_box(session, round_, actor=actor)
    session.flush()
    audit.record(session, actor=actor, action="ballots.issue", subject=f"round:{round_.id}",
                 details={"batch": batch.id, "count": count, "paper": paper, "batch_commitment": batch.commitment,
                          "round_commitment": round_.commitment})
    return Issued(batch, secrets, made)


def _fix_names(round_: Round) -> None:
    """The names printed on the first ballots are the round's from then on: a later rename of a person changes
    neither what a tablet shows nor the result."""
    for candidate in round_.candidates:
        candidate.printed_name = candidate.person.full_name


def void_ballot(session: Session, round_: Round, *, code: str, reason: str, actor: str) -> None:
    """Void an unused ballot of the round (a lost or spoiled sheet), by its typed or scanned code.

    Raises MalformedCode (a typo, before any lookup), UnknownBallot (no such ballot in this round),
    BallotNotVoidable (already cast or voided), IssuingClosed, InvalidInput (no reason).
    """
    reason = one_line(reason)
    if not reason:
        raise InvalidInput(N_("Say why the ballot is voided."))
    if len(reason) > 200:
        raise InvalidInput(N_("The reason is longer than %(limit)s characters."), limit=200)
    secret_hash = tokens.hash_secret(tokens.secret_of(code))
    require_state(round_, *ISSUING, refusal=IssuingClosed)
    voided = session.execute(
        update(Token).where(Token.secret_hash == secret_hash, Token.round_id == round_.id, Token.state == "issued")
        .values(state="void", void_reason=reason)
    ).rowcount
    if voided != 1:
        state = session.scalar(select(Token.state).where(Token.secret_hash == secret_hash,
                                                         Token.round_id == round_.id))
        if state is None:
            raise UnknownBallot()
        raise BallotNotVoidable(state=TOKEN_STATE_WORDS[TokenState(state)])
    # no time and no token: the entry says a ballot of the round was voided, and why
    audit.record(session, actor=actor, action="ballot.void", subject=f"round:{round_.id}",
                 details={"reason": reason}, timed=False)

"""Issuing ballots (one-time tokens), voiding lost or spoiled ones, and the board's accounting of them.

Takes a Session, flushes, never commits. The secrets are returned to the caller, which prints them in the same
request; the database keeps only their hashes, so a lost batch is voided and new ballots issued, never reprinted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from . import audit, tokens
from .errors import (
    N_,
    BallotNotVoidable,
    InvalidInput,
    IssuingClosed,
    QuorumNotMet,
    TooManyBallots,
    UnknownBallot,
)
from .models import IssueBatch, Round, Token

# issuing in draft moves the round on; spares can be issued later while the vote is still open
ISSUING_STATES = ("draft", "issued", "open")
# the words a refusal uses for the state it met
STATE_WORDS = {"draft": N_("in draft"), "issued": N_("issued, not yet open"), "open": N_("open for voting"),
               "closed": N_("closed"), "counted": N_("counted"), "sealed": N_("sealed"),
               "published": N_("published"), "cast": N_("cast"), "void": N_("voided")}
PAPERS = ("A4", "A5")
MAX_BATCH = 5000


@dataclass(frozen=True)
class Issued:
    batch: IssueBatch
    secrets: list[bytes]


def live_count(session: Session, round_: Round) -> int:
    """Ballots issued and not voided."""
    return session.scalar(select(func.count()).select_from(Token)
                          .where(Token.round_id == round_.id, Token.state != "void"))


def check_can_issue(session: Session, round_: Round, count: int) -> None:
    """Raise the refusal that issuing `count` ballots would meet, or return. Writes nothing."""
    if round_.state not in ISSUING_STATES:
        raise IssuingClosed(state=STATE_WORDS[round_.state])
    if not 1 <= count <= MAX_BATCH:
        raise InvalidInput(N_("Issue between 1 and %(max)s ballots at a time."), max=MAX_BATCH)
    if not round_.candidates:
        raise InvalidInput(N_("The round has no candidate to print on its ballots."))
    if not round_.board:
        raise InvalidInput(N_("The round has no counting board: name it before issuing ballots."))
    if not round_.has_quorum:
        raise QuorumNotMet(present=round_.present, convened=round_.convened)
    total = live_count(session, round_) + count
    if total > round_.present + round_.spares:
        raise TooManyBallots(count=count, total=total, present=round_.present, spares=round_.spares)


def issue_ballots(session: Session, round_: Round, *, count: int, paper: str = "A4", actor: str) -> Issued:
    """Create `count` tokens for the round and return their secrets (to print now, never again).

    Checks the state, the quorum (3*present >= 2*convened) and that live ballots stay within present + spares.
    Records the batch's digest and the round's commitment over all its tokens, and an audit entry.
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
    if round_.state == "draft":
        round_.state = "issued"
    session.flush()
    audit.record(session, actor=actor, action="ballots.issue", subject=f"round:{round_.id}",
                 details={"batch": batch.id, "count": count, "paper": paper, "batch_commitment": batch.commitment,
                          "round_commitment": round_.commitment})
    return Issued(batch, secrets)


def void_ballot(session: Session, round_: Round, *, code: str, reason: str, actor: str) -> None:
    """Void an unused ballot of the round (a lost or spoiled sheet), by its typed or scanned code.

    Raises MalformedCode (a typo, before any lookup), UnknownBallot (no such ballot in this round),
    BallotNotVoidable (already cast or voided), IssuingClosed, InvalidInput (no reason).
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(N_("Say why the ballot is voided."))
    if len(reason) > 200:
        raise InvalidInput(N_("The reason is longer than %(limit)s characters."), limit=200)
    secret_hash = tokens.hash_secret(tokens.secret_of(code))
    if round_.state not in ISSUING_STATES:
        raise IssuingClosed(state=STATE_WORDS[round_.state])
    voided = session.execute(
        update(Token).where(Token.secret_hash == secret_hash, Token.round_id == round_.id, Token.state == "issued")
        .values(state="void", void_reason=reason)
    ).rowcount
    if voided != 1:
        state = session.scalar(select(Token.state).where(Token.secret_hash == secret_hash,
                                                         Token.round_id == round_.id))
        if state is None:
            raise UnknownBallot()
        raise BallotNotVoidable(state=STATE_WORDS[state])
    # no time and no token: the entry says a ballot of the round was voided, and why
    audit.record(session, actor=actor, action="ballot.void", subject=f"round:{round_.id}",
                 details={"reason": reason}, timed=False)


@dataclass(frozen=True)
class Accounting:
    printed: int
    voided: int
    cast: int
    unused: int
    present: int
    spares: int

    @property
    def issued(self) -> int:
        """Ballots issued and not voided: what the minutes call "phiếu phát ra"."""
        return self.printed - self.voided

    @property
    def room(self) -> int:
        """How many more ballots may still be issued."""
        return max(0, self.present + self.spares - self.issued)


def accounting(session: Session, round_: Round) -> Accounting:
    """The board's numbers for the round's ballots, by state."""
    by_state = dict(session.execute(select(Token.state, func.count()).where(Token.round_id == round_.id)
                                    .group_by(Token.state)).all())
    return Accounting(
        printed=sum(by_state.values()),
        voided=by_state.get("void", 0),
        cast=by_state.get("cast", 0),
        unused=by_state.get("issued", 0),
        present=round_.present,
        spares=round_.spares,
    )

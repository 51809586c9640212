"""Publication: publishing a sealed result to its round's audience, reading it, every reading audited.

Takes a Session, flushes, never commits. Who is in the audience is decided by ballots.authority (the round's
setting; QĐ 96 leaves it "as prescribed", and the default is the committee itself and its direct upper-level
committee): before publication nobody reads a number here (the counting board works on its own pages); after it,
only the audience, and an administrator sees nothing by being one. A rated person in the audience reads their
own rows only.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, results
from .authority import EVERYTHING, OWN_ROWS, can_publish, reach, reach_of_round
from .errors import N_, AlreadyPublished, NotInAudience, NotPublisher, NotSealed
from .lifecycle import RoundState, advance, require_state
from .models import (
    Account,
    BoardMember,
    Candidate,
    Committee,
    Conference,
    ImportedResult,
    Publication,
    Result,
    Round,
    utcnow,
)

PUBLISHER_WORDS = {"board": N_("the counting board"), "organizer": N_("the committee's organizers")}


def publish(session: Session, round_: Round, *, account: Account, now: dt.datetime | None = None) -> None:
    """Publish a sealed result to the round's audience. Raises NotPublisher, Conflict (not sealed, or already
    published)."""
    if not can_publish(account, round_):
        raise NotPublisher(who=PUBLISHER_WORDS[round_.publisher])
    if round_.state == RoundState.PUBLISHED:
        raise AlreadyPublished()
    require_state(round_, RoundState.SEALED, refusal=NotSealed)
    now = now or utcnow()
    advance(round_, RoundState.PUBLISHED)
    session.add(Publication(round_id=round_.id, published_by=account.username, published_at=now))
    session.flush()
    audit.record(session, actor=account.username, action="result.publish", subject=f"round:{round_.id}",
                 details={"audience": list(round_.audience)}, now=now)


@dataclass(frozen=True)
class Reading:
    """A published result as one reader may see it."""

    round: Round
    document: dict
    envelope: dict
    digest: str
    reach: str
    own_positions: frozenset[int]  # for OWN_ROWS: the reader's own rows (1-based positions)


def read_result(session: Session, round_: Round, *, account: Account, what: str = "view") -> Reading:
    """The published result for this reader; the reading (or download, `what`) is audited with who and when.

    Raises NotInAudience (not published, or not to this account).
    """
    level = reach_of_round(account, round_)
    if level is None:
        raise NotInAudience()
    result = session.get(Result, round_.id)
    document = json.loads(result.document)
    own = frozenset()
    if level == OWN_ROWS:
        own = frozenset(c.position for c in round_.candidates if c.person_id == account.person_id)
        document = own_rows(document, own)
    audit.record(session, actor=account.username, action=f"result.{what}", subject=f"round:{round_.id}")
    return Reading(round_, document, results.envelope_of(result), result.digest, level, own)


def read_imported(session: Session, found: ImportedResult, *, account: Account) -> dict:
    """A result imported from another instance, for a reader in its audience; audited. Raises NotInAudience."""
    if reach(account, found.committee, found.audience, set()) != EVERYTHING:
        raise NotInAudience()
    audit.record(session, actor=account.username, action="result.view", subject=f"imported:{found.id}")
    return json.loads(found.document)


def own_rows(document: dict, positions: frozenset[int]) -> dict:
    """The document with only the given candidates' rows (what a rated person reads of their own result)."""
    return {**document, "candidates": [c for c in document["candidates"] if c["position"] in positions]}


def published_rounds(session: Session, account: Account) -> list[tuple[Round, str]]:
    """The published rounds this account may read, newest conference first, with what it may read of each.

    The query only narrows the rounds down to those near the account's grants, its person and its boards; who
    reads what is decided for each by authority.reach_of_round."""
    committee_ids = {g.committee_id for g in account.grants if g.role in ("viewer", "teller")}
    # a viewer reads from above: the committees below theirs, at any depth (an audience may name every upper level)
    below = (select(Committee.id).where(Committee.parent_id.in_(
        {g.committee_id for g in account.grants if g.role == "viewer"})).cte("below", recursive=True))
    below = below.union_all(select(Committee.id).where(Committee.parent_id == below.c.id))
    query = (select(Round).join(Conference).where(Round.state == "published")
             .where(Conference.committee_id.in_(committee_ids) | Conference.committee_id.in_(select(below.c.id))
                    | Round.id.in_(select(Candidate.round_id).where(Candidate.person_id == account.person_id))
                    | Round.id.in_(select(BoardMember.round_id).where(BoardMember.account_id == account.id)))
             .order_by(Conference.held_on.desc(), Round.id.desc()))
    visible = []
    for round_ in session.scalars(query):
        level = reach_of_round(account, round_)
        if level is not None:
            visible.append((round_, level))
    return visible


def other_results(session: Session, round_: Round, account: Account, positions) -> dict[int, list[Round]]:
    """For each candidate row (by position) of the round: the same person's other published results this
    account may read, as links from one result to the next."""
    people = {c.person_id: c.position for c in round_.candidates if c.position in positions}
    found: dict[int, list[Round]] = {}
    query = (select(Candidate.person_id, Round).join(Round, Round.id == Candidate.round_id)
             .where(Candidate.person_id.in_(people), Round.id != round_.id, Round.state == RoundState.PUBLISHED))
    for person_id, other in session.execute(query):
        if reach_of_round(account, other) is not None:
            found.setdefault(people[person_id], []).append(other)
    return found

"""A person's trust over time: every published round they were rated in, across committees, terms and merges, as
one reader may read it, with the counts, the percentages over the round's base and the thresholds crossed.

Who reads which row is the round's audience (authority.reach_of_round), the rule of a result page: a reader sees
exactly the rows of the results published to them; a rated person reading their own rows sees those too, and no
one else's. The rows are read from the sealed result documents (trustvote.result/1): each shows the committee's
name, the person's name and post and the numbers as they were sealed, whatever was renamed, moved or merged
since. A person's seats on old and new committees are one person (ballots.committees links them), so a district
committee of 2020–2025 and the commune formed in 2025 fall in one history.

A document drawn from results: it reads, audits each reading (who, whose history, which rounds), never commits.
Results imported from other instances name no person of this one and are not part of it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .authority import OWN_ROWS, reach_of_round
from .committees import fold
from .errors import NoHistory
from .models import Account, Candidate, Conference, Person, Result, Round
from .publication import published_rounds
from .rules import THRESHOLDS
from .tally import percent


@dataclass(frozen=True)
class Rated:
    """One round a person was rated in, as its result was sealed."""

    round_id: int
    held_on: dt.date
    term: str
    committee: str  # the committee's name as the round was held
    level: str
    parent: str | None
    conference: str
    title: str
    name: str  # the person's name as printed on the ballot
    post: str
    high: int
    trust: int
    low: int
    invalid: int
    base_name: str  # what the percentages are taken over: collected, issued or convened
    base: int
    flags: dict[str, bool]
    consequences: dict[str, str]  # the rule set's words for the thresholds that carry one
    reach: str  # EVERYTHING, or OWN_ROWS: the reader is the rated person, reading their own row

    def share(self, count: int) -> str:
        """count over the base, in percent, two decimals rounded half up (display only)."""
        return percent(count, self.base)

    @property
    def crossed(self) -> list[str]:
        return [key for key in THRESHOLDS if self.flags.get(key)]


def readable(account: Account, person: Person, round_: Round) -> str | None:
    """What of the person's row in this round the account may read: EVERYTHING (the result is published to
    them), OWN_ROWS (they are that person, in an audience that shows the rated their own rows) or None."""
    level = reach_of_round(account, round_)
    if level == OWN_ROWS and account.person_id != person.id:
        return None  # a rated person reads their own rows, never a colleague's
    return level


def trust_over_time(session: Session, person: Person, account: Account, *, what: str = "view") -> list[Rated]:
    """The person's rows this account may read, oldest first; the reading (or download, `what`) is audited with
    the rounds it showed. Raises NoHistory when there is none (nothing then says who the person is)."""
    rated = session.execute(select(Candidate.position, Round).join(Round, Round.id == Candidate.round_id)
                            .where(Candidate.person_id == person.id, Round.state == "published")).all()
    shown = {round_.id: (position, level) for position, round_ in rated
             if (level := readable(account, person, round_)) is not None}
    if not shown:
        raise NoHistory()
    rows = []
    for result in session.scalars(select(Result).where(Result.round_id.in_(shown))):
        position, level = shown[result.round_id]
        rows.append(_row(json.loads(result.document), position, level))
    rows.sort(key=lambda row: (row.held_on, row.round_id))
    audit.record(session, actor=account.username, action=f"result.history.{what}", subject=f"person:{person.id}",
                 details={"rounds": [row.round_id for row in rows]})
    return rows


def _row(doc: dict, position: int, level: str) -> Rated:
    info, rule_set = doc["round"], doc["rule_set"]
    (row,) = (c for c in doc["candidates"] if c["position"] == position)
    return Rated(
        round_id=info["id"], held_on=dt.date.fromisoformat(info["held_on"]), term=info["term"],
        committee=info["committee"], level=info["level"], parent=info["parent"], conference=info["conference"],
        title=info["title"], name=row["name"], post=row["post"], high=row["high"], trust=row["trust"],
        low=row["low"], invalid=row["invalid"], base_name=doc["base"]["name"], base=doc["base"]["value"],
        flags=dict(row["flags"]), consequences=dict(rule_set.get("consequences") or {}), reach=level)


@dataclass(frozen=True)
class Known:
    """A person whose trust this reader may follow: in how many readable rounds, and where last."""

    person_id: int
    name: str
    rounds: int
    last_committee: str
    last_post: str
    last_held_on: dt.date


def people(session: Session, account: Account, *, search: str = "") -> list[Known]:
    """The people rated in the published results this account may read (publication.published_rounds, and of a
    result shown to the rated person alone, only themself), by name; `search` keeps those whose name contains it
    (without case or diacritics). Writes nothing: it shows names, not results."""
    rounds = {round_.id: (round_, level) for round_, level in published_rounds(session, account)}
    if not rounds:
        return []
    query = (select(Candidate.person_id, Candidate.round_id, Candidate.post, Person.full_name, Conference.held_on)
             .join(Person, Person.id == Candidate.person_id).join(Round, Round.id == Candidate.round_id)
             .join(Conference, Conference.id == Round.conference_id).where(Candidate.round_id.in_(rounds)))
    wanted = fold(search)
    found: dict[int, list] = {}
    for person_id, round_id, post, name, held_on in session.execute(query):
        round_, level = rounds[round_id]
        if level == OWN_ROWS and person_id != account.person_id:
            continue
        if wanted and wanted not in fold(name):
            continue
        found.setdefault(person_id, []).append((held_on, round_id, name, post, round_))
    known = []
    for person_id, seats in found.items():
        held_on, _round_id, name, post, round_ = max(seats, key=lambda seat: (seat[0], seat[1]))
        committee = round_.conference.committee
        known.append(Known(person_id, name, len(seats), committee.name_on(held_on), post, held_on))
    return sorted(known, key=lambda k: (fold(k.name), k.person_id))


"""Conferences and rounds in draft: numbers, rule set and its overrides, candidates, counting board.

Takes a Session, flushes, never commits. Everything here refuses once the round has left draft: the settings a
round is counted under are fixed before its first ballot is issued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, rules
from .authority import has_role
from .fields import clean
from .formats import day_text
from .lifecycle import RoundState, require_state
from .errors import (
    N_,
    CandidateOnBoard,
    CommitteeClosed,
    ConferencePrinted,
    InvalidInput,
    NotFound,
    RoundNotDraft,
    TooManyPlaces,
)
from .models import Account, BoardMember, Candidate, Committee, Conference, Person, Round

def create_conference(
    session: Session, *, committee: Committee, name: str, held_on: dt.date, place: str, term: str, actor: str
) -> Conference:
    term = clean(term, N_("Term"), 20)
    if committee.closed_on is not None:  # it keeps its history; a committee that no longer exists meets no more
        raise CommitteeClosed(name=committee.name, day=day_text(committee.closed_on))
    conference = Conference(committee=committee, name=clean(name, N_("Name"), 200), held_on=held_on,
                            place=(place or "").strip()[:200], term=term)
    session.add(conference)
    session.flush()
    audit.record(session, actor=actor, action="conference.create", subject=f"conference:{conference.id}",
                 details={"committee": committee.id, "name": conference.name, "held_on": held_on.isoformat(),
                          "term": term})
    return conference


def _require_conference_draft(conference: Conference) -> None:
    """A conference's name, date and place are printed on its ballots and minutes: they change (or the conference
    goes) only while every round of it is in draft. Raises ConferencePrinted naming the first round past draft."""
    for round_ in conference.rounds:
        if not round_.is_draft:
            raise ConferencePrinted(title=round_.title)


def update_conference(
    session: Session, conference: Conference, *, name: str, held_on: dt.date, place: str, term: str, actor: str
) -> None:
    """Correct a conference's name, date, place or term while its rounds are all in draft.

    Raises ConferencePrinted, InvalidInput (empty name or term), TooManyPlaces (a new term where a candidate is
    already rated in as many places as a round's rule set allows)."""
    _require_conference_draft(conference)
    name, term = clean(name, N_("Name"), 200), clean(term, N_("Term"), 20)
    if term != conference.term:  # places per person are counted within one term
        conference.term = term
        session.flush()
        for round_ in conference.rounds:
            _check_places(session, round_, [c.person_id for c in round_.candidates], round_.places_limit)
    conference.name, conference.held_on, conference.place = name, held_on, (place or "").strip()[:200]
    session.flush()
    audit.record(session, actor=actor, action="conference.update", subject=f"conference:{conference.id}",
                 details={"name": name, "held_on": held_on.isoformat(), "place": conference.place, "term": term})


def delete_conference(session: Session, conference: Conference, *, actor: str) -> int:
    """Delete a conference and its rounds, all of them still in draft (nothing issued, nothing printed).
    Returns the number of rounds deleted. Raises ConferencePrinted."""
    _require_conference_draft(conference)
    rounds_ = list(conference.rounds)
    audit.record(session, actor=actor, action="conference.delete", subject=f"conference:{conference.id}",
                 details={"name": conference.name, "rounds": [r.id for r in rounds_]})
    for round_ in rounds_:
        session.delete(round_)  # its candidates and board go with it (cascade)
    session.flush()
    session.delete(conference)
    session.flush()
    return len(rounds_)


def delete_round(session: Session, round_: Round, *, actor: str) -> None:
    """Delete a round in draft with its candidates and board. Raises RoundNotDraft: once ballots are issued the
    round is part of the record."""
    _require_draft(round_)
    audit.record(session, actor=actor, action="round.delete", subject=f"round:{round_.id}",
                 details={"conference": round_.conference_id, "title": round_.title})
    session.delete(round_)
    session.flush()


def get_round(session: Session, round_id: int) -> Round:
    found = session.get(Round, round_id)
    if found is None:
        raise NotFound(N_("No such round."))
    return found


def _apply_settings(round_: Round, rule_set: rules.RuleSet) -> None:
    for name, value in rule_set.settings().items():
        setattr(round_, name, value)


def _require_draft(round_: Round) -> None:
    require_state(round_, RoundState.DRAFT, refusal=RoundNotDraft)


def _check_numbers(convened: int, present: int, spares: int = 0) -> None:
    if convened < 0 or present < 0 or spares < 0:
        raise InvalidInput(N_("The numbers convened and present cannot be negative."))
    if present > convened:
        raise InvalidInput(N_("The number present (%(present)s) cannot exceed the number convened (%(convened)s)."),
                           present=present, convened=convened)


def create_round(
    session: Session,
    *,
    conference: Conference,
    title: str,
    rule_set: str = rules.DEFAULT_PRESET,
    convened: int = 0,
    present: int = 0,
    actor: str,
) -> Round:
    """Create a round in draft with the preset's settings and, as candidates, every member of the committee
    in ballot order. Raises InvalidInput (unknown rule set, bad numbers) and TooManyPlaces."""
    preset = rules.preset(rule_set)
    _check_numbers(convened, present)
    round_ = Round(conference=conference, title=clean(title, N_("Title"), 200), state=RoundState.DRAFT,
                   convened=convened, present=present, rule_set=preset.key)
    _apply_settings(round_, preset)
    session.add(round_)
    session.flush()
    audit.record(session, actor=actor, action="round.create", subject=f"round:{round_.id}",
                 details={"conference": conference.id, "title": round_.title, "rule_set": preset.key})
    members = conference.committee.memberships
    set_candidates(session, round_, [(m.person_id, m.post) for m in members], actor=actor)
    return round_


def set_numbers(
    session: Session, round_: Round, *, convened: int, present: int, spares: int = 0, actor: str
) -> None:
    """The numbers convened and present, and the spare ballots that may be issued beyond those present."""
    _require_draft(round_)
    _check_numbers(convened, present, spares)
    round_.convened, round_.present, round_.spares = convened, present, spares
    session.flush()
    audit.record(session, actor=actor, action="round.numbers", subject=f"round:{round_.id}",
                 details={"convened": convened, "present": present, "spares": spares})


def places_of(session: Session, person_id: int, *, term: str, except_round: int | None = None) -> int:
    """In how many rounds of the term the person is already rated."""
    query = (select(func.count()).select_from(Candidate).join(Round).join(Conference)
             .where(Candidate.person_id == person_id, Conference.term == term))
    if except_round is not None:
        query = query.where(Candidate.round_id != except_round)
    return session.scalar(query)


def _check_places(session: Session, round_: Round, person_ids: Sequence[int], limit: int | None) -> None:
    if limit is None:
        return
    for person_id in person_ids:
        count = places_of(session, person_id, term=round_.conference.term, except_round=round_.id) + 1
        if count > limit:
            person = session.get(Person, person_id)
            raise TooManyPlaces(name=person.full_name, count=count, limit=limit)


def _refuse_candidates_on_board(board: Sequence[Account], people: dict[int, Person]) -> None:
    """No member of the counting board is among the people rated in the round. Raises CandidateOnBoard."""
    for account in board:
        if account.person_id in people:
            raise CandidateOnBoard(name=people[account.person_id].full_name)


def set_candidates(
    session: Session, round_: Round, entries: Sequence[tuple[int, str]], *, actor: str
) -> None:
    """Replace the candidate list with (person id, post as printed) in ballot order.

    Raises RoundNotDraft, InvalidInput (empty post, unknown or repeated person), TooManyPlaces, CandidateOnBoard.
    """
    _require_draft(round_)
    person_ids = [person_id for person_id, _ in entries]
    if len(set(person_ids)) != len(person_ids):
        raise InvalidInput(N_("A person appears twice in the candidate list."))
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))}
    if len(people) != len(person_ids):
        raise InvalidInput(N_("The candidate list names an unknown person."))
    posts = [clean(post, N_("Post"), 120) for _, post in entries]
    _check_places(session, round_, person_ids, round_.places_limit)
    _refuse_candidates_on_board([seat.account for seat in round_.board], people)
    round_.candidates.clear()
    session.flush()
    for position, (person_id, post) in enumerate(zip(person_ids, posts), start=1):
        round_.candidates.append(Candidate(person_id=person_id, post=post, position=position))
    session.flush()
    audit.record(session, actor=actor, action="round.candidates", subject=f"round:{round_.id}",
                 details={"candidates": [[pid, post] for pid, post in zip(person_ids, posts)]})


def choose_rule_set(session: Session, round_: Round, key: str, *, actor: str) -> None:
    """Switch the round to another preset: every setting takes the preset's value. Re-checks the places limit."""
    _require_draft(round_)
    preset = rules.preset(key)
    _check_places(session, round_, [c.person_id for c in round_.candidates], preset.places_limit)
    round_.rule_set = preset.key
    _apply_settings(round_, preset)
    session.flush()
    audit.record(session, actor=actor, action="round.rule_set", subject=f"round:{round_.id}",
                 details={"rule_set": preset.key, "settings": preset.settings()})


def override_settings(session: Session, round_: Round, *, actor: str, **settings) -> None:
    """Change some settings of the round's rule set. Raises RoundNotDraft, InvalidInput, TooManyPlaces."""
    _require_draft(round_)
    changed = rules.rule_set_of(round_).with_settings(**settings)
    if changed.places_limit != round_.places_limit:
        _check_places(session, round_, [c.person_id for c in round_.candidates], changed.places_limit)
    _apply_settings(round_, changed)
    session.flush()
    audit.record(session, actor=actor, action="round.settings", subject=f"round:{round_.id}",
                 details={"settings": changed.settings()})


def set_board(
    session: Session, round_: Round, account_ids: Sequence[int], *, approvals_required: int | None = None, actor: str
) -> None:
    """Name the counting board: accounts holding the teller role on the round's committee, none a candidate;
    and how many of them must approve the count to seal it (None: more than half of the board).

    Raises RoundNotDraft, InvalidInput (unknown account, no teller role, more approvals than members),
    CandidateOnBoard.
    """
    _require_draft(round_)
    if approvals_required is not None and not 1 <= approvals_required <= len(set(account_ids)):
        raise InvalidInput(N_("A board of %(board)s members cannot give %(count)s approvals."),
                           board=len(set(account_ids)), count=approvals_required)
    committee = round_.conference.committee
    accounts = list(session.scalars(select(Account).where(Account.id.in_(set(account_ids)))))
    if len(accounts) != len(set(account_ids)):
        raise InvalidInput(N_("The counting board names an unknown account."))
    for account in accounts:
        if not has_role(account, "teller", committee):
            raise InvalidInput(N_("%(name)s is not a teller of this committee."), name=account.display_name)
    _refuse_candidates_on_board(accounts, {c.person_id: c.person for c in round_.candidates})
    round_.board.clear()
    session.flush()
    for account in sorted(accounts, key=lambda a: a.id):
        round_.board.append(BoardMember(account_id=account.id))
    round_.approvals_required = approvals_required
    session.flush()
    audit.record(session, actor=actor, action="round.board", subject=f"round:{round_.id}",
                 details={"accounts": sorted(a.id for a in accounts), "approvals_required": approvals_required})


@dataclass(frozen=True)
class Draft:
    """Everything the round page's one form holds: what `save_draft` makes the round's draft."""

    title: str
    convened: int
    present: int
    spares: int
    rule_set: str
    settings: dict
    candidates: Sequence[tuple[int, str]]
    board: Sequence[int]
    approvals_required: int | None


def save_draft(session: Session, round_: Round, draft: Draft, *, actor: str) -> bool:
    """Make the round's draft what the organizer's one form holds, as one change: title, numbers, rule set (a new
    one resets the settings to its values, so the submitted settings are then ignored), settings, candidates and
    counting board. Only what changed is applied and audited. Returns whether the rule set was switched.

    Raises RoundNotDraft, InvalidInput, TooManyPlaces, CandidateOnBoard; the caller rolls back on any of them, so
    a refused save changes nothing.
    """
    _require_draft(round_)
    title = clean(draft.title, N_("Title"), 200)
    if title != round_.title:
        audit.record(session, actor=actor, action="round.title", subject=f"round:{round_.id}",
                     details={"title": title, "was": round_.title})
        round_.title = title
    if (draft.convened, draft.present, draft.spares) != (round_.convened, round_.present, round_.spares):
        set_numbers(session, round_, convened=draft.convened, present=draft.present, spares=draft.spares, actor=actor)
    switched = draft.rule_set != round_.rule_set
    # a board that changes is emptied first and named again once the candidates are set, so that it is checked
    # against the new list (a person taken off the board and put on the ballot in one save is not refused)
    new_board = sorted(set(draft.board))
    board_changes = (new_board != sorted(m.account_id for m in round_.board)
                     or draft.approvals_required != round_.approvals_required)
    if board_changes:
        round_.board.clear()
        session.flush()
    if [(c.person_id, c.post) for c in round_.candidates] != list(draft.candidates):
        set_candidates(session, round_, draft.candidates, actor=actor)
    if switched:
        choose_rule_set(session, round_, draft.rule_set, actor=actor)
    elif rules.rule_set_of(round_).with_settings(**draft.settings).settings() != rules.rule_set_of(round_).settings():
        override_settings(session, round_, actor=actor, **draft.settings)
    if board_changes:
        set_board(session, round_, new_board, approvals_required=draft.approvals_required, actor=actor)
    return switched

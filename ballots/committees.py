"""The tree of committees, the people and their seats, and the tree's history: dated renames and moves (the old
name kept for the rounds held under it), committees formed from others (the 2025 mergers), committees closed when
they no longer exist. Takes a Session, flushes, never commits."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from . import audit
from .authority import ancestors, seats_outside_reach
from .errors import (
    N_,
    ChangeDateRefused,
    CommitteeClosed,
    Conflict,
    InvalidInput,
    NamePrinted,
    NotFound,
    PersonSitsElsewhere,
)
from .fields import clean
from .formats import day_text
from .lifecycle import SEALED, RoundState
from .models import Candidate, Committee, CommitteeFormer, CommitteeOrigin, Conference, Membership, Person, Round


def get_committee(session: Session, committee_id: int) -> Committee:
    committee = session.get(Committee, committee_id)
    if committee is None:
        raise NotFound(N_("No such committee."))
    return committee


def path_of(committee: Committee) -> str:
    """The committee's place in the tree as printed and as roster files name it: 'Tỉnh ủy A / Đảng ủy xã B'."""
    return " / ".join(c.name for c in reversed(ancestors(committee)))


def _check_sibling_name(session: Session, parent_id: int | None, name: str, except_id: int | None = None) -> None:
    query = select(Committee.id).where(Committee.parent_id.is_(parent_id) if parent_id is None
                                       else Committee.parent_id == parent_id, Committee.name == name)
    found = session.scalar(query)
    if found is not None and found != except_id:
        raise Conflict(N_("A committee named %(name)s already exists at this place in the tree."), name=name)


def create_committee(
    session: Session, *, name: str, level: str, parent: Committee | None, actor: str,
    formed_on: dt.date | None = None,
) -> Committee:
    """Add a committee under `parent` (None for a root), formed on `formed_on` if given. Raises InvalidInput,
    Conflict, CommitteeClosed."""
    name, level = clean(name, N_("Name"), 200), clean(level, N_("Level"), 80)
    _refuse_closed(parent)
    _check_sibling_name(session, parent.id if parent else None, name)
    committee = Committee(name=name, level=level, parent=parent, formed_on=formed_on)
    session.add(committee)
    session.flush()
    audit.record(session, actor=actor, action="committee.create", subject=f"committee:{committee.id}",
                 details={"name": name, "level": level, "parent": parent.id if parent else None,
                          **({"formed_on": formed_on.isoformat()} if formed_on else {})})
    return committee


def update_committee(
    session: Session, committee: Committee, *, name: str, level: str, parent: Committee | None, actor: str,
    on: dt.date | None = None,
) -> None:
    """Rename, relabel or move a committee. Refuses to move it under itself or a committee below it, or under a
    closed one.

    Without `on` it is a correction (a typing error): allowed only while no ballot printed with what it changes
    exists. With `on`, the change takes effect that day and what the committee was before is kept
    (Committee.former), so each round keeps the name, level and upper level it was held under
    (Committee.known_as): every round it concerns must then be either sealed and held before `on`, or still in
    draft and held from `on` (a round under way, printed and not sealed, waits for its seal). Raises InvalidInput,
    Conflict, CommitteeClosed, NamePrinted, ChangeDateRefused.
    """
    name, level = clean(name, N_("Name"), 200), clean(level, N_("Level"), 80)
    if parent is not None and committee in ancestors(parent):
        raise InvalidInput(N_("A committee cannot be moved under itself or under a committee below it."))
    _refuse_closed(committee)
    if parent is not committee.parent:
        _refuse_closed(parent)
    _check_sibling_name(session, parent.id if parent else None, name, except_id=committee.id)
    before = {"name": committee.name, "level": committee.level, "parent": committee.parent_id}
    after = {"name": name, "level": level, "parent": parent.id if parent else None}
    if before == after:
        return
    # a name is printed on the ballots of the committee's rounds and, as their upper level, of its children's
    concerned = _rounds_naming(session, committee, with_children=name != committee.name)
    if on is None:
        for title, held_on, state, _committee in concerned:
            if state != RoundState.DRAFT:
                raise NamePrinted(committee=committee.name, title=title, day=day_text(held_on))
    else:
        _check_change_date(committee, on, concerned)
        session.add(CommitteeFormer(committee=committee, name=committee.name, level=committee.level,
                                    parent=committee.parent, until=on, recorded_by=actor))
    committee.name, committee.level, committee.parent = name, level, parent
    session.flush()
    audit.record(session, actor=actor, action="committee.update" if on is None else "committee.change",
                 subject=f"committee:{committee.id}",
                 details={"before": before, "after": after, **({"on": on.isoformat()} if on else {})})


def _rounds_naming(session: Session, committee: Committee, *, with_children: bool) -> list[tuple]:
    """(title, held on, state, committee name) of the rounds whose ballots and results name the committee: its
    own, and with_children those of the committees directly below it (which name it as their upper level)."""
    where = Conference.committee_id == committee.id
    if with_children:
        where = or_(where, Committee.parent_id == committee.id)
    return list(session.execute(
        select(Round.title, Conference.held_on, Round.state, Committee.name).select_from(Round)
        .join(Conference, Conference.id == Round.conference_id)
        .join(Committee, Committee.id == Conference.committee_id).where(where)
        .order_by(Conference.held_on, Round.id)))


def _check_change_date(committee: Committee, on: dt.date, concerned: list[tuple]) -> None:
    """A change dated `on` keeps every round's name: rounds printed before it are sealed (their result keeps
    the name they were sealed with) and were held before `on`; rounds held from `on` are still in draft (they will
    be printed with the new name). Raises InvalidInput, ChangeDateRefused."""
    if committee.former and on <= committee.former[-1].until:
        raise InvalidInput(N_("A change from %(day)s is already recorded: a new one takes effect after it."),
                           day=day_text(committee.former[-1].until))
    if committee.formed_on is not None and on <= committee.formed_on:
        raise InvalidInput(N_("The committee was formed on %(day)s: a change takes effect after that day."),
                           day=day_text(committee.formed_on))
    for title, held_on, state, name in concerned:
        if state != RoundState.DRAFT and state not in SEALED:
            raise ChangeDateRefused(title=title, committee=name, day=day_text(held_on),
                                    why=N_("has its ballots printed and is not sealed yet: record the change once "
                                           "its result is sealed."))
        if state != RoundState.DRAFT and held_on >= on:
            raise ChangeDateRefused(title=title, committee=name, day=day_text(held_on),
                                    why=N_("has its ballots printed with the current name: the change can take "
                                           "effect only after that day."))
        if state == RoundState.DRAFT and held_on < on:
            raise ChangeDateRefused(title=title, committee=name, day=day_text(held_on),
                                    why=N_("is still in draft and would be printed with the new name: date the "
                                           "change on or before that day."))


def _refuse_closed(committee: Committee | None) -> None:
    if committee is not None and committee.closed_on is not None:
        raise CommitteeClosed(name=committee.name, day=day_text(committee.closed_on))


def close_committee(session: Session, committee: Committee, *, on: dt.date, actor: str) -> None:
    """Record that the committee no longer exists after `on` (its last day). It keeps its members, rounds and
    results as history; it takes no new member, conference or committee below it.

    Raises CommitteeClosed (already), Conflict: committees below it that still exist, a round not yet sealed, a
    conference after `on`; InvalidInput: `on` before the day it was formed.
    """
    _refuse_closed(committee)
    if committee.formed_on is not None and on < committee.formed_on:
        raise InvalidInput(N_("The committee was formed on %(day)s: it cannot end before."),
                           day=day_text(committee.formed_on))
    open_children = [child.name for child in committee.children if child.closed_on is None]
    if open_children:
        raise Conflict(N_("%(name)s still has committees below it (%(below)s): move them or close them first."),
                       name=committee.name, below=", ".join(open_children[:3]) + ("…" if len(open_children) > 3
                                                                                 else ""))
    for title, held_on, state, _name in _rounds_naming(session, committee, with_children=False):
        if state not in SEALED:
            raise Conflict(N_("“%(title)s” (%(day)s) is not sealed yet: finish it before closing the committee."),
                           title=title, day=day_text(held_on))
        if held_on > on:
            raise Conflict(N_("The committee held “%(title)s” on %(day)s, after the day it would end."),
                           title=title, day=day_text(held_on))
    committee.closed_on = on
    session.flush()
    audit.record(session, actor=actor, action="committee.close", subject=f"committee:{committee.id}",
                 details={"name": committee.name, "closed_on": on.isoformat()})


def record_formation(
    session: Session, committee: Committee, *, sources: list[Committee], on: dt.date, actor: str
) -> None:
    """Record that `committee` was formed on `on` from `sources` (a merger; one source in several committees is a
    split). Sources that still exist are closed the day before (close_committee: their rounds sealed, the
    committees below them moved or closed). The list replaces what was recorded before.

    Raises InvalidInput (no source, the committee itself or one above or below it, a source that ended after
    `on`, a round of the committee held before `on`), Conflict and CommitteeClosed as close_committee does.
    """
    _refuse_closed(committee)
    if not sources:
        raise InvalidInput(N_("Choose the committees it was formed from."))
    line = {c.id for c in ancestors(committee)}
    for source in sources:
        if source.id in line or committee in ancestors(source):
            raise InvalidInput(N_("%(name)s is above or below this committee in the tree: it cannot have formed it."),
                               name=source.name)
        if source.closed_on is not None and source.closed_on >= on:
            raise InvalidInput(N_("%(name)s still existed on %(day)s."), name=source.name, day=day_text(on))
    first = session.scalar(select(func.min(Conference.held_on)).where(Conference.committee_id == committee.id))
    if first is not None and first < on:
        raise InvalidInput(N_("The committee held a conference on %(day)s, before it was formed."),
                           day=day_text(first))
    for source in sources:
        if source.closed_on is None:
            close_committee(session, source, on=on - dt.timedelta(days=1), actor=actor)
    session.execute(delete(CommitteeOrigin).where(CommitteeOrigin.committee_id == committee.id))
    session.add_all(CommitteeOrigin(committee_id=committee.id, source_id=source.id) for source in sources)
    committee.formed_on = on
    session.flush()
    session.expire(committee, ["sources"])
    for source in sources:
        session.expire(source, ["successors"])
    audit.record(session, actor=actor, action="committee.formation", subject=f"committee:{committee.id}",
                 details={"on": on.isoformat(), "sources": sorted(source.id for source in sources)})


@dataclass(frozen=True)
class FormerSeat:
    """A person who sat on a committee this one was formed from, and where, with which post."""

    person: Person
    seats: tuple[tuple[str, str], ...]  # (committee name, post)


def former_members(session: Session, committee: Committee) -> list[FormerSeat]:
    """The people seated on the committees this one was formed from who do not sit on it yet, in the sources'
    ballot order: seating them links their old and new seats to one person."""
    seated = {m.person_id for m in committee.memberships}
    found: dict[int, list] = {}
    people: dict[int, Person] = {}
    for source in committee.sources:
        for seat in source.memberships:
            if seat.person_id not in seated:
                people[seat.person_id] = seat.person
                found.setdefault(seat.person_id, []).append((source.name, seat.post))
    return [FormerSeat(people[pid], tuple(seats)) for pid, seats in found.items()]


def delete_committee(session: Session, committee: Committee, *, actor: str) -> None:
    """Delete an empty committee. Refuses one with committees below it, members or conferences."""
    if committee.children:
        raise Conflict(N_("This committee has committees below it; move or delete them first."))
    if committee.memberships:
        raise Conflict(N_("This committee still has members; remove them first."))
    if session.scalar(select(func.count()).where(Conference.committee_id == committee.id)):
        raise Conflict(N_("This committee has conferences and cannot be deleted."))
    if committee.successors:
        raise Conflict(N_("Other committees were formed from this one: it stays as their history."))
    audit.record(session, actor=actor, action="committee.delete", subject=f"committee:{committee.id}",
                 details={"name": committee.name})
    session.delete(committee)
    session.flush()


def subtree_ids(session: Session, committee: Committee) -> set[int]:
    """The ids of the committee and every committee below it (one query per level, not per committee)."""
    found, frontier = {committee.id}, [committee.id]
    while frontier:
        frontier = list(session.scalars(select(Committee.id).where(Committee.parent_id.in_(frontier))))
        found.update(frontier)
    return found


def create_person(
    session: Session, *, full_name: str, code: str | None = None, birth_year: int | None = None
) -> Person:
    full_name = clean(full_name, N_("Full name"), 120)
    code = (code or "").strip() or None
    if code and session.scalar(select(Person.id).where(Person.code == code)) is not None:
        raise Conflict(N_("Another person already has the code %(code)s."), code=code)
    person = Person(full_name=full_name, code=code, birth_year=birth_year)
    session.add(person)
    session.flush()
    return person


def person_for(session: Session, *, full_name: str, code: str | None) -> Person:
    """The person a code names (so that one person sits on several committees), or a new person.
    Raises InvalidInput when the code belongs to someone with another name."""
    code = (code or "").strip() or None
    if code:
        person = session.scalar(select(Person).where(Person.code == code))
        if person is not None:
            if fold(person.full_name) != fold(full_name):
                raise InvalidInput(N_("The code %(code)s belongs to %(name)s."), code=code, name=person.full_name)
            return person
    return create_person(session, full_name=full_name, code=code)


def fold(text: str) -> str:
    """Text compared without case, spacing or diacritics (đ as d): how names and paths are matched."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def add_member(
    session: Session, *, committee: Committee, person: Person, post: str, actor: str
) -> Membership:
    """Seat a person on a committee with a post, last in ballot order. Raises Conflict if already seated,
    CommitteeClosed."""
    post = clean(post, N_("Post"), 120)
    _refuse_closed(committee)
    if session.scalar(select(Membership.id).where(Membership.committee_id == committee.id,
                                                  Membership.person_id == person.id)) is not None:
        raise Conflict(N_("%(name)s already sits on this committee."), name=person.full_name)
    last = session.scalar(select(func.max(Membership.rank)).where(Membership.committee_id == committee.id))
    seat = Membership(committee=committee, person=person, post=post, rank=(last or 0) + 1)
    session.add(seat)
    session.flush()
    audit.record(session, actor=actor, action="member.add", subject=f"committee:{committee.id}",
                 details={"person": person.id, "name": person.full_name, "post": post})
    return seat


def add_members(
    session: Session, *, committee: Committee, seats: list[tuple[Person, str]], actor: str
) -> list[Membership]:
    """Seat several people, each with a post, last in ballot order in the order given: add_member for a whole
    list (a committee's first members), with one audit entry naming them all. Raises Conflict if one is already
    seated or named twice, CommitteeClosed, InvalidInput."""
    _refuse_closed(committee)
    posts = [clean(post, N_("Post"), 120) for _person, post in seats]
    seated = set(session.scalars(select(Membership.person_id).where(Membership.committee_id == committee.id)))
    for person, _post in seats:
        if person.id in seated:
            raise Conflict(N_("%(name)s already sits on this committee."), name=person.full_name)
        seated.add(person.id)
    last = session.scalar(select(func.max(Membership.rank)).where(Membership.committee_id == committee.id)) or 0
    made = [Membership(committee=committee, person=person, post=post, rank=last + number)
            for number, ((person, _), post) in enumerate(zip(seats, posts, strict=True), start=1)]
    session.add_all(made)
    session.flush()
    audit.record(session, actor=actor, action="member.add", subject=f"committee:{committee.id}",
                 details={"members": [{"person": m.person.id, "name": m.person.full_name, "post": m.post}
                                      for m in made]})
    return made


def update_member(session: Session, seat: Membership, *, full_name: str, post: str, editor, actor: str) -> None:
    """Change a seat's post and its person's name. The name is the person's on every committee they sit on, so
    `editor` (the organizer's account) may change it only if they organize each of those committees. Raises
    InvalidInput, PersonSitsElsewhere (naming the committees out of the editor's reach)."""
    full_name = clean(full_name, N_("Full name"), 120)
    if full_name != seat.person.full_name:
        outside = seats_outside_reach(editor, seat.person)
        if outside:
            raise PersonSitsElsewhere(name=seat.person.full_name, places="; ".join(path_of(c) for c in outside))
    seat.person.full_name = full_name
    seat.post = clean(post, N_("Post"), 120)
    session.flush()
    audit.record(session, actor=actor, action="member.update", subject=f"committee:{seat.committee_id}",
                 details={"person": seat.person_id, "name": seat.person.full_name, "post": seat.post})


def remove_member(session: Session, seat: Membership, *, actor: str) -> list[Round]:
    """Unseat a member, and take them off the candidate list of the committee's rounds still in draft (a round
    rates the committee's members; once ballots are issued the printed list stands). Returns those rounds, for the
    organizer to be told. Raises CommitteeClosed: a committee that no longer exists keeps its members as history."""
    _refuse_closed(seat.committee)
    audit.record(session, actor=actor, action="member.remove", subject=f"committee:{seat.committee_id}",
                 details={"person": seat.person_id, "name": seat.person.full_name})
    drafts = list(session.scalars(
        select(Round).join(Conference).join(Candidate, Candidate.round_id == Round.id)
        .where(Conference.committee_id == seat.committee_id, Round.state == RoundState.DRAFT,
               Candidate.person_id == seat.person_id).order_by(Round.id)))
    for round_ in drafts:
        _drop_candidate(session, round_, seat.person_id, actor=actor)
    session.delete(seat)
    session.flush()
    return drafts


def _drop_candidate(session: Session, round_: Round, person_id: int, *, actor: str) -> None:
    """Take one person off a draft round's ballot; those after them move up one place."""
    leaving = next(c for c in round_.candidates if c.person_id == person_id)
    round_.candidates.remove(leaving)
    session.flush()
    for candidate in round_.candidates:  # in ballot order: each moves into the place just freed
        if candidate.position > leaving.position:
            candidate.position -= 1
            session.flush()
    audit.record(session, actor=actor, action="round.candidates", subject=f"round:{round_.id}",
                 details={"candidates": [[c.person_id, c.post] for c in round_.candidates],
                          "removed_from_committee": person_id})


def move_member(session: Session, seat: Membership, *, offset: int, actor: str) -> None:
    """Move a member up (-1) or down (+1) in the committee's ballot order. Raises CommitteeClosed."""
    _refuse_closed(seat.committee)
    seats = list(seat.committee.memberships)
    index = seats.index(seat)
    target = index + offset
    if not 0 <= target < len(seats):
        return
    seats[index], seats[target] = seats[target], seats[index]
    for rank, each in enumerate(seats, start=1):
        each.rank = rank
    session.flush()
    audit.record(session, actor=actor, action="member.reorder", subject=f"committee:{seat.committee_id}",
                 details={"order": [s.person_id for s in seats]})

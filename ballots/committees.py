"""The tree of committees, the people and their seats. Takes a Session, flushes, never commits."""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .authority import ancestors
from .errors import N_, Conflict, InvalidInput, NotFound
from .fields import clean
from .models import Committee, Conference, Membership, Person


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
    session: Session, *, name: str, level: str, parent: Committee | None, actor: str
) -> Committee:
    """Add a committee under `parent` (None for a root). Raises InvalidInput, Conflict."""
    name, level = clean(name, N_("Name"), 200), clean(level, N_("Level"), 80)
    _check_sibling_name(session, parent.id if parent else None, name)
    committee = Committee(name=name, level=level, parent=parent)
    session.add(committee)
    session.flush()
    audit.record(session, actor=actor, action="committee.create", subject=f"committee:{committee.id}",
                 details={"name": name, "level": level, "parent": parent.id if parent else None})
    return committee


def update_committee(
    session: Session, committee: Committee, *, name: str, level: str, parent: Committee | None, actor: str
) -> None:
    """Rename, relabel or move a committee. Refuses to move it under itself or a committee below it."""
    name, level = clean(name, N_("Name"), 200), clean(level, N_("Level"), 80)
    if parent is not None and committee in ancestors(parent):
        raise InvalidInput(N_("A committee cannot be moved under itself or under a committee below it."))
    _check_sibling_name(session, parent.id if parent else None, name, except_id=committee.id)
    before = {"name": committee.name, "level": committee.level, "parent": committee.parent_id}
    committee.name, committee.level, committee.parent = name, level, parent
    session.flush()
    audit.record(session, actor=actor, action="committee.update", subject=f"committee:{committee.id}",
                 details={"before": before, "after": {"name": name, "level": level,
                                                      "parent": parent.id if parent else None}})


def delete_committee(session: Session, committee: Committee, *, actor: str) -> None:
    """Delete an empty committee. Refuses one with committees below it, members or conferences."""
    if committee.children:
        raise Conflict(N_("This committee has committees below it; move or delete them first."))
    if committee.memberships:
        raise Conflict(N_("This committee still has members; remove them first."))
    if session.scalar(select(func.count()).where(Conference.committee_id == committee.id)):
        raise Conflict(N_("This committee has conferences and cannot be deleted."))
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
    """Seat a person on a committee with a post, last in ballot order. Raises Conflict if already seated."""
    post = clean(post, N_("Post"), 120)
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


def update_member(session: Session, seat: Membership, *, full_name: str, post: str, actor: str) -> None:
    seat.person.full_name = clean(full_name, N_("Full name"), 120)
    seat.post = clean(post, N_("Post"), 120)
    session.flush()
    audit.record(session, actor=actor, action="member.update", subject=f"committee:{seat.committee_id}",
                 details={"person": seat.person_id, "name": seat.person.full_name, "post": seat.post})


def remove_member(session: Session, seat: Membership, *, actor: str) -> None:
    audit.record(session, actor=actor, action="member.remove", subject=f"committee:{seat.committee_id}",
                 details={"person": seat.person_id, "name": seat.person.full_name})
    session.delete(seat)
    session.flush()


def move_member(session: Session, seat: Membership, *, offset: int, actor: str) -> None:
    """Move a member up (-1) or down (+1) in the committee's ballot order."""
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

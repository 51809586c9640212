"""Authority, in one place: who holds which role where, who sits on a round's counting board, who may publish
its result, and who is in the audience of a published result.

Roles are granted per committee. An organizer's grant covers the committees below it (a province's office sets
up its communes); a teller's or viewer's grant covers exactly its committee. An administrator manages accounts
and holds no role by being one. The audience of a published result is the round's setting, by default the
committee itself and its direct upper-level committee; before publication nobody reads a number outside the
board; a round may widen it to every upper level ("above"), so that a province reads a chi bộ's result. The
domain and the app's access hooks both ask these functions; none is written twice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotOnBoard
from .lifecycle import BOARD_AT_WORK
from .models import Account, BoardMember, Committee, Grant, Round

# what a reader may read of a published result: everything, or only the rows of the rated person themself
EVERYTHING, OWN_ROWS = "all", "own"


def ancestors(committee: Committee) -> list[Committee]:
    """The committee and every committee above it, nearest first."""
    chain, node = [], committee
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def has_role(account: Account, role: str, committee: Committee) -> bool:
    """Whether the account holds `role` for this committee (an organizer's grant reaches down the tree)."""
    granted = {(g.committee_id, g.role) for g in account.grants}
    if role == "organizer":
        return any((c.id, "organizer") in granted for c in ancestors(committee))
    return (committee.id, role) in granted


def organizer_roots(session: Session, account: Account) -> list[Committee]:
    """The committees an account organizes at the top of its reach (their subtrees are its to edit)."""
    ids = {g.committee_id for g in account.grants if g.role == "organizer"}
    roots = [c for c in session.scalars(select(Committee).where(Committee.id.in_(ids)))
             if not any(a.id in ids for a in ancestors(c)[1:])]
    return sorted(roots, key=lambda c: c.name)


def tellers_of(session: Session, committee: Committee) -> list[Account]:
    """The accounts that may be named to the counting board of a round of `committee`: its tellers, by name."""
    return list(session.scalars(select(Account).join(Grant)
                                .where(Grant.role == "teller", Grant.committee_id == committee.id)
                                .order_by(Account.display_name, Account.id)).unique())


def boards_at_work(session: Session, account: Account) -> list[Round]:
    """The rounds on whose counting board the account sits and which are between their opening and their seal."""
    return list(session.scalars(select(Round).join(BoardMember, BoardMember.round_id == Round.id)
                                .where(BoardMember.account_id == account.id, Round.state.in_(BOARD_AT_WORK))
                                .order_by(Round.id)))


def seats_outside_reach(account: Account, person) -> list[Committee]:
    """The committees a person sits on where the account is not an organizer: an organizer may change a person
    (their name, shared by all their seats) only where this is empty."""
    return sorted((seat.committee for seat in person.memberships
                   if not has_role(account, "organizer", seat.committee)), key=lambda c: c.id)


def sits_on_board(account: Account, round_: Round) -> bool:
    """Whether the account is a member of the round's counting board (named in draft among its tellers)."""
    return any(seat.account_id == account.id for seat in round_.board)


def require_board(account: Account, round_: Round) -> None:
    """Raise NotOnBoard unless the account sits on the round's counting board."""
    if not sits_on_board(account, round_):
        raise NotOnBoard()


def can_publish(account: Account, round_: Round) -> bool:
    """Whether the account may publish the round's sealed result: its board, or the committee's organizers, as
    the round's `publisher` setting says."""
    if round_.publisher == "organizer":
        return has_role(account, "organizer", round_.conference.committee)
    return sits_on_board(account, round_)


def reach(account: Account, committee: Committee, audience: list[str] | tuple[str, ...],
          candidate_people: set[int]) -> str | None:
    """What of a published result of `committee` this account may read under `audience`: EVERYTHING, OWN_ROWS
    (a rated person's own rows) or None."""
    if "committee" in audience and has_role(account, "viewer", committee):
        return EVERYTHING
    if committee.parent is not None and reads_from_above(account, committee.parent, audience):
        return EVERYTHING
    if "above" in audience and any(has_role(account, "viewer", upper) for upper in ancestors(committee)[1:]):
        return EVERYTHING  # every upper level, not only the direct one: the province reads a chi bộ's result
    if "conference" in audience and any(has_role(account, role, committee) for role in ("viewer", "teller")):
        return EVERYTHING
    if "candidate" in audience and account.person_id is not None and account.person_id in candidate_people:
        return OWN_ROWS
    return None


def reach_of_round(account: Account, round_: Round) -> str | None:
    """What this account may read of the round's result now: nothing before publication, whoever they are; the
    board everything it counted; anyone else what the audience allows."""
    if round_.state != "published":
        return None
    if sits_on_board(account, round_):
        return EVERYTHING
    # the candidates matter only to an audience that names them (not loaded for the thousands a dashboard asks about)
    people = {c.person_id for c in round_.candidates} if "candidate" in round_.audience else set()
    return reach(account, round_.conference.committee, round_.audience, people)


def reads_from_above(account: Account, parent: Committee, audience: list[str] | tuple[str, ...]) -> bool:
    """Whether the account reads, as the direct upper level, a published result of a committee below `parent`:
    the audience names the upper level and the account is a viewer of `parent`. The dashboard asks this for each
    row; `reach` asks it for a result page."""
    return "upper" in audience and has_role(account, "viewer", parent)

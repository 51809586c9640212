"""The lifecycle of a round, in one place: its states, the moves allowed between them, the refusals, the words.

    draft → issued → open → closed (paper entry) ⇄ counted → sealed → published

Ballots are issued in draft (and spares later, while voting is still open); casting needs `open`; the board's
paper entry and rulings need `closed`; approval needs `counted` (reopening paper entry goes back to `closed`);
the seal freezes everything, after which only publication moves the round on. Every verb checks the state it
needs with `require_state` and moves the round with `advance`, never by assigning `round_.state` itself.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import N_, BallotError, Conflict, RoundSealed


class RoundState(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    OPEN = "open"
    CLOSED = "closed"
    COUNTED = "counted"
    SEALED = "sealed"
    PUBLISHED = "published"


class TokenState(StrEnum):
    ISSUED = "issued"
    CAST = "cast"
    VOID = "void"


# the moves a round may make; anything else is a bug, refused before it is written
TRANSITIONS: dict[RoundState, frozenset[RoundState]] = {
    RoundState.DRAFT: frozenset({RoundState.ISSUED}),
    RoundState.ISSUED: frozenset({RoundState.OPEN}),
    RoundState.OPEN: frozenset({RoundState.CLOSED}),
    RoundState.CLOSED: frozenset({RoundState.COUNTED}),
    RoundState.COUNTED: frozenset({RoundState.CLOSED, RoundState.SEALED}),
    RoundState.SEALED: frozenset({RoundState.PUBLISHED}),
    RoundState.PUBLISHED: frozenset(),
}

# ballots may be issued in draft (which moves the round on) and, as spares, until voting closes
ISSUING = (RoundState.DRAFT, RoundState.ISSUED, RoundState.OPEN)
# voting is over: the board's pages (paper entry, the count, the minutes) take over
AFTER_CLOSE = (RoundState.CLOSED, RoundState.COUNTED, RoundState.SEALED, RoundState.PUBLISHED)
# the count exists: results and minutes can be read by the board
COUNTED_OR_LATER = (RoundState.COUNTED, RoundState.SEALED, RoundState.PUBLISHED)
# nothing about the round can change any more (the database's triggers say the same)
SEALED = (RoundState.SEALED, RoundState.PUBLISHED)
# the board is at work: from the opening of voting to the seal (separation of duties holds then: ballots.accounts)
BOARD_AT_WORK = tuple(state for state in RoundState
                      if state not in (RoundState.DRAFT, RoundState.ISSUED) and state not in SEALED)

# the words a refusal uses for the state it met (round states, then token states)
STATE_WORDS = {
    RoundState.DRAFT: N_("in draft"), RoundState.ISSUED: N_("issued, not yet open"),
    RoundState.OPEN: N_("open for voting"), RoundState.CLOSED: N_("closed"), RoundState.COUNTED: N_("counted"),
    RoundState.SEALED: N_("sealed"), RoundState.PUBLISHED: N_("published"),
}
# a token that can no longer be voided or cast is one of these
TOKEN_STATE_WORDS = {TokenState.CAST: N_("cast"), TokenState.VOID: N_("voided")}


def words(state: str) -> str:
    """The words for a round's state in a refusal (a msgid: the app translates it)."""
    return STATE_WORDS[RoundState(state)]


def require_state(round_, *allowed: RoundState, refusal: type[BallotError]) -> None:
    """Return if the round is in one of the `allowed` states, else raise `refusal`, told the state it met."""
    if round_.state not in allowed:
        raise refusal(state=words(round_.state))


def require_unsealed_state(round_, *allowed: RoundState, refusal: type[BallotError]) -> None:
    """As `require_state`, for the board's work between the close and the seal: a sealed round is refused as
    such (RoundSealed), whatever else the verb expected."""
    if round_.state in SEALED:
        raise RoundSealed()
    require_state(round_, *allowed, refusal=refusal)


def advance(round_, to: RoundState) -> None:
    """Move the round to `to`. Raises Conflict for a move the lifecycle does not allow (a verb that forgot its
    require_state), so that no such state is ever written."""
    if to not in TRANSITIONS[RoundState(round_.state)]:
        raise Conflict(N_("This round cannot go from %(from_state)s to %(to_state)s."),
                       from_state=words(round_.state), to_state=words(to))
    round_.state = to.value


def is_sealed(round_) -> bool:
    return round_.state in SEALED


def has_closed(round_) -> bool:
    """Voting is over (the board's counting pages apply)."""
    return round_.state in AFTER_CLOSE


def is_counted(round_) -> bool:
    """The count exists (its results and minutes can be read by the board)."""
    return round_.state in COUNTED_OR_LATER

"""The accounting of a round's ballots, in one place: issued, voided, cast, unused; turnout; the quorum.

Counts only, never the content of a ballot. "Issued" (phiếu phát ra) is what was printed less what the board
voided; the quorum is two thirds of those convened present, decided by exact integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Round, Token


def has_quorum(convened: int, present: int) -> bool:
    """At least two thirds of those convened are present (3*present >= 2*convened), exactly; with nobody
    convened there is no conference, so no quorum."""
    return convened > 0 and 3 * present >= 2 * convened


def live_count(session: Session, round_: Round) -> int:
    """Ballots issued and not voided."""
    return session.scalar(select(func.count()).select_from(Token)
                          .where(Token.round_id == round_.id, Token.state != "void"))


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


def ballot_accounting(session: Session, round_: Round) -> Accounting:
    """The board's numbers for the round's ballots, by state of their tokens."""
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


@dataclass(frozen=True)
class Turnout:
    issued: int
    cast: int
    remaining: int


def turnout(session: Session, round_: Round) -> Turnout:
    """Ballots issued (less voided), cast on tablets, and not yet used, for the live turnout."""
    numbers = ballot_accounting(session, round_)
    return Turnout(issued=numbers.issued, cast=numbers.cast, remaining=numbers.unused)

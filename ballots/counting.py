"""The count: the tally of a closed round's settled ballots under its rule set, the anomaly it may show, the
board's written ruling on that anomaly, and reopening paper entry. The second step of counting; it reads the
tablet ballots and paper entry's sheet states, and its output (`Count`) is what sealing signs.

Takes a Session, flushes, never commits. Counting moves the round from `closed` to `counted`; reopening moves it
back (approvals withdrawn); sealing.py takes it on from `counted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import audit, ballot_box, paper_entry, results
from .accounting import live_count
from .authority import require_board
from .errors import N_, InvalidInput, NotCounted, NotCountingNow, SheetsUnsettled
from .fields import one_line
from .lifecycle import RoundState, advance, require_unsealed_state
from .models import Account, Approval, Ballot, Round
from .rules import rule_set_of
from .tally import Sheet, Tally, tally

MAX_RULING = 1000


def _tablet_sheets(session: Session, round_: Round):
    """The round's tablet ballots as sheets (anonymous rows: marks only, never a flaw)."""
    no_flaws = frozenset()
    for (marks,) in session.execute(select(Ballot.marks).where(Ballot.round_id == round_.id)):
        yield Sheet(marks, no_flaws)


@dataclass
class Count:
    """The round's count as the rows stand: the tally, every ballot collected (tablet and settled paper), and
    what paper entry set aside or the board ruled on."""

    tally: Tally
    sheets: list[Sheet]  # the tablet ballots first, then the settled paper sheets
    tablets: int
    set_aside: dict[str, int]  # physical sheets set aside as duplicates: {"used_on_tablet": n, "other_sheet": n}
    ruled_sheets: int

    @property
    def tablet_sheets(self) -> list[Sheet]:
        return self.sheets[:self.tablets]

    @cached_property
    def digest(self) -> str:
        """The digest of the sorted ballots: only the seal needs it (a second of work for 10^5 ballots)."""
        return results.ballots_digest(self.sheets)


def count_of(session: Session, round_: Round, states: list[paper_entry.SheetState] | None = None) -> Count:
    """The tally of the round's settled ballots under its rule set (and, when asked, the ballots' digest)."""
    states = paper_entry.sheet_states(session, round_) if states is None else states
    tablets = list(_tablet_sheets(session, round_))
    sheets = [*tablets, *paper_entry.settled_sheets(states)]
    counted = tally(sheets, candidates=len(round_.candidates), rule_set=rule_set_of(round_),
                    convened=round_.convened, present=round_.present, issued=live_count(session, round_))
    return Count(counted, sheets, len(tablets), duplicates_of(session, round_), paper_entry.ruled_count(states))


def duplicates_of(session: Session, round_: Round) -> dict[str, int]:
    """The duplicates paper entry set aside, as the result document names them (results.document)."""
    found = paper_entry.duplicates(session, round_)
    return {"used_on_tablet": found[paper_entry.TABLET], "other_sheet": found[paper_entry.AGAIN]}


def checked_count(session: Session, round_: Round) -> Count:
    """The count, once the box is open and its tablet ballots are still those the opening recorded (what the
    count and the seal rest on). Raises BoxNotOpen, OpenedSetChanged, OpenedBallotChanged."""
    ballot_box.require_open(session, round_)
    counted = count_of(session, round_)
    ballot_box.check_opened(session, round_, counted.tablet_sheets)
    return counted


def has_anomaly(session: Session, round_: Round) -> bool:
    """Whether the count shows an anomaly (more sheets collected than issued, more issued than present), from the
    numbers alone: no recount, this runs at each approval."""
    tablets = session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == round_.id))
    paper = sum(1 for _ in paper_entry.settled_sheets(paper_entry.sheet_states(session, round_)))
    issued = live_count(session, round_)
    return tablets + paper > issued or issued > round_.present


def count_round(session: Session, round_: Round, *, account: Account) -> Tally:
    """Finish paper entry and count: the box must be open and every sheet entered settled. Returns the tally.

    Raises RoundSealed, NotCountingNow, NotOnBoard, SheetsUnsettled, BoxNotOpen, OpenedSetChanged,
    OpenedBallotChanged.
    """
    require_unsealed_state(round_, RoundState.CLOSED, refusal=NotCountingNow)
    require_board(account, round_)
    waiting = len(paper_entry.unsettled(paper_entry.sheet_states(session, round_)))
    if waiting:
        raise SheetsUnsettled(count=waiting)
    counted = checked_count(session, round_).tally
    advance(round_, RoundState.COUNTED)
    session.flush()
    audit.record(session, actor=account.username, action="round.count", subject=f"round:{round_.id}",
                 details={"issued": counted.issued, "collected": counted.collected, "valid": counted.valid,
                          "invalid": counted.invalid, "anomalies": list(counted.anomalies)})
    return counted


def _require_counted(round_: Round, account: Account) -> None:
    """Work on a count that is done and not yet sealed, by a member of the board."""
    require_unsealed_state(round_, RoundState.COUNTED, refusal=NotCounted)
    require_board(account, round_)


def reopen_count(session: Session, round_: Round, *, account: Account) -> None:
    """Back to paper entry before the seal (a mistake found while reading the minutes): approvals are withdrawn.

    Raises RoundSealed, NotCounted, NotOnBoard.
    """
    _require_counted(round_, account)
    session.execute(delete(Approval).where(Approval.round_id == round_.id))
    advance(round_, RoundState.CLOSED)
    round_.anomaly_ruling, round_.anomaly_ruled_by = None, None
    session.flush()
    audit.record(session, actor=account.username, action="round.reopen_count", subject=f"round:{round_.id}")


def rule_anomaly(session: Session, round_: Round, *, account: Account, ruling: str) -> None:
    """Record the board's written ruling on an anomaly of the count (e.g. more sheets collected than issued).

    Raises RoundSealed, NotCounted, NotOnBoard, InvalidInput.
    """
    _require_counted(round_, account)
    ruling = one_line(ruling)
    if not ruling:
        raise InvalidInput(N_("Write the board's ruling."))
    if len(ruling) > MAX_RULING:
        raise InvalidInput(N_("The ruling is longer than %(limit)s characters."), limit=MAX_RULING)
    round_.anomaly_ruling, round_.anomaly_ruled_by = ruling, account.display_name
    session.flush()
    audit.record(session, actor=account.username, action="count.rule_anomaly", subject=f"round:{round_.id}",
                 details={"ruling": ruling})

"""Paper entry: each paper sheet keyed independently by the board's tellers, their agreement, the board's
rulings, and the sheets set aside as duplicates. The first step of counting a closed round; its output is the
state of every sheet (`sheet_states`), which the count (counting.py) reads and nothing else.

Takes a Session, flushes, never commits. Each paper sheet is entered independently by `round.paper_entries`
(2 or 3) different tellers of the board; it counts only when their entries agree, and a sheet whose entries
disagree (or that too few tellers entered) waits for the board's ruling. A sheet is named by its code:
"t<token id>" for a ballot of this round, "x<hash>" for a code that is not (unknown, or of another round: not
issued by this board, so collected and invalid), "n<k>" for a teller's k-th sheet with no readable code at all
(also not issued by this board). A sheet whose code was already used on a tablet, or that the same teller
already entered (a copy), is set aside as a duplicate and counted nowhere: otherwise a delegate who voted on a
tablet could raise the base N by dropping the paper in the box too.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from . import audit, results, tokens
from .authority import require_board
from .errors import N_, Conflict, InvalidInput, NotCountingNow, NotFound, PaperMarksInvalid
from .lifecycle import RoundState, require_unsealed_state
from .models import Account, PaperEntry, Round, SetAside, SheetRuling, Token, utcnow
from .rules import rule_set_of
from .tally import CROSSED_OUT, EXTRA_WRITING, NOT_ISSUED, Sheet, flaw_reasons

PAPER_FLAWS = (CROSSED_OUT, EXTRA_WRITING)  # what a teller records; NOT_ISSUED follows from the code
TABLET, AGAIN = "tablet", "again"  # why a sheet is set aside
AGREED, RULED, DISAGREE, INCOMPLETE = "agreed", "ruled", "disagree", "incomplete"


def _require_paper_entry(round_: Round, account: Account) -> None:
    """Paper entry and rulings happen between the close and the count, by members of the board only."""
    require_unsealed_state(round_, RoundState.CLOSED, refusal=NotCountingNow)
    require_board(account, round_)


def _flaws_text(flaws: Iterable[str]) -> str:
    return ",".join(sorted(flaws))


def sheet_content(round_: Round, marks: str, flaws: Iterable[str], implied: frozenset[str]) -> tuple[bytes, str]:
    """What a teller (or the board) read on a sheet, in the one form entries are compared in.

    A sheet void as a whole keeps no marks (two tellers who both saw a crossed-out name agree whatever else they
    keyed); extra writing is kept only where the rule set voids for it. Raises InvalidInput, PaperMarksInvalid.
    """
    flaws = frozenset(flaws)
    if not flaws <= set(PAPER_FLAWS):
        raise InvalidInput(N_("Unknown reason for an invalid ballot."))
    rule_set = rule_set_of(round_)
    if rule_set.extra_writing_policy != "void":
        flaws -= {EXTRA_WRITING}
    flaws |= implied
    count = len(round_.candidates)
    if flaw_reasons(flaws, rule_set):  # void as a whole, whatever its marks say
        return bytes(count), _flaws_text(flaws)
    text = (marks or "").strip()
    if len(text) != count or not text.isascii() or any(ch not in "01234" for ch in text):
        raise PaperMarksInvalid(count=count)
    return bytes(int(ch) for ch in text), _flaws_text(flaws)


@dataclass(frozen=True)
class Entered:
    """What happened to a sheet a teller entered, and where the sheet stands now."""

    sheet: str
    outcome: str  # "entered", "corrected" or "set_aside"
    set_aside: str | None  # TABLET or AGAIN when set aside
    flaws: str
    status: str | None  # AGREED, RULED, DISAGREE or INCOMPLETE (None when set aside)
    entries: int


def _identify(session: Session, round_: Round, teller: Account, code: str | None) -> tuple[str, frozenset, bool]:
    """The sheet a code names, the flaws the code alone implies, and whether it was already used on a tablet."""
    if not (code or "").strip():
        own_codeless = session.scalar(select(func.count()).select_from(PaperEntry).where(
            PaperEntry.round_id == round_.id, PaperEntry.teller_id == teller.id, PaperEntry.sheet.like("n%")))
        return f"n{own_codeless + 1}", frozenset({NOT_ISSUED}), False
    secret_hash = tokens.hash_secret(tokens.secret_of(code))
    token = session.execute(select(Token.id, Token.round_id, Token.state)
                            .where(Token.secret_hash == secret_hash)).first()
    if token is None or token.round_id != round_.id:
        return "x" + secret_hash.hex()[:32], frozenset({NOT_ISSUED}), False
    if token.state == "void":  # a sheet the board voided is not one it issued
        return f"t{token.id}", frozenset({NOT_ISSUED}), False
    return f"t{token.id}", frozenset(), token.state == "cast"


def enter_sheet(
    session: Session,
    round_: Round,
    *,
    teller: Account,
    code: str | None,
    marks: str = "",
    flaws: Iterable[str] = (),
    correct: bool = False,
    now: dt.datetime | None = None,
) -> Entered:
    """Record one teller's reading of one paper sheet (`code` empty: a sheet without a readable code).

    A sheet already used on a tablet, or already entered by this teller, is set aside (unless `correct`, which
    replaces this teller's own earlier entry of the sheet). Returns what happened and the sheet's status.
    Raises RoundSealed, NotCountingNow, NotOnBoard, MalformedCode, InvalidInput, PaperMarksInvalid.
    """
    _require_paper_entry(round_, teller)
    now = now or utcnow()
    sheet, implied, used_on_tablet = _identify(session, round_, teller, code)
    own = session.scalar(select(PaperEntry).where(PaperEntry.round_id == round_.id, PaperEntry.sheet == sheet,
                                                  PaperEntry.teller_id == teller.id))
    if correct and own is None:
        raise InvalidInput(N_("You have not entered this ballot yet: there is nothing to correct."))
    if used_on_tablet or (own is not None and not correct):
        reason = TABLET if used_on_tablet else AGAIN
        session.add(SetAside(round_id=round_.id, sheet=sheet, teller_id=teller.id, reason=reason, entered_at=now))
        session.flush()
        audit.record(session, actor=teller.username, action="paper.set_aside", subject=f"round:{round_.id}",
                     details={"sheet": sheet, "reason": reason}, now=now)
        return Entered(sheet, "set_aside", reason, "", None, 0)
    content, flaws_text = sheet_content(round_, marks, flaws, implied)
    if own is None:
        session.add(PaperEntry(round_id=round_.id, sheet=sheet, teller_id=teller.id, marks=content,
                               flaws=flaws_text, entered_at=now))
        outcome = "entered"
    else:
        own.marks, own.flaws, own.entered_at = content, flaws_text, now
        outcome = "corrected"
    session.flush()
    audit.record(session, actor=teller.username, action=f"paper.{'enter' if outcome == 'entered' else 'correct'}",
                 subject=f"round:{round_.id}", now=now,
                 details={"sheet": sheet, "marks": content.translate(results.DIGITS).decode(), "flaws": flaws_text})
    state = sheet_state(session, round_, sheet)
    return Entered(sheet, outcome, None, flaws_text, state.status, len(state.entries))


@dataclass(frozen=True)
class Entry:
    teller: str
    teller_id: int
    ordinal: int  # the sheet's place in this teller's own pass: where to find it in their stack
    marks: bytes
    flaws: str
    entered_at: dt.datetime


@dataclass(frozen=True)
class SheetState:
    sheet: str
    entries: tuple[Entry, ...]
    ruling: SheetRuling | None
    status: str

    @property
    def content(self) -> tuple[bytes, str] | None:
        """What the sheet counts as, once settled."""
        if self.ruling is not None:
            return self.ruling.marks, self.ruling.flaws
        if self.status == AGREED:
            return self.entries[0].marks, self.entries[0].flaws
        return None


def _status(entries: list[Entry], ruling: SheetRuling | None, needed: int) -> str:
    if ruling is not None:
        return RULED
    if len({(e.marks, e.flaws) for e in entries}) > 1:
        return DISAGREE
    return INCOMPLETE if len(entries) < needed else AGREED


def sheet_states(session: Session, round_: Round) -> list[SheetState]:
    """Every paper sheet entered in the round, with its entries and status, in order of entry."""
    query = (select(PaperEntry, Account.display_name).join(Account, Account.id == PaperEntry.teller_id)
             .where(PaperEntry.round_id == round_.id).order_by(PaperEntry.id))
    ordinals: Counter = Counter()
    grouped: dict[str, list[Entry]] = {}
    for entry, name in session.execute(query):
        ordinals[entry.teller_id] += 1
        grouped.setdefault(entry.sheet, []).append(
            Entry(name, entry.teller_id, ordinals[entry.teller_id], entry.marks, entry.flaws, entry.entered_at))
    rulings = {r.sheet: r for r in session.scalars(select(SheetRuling).where(SheetRuling.round_id == round_.id))}
    return [SheetState(key, tuple(entries), rulings.get(key), _status(entries, rulings.get(key), round_.paper_entries))
            for key, entries in grouped.items()]


def sheet_state(session: Session, round_: Round, sheet: str) -> SheetState:
    """One sheet's entries and status, read alone: this runs after every paper entry, so it must not read the
    round's other entries (each entry's place in its teller's pass is counted by the database)."""
    earlier = aliased(PaperEntry)
    ordinal = (select(func.count()).select_from(earlier)
               .where(earlier.round_id == PaperEntry.round_id, earlier.teller_id == PaperEntry.teller_id,
                      earlier.id <= PaperEntry.id).scalar_subquery())
    rows = session.execute(select(PaperEntry, Account.display_name, ordinal)
                           .join(Account, Account.id == PaperEntry.teller_id)
                           .where(PaperEntry.round_id == round_.id, PaperEntry.sheet == sheet)
                           .order_by(PaperEntry.id)).all()
    if not rows:
        raise NotFound(N_("No paper ballot %(sheet)s has been entered in this round."), sheet=sheet)
    entries = [Entry(name, e.teller_id, place, e.marks, e.flaws, e.entered_at) for e, name, place in rows]
    ruling = session.get(SheetRuling, (round_.id, sheet))
    return SheetState(sheet, tuple(entries), ruling, _status(entries, ruling, round_.paper_entries))


def entries_by(session: Session, round_: Round, teller: Account) -> int:
    """How many sheets this teller has entered in the round."""
    return session.scalar(select(func.count()).select_from(PaperEntry).where(
        PaperEntry.round_id == round_.id, PaperEntry.teller_id == teller.id))


def rule_sheet(
    session: Session, round_: Round, *, sheet: str, account: Account, marks: str = "", flaws: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> None:
    """The board's ruling on a sheet whose entries disagree or are too few: what the sheet counts as.

    A later ruling before the count replaces an earlier one (both are in the audit log). Raises RoundSealed,
    NotCountingNow, NotOnBoard, NotFound, Conflict (the entries agree: nothing to rule), InvalidInput,
    PaperMarksInvalid.
    """
    _require_paper_entry(round_, account)
    state = sheet_state(session, round_, sheet)
    if state.status == AGREED:
        raise Conflict(N_("The tellers' entries of this ballot agree: there is nothing to rule on."))
    implied = frozenset({NOT_ISSUED}) if any(NOT_ISSUED in e.flaws.split(",") for e in state.entries) else frozenset()
    content, flaws_text = sheet_content(round_, marks, flaws, implied)
    now = now or utcnow()
    if state.ruling is None:
        session.add(SheetRuling(round_id=round_.id, sheet=sheet, marks=content, flaws=flaws_text,
                                ruled_by=account.id, ruled_at=now))
    else:
        state.ruling.marks, state.ruling.flaws, state.ruling.ruled_by, state.ruling.ruled_at = (
            content, flaws_text, account.id, now)
    session.flush()
    audit.record(session, actor=account.username, action="paper.rule", subject=f"round:{round_.id}", now=now,
                 details={"sheet": sheet, "marks": content.translate(results.DIGITS).decode(), "flaws": flaws_text})


def set_aside_count(session: Session, round_: Round) -> int:
    """Sheets set aside as duplicates: each teller's pass sets aside the same sheets, so the largest pass counts."""
    per_teller = session.scalars(select(func.count()).select_from(SetAside).where(SetAside.round_id == round_.id)
                                 .group_by(SetAside.teller_id)).all()
    return max(per_teller, default=0)


def set_aside_list(session: Session, round_: Round) -> list[tuple[str, str, str, dt.datetime]]:
    """Every sheet set aside, for the entry log: (teller, sheet, reason, when)."""
    return list(session.execute(
        select(Account.display_name, SetAside.sheet, SetAside.reason, SetAside.entered_at)
        .join(Account, Account.id == SetAside.teller_id).where(SetAside.round_id == round_.id).order_by(SetAside.id)))


@dataclass(frozen=True)
class Progress:
    sheets: int
    agreed: int
    ruled: int
    disagree: int
    incomplete: int
    set_aside: int
    per_teller: dict[str, int]

    @property
    def unsettled(self) -> int:
        return self.disagree + self.incomplete


def progress(session: Session, round_: Round, states: list[SheetState] | None = None) -> Progress:
    states = sheet_states(session, round_) if states is None else states
    by_status = Counter(s.status for s in states)
    per_teller = Counter(e.teller for s in states for e in s.entries)
    return Progress(len(states), by_status[AGREED], by_status[RULED], by_status[DISAGREE], by_status[INCOMPLETE],
                    set_aside_count(session, round_), dict(sorted(per_teller.items())))


def settled_sheets(states: list[SheetState]) -> Iterator[Sheet]:
    """What the settled paper sheets count as, for the count: each agreed or ruled sheet once."""
    for state in states:
        if (content := state.content) is not None:
            yield Sheet(content[0], frozenset(content[1].split(",")) - {""})


def unsettled(states: list[SheetState]) -> list[SheetState]:
    """Sheets whose entries disagree or that too few tellers entered: the count waits for them (the board's
    queue)."""
    return [s for s in states if s.status in (DISAGREE, INCOMPLETE)]


def ruled_count(states: list[SheetState]) -> int:
    """Sheets the board ruled on."""
    return sum(1 for s in states if s.status == RULED)

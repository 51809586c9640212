"""Paper entry: each paper sheet keyed independently by the board's tellers, their agreement, the board's
rulings, and the sheets set aside as duplicates. The first step of counting a closed round; its output is the
state of every sheet (`sheet_states`), which the count (counting.py) reads and nothing else.

Takes a Session, flushes, never commits. Each paper sheet is entered independently by `round.paper_entries`
(2 or 3) different tellers of the board; it counts only when their entries agree. A sheet whose independent
entries disagree waits for the board's ruling; one that too few tellers entered waits for another teller (the
board cannot settle it: that would let one teller's reading stand alone). A sheet is named by its code:
"t<token id>" for a ballot of this round, "x<hash>" for a code that is not (unknown, or of another round: not
issued by this board, so collected and invalid), "n<k>" for a teller's k-th sheet with no readable code at all
(also not issued by this board). A sheet whose code was already used on a tablet, or another paper sheet with
the code of one already entered (a copy), is set aside as a duplicate and counted nowhere: otherwise a delegate who
voted on a tablet could raise the base N by dropping the paper in the box too. A teller who scans a sheet they
have already handled is most often holding the same sheet again: nothing is recorded, and they are offered to
correct their entry or, if it is really another sheet with the same code, to set it aside (only they can tell,
the code cannot). So the duplicates counted are physical sheets, never re-scans.
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
from .models import Account, PaperEntry, Round, ScanPage, SetAside, SheetRuling, Token, utcnow
from .rules import rule_set_of
from .tally import CROSSED_OUT, EXTRA_WRITING, NOT_ISSUED, Sheet, flaw_reasons

PAPER_FLAWS = (CROSSED_OUT, EXTRA_WRITING)  # what a teller records; NOT_ISSUED follows from the code
TABLET, AGAIN = "tablet", "again"  # why a sheet is set aside: its code was used on a tablet; on another paper sheet
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
    outcome: str  # "entered", "corrected", "set_aside" or ALREADY (nothing recorded: a re-scan)
    set_aside: str | None  # TABLET or AGAIN when set aside
    flaws: str
    status: str | None  # AGREED, RULED, DISAGREE or INCOMPLETE (None when set aside or ALREADY)
    entries: int
    # for ALREADY: the place in this teller's stack of their earlier entry of the code (None: they set it aside),
    # and whether what they keyed now reads the same (None: set aside, or the marks keyed now are unreadable)
    earlier: int | None = None
    same: bool | None = None


ALREADY = "already_entered"


def identify_code(session: Session, round_: Round, code: str) -> tuple[str, frozenset, bool]:
    """What a ballot code read off a sheet names (`_identify`), for the scanner, which reads it from the QR.
    Raises MalformedCode."""
    return _identify(session, round_, None, code)


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
    another_sheet: bool = False,
    now: dt.datetime | None = None,
) -> Entered:
    """Record one teller's reading of one paper sheet (`code` empty: a sheet without a readable code).

    A sheet whose code was used on a tablet is set aside the first time this teller meets it. A code this teller
    has already entered or set aside records nothing (outcome ALREADY: most often the same sheet scanned again),
    unless `correct` (replace this teller's own entry with what they keyed now) or `another_sheet` (the teller
    holds a second sheet with that code: a duplicate, set aside). Returns what happened and the sheet's status.
    Raises RoundSealed, NotCountingNow, NotOnBoard, MalformedCode, InvalidInput, PaperMarksInvalid.
    """
    _require_paper_entry(round_, teller)
    now = now or utcnow()
    if correct and another_sheet:
        raise InvalidInput(N_("Either correct your entry of this sheet or set it aside as another sheet, not both."))
    sheet, implied, used_on_tablet = _identify(session, round_, teller, code)
    own = session.scalar(select(PaperEntry).where(PaperEntry.round_id == round_.id, PaperEntry.sheet == sheet,
                                                  PaperEntry.teller_id == teller.id))
    own_aside = session.scalar(select(func.count()).select_from(SetAside).where(
        SetAside.round_id == round_.id, SetAside.sheet == sheet, SetAside.teller_id == teller.id))
    if correct and own is None:
        raise InvalidInput(N_("You have not entered this ballot yet: there is nothing to correct."))
    met_before = own is not None or own_aside > 0
    if another_sheet and not met_before:
        raise InvalidInput(N_("You have not entered a sheet with this code yet: enter this one as usual."))
    if met_before and not (correct or another_sheet):
        return _already(session, round_, teller, sheet, own, marks, flaws, implied)
    if used_on_tablet or another_sheet:
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


def _already(session: Session, round_: Round, teller: Account, sheet: str, own: PaperEntry | None, marks: str,
             flaws: Iterable[str], implied: frozenset[str]) -> Entered:
    """A code this teller already handled, met again: nothing is recorded. Says where their earlier entry is in
    their stack and whether it reads as what they keyed now, so the page can offer the right choice."""
    if own is None:  # they set a sheet with this code aside (used on a tablet): there is no entry to compare
        return Entered(sheet, ALREADY, None, "", None, 0)
    place = session.scalar(select(func.count()).select_from(PaperEntry).where(
        PaperEntry.round_id == round_.id, PaperEntry.teller_id == teller.id, PaperEntry.id <= own.id))
    try:
        same = sheet_content(round_, marks, flaws, implied) == (own.marks, own.flaws)
    except (InvalidInput, PaperMarksInvalid):
        same = None
    state = sheet_state(session, round_, sheet)
    return Entered(sheet, ALREADY, None, own.flaws, state.status, len(state.entries), earlier=place, same=same)


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
    machine: ScanPage | None = None  # the scanner's reading of the sheet, when it was scanned (machine_entry)

    @property
    def content(self) -> tuple[bytes, str] | None:
        """What the sheet counts as, once settled."""
        if self.ruling is not None:
            return self.ruling.marks, self.ruling.flaws
        if self.status == AGREED:
            return self.entries[0].marks, self.entries[0].flaws
        return None


def _status(entries: list[Entry], ruling: SheetRuling | None, needed: int, machine: ScanPage | None = None,
            machine_needed: int = 1) -> str:
    if ruling is not None:
        return RULED
    readings = {(e.marks, e.flaws) for e in entries}
    if machine is None:
        if len(readings) > 1:
            return DISAGREE
        return INCOMPLETE if len(entries) < needed else AGREED
    # A scanned sheet: the scanner is one entry, never enough alone; `machine_needed` tellers' entries equal to
    # its reading settle it. A reading the scanner doubted is no entry at all: once the tellers have keyed it,
    # the doubt goes to the board (never counted on the machine's word, nor on one teller's against it).
    if machine.is_trusted:
        readings.add((machine.marks, machine.flaws))
    if len(readings) > 1 or (not machine.is_trusted and len(entries) >= machine_needed):
        return DISAGREE
    return INCOMPLETE if len(entries) < machine_needed or not machine.is_trusted else AGREED


def _scan_key(page: ScanPage) -> str:
    """A scanned page's sheet; "s<page id>" for a page whose code nobody has read yet (it waits for a teller)."""
    return page.sheet or f"s{page.id}"


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
    scans = {_scan_key(p): p for p in session.scalars(select(ScanPage).where(ScanPage.round_id == round_.id)
                                                         .order_by(ScanPage.id))}
    for key in scans:  # a scanned sheet no teller has keyed yet is a sheet too: the count waits for it
        grouped.setdefault(key, [])
    return [SheetState(key, tuple(entries), rulings.get(key),
                       _status(entries, rulings.get(key), round_.paper_entries, scans.get(key), round_.machine_entries),
                       scans.get(key))
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
    machine = session.scalar(select(ScanPage).where(ScanPage.round_id == round_.id, ScanPage.sheet == sheet))
    if not rows and machine is None:
        raise NotFound(N_("No paper ballot %(sheet)s has been entered in this round."), sheet=sheet)
    entries = [Entry(name, e.teller_id, place, e.marks, e.flaws, e.entered_at) for e, name, place in rows]
    ruling = session.get(SheetRuling, (round_.id, sheet))
    return SheetState(sheet, tuple(entries), ruling,
                      _status(entries, ruling, round_.paper_entries, machine, round_.machine_entries), machine)


def entries_by(session: Session, round_: Round, teller: Account) -> int:
    """How many sheets this teller has entered in the round."""
    return session.scalar(select(func.count()).select_from(PaperEntry).where(
        PaperEntry.round_id == round_.id, PaperEntry.teller_id == teller.id))


def rule_sheet(
    session: Session, round_: Round, *, sheet: str, account: Account, marks: str = "", flaws: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> None:
    """The board's ruling on a sheet whose independent entries disagree: what the sheet counts as.

    A later ruling before the count replaces an earlier one (both are in the audit log). Raises RoundSealed,
    NotCountingNow, NotOnBoard, NotFound, Conflict (the entries agree, or too few tellers entered the sheet:
    nothing to rule on), InvalidInput, PaperMarksInvalid.
    """
    _require_paper_entry(round_, account)
    state = sheet_state(session, round_, sheet)
    if state.status == AGREED:
        raise Conflict(N_("The tellers' entries of this ballot agree: there is nothing to rule on."))
    if state.status == INCOMPLETE:  # one teller's reading alone: the board must not settle it in their place
        raise Conflict(N_("Only %(count)s of the %(needed)s tellers have entered this ballot, and their entries "
                          "agree: another teller must enter it on their own before it counts. The board rules "
                          "only when independent entries disagree."), count=len(state.entries),
                       needed=round_.paper_entries)
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


def duplicates(session: Session, round_: Round) -> dict[str, int]:
    """Physical sheets set aside as duplicates, by why: {TABLET: n, AGAIN: n}. Each teller's pass meets the same
    sheets, so for each code the teller who set aside the most sheets of it counts (a re-scan sets nothing aside)."""
    most: dict[tuple[str, str], int] = {}
    for sheet, reason, count in session.execute(
            select(SetAside.sheet, SetAside.reason, func.count()).where(SetAside.round_id == round_.id)
            .group_by(SetAside.sheet, SetAside.reason, SetAside.teller_id)):
        most[sheet, reason] = max(most.get((sheet, reason), 0), count)
    found = dict.fromkeys((TABLET, AGAIN), 0)
    for (_sheet, reason), count in most.items():
        found[reason] += count
    return found


def set_aside_count(session: Session, round_: Round) -> int:
    """Physical sheets set aside as duplicates, whatever the reason."""
    return sum(duplicates(session, round_).values())


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
    """Sheets whose entries disagree or that too few tellers entered: the count waits for them."""
    return [s for s in states if s.status in (DISAGREE, INCOMPLETE)]


def for_the_board(states: list[SheetState]) -> list[SheetState]:
    """The board's queue: sheets whose independent entries disagree (a sheet too few tellers entered waits for
    another teller, not for the board)."""
    return [s for s in states if s.status == DISAGREE]


def ruled_count(states: list[SheetState]) -> int:
    """Sheets the board ruled on (only sheets whose independent entries disagreed can be ruled on)."""
    return sum(1 for s in states if s.status == RULED)

"""Counting a closed round: paper entry by independent tellers, the board's rulings, the tally, approval, the seal.

Takes a Session, flushes, never commits. The lifecycle (DESIGN.md): `closed` (paper entry) → `counted` → `sealed`.

Paper entry. Each paper sheet is entered independently by `round.paper_entries` (2 or 3) different tellers of the
board; it counts only when their entries agree, and a sheet whose entries disagree (or that too few tellers
entered) waits for the board's ruling. A sheet is named by its code: "t<token id>" for a ballot of this round,
"x<hash>" for a code that is not (unknown, or of another round: not issued by this board, so collected and
invalid), "n<k>" for a teller's k-th sheet with no readable code at all (also not issued by this board). A sheet
whose code was already used on a tablet, or that the same teller already entered (a copy), is set aside as a
duplicate and counted nowhere: otherwise a delegate who voted on a tablet could raise the base N by dropping the
paper in the box too.

The tally reads the tablet ballots (anonymous rows) and the settled paper sheets; the seal signs a canonical
document (ballots.results) over it, the token commitment, a digest of the sorted ballots and the audit head.
After the seal the domain refuses every change (RoundSealed) and so do the database's triggers; `verify_sealed`
recomputes every sealed result from the rows and names what no longer matches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased

from . import audit, results, signing, tokens
from .errors import (
    N_,
    AlreadyApproved,
    AnomalyNotRuled,
    Conflict,
    InvalidInput,
    NotCounted,
    NotCountingNow,
    NotFound,
    NotOnBoard,
    PaperMarksInvalid,
    RoundSealed,
    SheetsUnsettled,
)
from .issuing import STATE_WORDS, live_count
from .models import (
    Account,
    Approval,
    AuditEntry,
    AuditHead,
    Ballot,
    Candidate,
    PaperEntry,
    Person,
    Result,
    ResultSummary,
    Round,
    SetAside,
    SheetRuling,
    Token,
    utcnow,
)
from .rounds import rule_set_of
from .rules import THRESHOLDS, RuleSet
from .tally import CROSSED_OUT, EXTRA_WRITING, NOT_ISSUED, Sheet, Tally, tally

SEALED_STATES = ("sealed", "published")
PAPER_FLAWS = (CROSSED_OUT, EXTRA_WRITING)  # what a teller records; NOT_ISSUED follows from the code
TABLET, AGAIN = "tablet", "again"  # why a sheet is set aside
AGREED, RULED, DISAGREE, INCOMPLETE = "agreed", "ruled", "disagree", "incomplete"
MAX_RULING = 1000


def _refuse_unless(round_: Round, state: str) -> None:
    if round_.state in SEALED_STATES:
        raise RoundSealed()
    if round_.state != state:
        if state == "counted":
            raise NotCounted(state=STATE_WORDS[round_.state])
        raise NotCountingNow(state=STATE_WORDS[round_.state])


def _refuse_outsider(round_: Round, account: Account) -> None:
    if not any(seat.account_id == account.id for seat in round_.board):
        raise NotOnBoard()


def _flaws_text(flaws: Iterable[str]) -> str:
    return ",".join(sorted(flaws))


def _void_whole(flaws: frozenset[str], rule_set: RuleSet) -> bool:
    """Whether these flaws void the whole sheet under the rule set, whatever its marks say."""
    return bool(flaws & {NOT_ISSUED, CROSSED_OUT}) or (EXTRA_WRITING in flaws and rule_set.extra_writing_policy == "void")


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
    if _void_whole(flaws, rule_set):
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
    _refuse_unless(round_, "closed")
    _refuse_outsider(round_, teller)
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
    _refuse_unless(round_, "closed")
    _refuse_outsider(round_, account)
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


def _sheets(session: Session, round_: Round, states: list[SheetState]) -> Iterator[Sheet]:
    """Every ballot collected: the tablet ballots and the settled paper sheets."""
    no_flaws = frozenset()
    for (marks,) in session.execute(select(Ballot.marks).where(Ballot.round_id == round_.id)):
        yield Sheet(marks, no_flaws)
    for state in states:
        if (content := state.content) is not None:
            yield Sheet(content[0], frozenset(content[1].split(",")) - {""})


@dataclass
class Count:
    tally: Tally
    sheets: list[Sheet]

    @cached_property
    def digest(self) -> str:
        """The digest of the sorted ballots: only the seal needs it (a second of work for 10^5 ballots)."""
        return results.ballots_digest(self.sheets)


def count_of(session: Session, round_: Round, states: list[SheetState] | None = None) -> Count:
    """The tally of the round's settled ballots under its rule set (and, when asked, the ballots' digest)."""
    states = sheet_states(session, round_) if states is None else states
    sheets = list(_sheets(session, round_, states))
    result = tally(sheets, candidates=len(round_.candidates), rule_set=rule_set_of(round_),
                   convened=round_.convened, present=round_.present, issued=live_count(session, round_))
    return Count(result, sheets)


def _has_anomaly(session: Session, round_: Round) -> bool:
    """Whether the count shows an anomaly, from the numbers alone (no recount: this runs at each approval)."""
    collected = session.scalar(select(func.count()).select_from(Ballot).where(Ballot.round_id == round_.id)) + sum(
        1 for s in sheet_states(session, round_) if s.content is not None)
    issued = live_count(session, round_)
    return collected > issued or issued > round_.present


def count_round(session: Session, round_: Round, *, account: Account) -> Tally:
    """Finish paper entry and count: every sheet entered must be settled. Returns the tally.

    Raises RoundSealed, NotCountingNow, NotOnBoard, SheetsUnsettled.
    """
    _refuse_unless(round_, "closed")
    _refuse_outsider(round_, account)
    states = sheet_states(session, round_)
    unsettled = sum(1 for s in states if s.status in (DISAGREE, INCOMPLETE))
    if unsettled:
        raise SheetsUnsettled(count=unsettled)
    counted = count_of(session, round_, states).tally
    round_.state = "counted"
    session.flush()
    audit.record(session, actor=account.username, action="round.count", subject=f"round:{round_.id}",
                 details={"issued": counted.issued, "collected": counted.collected, "valid": counted.valid,
                          "invalid": counted.invalid, "anomalies": list(counted.anomalies)})
    return counted


def reopen_count(session: Session, round_: Round, *, account: Account) -> None:
    """Back to paper entry before the seal (a mistake found while reading the minutes): approvals are withdrawn.

    Raises RoundSealed, NotCounted, NotOnBoard.
    """
    _refuse_unless(round_, "counted")
    _refuse_outsider(round_, account)
    session.execute(delete(Approval).where(Approval.round_id == round_.id))
    round_.state, round_.anomaly_ruling, round_.anomaly_ruled_by = "closed", None, None
    session.flush()
    audit.record(session, actor=account.username, action="round.reopen_count", subject=f"round:{round_.id}")


def rule_anomaly(session: Session, round_: Round, *, account: Account, ruling: str) -> None:
    """Record the board's written ruling on an anomaly of the count (e.g. more sheets collected than issued).

    Raises RoundSealed, NotCounted, NotOnBoard, InvalidInput.
    """
    _refuse_unless(round_, "counted")
    _refuse_outsider(round_, account)
    ruling = " ".join((ruling or "").split())
    if not ruling:
        raise InvalidInput(N_("Write the board's ruling."))
    if len(ruling) > MAX_RULING:
        raise InvalidInput(N_("The ruling is longer than %(limit)s characters."), limit=MAX_RULING)
    round_.anomaly_ruling, round_.anomaly_ruled_by = ruling, account.display_name
    session.flush()
    audit.record(session, actor=account.username, action="count.rule_anomaly", subject=f"round:{round_.id}",
                 details={"ruling": ruling})


def approvers(session: Session, round_: Round) -> list[str]:
    return sorted(session.scalars(select(Account.display_name).join(Approval, Approval.account_id == Account.id)
                                  .where(Approval.round_id == round_.id)))


def approve(
    session: Session, round_: Round, *, account: Account, key: Ed25519PrivateKey, now: dt.datetime | None = None
) -> bool:
    """A board member approves the count; with the round's quorum of approvals the result is sealed.

    Returns whether this approval sealed it. Raises RoundSealed, NotCounted, NotOnBoard, AlreadyApproved,
    AnomalyNotRuled.
    """
    _refuse_unless(round_, "counted")
    _refuse_outsider(round_, account)
    if session.get(Approval, (round_.id, account.id)) is not None:
        raise AlreadyApproved()
    if not round_.anomaly_ruling and _has_anomaly(session, round_):
        raise AnomalyNotRuled()
    now = now or utcnow()
    session.add(Approval(round_id=round_.id, account_id=account.id, approved_at=now))
    session.flush()
    audit.record(session, actor=account.username, action="count.approve", subject=f"round:{round_.id}", now=now)
    approvals = session.scalar(select(func.count()).select_from(Approval).where(Approval.round_id == round_.id))
    if approvals < round_.approvals_needed:
        return False
    seal_round(session, round_, key=key, now=now)
    return True


def round_info(round_: Round) -> dict:
    conference = round_.conference
    committee = conference.committee
    return {"id": round_.id, "title": round_.title, "committee": committee.name, "level": committee.level,
            "parent": committee.parent.name if committee.parent else None, "conference": conference.name,
            "held_on": conference.held_on.isoformat(), "place": conference.place, "term": conference.term,
            "board": sorted(seat.account.display_name for seat in round_.board)}


def result_document(
    session: Session, round_: Round, *, audit_head: tuple[int, str], sealed_at: str, approved_by: list[str],
    counted: Count | None = None,
) -> dict:
    """The result document (trustvote.result/1) of the round as its rows stand now."""
    states = sheet_states(session, round_)
    counted = counted or count_of(session, round_, states)
    return results.document(
        round_info=round_info(round_), rule_set=rule_set_of(round_), tally=counted.tally,
        candidates=[tuple(row) for row in session.execute(  # one query, not one per candidate
            select(Person.full_name, Candidate.post).join(Candidate, Candidate.person_id == Person.id)
            .where(Candidate.round_id == round_.id).order_by(Candidate.position))],
        token_commitment=round_.commitment or "", digest=counted.digest, audit_head=audit_head,
        approved_by=approved_by, sealed_at=sealed_at, set_aside=set_aside_count(session, round_),
        ruled_sheets=sum(1 for s in states if s.status == RULED), anomaly_ruling=round_.anomaly_ruling)


def seal_round(
    session: Session, round_: Round, *, key: Ed25519PrivateKey, now: dt.datetime | None = None,
    counted: Count | None = None,
) -> Result:
    """Sign the round's result document and freeze the round. Called by `approve` at the quorum of approvals."""
    now = (now or utcnow()).replace(microsecond=0)
    head = session.get(AuditHead, 1)
    doc = result_document(session, round_, audit_head=(head.seq, head.hash),
                          sealed_at=audit.as_utc(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
                          approved_by=approvers(session, round_), counted=counted)
    text = audit.canonical_json(doc)
    digest = hashlib.sha256(text.encode()).hexdigest()
    result = Result(round_id=round_.id, document=text, digest=digest, signature=signing.sign(key, text.encode()),
                    public_key=signing.public_bytes(key).hex(), key_fingerprint=signing.fingerprint(key),
                    sealed_at=now)
    session.add(result)
    session.add(ResultSummary(round_id=round_.id, **summary_of(doc)))
    round_.state = "sealed"
    session.flush()
    audit.record(session, actor="trustvote", action="round.seal", subject=f"round:{round_.id}", now=now,
                 details={"result_sha256": digest, "ballots_digest": doc["ballots_digest"],
                          "key": result.key_fingerprint})
    return result


def summary_of(doc: dict) -> dict:
    """The few numbers of a result document that the upper-level dashboard shows."""
    numbers = doc["numbers"]
    crossed = {key: sum(1 for c in doc["candidates"] if c["flags"][key]) for key in THRESHOLDS}
    return {"issued": numbers["issued"], "collected": numbers["collected"], "convened": numbers["convened"],
            "present": numbers["present"], **crossed}


def envelope(result: Result) -> dict:
    """The signed envelope of a sealed result, as results.sign_document makes it."""
    return {"result": json.loads(result.document), "signature": result.signature, "public_key": result.public_key,
            "fingerprint": result.key_fingerprint}


def sealed_export(session: Session, round_: Round) -> dict:
    """The sealed ballot list (trustvote.ballots/1), for the board's independent recount. Raises NotCounted."""
    if round_.state not in SEALED_STATES:
        raise NotCounted(state=STATE_WORDS.get(round_.state, round_.state))
    return results.ballot_export(count_of(session, round_).sheets, round_id=round_.id)


def verify_sealed(session: Session, public_key: bytes | None) -> list[str]:
    """Check every sealed result against the rows it was computed from; return the problems found (in English).

    Each result must be signed by this instance's key, be the document the seal's audit entry fingerprinted, and
    equal the document recomputed now from the round's ballots, paper entries, rulings and approvals.
    """
    problems = []
    seals = {entry.subject: json.loads(entry.details) for entry in session.scalars(
        select(AuditEntry).where(AuditEntry.action == "round.seal"))}
    found = set()
    for result in session.scalars(select(Result).order_by(Result.round_id)):
        subject = f"round:{result.round_id}"
        found.add(subject)
        where = f"round {result.round_id}"
        if public_key is None:
            problems.append(f"{where}: this instance has no signing key to check the result against")
        elif result.public_key != public_key.hex():
            problems.append(f"{where}: the result is signed with another key than this instance's")
        if not signing.verify(bytes.fromhex(result.public_key), result.document.encode(), result.signature):
            problems.append(f"{where}: the signature does not match the result")
        digest = hashlib.sha256(result.document.encode()).hexdigest()
        if digest != result.digest or seals.get(subject, {}).get("result_sha256") != digest:
            problems.append(f"{where}: the result is not the one the audit log recorded at its seal")
        round_ = session.get(Round, result.round_id)
        if round_.state not in SEALED_STATES:
            problems.append(f"{where}: the round is no longer sealed")
        stored = json.loads(result.document)
        now = result_document(session, round_, audit_head=(stored["audit_head"]["seq"], stored["audit_head"]["hash"]),
                              sealed_at=stored["sealed_at"], approved_by=approvers(session, round_))
        # the software's version may differ after an upgrade; everything else must be as sealed
        changed = sorted(k for k in (set(stored) | set(now)) - {"software"} if stored.get(k) != now.get(k))
        if changed:
            problems.append(f"{where}: the rows no longer give the sealed result ({', '.join(changed)} differ)")
        summary = session.get(ResultSummary, result.round_id)
        if summary is None or any(getattr(summary, k) != v for k, v in summary_of(stored).items()):
            problems.append(f"{where}: the dashboard's summary does not match the sealed result")
    for subject in sorted(set(seals) - found):
        problems.append(f"{subject.replace(':', ' ')}: sealed in the audit log, but its result is missing")
    return problems

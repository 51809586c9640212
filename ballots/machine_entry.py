"""Machine entry: the scanner's reading of a scanned paper sheet as one entry of it, never enough alone.

A teller uploads the scanned pages of the paper sheets (`read_file` decodes and reads them, with no database;
`record_readings` then writes them, one short transaction). Each page is identified by the QR on it exactly as a
keyed sheet is by its code (paper_entry.identify_code): a code already used on a tablet is set aside as a
duplicate, an unknown code or one of another round is a sheet not issued by this board (collected, invalid).
The scanner's reading becomes the sheet's machine entry (a ScanPage), made by "the scanner", never by a teller
account. A teller then looks at the sheet's image beside the reading and either confirms it (`confirm`: their own
entry, equal to the scanner's) or keys their own reading (`key_reading`), which must agree like any two entries
or goes to the board as a disagreement. How many tellers must confirm is the round's `machine_entries` setting.

A reading with a doubt (a row between the thresholds, ink outside the boxes, a QR that could not be read, a page
whose geometry the reader rejected) cannot be confirmed: the tellers key it with the reason shown, and it goes to
the board (paper_entry._status); it is never counted on the machine's word.

The images are ballots: stored encrypted under a key of the round kept in the instance folder (ScanVault), seen
only by the round's board, and at the seal deleted (the key destroyed with them, so no backup of the database can
show them) or archived in the instance folder, as the round's `scan_retention` says, and the audit log says which.

Takes a Session, flushes, never commits (the vault's key files are written at once and destroyed after the
commit of the seal).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from . import audit, paper_entry, results, tokens
from .authority import require_board
from .errors import N_, BallotError, Conflict, InvalidInput, NotCountingNow, NotFound
from .lifecycle import RoundState, require_unsealed_state
from .models import Account, IssueBatch, PaperEntry, Round, ScanImage, ScanPage, Token, utcnow
from .rules import rule_set_of
from .tally import NOT_ISSUED
from .tokens import MalformedCode

SCANS_FOLDER = "scans"  # in the instance folder: the rounds' image keys and the archives
SCANNER = "scanner"  # the entrant of every machine entry, in the audit log: never an account
# the outcome of a page
READ, REVIEW, SET_ASIDE, REFUSED, BLANK = "read", "review", "set_aside", "refused", "blank"
ALREADY_SCANNED = N_("A sheet with this code was already scanned (%(source)s): this page is not recorded again. "
                     "If it is really another sheet with the same code, set it aside and tell the board.")
TABLET_DUPLICATE = N_("Duplicate: this ballot was already used on a tablet. Set the sheet aside; it is not counted.")
NOT_ISSUED_HERE = N_("Not issued by this counting board (an unknown code, or one of another round): collected and "
                     "invalid, once a teller confirms it.")
WAITS_FOR_TELLER = N_("Read: it waits for a teller to confirm it.")
WAITS_FOR_REVIEW = N_("The scanner is not sure of this sheet: a teller must key it, then the board rules on it.")
IMAGES_GONE = N_("The scanned images of this round are no longer kept (deleted or archived at the seal).")


class ScanVault:
    """The keys of the rounds' scanned images and the archives, in a folder of the instance (not the database).

    Each round's images are encrypted (AES-256-GCM) under a random key of their own in `keys/round-N.key` (mode
    600): whoever holds the database, a backup, a replica or the WAL sees only ciphertext, and destroying the key
    at the seal makes every copy of the images unreadable, where deleting rows leaves them in old backups.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def _key_path(self, round_id: int) -> Path:
        return self.folder / "keys" / f"round-{round_id}.key"

    def archive_path(self, round_id: int) -> Path:
        return self.folder / "archive" / f"round-{round_id}-scans.zip"

    def key(self, round_id: int, *, create: bool = False) -> bytes | None:
        path = self._key_path(round_id)
        if not path.exists():
            if not create:
                return None
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:  # O_EXCL: two processes that create it at once end up with one key
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as file:
                    file.write(secrets.token_bytes(32))
                    file.flush()
                    os.fsync(file.fileno())
        key = path.read_bytes()
        return key if len(key) == 32 else None

    @staticmethod
    def _associated(round_id: int) -> bytes:
        return f"trustvote.scan/1 round:{round_id}".encode()

    def seal(self, round_id: int, image: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self.key(round_id, create=True)).encrypt(nonce, image, self._associated(round_id))

    def open(self, round_id: int, sealed: bytes) -> bytes:
        key = self.key(round_id)
        if key is None:
            raise Conflict(IMAGES_GONE)
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], self._associated(round_id))

    def destroy(self, round_id: int) -> None:
        self._key_path(round_id).unlink(missing_ok=True)

    def write_archive(self, round_id: int, members: Iterable[tuple[str, bytes]]) -> tuple[Path, str]:
        """Write the archive (a zip, mode 600) whole under a temporary name, then move it into place; returns
        its path and SHA-256."""
        path = self.archive_path(round_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:  # images are compressed already
                for name, data in members:
                    archive.writestr(name, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        return path, hashlib.sha256(path.read_bytes()).hexdigest()


def vault_of(session: Session) -> ScanVault | None:
    """The instance's vault, as the session was made with it (ballots.db.make_sessionmaker)."""
    return session.info.get("scan_vault")


# ---------------------------------------------------------------------------------------------------------------
# Reading: no database, so that a teller's batch holds no lock while its pages are decoded


@dataclass(frozen=True)
class Layouts:
    """Which layout each code of the round is printed with (the paper of its batch), taken before reading."""

    candidates: int
    papers: dict[bytes, str]  # token hash -> paper

    def layout_for(self, code: str):
        from .sheet_layout import sheet_layout

        try:
            paper = self.papers.get(tokens.hash_secret(tokens.secret_of(code)))
        except MalformedCode:
            return None
        return sheet_layout(paper, self.candidates) if paper else None


def layouts_of(session: Session, round_: Round) -> Layouts:
    papers = dict(session.execute(select(Token.secret_hash, IssueBatch.paper)
                                  .join(IssueBatch, IssueBatch.id == Token.batch_id)
                                  .where(Token.round_id == round_.id)).all())
    return Layouts(len(round_.candidates), papers)


@dataclass(frozen=True)
class Outcome:
    """What became of one page of a batch: its place, the outcome, and the words for it (a msgid and params)."""

    source: str
    number: int | None  # None: the whole file
    outcome: str  # READ, REVIEW, SET_ASIDE, REFUSED or BLANK
    message: str
    params: dict = field(default_factory=dict)
    reasons: tuple[str, ...] = ()  # msgids: why a teller must key the sheet
    page_id: int | None = None
    sheet: str | None = None


def read_file(data: bytes, filename: str, layouts: Layouts) -> Iterator:
    """Each page of an uploaded file read by the scanner (sheet_reader.SheetReading), or an Outcome for a page or
    file that cannot be read (scan_input.PageRefusal: not an image, too many pixels or pages, ...). One page in
    memory at a time; never raises for bad input."""
    from .scan_input import PageRefusal, pages_of
    from .sheet_reader import read_sheet

    for page in pages_of(data, filename):
        if isinstance(page, PageRefusal):
            yield Outcome(page.source, page.number, REFUSED, page.message, dict(page.params or {}))
        else:
            yield read_sheet(page, layouts.layout_for)


# ---------------------------------------------------------------------------------------------------------------
# Recording


def _require_counting(round_: Round, account: Account) -> None:
    require_unsealed_state(round_, RoundState.CLOSED, refusal=NotCountingNow)
    require_board(account, round_)


def _source(reading) -> str:
    return f"{reading.source}, {reading.page_number}"[:200]


def record_readings(session: Session, round_: Round, *, uploader: Account, readings: Iterable,
                    now: dt.datetime | None = None) -> list[Outcome]:
    """Record each page read (a SheetReading, or an Outcome passed through) as the scanner's entry of its sheet,
    each page on its own: a page refused writes nothing and the others carry on. Returns an Outcome a page.
    Raises RoundSealed, NotCountingNow, NotOnBoard before anything is recorded."""
    _require_counting(round_, uploader)
    now = now or utcnow()
    outcomes = []
    for reading in readings:
        if isinstance(reading, Outcome):
            outcomes.append(reading)
            continue
        savepoint = session.begin_nested()
        try:
            outcome = _record(session, round_, uploader, reading, now)
        except BallotError as exc:
            savepoint.rollback()
            outcome = Outcome(reading.source, reading.page_number, REFUSED, exc.message, exc.params)
        else:
            savepoint.commit()
        outcomes.append(outcome)
    return outcomes


def _record(session: Session, round_: Round, uploader: Account, reading, now: dt.datetime) -> Outcome:
    from .sheet_reader import NOT_A_BALLOT, QR_UNREADABLE, UNKNOWN_CODE

    where = (reading.source, reading.page_number)
    if reading.blank:
        return Outcome(*where, BLANK, N_("A blank page (the back of a sheet?): nothing to enter."))
    if NOT_A_BALLOT in reading.problems:  # a key card, or any other QR: never kept (a card's image opens the box)
        raise InvalidInput(N_("The QR code on this page is not a ballot's: the page is not recorded."))
    sheet, implied, used_on_tablet = None, frozenset(), False
    if reading.code:
        try:
            sheet, implied, used_on_tablet = paper_entry.identify_code(session, round_, reading.code)
        except MalformedCode:
            raise InvalidInput(NOT_A_BALLOT) from None
        earlier = session.scalar(select(ScanPage).where(ScanPage.round_id == round_.id, ScanPage.sheet == sheet))
        if earlier is not None:
            raise Conflict(ALREADY_SCANNED, source=earlier.source)
    if used_on_tablet:  # exactly as a keyed sheet: set aside on the uploading teller's pass, counted nowhere
        entered = paper_entry.enter_sheet(session, round_, teller=uploader, code=reading.code, now=now)
        if entered.outcome == "set_aside":
            return Outcome(*where, SET_ASIDE, TABLET_DUPLICATE, sheet=sheet)
        raise Conflict(N_("You have already handled a sheet with this code (keyed or set aside): this page is not "
                          "recorded again."))
    not_issued = NOT_ISSUED in implied
    # a code of another round has no layout here: the sheet is void whatever its marks, so that is no doubt
    problems = tuple(p for p in reading.problems if not (not_issued and p == UNKNOWN_CODE))
    marks = content = None
    flaws = ",".join(sorted(implied))
    digits = reading.as_marks()
    if not_issued or digits is not None:
        try:
            content, flaws = paper_entry.sheet_content(round_, digits or "", (), implied)
        except InvalidInput:  # rows that do not match the round's candidates: the reader's doubt, not a refusal
            problems = (*problems, N_("The rows read do not match the round's candidates."))
    if content is not None:
        marks = content
    if sheet is None:
        problems = problems or (QR_UNREADABLE,)
    page = ScanPage(round_id=round_.id, sheet=sheet, marks=marks, flaws=flaws, problems="|".join(problems),
                    rows=[row.digit for row in reading.rows], source=_source(reading), uploaded_by=uploader.id, uploaded_at=now)
    session.add(page)
    session.flush()
    vault = vault_of(session)
    if vault is None:
        raise Conflict(N_("This server has no folder to keep scanned images in."))
    session.add(ScanImage(page_id=page.id, round_id=round_.id, content_type="image/png",
                          sealed=vault.seal(round_.id, reading.sheet_png)))
    session.flush()
    audit.record(session, actor=SCANNER, action="scan.read", subject=f"round:{round_.id}", now=now,
                 details={"sheet": sheet, "page": page.id, "uploaded_by": uploader.username,
                          "marks": marks.translate(results.DIGITS).decode() if marks is not None else None,
                          "flaws": flaws, "problems": list(problems)})
    if problems:
        return Outcome(*where, REVIEW, WAITS_FOR_REVIEW, reasons=problems, page_id=page.id, sheet=sheet)
    if not_issued:
        return Outcome(*where, READ, NOT_ISSUED_HERE, page_id=page.id, sheet=sheet)
    return Outcome(*where, READ, WAITS_FOR_TELLER, page_id=page.id, sheet=sheet)


# ---------------------------------------------------------------------------------------------------------------
# The tellers' review


def page_of(session: Session, round_: Round, page_id: int) -> ScanPage:
    page = session.get(ScanPage, page_id)
    if page is None or page.round_id != round_.id:
        raise NotFound(N_("No scanned page %(page)s in this round."), page=page_id)
    return page


def reasons_of(page: ScanPage) -> list[str]:
    """Why a teller must key the sheet (msgids), empty for a reading they may confirm."""
    return [reason for reason in page.problems.split("|") if reason]


def to_review(session: Session, round_: Round, teller: Account) -> list[ScanPage]:
    """The scanned pages this teller still has to look at, in the order they were scanned: a page nobody has read
    the code of yet, or a sheet this teller has not entered that still waits for tellers."""
    mine = set(session.scalars(select(PaperEntry.sheet).where(PaperEntry.round_id == round_.id,
                                                              PaperEntry.teller_id == teller.id)))
    waiting = {s.sheet for s in paper_entry.sheet_states(session, round_) if s.status == paper_entry.INCOMPLETE}
    pages = session.scalars(select(ScanPage).where(ScanPage.round_id == round_.id).order_by(ScanPage.id))
    return [p for p in pages if p.sheet is None or (p.sheet not in mine and p.sheet in waiting)]


def _enter(session: Session, round_: Round, page: ScanPage, teller: Account, content: bytes, flaws: str,
           action: str, now: dt.datetime) -> paper_entry.SheetState:
    """Write the teller's entry of a scanned sheet (replacing their own earlier one: a correction)."""
    own = session.scalar(select(PaperEntry).where(PaperEntry.round_id == round_.id, PaperEntry.sheet == page.sheet,
                                                  PaperEntry.teller_id == teller.id))
    if own is None:
        session.add(PaperEntry(round_id=round_.id, sheet=page.sheet, teller_id=teller.id, marks=content,
                               flaws=flaws, entered_at=now))
    else:
        own.marks, own.flaws, own.entered_at = content, flaws, now
    session.flush()
    audit.record(session, actor=teller.username, action=action, subject=f"round:{round_.id}", now=now,
                 details={"sheet": page.sheet, "page": page.id, "marks": content.translate(results.DIGITS).decode(),
                          "flaws": flaws})
    return paper_entry.sheet_state(session, round_, page.sheet)


def confirm(session: Session, round_: Round, *, page_id: int, teller: Account,
            now: dt.datetime | None = None) -> paper_entry.SheetState:
    """The teller confirms the scanner's reading: their own entry of the sheet, equal to the scanner's.

    Returns the sheet's state. Raises RoundSealed, NotCountingNow, NotOnBoard, NotFound, Conflict (a reading the
    scanner doubted: the teller must key it). Does not commit."""
    _require_counting(round_, teller)
    page = page_of(session, round_, page_id)
    if not page.is_trusted:
        raise Conflict(N_("The scanner is not sure of this sheet: key your own reading of it."))
    return _enter(session, round_, page, teller, page.marks, page.flaws, "paper.confirm", now or utcnow())


def key_reading(session: Session, round_: Round, *, page_id: int, teller: Account, marks: str = "",
                flaws: Iterable[str] = (), code: str | None = None, no_code: bool = False,
                now: dt.datetime | None = None) -> paper_entry.SheetState | paper_entry.Entered:
    """The teller's own reading of a scanned sheet, keyed while looking at its image. For a page whose QR the
    scanner could not read, the teller also types the code printed under it (or says there is none): the sheet
    is then entered exactly as a keyed one (paper_entry.enter_sheet) and the page joins it.

    Returns the sheet's state (or what enter_sheet met). Raises RoundSealed, NotCountingNow, NotOnBoard,
    NotFound, Conflict (another page of that sheet was scanned), MalformedCode, InvalidInput, PaperMarksInvalid.
    """
    _require_counting(round_, teller)
    now = now or utcnow()
    page = page_of(session, round_, page_id)
    if page.sheet is None:
        if not no_code and not (code or "").strip():
            raise InvalidInput(N_("Type the code printed under the sheet's QR, or tick that it has none."))
        if not no_code:
            sheet, _implied, _tablet = paper_entry.identify_code(session, round_, code)
            earlier = session.scalar(select(ScanPage).where(ScanPage.round_id == round_.id, ScanPage.sheet == sheet))
            if earlier is not None:
                raise Conflict(ALREADY_SCANNED, source=earlier.source)
        entered = paper_entry.enter_sheet(session, round_, teller=teller, code=None if no_code else code,
                                          marks=marks, flaws=flaws, now=now)
        if entered.outcome == "set_aside":  # used on a tablet: counted nowhere, so nothing of the page is kept
            session.execute(delete(ScanImage).where(ScanImage.page_id == page.id))
            session.delete(page)
            session.flush()
            return entered
        page.sheet, page.identified_by = entered.sheet, teller.id
        if NOT_ISSUED in entered.flaws.split(","):
            page.flaws = NOT_ISSUED
        session.flush()
        return entered
    implied = frozenset({NOT_ISSUED}) if NOT_ISSUED in page.flaws.split(",") else frozenset()
    content, flaws_text = paper_entry.sheet_content(round_, marks, flaws, implied)
    return _enter(session, round_, page, teller, content, flaws_text, "paper.enter", now)


def image_of(session: Session, round_: Round, *, page_id: int, account: Account) -> tuple[bytes, str]:
    """The image of a scanned page, for the round's board only, until the seal. Returns (bytes, content type).
    Raises NotOnBoard, NotFound, Conflict (the images are gone: sealed)."""
    require_board(account, round_)
    page_of(session, round_, page_id)
    stored = session.get(ScanImage, page_id)
    vault = vault_of(session)
    if stored is None or vault is None:
        raise Conflict(IMAGES_GONE)
    return vault.open(round_.id, stored.sealed), stored.content_type


# ---------------------------------------------------------------------------------------------------------------
# The minutes and the seal


def scanned_record(session: Session, round_: Round, states: list[paper_entry.SheetState]) -> dict | None:
    """What the result document (and so the minutes) says of the scanned sheets: how many the scanner read, how
    many of those counted as the tellers confirmed them and who confirmed them, and what became of the images.
    None for a round without scans (older documents have no such part)."""
    read = sum(1 for s in states if s.machine is not None and s.machine.marks is not None)
    if not any(s.machine is not None for s in states):
        return None
    confirmed_by: Counter = Counter()
    confirmed = 0
    for state in states:
        if state.machine is not None and state.machine.is_trusted and state.status == paper_entry.AGREED:
            confirmed += 1
            confirmed_by.update(e.teller for e in state.entries)
    return {"pages": sum(1 for s in states if s.machine is not None), "read": read, "confirmed": confirmed,
            "confirmed_by": dict(sorted(confirmed_by.items())), "images": rule_set_of(round_).scan_retention}


def dispose_images(session: Session, round_: Round, *, now: dt.datetime | None = None) -> None:
    """At the seal: the round's scanned images deleted, or archived in the instance folder (a zip of the images
    and of what the scanner read on each), as its `scan_retention` says; the audit log records which. The key is
    destroyed once the seal is committed, so no copy of the encrypted images (a backup, the WAL) opens any more.
    Does nothing for a round without scans. Raises Conflict (archiving with no vault to open the images)."""
    pages = session.scalars(select(ScanPage).join(ScanImage, ScanImage.page_id == ScanPage.id)
                            .where(ScanPage.round_id == round_.id).order_by(ScanPage.id)).all()
    if not pages:
        return
    vault = vault_of(session)
    retention = rule_set_of(round_).scan_retention
    details: dict = {"pages": len(pages)}
    if retention == "archive":
        if vault is None:
            raise Conflict(N_("This server has no folder to keep scanned images in."))
        images = {i.page_id: i for i in session.scalars(select(ScanImage).where(ScanImage.round_id == round_.id))}

        def members():
            manifest = []
            for page in pages:
                name = f"{page.id:05d}-{page.sheet or 'unread'}.png"
                manifest.append({"file": name, "sheet": page.sheet, "source": page.source, "problems":
                                 reasons_of(page), "marks": page.marks.translate(results.DIGITS).decode()
                                 if page.marks is not None else None})
                yield name, vault.open(round_.id, images[page.id].sealed)
            yield "manifest.json", json.dumps({"format": "trustvote.scans/1", "round": round_.id,
                                               "pages": manifest}, ensure_ascii=False, indent=1).encode()

        path, digest = vault.write_archive(round_.id, members())
        details.update(file=path.name, sha256=digest)
    session.execute(delete(ScanImage).where(ScanImage.round_id == round_.id))
    session.flush()
    audit.record(session, actor="trustvote", action=f"scans.{'archive' if retention == 'archive' else 'delete'}",
                 subject=f"round:{round_.id}", details=details, now=now)
    if vault is not None:
        _after_commit(session, lambda: vault.destroy(round_.id))


def _after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction commits (dropped if it rolls back)."""
    pending = session.info.setdefault("scan_after_commit", [])
    if not session.info.get("scan_listening"):
        session.info["scan_listening"] = True

        @event.listens_for(session, "after_commit")
        def committed(done: Session) -> None:
            actions, done.info["scan_after_commit"] = done.info.get("scan_after_commit", []), []
            for run in actions:
                run()

        @event.listens_for(session, "after_rollback")
        def rolled_back(done: Session) -> None:
            done.info["scan_after_commit"] = []
    pending.append(action)

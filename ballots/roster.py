"""Importing a roster (committee path, full name, post, optional code and birth year) from .xlsx or .csv.

All or nothing: every row is checked first and every wrong row is reported with its number; only a file with
no wrong row is written. Takes a Session, flushes, never commits.

A file is measured before it is decoded, so that a small upload cannot make the server unpack or hold much more
than it: an .xlsx's zip directory is read first (MAX_PARTS parts, each at most MAX_PART_BYTES and together at
most MAX_UNPACKED_BYTES once unpacked), then each XML part is streamed once through expat (no DTD, no cell text
longer than MAX_CELL_CHARS, at most MAX_ROW_CELLS cells in a row, MAX_CELLS cells and MAX_SHARED_STRINGS shared
strings in all) before openpyxl reads it; a CSV's lines are measured before it is parsed. The uploads themselves
are read one at a time per process (app.limits).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from xml.parsers import expat

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .authority import ancestors, seats_outside_reach
from .committees import fold, path_of, subtree_ids
from .errors import N_, InvalidInput, RosterInvalid
from .models import Committee, Membership, Person
from .spreadsheets import text_safe_append

MAX_ROWS = 20_000
MAX_COLUMNS = 30  # the roster has five; a few more are read and ignored
MAX_CELL_CHARS = 2_000  # a committee path of five names of 200 characters fits; a name is at most 120
MAX_PARTS = 200
MAX_PART_BYTES = 24 * 1024 * 1024
MAX_UNPACKED_BYTES = 32 * 1024 * 1024  # 20,000 rows unpack to about 5 MB
MAX_ROW_CELLS = 1_000  # styled empty cells included
MAX_CELLS = 500_000
MAX_SHARED_STRINGS = 150_000
MAX_CSV_LINE = 16_384  # characters

NOT_A_WORKBOOK = N_("The file is not a readable Excel workbook.")
TOO_LARGE_UNPACKED = N_("The Excel file is too large once unpacked (%(size)s MB; at most %(limit)s MB).")
CELL_TOO_LONG = N_("A cell of the file holds more than %(limit)s characters: that is no roster.")
TOO_MANY_CELLS = N_("The file has more cells than a roster of %(rows)s rows: remove the empty formatted rows and "
                    "columns, or split it.")

# Accepted headers, Vietnamese first; compared without case, spacing or diacritics.
COLUMNS = {
    "committee": ("Cấp ủy", "Committee"),
    "full_name": ("Họ và tên", "Full name"),
    "post": ("Chức vụ", "Post"),
    "code": ("Mã", "Code"),
    "birth_year": ("Năm sinh", "Birth year"),
}
REQUIRED = ("committee", "full_name", "post")


_HEADER_KEYS = {fold(name): key for key, names in COLUMNS.items() for name in names}


def _nfc(value) -> str:
    """Cell text in NFC, so names typed on different keyboards compare and print the same."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def read_rows(filename: str, data: bytes) -> list[list[str]]:
    """The file's rows as text cells (at most MAX_ROWS + 1 of them, MAX_COLUMNS cells each). Raises InvalidInput
    for a file that is neither a readable .xlsx nor .csv, or one past the limits above."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith(".csv"):
        return _read_csv(data)
    raise InvalidInput(N_("The roster must be an Excel (.xlsx) or CSV (.csv) file."))


def check_workbook(data: bytes) -> None:
    """Measure an .xlsx before anything decodes it: its zip directory, then each XML part streamed through expat.
    Raises InvalidInput. Holds no more than one 64 KiB chunk of unpacked data at a time."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise InvalidInput(NOT_A_WORKBOOK) from None
    unpacked = sum(part.file_size for part in parts)
    if len(parts) > MAX_PARTS or unpacked > MAX_UNPACKED_BYTES or any(p.file_size > MAX_PART_BYTES for p in parts):
        raise InvalidInput(TOO_LARGE_UNPACKED, size=unpacked // (1024 * 1024) or 1,
                           limit=MAX_UNPACKED_BYTES // (1024 * 1024))
    counts = _XmlCounts()
    with archive:
        for part in parts:
            if part.filename.lower().endswith((".xml", ".rels")):
                counts.scan(archive, part)


class _XmlCounts:
    """Streams XML parts through expat, counting as it goes, and refuses at the first limit passed."""

    def __init__(self) -> None:
        self.cells = 0
        self.strings = 0

    def scan(self, archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
        parser = expat.ParserCreate()
        texts: list[int] = []  # characters of text so far in each open element
        row_cells = [0]

        def refuse_dtd(*_args):
            raise InvalidInput(NOT_A_WORKBOOK)  # no DTD, so no entity can expand

        def start(name, _attributes):
            local = name.rpartition(":")[2]
            texts.append(0)
            if local == "row":
                row_cells[0] = 0
            elif local == "c":
                row_cells[0] += 1
                self.cells += 1
                if row_cells[0] > MAX_ROW_CELLS or self.cells > MAX_CELLS:
                    raise InvalidInput(TOO_MANY_CELLS, rows=MAX_ROWS)
            elif local == "si":
                self.strings += 1
                if self.strings > MAX_SHARED_STRINGS:
                    raise InvalidInput(TOO_MANY_CELLS, rows=MAX_ROWS)

        def text(data):
            if texts:
                texts[-1] += len(data)
                if texts[-1] > MAX_CELL_CHARS:
                    raise InvalidInput(CELL_TOO_LONG, limit=MAX_CELL_CHARS)

        def end(_name):
            texts.pop()

        parser.StartDoctypeDeclHandler = refuse_dtd
        parser.EntityDeclHandler = refuse_dtd
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
        try:
            with archive.open(part) as stream:
                while chunk := stream.read(64 * 1024):
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
        except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            raise InvalidInput(NOT_A_WORKBOOK) from None


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    check_workbook(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, AttributeError, IndexError):
        raise InvalidInput(NOT_A_WORKBOOK) from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(max_row=MAX_ROWS + 2, max_col=MAX_COLUMNS, values_only=True):
            rows.append([_nfc(cell) for cell in row])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, zipfile.BadZipFile):
        raise InvalidInput(NOT_A_WORKBOOK) from None
    finally:
        workbook.close()


def _read_csv(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(N_("The CSV file must be encoded in UTF-8.")) from None
    # a line is parsed into at most as many cells as it has characters: measured before it is parsed
    if any(len(line) > MAX_CSV_LINE for line in text.splitlines()):
        raise InvalidInput(CELL_TOO_LONG, limit=MAX_CSV_LINE)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = []
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            if any(len(cell) > MAX_CELL_CHARS for cell in row):
                raise InvalidInput(CELL_TOO_LONG, limit=MAX_CELL_CHARS)
            rows.append([_nfc(cell) for cell in row[:MAX_COLUMNS]])
            if len(rows) > MAX_ROWS + 1:
                break
    except csv.Error:
        raise InvalidInput(N_("The CSV file cannot be read.")) from None
    return rows


@dataclass
class ImportSummary:
    people_added: int = 0
    seats_added: int = 0
    seats_updated: int = 0
    committees: set[int] = field(default_factory=set)


def _seat_key(seat: Membership) -> str:
    return seat.person.code or fold(seat.person.full_name)


def import_roster(session: Session, *, into: Committee, filename: str, data: bytes, editor, actor: str
                  ) -> ImportSummary:
    """Import a roster into `into` and the committees below it, for `editor` (the organizer's account: a row that
    would change the name of a person who also sits on a committee they do not organize is a wrong row). Raises
    InvalidInput (unreadable file, past the reading limits, missing columns) or RosterInvalid with every wrong
    row; writes nothing in either case."""
    rows = [row for row in read_rows(filename, data)]
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise InvalidInput(N_("The roster file is empty."))
    header = {_HEADER_KEYS.get(fold(cell)): index for index, cell in enumerate(rows[0]) if cell}
    header.pop(None, None)
    missing = [COLUMNS[key][0] for key in REQUIRED if key not in header]
    if missing:
        raise InvalidInput(N_("The roster lacks the columns: %(columns)s."), columns=", ".join(missing))
    if len(rows) - 1 > MAX_ROWS:
        raise InvalidInput(N_("The roster has more than %(count)s rows."), count=MAX_ROWS)

    by_path = _committees_by_path(session, into)
    people_by_code = {p.code: p for p in session.scalars(select(Person).where(Person.code.is_not(None)))}
    problems: list[tuple[int, str, dict]] = []
    plan: list[tuple[Committee, str, str, str | None, int | None]] = []
    seen_seats: dict[tuple[int, str], int] = {}
    names_by_code: dict[str, str] = {}
    seats_of: dict[int, dict[str, Membership]] = {}  # each committee's seats by code or folded name, read once

    for number, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        def cell(key: str, row=row) -> str:
            return row[header[key]] if key in header and header[key] < len(row) else ""

        path, full_name, post, code, birth = map(cell, ("committee", "full_name", "post", "code", "birth_year"))
        row_problems = []
        for key in REQUIRED:
            if not cell(key):
                row_problems.append((N_("the column %(column)s is empty"), {"column": COLUMNS[key][0]}))
        committee = by_path.get(_path_key(path)) if path else None
        if path and committee is None:
            row_problems.append((N_("no committee %(path)s under %(into)s"), {"path": path, "into": into.name}))
        for key, value in (("full_name", full_name), ("post", post)):
            if len(value) > 120:  # quoted (its start) so that the clerk finds the cell at fault
                row_problems.append((N_("the column %(column)s holds %(length)s characters, more than 120: "
                                        "“%(value)s…”"), {"column": COLUMNS[key][0], "length": len(value),
                                                          "value": value[:40]}))
        year = None
        if birth:
            if not birth.isdigit() or not 1900 <= int(birth) <= 2015:
                row_problems.append((N_("the birth year %(value)s is not a year"), {"value": birth}))
            else:
                year = int(birth)
        if code:
            known = people_by_code.get(code)
            earlier = names_by_code.setdefault(code, full_name)
            if (known and fold(known.full_name) != fold(full_name)) or fold(earlier) != fold(full_name):
                owner = known.full_name if known else earlier
                row_problems.append((N_("the code %(code)s belongs to %(name)s"), {"code": code, "name": owner}))
        if committee is not None and full_name:
            seat_key = (committee.id, code or fold(full_name))
            if seat_key in seen_seats:
                row_problems.append((N_("the same person is already on row %(row)s for this committee"),
                                     {"row": seen_seats[seat_key]}))
            seen_seats.setdefault(seat_key, number)
            if committee.id not in seats_of:
                seats_of[committee.id] = {_seat_key(m): m for m in committee.memberships}
            seat = seats_of[committee.id].get(code or fold(full_name))
            outside = seats_outside_reach(editor, seat.person) if seat and seat.person.full_name != full_name else []
            if outside:  # the row renames a person who also sits where the editor does not organize
                row_problems.append((N_("%(name)s also sits on %(places)s, outside the committees you organize: "
                                        "their name cannot be changed here"),
                                     {"name": seat.person.full_name, "places": "; ".join(map(path_of, outside))}))
        if row_problems:
            problems.extend((number, message, params) for message, params in row_problems)
        else:
            plan.append((committee, full_name, post, code or None, year))
    if problems:
        raise RosterInvalid(problems)
    if not plan:
        raise InvalidInput(N_("The roster file has no rows below its header."))

    summary = _apply(session, plan, people_by_code, actor=actor)
    audit.record(session, actor=actor, action="roster.import", subject=f"committee:{into.id}",
                 details={"file": filename[:200], "sha256": hashlib.sha256(data).hexdigest(), "rows": len(plan),
                          "people_added": summary.people_added, "seats_added": summary.seats_added,
                          "seats_updated": summary.seats_updated})
    return summary


def _path_key(path: str) -> str:
    """A committee path compared without case or diacritics, "A/B", "A / B" and "A > B" alike."""
    return " / ".join(fold(part) for part in re.split(r"[/>]", path) if part.strip())


def _committees_by_path(session: Session, into: Committee) -> dict[str, Committee]:
    """Each committee of the subtree under its full path and under its path relative to `into`'s parent."""
    found = {}
    outside = len(ancestors(into)) - 1  # the committees above `into`, which a relative path leaves out
    for committee in session.scalars(select(Committee).where(Committee.id.in_(subtree_ids(session, into)))):
        names = [c.name for c in reversed(ancestors(committee))]
        found[_path_key(" / ".join(names))] = committee
        found[_path_key(" / ".join(names[outside:]))] = committee
        found.setdefault(_path_key(" / ".join(names[outside + 1:])), committee)
    found.pop("", None)
    return found


def _apply(session, plan, people_by_code, *, actor) -> ImportSummary:
    summary = ImportSummary()
    for committee, full_name, post, code, year in plan:
        seats = {_seat_key(m): m for m in committee.memberships}
        seat = seats.get(code or fold(full_name))
        if seat is not None:
            if seat.post != post or seat.person.full_name != full_name:
                seat.post, seat.person.full_name = post, full_name
                summary.seats_updated += 1
            continue
        person = people_by_code.get(code) if code else None
        if person is None:
            person = Person(full_name=full_name, code=code, birth_year=year)
            session.add(person)
            summary.people_added += 1
            if code:
                people_by_code[code] = person
        rank = max((m.rank for m in committee.memberships), default=0) + 1
        session.add(Membership(committee=committee, person=person, post=post, rank=rank))
        session.flush()
        summary.seats_added += 1
        summary.committees.add(committee.id)
    return summary


def template_workbook(committee: Committee) -> bytes:
    """A starting roster (.xlsx) for the committee: the Vietnamese headers, then its members with its own path
    filled in, as import_roster reads it back. Every text cell is text, whatever it begins with
    (ballots.spreadsheets)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Danh sách"
    text_safe_append(sheet, [names[0] for names in COLUMNS.values()])
    for seat in committee.memberships:
        text_safe_append(sheet, [path_of(committee), seat.person.full_name, seat.post, seat.person.code or "",
                                 seat.person.birth_year or ""])
    for column, width in zip("ABCDE", (48, 28, 24, 12, 10)):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

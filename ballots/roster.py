"""Importing a roster (committee path, full name, post, optional code and birth year) from .xlsx or .csv.

All or nothing: every row is checked first and every wrong row is reported with its number; only a file with
no wrong row is written. Takes a Session, flushes, never commits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .authority import ancestors
from .committees import fold, path_of, subtree_ids
from .errors import N_, InvalidInput, RosterInvalid
from .models import Committee, Membership, Person

MAX_ROWS = 20_000

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
    """The file's rows as text cells. Raises InvalidInput for a file that is neither a readable .xlsx nor .csv."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith(".csv"):
        return _read_csv(data)
    raise InvalidInput(N_("The roster must be an Excel (.xlsx) or CSV (.csv) file."))


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise InvalidInput(N_("The file is not a readable Excel workbook.")) from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append([_nfc(cell) for cell in row])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        workbook.close()


def _read_csv(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(N_("The CSV file must be encoded in UTF-8.")) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [[_nfc(cell) for cell in row] for row in csv.reader(io.StringIO(text), dialect)]
    except csv.Error:
        raise InvalidInput(N_("The CSV file cannot be read.")) from None


@dataclass
class ImportSummary:
    people_added: int = 0
    seats_added: int = 0
    seats_updated: int = 0
    committees: set[int] = field(default_factory=set)


def import_roster(session: Session, *, into: Committee, filename: str, data: bytes, actor: str) -> ImportSummary:
    """Import a roster into `into` and the committees below it. Raises InvalidInput (unreadable file, missing
    columns) or RosterInvalid with every wrong row; writes nothing in either case."""
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
        if len(full_name) > 120 or len(post) > 120:
            row_problems.append((N_("a name or post is longer than 120 characters"), {}))
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
        seats = {(fold(m.person.full_name) if not m.person.code else m.person.code): m
                 for m in committee.memberships}
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
    filled in, as import_roster reads it back."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Danh sách"
    sheet.append([names[0] for names in COLUMNS.values()])
    for seat in committee.memberships:
        sheet.append([path_of(committee), seat.person.full_name, seat.post, seat.person.code or "",
                      seat.person.birth_year or ""])
    for column, width in zip("ABCDE", (48, 28, 24, 12, 10)):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

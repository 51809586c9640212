"""Roster import: all or nothing, every wrong row reported, one person linked across committees by code."""

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from ballots import roster
from ballots.errors import InvalidInput, RosterInvalid
from ballots.models import AuditEntry, Membership, Person

HEADER = ["Cấp ủy", "Họ và tên", "Chức vụ", "Mã", "Năm sinh"]
GOOD = [
    ["Tỉnh ủy Thử Nghiệm / Huyện ủy Đông Anh / Đảng ủy xã Hòa Lạc", "Đỗ Thị Ánh", "Phó Bí thư", "", "1975"],
    ["Huyện ủy Đông Anh / Đảng ủy xã Hòa Lạc", "Ngô Xuân Trường", "Ủy viên Ban Chấp hành", "CB-777", ""],
    ["Huyện ủy Đông Anh", "Ngô Xuân Trường", "Ủy viên Ban Chấp hành", "CB-777", ""],
]


def csv_bytes(rows, header=HEADER, delimiter=","):
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


def xlsx_bytes(rows, header=HEADER):
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([int(cell) if cell.isdigit() else cell for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def importing(session, world, **kwargs):
    """Import as the province's organizer, whose reach is the whole tree."""
    return roster.import_roster(session, editor=world.accounts["organizer"], **kwargs)


def counts(session):
    return (session.scalar(select(func.count()).select_from(Person)),
            session.scalar(select(func.count()).select_from(Membership)),
            session.scalar(select(func.count()).select_from(AuditEntry)))


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_good_roster_is_imported_and_links_one_person_by_code(session, world, kind):
    data = csv_bytes(GOOD) if kind == "csv" else xlsx_bytes(GOOD)
    summary = importing(session, world, into=world.province, filename=f"danh-sach.{kind}", data=data,
                                   actor="organizer")
    assert (summary.people_added, summary.seats_added, summary.seats_updated) == (2, 3, 0)
    truong = session.scalar(select(Person).where(Person.code == "CB-777"))
    assert sorted(m.committee.name for m in truong.memberships) == ["Huyện ủy Đông Anh", "Đảng ủy xã Hòa Lạc"]
    anh = session.scalar(select(Person).where(Person.full_name == "Đỗ Thị Ánh"))
    assert anh.birth_year == 1975 and anh.memberships[0].post == "Phó Bí thư"


def test_importing_the_same_roster_twice_adds_nothing(session, world):
    importing(session, world, into=world.province, filename="a.csv", data=csv_bytes(GOOD), actor="o")
    before = counts(session)[:2]
    again = importing(session, world, into=world.province, filename="a.csv", data=csv_bytes(GOOD), actor="o")
    assert (again.people_added, again.seats_added, again.seats_updated) == (0, 0, 0)
    assert counts(session)[:2] == before


def test_a_changed_post_updates_the_seat(session, world):
    importing(session, world, into=world.province, filename="a.csv", data=csv_bytes(GOOD), actor="o")
    changed = [GOOD[0][:2] + ["Bí thư", "", "1975"]]
    summary = importing(session, world, into=world.province, filename="a.csv", data=csv_bytes(changed), actor="o")
    assert summary.seats_updated == 1
    assert session.scalar(select(Membership.post).join(Person).where(Person.full_name == "Đỗ Thị Ánh")) == "Bí thư"


def test_one_bad_row_imports_nothing_and_names_the_row(session, world):
    bad = GOOD + [["Huyện ủy Không Có", "Lý Thị Mai", "Ủy viên", "", ""]]
    before = counts(session)
    with pytest.raises(RosterInvalid) as refused:
        importing(session, world, into=world.province, filename="a.csv", data=csv_bytes(bad), actor="o")
    assert refused.value.problems == [
        (5, "no committee %(path)s under %(into)s", {"path": "Huyện ủy Không Có", "into": "Tỉnh ủy Thử Nghiệm"})]
    session.rollback()
    assert counts(session) == before


def test_every_wrong_row_is_reported_at_once(session, world):
    bad = [
        ["Huyện ủy Đông Anh", "", "Ủy viên", "", ""],                      # row 2: no name
        ["Huyện ủy Đông Anh", "Lý Thị Mai", "", "", "năm 70"],              # row 3: no post, bad year
        ["Huyện ủy Đông Anh", "Hồ Văn Long", "Ủy viên", "CB-001", ""],      # row 4: code of Nguyễn Văn Hùng
        ["Huyện ủy Đông Anh", "Dương Thu Hà", "Ủy viên", "", ""],
        ["Huyện ủy Đông Anh", "Dương Thu Hà", "Ủy viên", "", ""],           # row 6: same person twice
    ]
    with pytest.raises(RosterInvalid) as refused:
        importing(session, world, into=world.province, filename="a.csv", data=csv_bytes(bad), actor="o")
    rows = [row for row, _message, _params in refused.value.problems]
    assert rows == [2, 3, 3, 4, 6]
    assert refused.value.problems[3][2] == {"code": "CB-001", "name": "Nguyễn Văn Hùng"}


def test_a_committee_outside_the_importers_reach_is_unknown(session, world):
    rows = [["Tỉnh ủy Thử Nghiệm / Huyện ủy Đông Anh", "Lý Thị Mai", "Ủy viên", "", ""]]
    with pytest.raises(RosterInvalid):
        importing(session, world, into=world.commune, filename="a.csv", data=csv_bytes(rows), actor="o")


def test_paths_match_without_case_or_diacritics_and_with_other_separators(session, world):
    rows = [["huyen uy dong anh > dang uy xa hoa lac", "Lý Thị Mai", "Ủy viên", "", ""]]
    importing(session, world, into=world.province, filename="a.csv", data=csv_bytes(rows), actor="o")
    seat = session.scalar(select(Membership).join(Person).where(Person.full_name == "Lý Thị Mai"))
    assert seat.committee.name == "Đảng ủy xã Hòa Lạc"


def test_a_semicolon_separated_csv_with_english_headers_is_read(session, world):
    data = csv_bytes([["Huyện ủy Đông Anh", "Lý Thị Mai", "Ủy viên"]], header=["Committee", "Full name", "Post"],
                     delimiter=";")
    summary = importing(session, world, into=world.province, filename="a.csv", data=data, actor="o")
    assert summary.seats_added == 1


def test_names_are_stored_in_nfc(session, world):
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Lý Thị Mai")
    importing(session, world, into=world.province, filename="a.csv",
                         data=csv_bytes([["Huyện ủy Đông Anh", decomposed, "Ủy viên", "", ""]]), actor="o")
    assert session.scalar(select(Person).where(Person.full_name == "Lý Thị Mai")) is not None


@pytest.mark.parametrize("filename,data", [
    ("a.pdf", b"%PDF-1.4"),
    ("a.xlsx", b"this is not a zip file"),
    ("a.csv", "Cấp ủy,Họ và tên\n".encode("utf-16")),
    ("a.csv", b""),
    ("a.csv", csv_bytes([], header=["Cấp ủy", "Họ và tên"])),
    ("a.csv", csv_bytes([])),
])
def test_an_unreadable_or_incomplete_file_is_refused_with_nothing_written(session, world, filename, data):
    before = counts(session)
    with pytest.raises(InvalidInput):
        importing(session, world, into=world.province, filename=filename, data=data, actor="o")
    session.rollback()
    assert counts(session) == before


def test_the_import_is_audited_with_the_files_digest(session, world):
    data = csv_bytes(GOOD)
    importing(session, world, into=world.province, filename="danh-sach.csv", data=data, actor="organizer")
    entry = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    assert entry.action == "roster.import" and entry.actor == "organizer"
    import hashlib

    assert hashlib.sha256(data).hexdigest() in entry.details


# --- a file is measured before it is decoded --------------------------------------------------------------------

def workbook_with(parts: dict[str, bytes | tuple[bytes, int]]) -> bytes:
    """A real roster workbook whose parts named in `parts` are replaced: bytes, or (a chunk, times) streamed so
    that a huge part is written without being held."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(GOOD)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename not in parts:
                target.writestr(info.filename, source.read(info.filename))
        for name, content in parts.items():
            with target.open(name, "w", force_zip64=True) as stream:
                chunks = [content] if isinstance(content, bytes) else [content[0]] * content[1]
                for chunk in chunks:
                    stream.write(chunk)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


def sheet_xml(rows: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>').encode()


def test_a_zip_bomb_is_refused_from_its_directory_without_unpacking(session, world):
    import time

    bomb = workbook_with({SHEET: (b"A" * (1 << 20), 100)})  # 100 MB of one cell in about 100 KB
    assert len(bomb) < 200_000
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match="too large once unpacked"):
        roster.read_rows("bomb.xlsx", bomb)
    assert time.perf_counter() - started < 0.5


def test_a_cell_too_long_is_refused_before_openpyxl_reads_it(session, world, monkeypatch):
    import openpyxl

    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("decoded before it was measured"))
    long_cell = sheet_xml(f'<row r="1"><c r="A1" t="inlineStr"><is><t>{"x" * 3000}</t></is></c></row>')
    with pytest.raises(InvalidInput, match="more than 2000 characters"):
        roster.read_rows("a.xlsx", workbook_with({SHEET: long_cell}))


def test_a_row_of_too_many_cells_is_refused(session, world):
    wide = sheet_xml('<row r="1">' + "".join(f'<c r="A{i}"/>' for i in range(roster.MAX_ROW_CELLS + 1)) + "</row>")
    with pytest.raises(InvalidInput, match="more cells than a roster"):
        roster.read_rows("a.xlsx", workbook_with({SHEET: wide}))


def test_a_dtd_is_refused_so_no_entity_expands(session, world):
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              '<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row>'
              '</sheetData></worksheet>').encode()
    with pytest.raises(InvalidInput, match="not a readable Excel workbook"):
        roster.read_rows("a.xlsx", workbook_with({SHEET: laughs}))


def test_a_sheet_that_jumps_to_its_last_row_yields_no_more_than_the_limit(session, world):
    far = sheet_xml('<row r="1"><c r="A1" t="inlineStr"><is><t>Cấp ủy</t></is></c></row>'
                    '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>')
    rows = roster.read_rows("a.xlsx", workbook_with({SHEET: far}))
    assert len(rows) == roster.MAX_ROWS + 2  # the import then says "more than 20,000 rows"


def test_a_csv_line_too_long_is_refused_before_it_is_parsed(session, world):
    with pytest.raises(InvalidInput, match="more than 16384 characters"):
        roster.read_rows("a.csv", ("Cấp ủy," + "," * 100_000 + "\n").encode())


def test_a_csv_cell_too_long_is_refused(session, world):
    with pytest.raises(InvalidInput, match="more than 2000 characters"):
        roster.read_rows("a.csv", ('"' + "x\n" * 1500 + '",b\n').encode())


def test_a_row_that_would_rename_a_person_seated_outside_the_importers_reach_is_refused(session, world):
    """Nguyễn Văn Hùng (CB-001) sits on the commune and on the district: the commune's organizer may not rename him."""
    rows = [["Đảng ủy xã Yên Bình", "NGUYỄN VĂN HÙNG", "Bí thư", "CB-001", ""]]
    before = counts(session)
    with pytest.raises(RosterInvalid) as refused:
        roster.import_roster(session, editor=world.accounts["commune_organizer"], into=world.commune,
                             filename="a.csv", data=csv_bytes(rows), actor="commune_organizer")
    (number, message, params), = refused.value.problems
    assert number == 2 and "outside the committees you organize" in message
    assert params["places"] == "Tỉnh ủy Thử Nghiệm / Huyện ủy Đông Anh"
    session.rollback()
    assert counts(session) == before and world.people["Nguyễn Văn Hùng"].full_name == "Nguyễn Văn Hùng"
    # the province's organizer reaches both seats
    importing(session, world, into=world.commune, filename="a.csv",
                         data=csv_bytes(rows), actor="organizer")
    assert world.people["Nguyễn Văn Hùng"].full_name == "NGUYỄN VĂN HÙNG"

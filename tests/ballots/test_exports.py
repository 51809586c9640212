"""The exports as the people who open them get them (issue 12, item 15).

- The result workbook in openpyxl: the conference day a date cell (dd/mm/yyyy), counts as numbers, shares as
  numbers with a percent format, the print set-up (A4, one page wide, the heading repeated, page numbers).
- The workbooks opened by LibreOffice headless and printed to PDF: every label whole on one line of the PDF's text,
  nothing cut to "###", one page wide (each page holds the heading's first and last columns), A4; and the CSV opened
  by LibreOffice in the Vietnamese locale: the numbers, the percentages and the day are numbers and a date.
- The CSV read by `csv` with the dialect the README documents (written out here, not imported from the app).
- The signed JSON verified from the README's paragraph on its canonical form: a serialiser written here from those
  words (not the app's), `cryptography`'s Ed25519, and the README's OpenSSL commands, on a result downloaded from
  the app.
"""

from __future__ import annotations

import base64
import copy
import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from app.settings import SIGNING_KEY_FILE
from ballots import dashboard, exports, history, publication, results, signing
from ballots.models import Result
from tests.conftest import poppler, unavailable
from tests.factories import sealed_round

ROOT = Path(__file__).resolve().parents[2]
KEY = Ed25519PrivateKey.generate()
# a name and a post longer than a usual one, and text that needs quoting in a CSV field
LONG_NAME = "Nguyễn Thị Phương Thảo Hoàng Lê Nhất Thống"
LONG_POST = "Ủy viên Ban Thường vụ, Chủ tịch Ủy ban Mặt trận Tổ quốc Việt Nam xã"


@pytest.fixture
def doc(session, world):
    """The commune's sealed result, published, as its reader reads it (the document the downloads are made of)."""
    round_ = sealed_round(session, world, KEY, publish=True)
    return publication.read_result(session, round_, account=world.accounts["viewer"]).document


def crowded(doc: dict) -> dict:
    """The same result with 40 candidates (some with long names and posts, one with ";" and quotes), invalid
    ballots under two reasons and the board's ruling on an anomaly: two pages, wrapped posts, every optional row."""
    crowd = copy.deepcopy(doc)
    four = doc["candidates"]
    crowd["candidates"] = [dict(four[i % 4], position=i + 1,
                                name=LONG_NAME if i % 9 == 0 else four[i % 4]["name"],
                                post=LONG_POST if i % 7 == 0 else ('Trưởng ban "Dân vận"; kiêm nhiệm' if i == 5
                                                                   else four[i % 4]["post"]))
                           for i in range(40)]
    crowd["numbers"]["invalid_reasons"] = {"not_issued": 1, "bad_marks": 2}
    crowd["rulings"] = {"sheets": 0, "anomaly": "Ban kiểm phiếu xác định một tờ phiếu không do Ban phát ra."}
    return crowd


# ---------------------------------------------------------------------------------------------------- the workbook


def test_the_result_workbook_has_a_date_numbers_percentages_and_a_print_set_up(doc):
    sheet = load_workbook(io.BytesIO(exports.result_workbook([doc]))).worksheets[0]
    cells = {cell.value: cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)}
    held = sheet.cell(cells["Ngày hội nghị"].row, 3)
    assert held.value == dt.datetime(2026, 12, 5) and held.is_date and held.number_format == "dd/mm/yyyy"
    heading = cells["STT"].row
    fourth = [cell for cell in sheet[heading + 4]]
    assert fourth[1].value == "Phạm Thị Hương" and fourth[7].value == 3 and fourth[7].data_type == "n"
    assert fourth[8].value == 0.75 and fourth[8].number_format == "0.00%"  # 3 low of 4 collected
    assert [c.value for c in fourth[-3:]] == ["Có", "Có", "Có"]
    assert sheet.cell(cells["Số phiếu thu về"].row, 3).value == 4
    # every label in a column (or its merged columns) at least as wide as the label's characters
    for text, cell in cells.items():
        room = sum(sheet.column_dimensions[letter].width for letter in _columns_of(sheet, cell))
        assert room >= len(text) * 0.9 or cell.alignment.wrap_text or cell.row <= 2, (text, room)
    setup = sheet.page_setup
    assert (setup.paperSize, setup.orientation, setup.fitToWidth, setup.fitToHeight) == (9, "landscape", 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == f"${heading - 1}:${heading}"
    assert "Đảng ủy xã Yên Bình" in sheet.oddHeader.center.text and "&P" in sheet.oddFooter.center.text


def _columns_of(sheet, cell) -> list[str]:
    for area in sheet.merged_cells.ranges:
        if cell.coordinate in area:
            return [get_column_letter(column) for column in range(area.min_col, area.max_col + 1)]
    return [cell.column_letter]


# ----------------------------------------------------------------------------------------------------------- CSV


class ReadmeDialect(csv.Dialect):
    """The dialect the README documents, written out from its words (not the app's VietnameseExcel)."""

    delimiter = ";"
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


def read_csv(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark
    text = data.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")  # CR LF, and no bare line feed
    heading, *rows = csv.reader(io.StringIO(text, newline=""), dialect=ReadmeDialect)
    assert len(heading) == 33 and all(len(row) == len(heading) for row in rows)  # one table
    return [dict(zip(heading, row, strict=True)) for row in rows]


def test_the_csv_is_one_table_in_the_readme_dialect(doc):
    rows = read_csv(exports.result_csv(crowded(doc)))
    assert len(rows) == 40
    first, sixth, fourth = rows[0], rows[5], rows[3]
    assert first["Cấp ủy"] == "Đảng ủy xã Yên Bình" and first["Họ và tên"] == LONG_NAME
    assert sixth["Chức vụ"] == 'Trưởng ban "Dân vận"; kiêm nhiệm'  # quoted, its quotes doubled: read back whole
    assert dt.datetime.strptime(first["Ngày hội nghị"], "%d/%m/%Y").date() == dt.date(2026, 12, 5)
    assert (fourth["Tín nhiệm thấp"], fourth["Tỷ lệ tín nhiệm thấp (%)"], fourth["Trên hai phần ba"]) == (
        "3", "75,00", "Có")
    assert first["Trên một nửa tín nhiệm thấp"] == ""
    assert (first["Số phiếu thu về"], first["Phiếu không do Ban kiểm phiếu phát ra"],
            first["Phiếu không đánh dấu hoặc đánh dấu nhiều ô"], first["Phiếu gạch tên in sẵn"]) == ("4", "1", "2", "0")
    assert (first["Tỷ lệ tính trên"], first["Số làm căn cứ tính tỷ lệ"]) == ("số phiếu thu về", "4")
    for row in rows:  # every percentage with "," before two decimals, every count whole
        for heading, value in row.items():
            if heading.endswith("(%)"):
                assert re.fullmatch(r"\d{1,3},\d\d", value), (heading, value)
            elif heading in ("Tín nhiệm cao", "Tín nhiệm", "Tín nhiệm thấp", "Ô không hợp lệ", "STT"):
                assert value.isdigit(), (heading, value)


# ------------------------------------------------------------------------------------------- LibreOffice headless


def soffice() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        unavailable("LibreOffice not found: install libreoffice-calc-nogui")
    return path


def convert(files: dict[str, bytes], folder: Path, to: str, infilter: str | None = None) -> dict[str, Path]:
    """The files converted by one LibreOffice headless start, with a profile of its own under `folder` (so that
    parallel runs do not share one)."""
    source, target = folder / f"in-{to}", folder / f"out-{to}"
    source.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    command = [soffice(), f"-env:UserInstallation=file://{folder}/profile", "--headless",
               *([f"--infilter={infilter}"] if infilter else []), "--convert-to", to, "--outdir", str(target),
               *sorted(str(source / name) for name in files)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    converted = {name: target / f"{Path(name).stem}.{to.split(':')[0]}" for name in files}
    assert all(path.exists() for path in converted.values()), (done.stdout, done.stderr)
    return converted


def pdf_pages(path: Path) -> list[str]:
    """The text of each page, laid out as printed (pdftotext -layout)."""
    text = subprocess.run([poppler("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:-1]


def page_size(path: Path) -> tuple[float, float]:
    info = subprocess.run([poppler("pdfinfo"), str(path)], capture_output=True, text=True, check=True).stdout
    width, height = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups()
    return float(width), float(height)


def labels(data: bytes) -> tuple[list[str], list[str]]:
    """The texts of a workbook's cells: those that must show whole on one line, and those that may wrap."""
    whole, wrapping = [], []
    for sheet in load_workbook(io.BytesIO(data)).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    (wrapping if cell.alignment.wrap_text else whole).append(cell.value)
    return whole, wrapping


def assert_whole(pages: list[str], data: bytes, where: str) -> None:
    """Every label of the workbook whole on one printed line; a wrapping text's words whole and in order; no number
    shown as "###" (too narrow a column)."""
    lines = [re.sub(r" {2,}", "  ", line.strip()) for page in pages for line in page.splitlines()]
    text = "\n".join(lines)
    assert "###" not in text, where
    whole, wrapping = labels(data)
    for label in whole:
        assert any(label in line for line in lines), (where, label)
    words = text.split()
    for label in wrapping:  # its lines share their printed lines with the row's other cells: its words, in order
        at = 0
        for word in label.split():
            assert word in words[at:], (where, label, word)
            at = words.index(word, at) + 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the files are made of documents: one engine does
def test_libreoffice_prints_every_label_whole_one_page_wide_and_reads_the_csv_in_vietnamese(session, world, doc,
                                                                                          tmp_path):
    crowd = crowded(doc)
    board = dashboard.rows(session, world.district, world.accounts["district_viewer"])
    books = {"result.xlsx": exports.result_workbook([doc]), "crowded.xlsx": exports.result_workbook([crowd]),
             "dashboard.xlsx": exports.dashboard_workbook("Huyện ủy Đông Anh", board),
             "history.xlsx": exports.history_workbook("Nguyễn Văn Hùng", history.trust_over_time(
                 session, world.people["Nguyễn Văn Hùng"], world.accounts["viewer"]))}
    pdfs = convert(books, tmp_path, "pdf")
    for name, path in pdfs.items():
        pages = pdf_pages(path)
        assert_whole(pages, books[name], name)
        width, height = page_size(path)
        assert (round(width), round(height)) == (842, 595), name  # A4 landscape
        for number, page in enumerate(pages, start=1):
            assert f"Trang {number}/{len(pages)}" in page, (name, number)
    one = pdf_pages(pdfs["result.xlsx"])
    assert len(one) == 1 and "05/12/2026" in one[0]
    assert re.search(r"Phạm Thị Hương\s+Ủy viên Ban Chấp hành\s+0\s+0[.,]00\s?%\s+1\s+25[.,]00\s?%\s+3\s+75[.,]00\s?%"
                     r"\s+0\s+Có\s+Có\s+Có", one[0])
    # one page wide: each page holds the heading's first and last column and whole rows; every candidate once
    crowded_pages = pdf_pages(pdfs["crowded.xlsx"])
    assert len(crowded_pages) >= 2
    for page in crowded_pages:
        heading = next(line for line in page.splitlines() if line.strip().startswith("STT"))
        assert heading.split()[-2:] == ["Trên", "2/3"] and "Ô không hợp lệ" in heading
    rows = [line for page in crowded_pages for line in page.splitlines() if re.match(r"\s*\d+\s+\S", line)
            and re.search(r"\d[.,]00\s?%", line)]
    assert [int(line.split()[0]) for line in rows] == list(range(1, 41))
    # the CSV opened by LibreOffice as a Vietnamese Excel would (separator ";", language vi-VN = 1066)
    books = convert({"result.csv": exports.result_csv(crowd)}, tmp_path, "xlsx",
                    infilter="CSV:59,34,76,1,,1066,false,true")
    sheet = load_workbook(books["result.csv"]).active
    heading, first, *_ = sheet.iter_rows(values_only=True)
    first = dict(zip(heading, first, strict=True))
    assert first["Ngày hội nghị"] == dt.datetime(2026, 12, 5)
    assert first["Tỷ lệ tín nhiệm cao (%)"] == 75 and first["Số phiếu thu về"] == 4
    assert first["Họ và tên"] == LONG_NAME and first["Chức vụ"] == LONG_POST


# ------------------------------------------------------------------------------------- the signed JSON's canonical form


def readme_canonical(value) -> str:
    """The canonical form as the README's paragraph words it, written here from those words."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return readme_string(value)
    if isinstance(value, list):
        return "[" + ",".join(readme_canonical(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(readme_string(key) + ":" + readme_canonical(value[key])
                              for key in sorted(value, key=lambda key: [ord(ch) for ch in key])) + "}"
    raise AssertionError(f"the README says every number is an integer: {value!r}")


SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def readme_string(text: str) -> str:
    return '"' + "".join(SHORT_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 else ch)
                         for ch in text) + '"'


def readme_verify(envelope: dict, expected_key: bytes) -> None:
    """The README's check: the canonical bytes of "result", the base64 signature, the raw key; raises if wrong."""
    assert envelope["public_key"] == expected_key.hex()
    assert envelope["fingerprint"] == hashlib.sha256(expected_key).hexdigest()
    Ed25519PublicKey.from_public_bytes(expected_key).verify(
        base64.b64decode(envelope["signature"], validate=True), readme_canonical(envelope["result"]).encode("utf-8"))


def test_the_readme_paragraph_is_there():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("#### Checking the signature with any Ed25519 tool"):]
    section = re.split(r"\n#{2,4} ", section)[0]
    for words in ("ascending order of their keys compared by Unicode code points", "every number is an integer",
                  "U+001F is `\\u001f`", "never as a `\\u` escape", "no final line", "standard alphabet, with `=`",
                  "SHA-256 of those 32 bytes", "openssl pkeyutl -verify"):
        assert words in " ".join(section.split()), words


def test_a_downloaded_signed_result_verifies_from_the_readme_words(session, world, instance, login_as, tmp_path):
    key = signing.load_private_key(instance / SIGNING_KEY_FILE)  # the app's key: the one the minutes print
    round_ = sealed_round(session, world, key, title='Đợt "giữa kỳ" \\ 2026/27', publish=True)
    response = login_as("teller").get(f"/results/rounds/{round_.id}/json")
    assert response.status_code == 200
    data = response.data
    envelope = json.loads(data)
    expected = signing.public_bytes(key)
    readme_verify(envelope, expected)
    canonical = readme_canonical(envelope["result"]).encode("utf-8")
    assert '"title":"Đợt \\"giữa kỳ\\" \\\\ 2026/27"'.encode() in canonical  # raw UTF-8, quote and backslash escaped
    # the result's fingerprint the minutes print is the SHA-256 of these bytes
    assert hashlib.sha256(canonical).hexdigest() == session.scalar(select(Result.digest).where(
        Result.round_id == round_.id))
    # the README's OpenSSL commands, as an outsider would run them
    openssl = shutil.which("openssl")
    if openssl is None:
        unavailable("openssl not found")
    (tmp_path / "result.bin").write_bytes(canonical)
    (tmp_path / "signature.bin").write_bytes(base64.b64decode(envelope["signature"]))
    der = bytes.fromhex("302a300506032b6570032100") + expected
    subprocess.run([openssl, "pkey", "-pubin", "-inform", "DER", "-out", str(tmp_path / "key.pem")], input=der,
                   check=True, capture_output=True)
    checked = subprocess.run([openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "key.pem"), "-rawin",
                              "-in", str(tmp_path / "result.bin"), "-sigfile", str(tmp_path / "signature.bin")],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout, checked.stdout
    # the controls: a changed count, or the same document with a space, does not verify
    changed = copy.deepcopy(envelope)
    changed["result"]["candidates"][0]["high"] += 1
    with pytest.raises(InvalidSignature):
        readme_verify(changed, expected)
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(expected).verify(base64.b64decode(envelope["signature"]),
                                                            json.dumps(envelope["result"], sort_keys=True,
                                                                       ensure_ascii=False).encode())
    (tmp_path / "result.bin").write_bytes(canonical.replace(b'"high":', b'"high": ', 1))
    assert subprocess.run([openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "key.pem"), "-rawin",
                           "-in", str(tmp_path / "result.bin"), "-sigfile", str(tmp_path / "signature.bin")],
                          capture_output=True, check=False).returncode != 0


def test_the_readme_words_cover_every_escape():
    """Texts a form never keeps but another instance's document may carry (control characters, DEL, U+2028, a
    character outside the BMP), signed by the app's signing function: the README's words still give the bytes."""
    key = Ed25519PrivateKey.generate()
    document = {"z": [1, -2, 0], "a": {"é": "\x00\x1f\x7f\u2028\b\t\n\f\r/\"\\ 𝕍 Ạ", "b": None, "c": True, "d": False},
                "Z": "", "ä": 10**15}
    envelope = results.sign_document(key, document)
    readme_verify(json.loads(results.envelope_file(envelope)), signing.public_bytes(key))

"""Spreadsheets of published results: Excel workbooks (one sheet per round, Vietnamese headers, numbers as
numbers; the upper-level dashboard; a person's trust over time) and CSV (UTF-8 with a byte order mark, so that Excel opens Vietnamese text right).

Every text cell is written as text, whatever it begins with (ballots.spreadsheets: no formula can be planted in a
name). Percentages are written as numbers (the share, formatted 0.00 %): the percentage of the minutes, rounded half
up to two decimals (tally.percent), over 100.
"""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .dashboard import Row
from .history import Rated
from .rules import THRESHOLDS
from .spreadsheets import csv_file, text_safe_append
from .tally import percent
from .words import BASE_WORDS, MARK_WORDS, PHASE_WORDS, THRESHOLD_HEADINGS

CANDIDATE_HEADERS = (["STT", "Họ và tên", "Chức vụ"]
                     + [heading for word in MARK_WORDS for heading in (word, f"Tỷ lệ {word.lower()}")]
                     + ["Ô không hợp lệ"] + [THRESHOLD_HEADINGS[key] for key in THRESHOLDS])


def share(count: int, base: int) -> float | None:
    """The share as a number for a spreadsheet: the same rounded percentage as the minutes show, over 100."""
    if base <= 0:
        return None
    return float(Decimal(percent(count, base)) / 100)


def candidate_rows(doc: dict) -> list[list]:
    base = doc["base"]["value"]
    return [[c["position"], c["name"], c["post"], c["high"], share(c["high"], base), c["trust"],
             share(c["trust"], base), c["low"], share(c["low"], base), c["invalid"]]
            + ["Có" if c["flags"][key] else "" for key in THRESHOLDS] for c in doc["candidates"]]


def number_rows(doc: dict) -> list[list]:
    n = doc["numbers"]
    return [["Số người được triệu tập", n["convened"]], ["Số người có mặt", n["present"]],
            ["Số người vắng mặt", n["absent"]], ["Số phiếu phát ra", n["issued"]], ["Số phiếu thu về", n["collected"]],
            ["Số phiếu hợp lệ", n["valid"]], ["Số phiếu không hợp lệ", n["invalid"]],
            [f"Tỷ lệ tính trên {BASE_WORDS[doc['base']['name']][0]}", doc["base"]["value"]]]


def _sheet_title(doc: dict, used: set[str]) -> str:
    # Excel: at most 31 characters, no []:*?/\ , unique in the workbook
    title = "".join(ch for ch in f"{doc['round']['id']} {doc['round']['committee']}" if ch not in "[]:*?/\\")[:31]
    while title in used:
        title = title[:28] + f"~{len(used)}"
    used.add(title)
    return title


def result_workbook(documents: list[dict]) -> bytes:
    """One sheet per round: the round, the ballot-level numbers, then a row per candidate."""
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for doc in documents:
        sheet = book.create_sheet(_sheet_title(doc, used))
        info = doc["round"]
        text_safe_append(sheet, [info["committee"]])
        text_safe_append(sheet, [info["conference"], info["held_on"], info.get("place") or ""])
        text_safe_append(sheet, [info["title"]])
        sheet["A1"].font = Font(bold=True, size=13)
        text_safe_append(sheet, [])
        for row in number_rows(doc):
            text_safe_append(sheet, row)
        text_safe_append(sheet, [])
        text_safe_append(sheet, CANDIDATE_HEADERS)
        header_row = sheet.max_row
        for cell in sheet[header_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for number, row in enumerate(candidate_rows(doc), start=header_row + 1):
            text_safe_append(sheet, row)
            for column in (5, 7, 9):
                sheet.cell(number, column).number_format = "0.00%"
        for index, width in enumerate([6, 28, 24, 10, 10, 10, 10, 10, 10, 10, 16, 16, 16], start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = sheet.cell(header_row + 1, 3)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def result_csv(doc: dict) -> bytes:
    """The candidates' rows of one result as CSV, UTF-8 with a BOM, the ballot-level numbers first."""
    info = doc["round"]
    return csv_file([
        [info["committee"], info["conference"], info["title"], info["held_on"], info.get("place") or ""],
        *number_rows(doc),
        [],
        CANDIDATE_HEADERS,
        *([f"{v * 100:.2f}" if isinstance(v, float) else v for v in row] for row in candidate_rows(doc)),
    ])


DASHBOARD_HEADERS = ["Cấp ủy", "Cấp", "Đợt lấy phiếu", "Ngày hội nghị", "Trạng thái", "Đủ 2/3 có mặt",
                     "Phiếu phát ra", "Phiếu thu về", "Tỷ lệ thu về"] + [THRESHOLD_HEADINGS[key] for key in THRESHOLDS] + [
                     "Nhiệm kỳ", "Thuộc"]


def dashboard_workbook(parent: str, rows: list[Row], *, every_level: bool = False) -> bytes:
    """The dashboard's rows as they are filtered; "Thuộc" names the committees between `parent` and a nested one."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Tổng hợp"
    below = "các cấp ủy cấp dưới" if every_level else "các cấp ủy trực thuộc"
    text_safe_append(sheet, [f"Kết quả lấy phiếu tín nhiệm {below} {parent}"])
    sheet["A1"].font = Font(bold=True, size=13)
    text_safe_append(sheet, DASHBOARD_HEADERS)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    # rows are numbered here: openpyxl's max_row scans every cell, which made 5,000 rows take half a minute
    for number, row in enumerate(rows, start=3):
        quorum = "" if row.quorum is None else ("Có" if row.quorum else "Không")
        phase = PHASE_WORDS[row.phase] + (" (cấp ủy đã kết thúc)" if row.closed else "")
        text_safe_append(sheet, [row.committee, row.level, row.title, row.held_on, phase, quorum, row.issued, row.collected,
                      row.turnout] + (list(row.crossed) if row.crossed else [None] * 3) + [row.term, row.path])
        sheet.cell(number, 9).number_format = "0.00%"
        if row.held_on:
            sheet.cell(number, 4).number_format = "dd/mm/yyyy"
    for index, width in enumerate([34, 16, 40, 14, 18, 12, 12, 12, 12, 18, 18, 18, 11, 34], start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "B3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HISTORY_HEADERS = (["Ngày hội nghị", "Nhiệm kỳ", "Cấp ủy (tên khi lấy phiếu)", "Cấp ủy cấp trên trực tiếp", "Hội nghị",
                    "Đợt lấy phiếu", "Chức vụ"]
                   + [heading for word in MARK_WORDS for heading in (word, f"Tỷ lệ {word.lower()}")]
                   + ["Ô không hợp lệ", "Tỷ lệ tính trên", "Số"] + [THRESHOLD_HEADINGS[key] for key in THRESHOLDS])


def history_workbook(name: str, rows: list[Rated]) -> bytes:
    """A person's trust over time (ballots.history): one row per round, oldest first, as each result was sealed;
    only the rounds whose results are published to the reader who downloads it."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Lịch sử tín nhiệm"
    text_safe_append(sheet, [f"Kết quả lấy phiếu tín nhiệm qua các kỳ: {name}"])
    sheet["A1"].font = Font(bold=True, size=13)
    text_safe_append(sheet, ["Gồm các đợt lấy phiếu có kết quả được công khai cho người tải tệp này."])
    text_safe_append(sheet, [])
    text_safe_append(sheet, HISTORY_HEADERS)
    for cell in sheet[4]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for number, row in enumerate(rows, start=5):
        text_safe_append(sheet, [row.held_on, row.term, row.committee, row.parent, row.conference, row.title, row.post,
                      row.high, share(row.high, row.base), row.trust, share(row.trust, row.base), row.low,
                      share(row.low, row.base), row.invalid, BASE_WORDS[row.base_name][0], row.base]
                     + ["Có" if row.flags.get(key) else "" for key in THRESHOLDS])
        sheet.cell(number, 1).number_format = "dd/mm/yyyy"
        for column in (9, 11, 13):
            sheet.cell(number, column).number_format = "0.00%"
    for index, width in enumerate([13, 11, 30, 26, 30, 30, 22, 10, 10, 10, 10, 10, 10, 10, 18, 8, 16, 16, 16],
                                  start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "D5"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

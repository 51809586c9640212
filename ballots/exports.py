"""Spreadsheets of published results: Excel workbooks (one sheet per round, Vietnamese headers, numbers as
numbers) and CSV (UTF-8 with a byte order mark, so that Excel opens Vietnamese text right).

Percentages are written as numbers (the share, formatted 0.00 %): the percentage of the minutes, rounded half up to
two decimals (tally.percent), over 100.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .dashboard import Row
from .rules import THRESHOLDS
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
        sheet.append([info["committee"]])
        sheet.append([info["conference"], info["held_on"]])
        sheet.append([info["title"]])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([])
        for row in number_rows(doc):
            sheet.append(row)
        sheet.append([])
        sheet.append(CANDIDATE_HEADERS)
        header_row = sheet.max_row
        for cell in sheet[header_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for number, row in enumerate(candidate_rows(doc), start=header_row + 1):
            sheet.append(row)
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
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([doc["round"]["committee"], doc["round"]["conference"], doc["round"]["title"]])
    for row in number_rows(doc):
        writer.writerow(row)
    writer.writerow([])
    writer.writerow(CANDIDATE_HEADERS)
    for row in candidate_rows(doc):
        writer.writerow(["" if v is None else (f"{v * 100:.2f}" if isinstance(v, float) else v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


DASHBOARD_HEADERS = ["Cấp ủy", "Cấp", "Đợt lấy phiếu", "Ngày hội nghị", "Trạng thái", "Đủ 2/3 có mặt",
                     "Phiếu phát ra", "Phiếu thu về", "Tỷ lệ thu về"] + [THRESHOLD_HEADINGS[key] for key in THRESHOLDS]


def dashboard_workbook(parent: str, rows: list[Row]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Tổng hợp"
    sheet.append([f"Kết quả lấy phiếu tín nhiệm các cấp ủy trực thuộc {parent}"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(DASHBOARD_HEADERS)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    # rows are numbered here: openpyxl's max_row scans every cell, which made 5,000 rows take half a minute
    for number, row in enumerate(rows, start=3):
        quorum = "" if row.quorum is None else ("Có" if row.quorum else "Không")
        sheet.append([row.committee, row.level, row.title, row.held_on, PHASE_WORDS[row.phase], quorum, row.issued,
                      row.collected, row.turnout] + (list(row.crossed) if row.crossed else [None, None, None]))
        sheet.cell(number, 9).number_format = "0.00%"
        if row.held_on:
            sheet.cell(number, 4).number_format = "dd/mm/yyyy"
    for index, width in enumerate([34, 16, 40, 14, 18, 12, 12, 12, 12, 18, 18, 18], start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "B3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

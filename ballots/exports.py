"""Spreadsheets of published results: Excel workbooks (one sheet per round, Vietnamese headers, numbers as
numbers; the upper-level dashboard; a person's trust over time) and CSV (one table, in the app's dialect for a
Vietnamese Excel: ballots.spreadsheets.VietnameseExcel).

Every text cell is written as text, whatever it begins with (ballots.spreadsheets: no formula can be planted in a
name). Percentages are written as numbers (the share, formatted 0.00 %): the percentage of the minutes, rounded half
up to two decimals (tally.percent), over 100; in the CSV, the percentage itself (75,00). A day is a date cell
(dd/mm/yyyy), not text. Each workbook sheet is in one font, its columns as wide as their content, and set up to
print on A4 one page wide with its table's heading on every page (ballots.spreadsheets).
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from openpyxl.styles import Alignment

from .dashboard import Row
from .history import Rated
from .rules import MORE_THAN_HALF, MORE_THAN_TWO_THIRDS, THRESHOLDS, TWO_THIRDS_OR_MORE
from .spreadsheets import csv_file, fit_columns, font, new_workbook, print_setup, text_safe_append
from .tally import percent
from .words import BASE_WORDS, MARK_WORDS, PHASE_WORDS, REASON_WORDS, THRESHOLD_HEADINGS

# the result sheet's table heads each threshold under "Tín nhiệm thấp" in the rule sets' own short words
# ("Trên 1/2 tín nhiệm thấp: ..."), so that the table fits a landscape A4 page at a readable size
THRESHOLD_COLUMNS = {MORE_THAN_HALF: "Trên 1/2", TWO_THIRDS_OR_MORE: "Từ 2/3 trở lên", MORE_THAN_TWO_THIRDS: "Trên 2/3"}
DATE_FORMAT = "dd/mm/yyyy"
SHARE_FORMAT = "0.00%"


def share(count: int, base: int) -> float | None:
    """The share as a number for a spreadsheet: the same rounded percentage as the minutes show, over 100."""
    if base <= 0:
        return None
    return float(Decimal(percent(count, base)) / 100)


def percentage(count: int, base: int) -> Decimal | None:
    """The percentage as the minutes show it (75.00), for the CSV (written 75,00)."""
    if base <= 0:
        return None
    return Decimal(percent(count, base))


def day(text: str | None) -> dt.date | None:
    """A document's day (ISO, 2026-12-05) as a date, for a date cell."""
    return dt.date.fromisoformat(text) if text else None


def candidate_rows(doc: dict) -> list[list]:
    base = doc["base"]["value"]
    return [[c["position"], c["name"], c["post"], c["high"], share(c["high"], base), c["trust"],
             share(c["trust"], base), c["low"], share(c["low"], base), c["invalid"]]
            + ["Có" if c["flags"][key] else "" for key in THRESHOLDS] for c in doc["candidates"]]


NUMBER_LABELS = (("convened", "Số người được triệu tập"), ("present", "Số người có mặt"),
                 ("absent", "Số người vắng mặt"), ("issued", "Số phiếu phát ra"), ("collected", "Số phiếu thu về"),
                 ("valid", "Số phiếu hợp lệ"), ("invalid", "Số phiếu không hợp lệ"))


def _sheet_title(doc: dict, used: set[str]) -> str:
    # Excel: at most 31 characters, no []:*?/\ , unique in the workbook
    title = "".join(ch for ch in f"{doc['round']['id']} {doc['round']['committee']}" if ch not in "[]:*?/\\")[:31]
    while title in used:
        title = title[:28] + f"~{len(used)}"
    used.add(title)
    return title


RESULT_COLUMNS = 3 + 2 * len(MARK_WORDS) + 1 + len(THRESHOLDS)  # A..M


def _result_sheet(sheet, doc: dict) -> None:
    """One round: its name, the conference (a real date), the ballot-level numbers with the invalid ballots by
    reason and the base, the board's ruling on an anomaly, then the candidates' table under a two-row heading."""
    info, numbers, last = doc["round"], doc["numbers"], RESULT_COLUMNS
    bold = font(bold=True)

    def line(label, value=None, note=None, *, wrap_note=False):
        # a label over columns A:B, a value in C, a remark over D to the last column
        text_safe_append(sheet, [label, None, value, note])
        row = sheet.max_row
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
        if isinstance(value, str):  # a text value has the rest of the row
            sheet.merge_cells(start_row=row, start_column=3, end_row=row, end_column=last)
        elif note is not None:
            sheet.merge_cells(start_row=row, start_column=4, end_row=row, end_column=last)
        sheet.cell(row, 3).alignment = Alignment(horizontal="left", vertical="top" if wrap_note else None,
                                                 wrap_text=wrap_note)
        if wrap_note:
            sheet.cell(row, 1).alignment = Alignment(vertical="top")
        return row

    for text, size in ((info["committee"], 13), (info["title"], 11)):
        text_safe_append(sheet, [text])
        sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=last)
        sheet.cell(sheet.max_row, 1).font = font(bold=True, size=size)
    text_safe_append(sheet, [])
    if info.get("parent"):
        line("Cấp ủy cấp trên", info["parent"])
    line("Hội nghị", info["conference"])
    held = line("Ngày hội nghị", day(info["held_on"]))
    sheet.cell(held, 3).number_format = DATE_FORMAT
    if info.get("place"):
        line("Địa điểm", info["place"])
    if info.get("term"):
        line("Nhiệm kỳ", info["term"])
    text_safe_append(sheet, [])
    for key, label in NUMBER_LABELS:
        line(label, numbers[key])
        for reason, count in (numbers.get("invalid_reasons") or {}).items() if key == "invalid" else ():
            line("trong đó", count, REASON_WORDS.get(reason, reason))
    line("Tỷ lệ tính trên", BASE_WORDS[doc["base"]["name"]][0])  # its number is one of the numbers above
    ruling = (doc.get("rulings") or {}).get("anomaly")
    if ruling:
        line("Quyết định về bất thường", ruling, wrap_note=True)
    text_safe_append(sheet, [])
    # the heading: a group row (each kind of mark over its count and share; the thresholds under "Tín nhiệm thấp")
    groups = [None, None, None] + [w for word in MARK_WORDS for w in (word, None)] + [None, "Ngưỡng tín nhiệm thấp",
                                                                                       None, None]
    text_safe_append(sheet, groups)
    top = sheet.max_row
    for column in range(4, 4 + 2 * len(MARK_WORDS), 2):
        sheet.merge_cells(start_row=top, start_column=column, end_row=top, end_column=column + 1)
    sheet.merge_cells(start_row=top, start_column=last - 2, end_row=top, end_column=last)
    text_safe_append(sheet, ["STT", "Họ và tên", "Chức vụ"] + ["Số phiếu", "Tỷ lệ"] * len(MARK_WORDS)
                     + ["Ô không hợp lệ"] + [THRESHOLD_COLUMNS[key] for key in THRESHOLDS])
    header_row = sheet.max_row
    for row in (top, header_row):
        for cell in sheet[row]:
            cell.font = bold
            cell.alignment = Alignment(horizontal="center", vertical="bottom")
    for number, row in enumerate(candidate_rows(doc), start=header_row + 1):
        text_safe_append(sheet, row)
        for column in (5, 7, 9):
            sheet.cell(number, column).number_format = SHARE_FORMAT
        for column in (1, last - 2, last - 1, last):
            sheet.cell(number, column).alignment = Alignment(horizontal="center")
    fit_columns(sheet)
    sheet.freeze_panes = sheet.cell(header_row + 1, 3)
    print_setup(sheet, title_rows=(top, header_row),
                header=f"{info['committee']} — {info['title']} — {info['conference']}")


def result_workbook(documents: list[dict]) -> bytes:
    """One sheet per round: the round, the ballot-level numbers, then a row per candidate."""
    book = new_workbook()
    book.remove(book.active)
    used: set[str] = set()
    for doc in documents:
        _result_sheet(book.create_sheet(_sheet_title(doc, used)), doc)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


RESULT_CSV_HEADERS = (
    ["Cấp ủy", "Cấp ủy cấp trên", "Hội nghị", "Ngày hội nghị", "Địa điểm", "Nhiệm kỳ", "Đợt lấy phiếu"]
    + [label for _key, label in NUMBER_LABELS] + [REASON_WORDS[key] for key in REASON_WORDS]
    + ["Tỷ lệ tính trên", "Số làm căn cứ tính tỷ lệ", "STT", "Họ và tên", "Chức vụ"]
    + [heading for word in MARK_WORDS for heading in (word, f"Tỷ lệ {word.lower()} (%)")]
    + ["Ô không hợp lệ"] + [THRESHOLD_HEADINGS[key] for key in THRESHOLDS])


def result_csv(doc: dict) -> bytes:
    """One table: a heading row, then a row per candidate that repeats the round and its ballot-level numbers
    (so the file reads as one table: csv.reader, pandas.read_csv, Excel), in the app's CSV dialect
    (spreadsheets.VietnameseExcel: ";" between fields, "," before decimals, UTF-8 with a BOM). Percentages are
    the minutes' (75,00), a threshold crossed is "Có"."""
    info, numbers = doc["round"], doc["numbers"]
    base = doc["base"]["value"]
    reasons = numbers.get("invalid_reasons") or {}
    common = ([info["committee"], info.get("parent") or "", info["conference"], day(info["held_on"]),
               info.get("place") or "", info.get("term") or "", info["title"]]
              + [numbers[key] for key, _label in NUMBER_LABELS] + [reasons.get(key, 0) for key in REASON_WORDS]
              + [BASE_WORDS[doc["base"]["name"]][0], base])
    rows = [[c["position"], c["name"], c["post"], c["high"], percentage(c["high"], base), c["trust"],
             percentage(c["trust"], base), c["low"], percentage(c["low"], base), c["invalid"]]
            + ["Có" if c["flags"][key] else "" for key in THRESHOLDS] for c in doc["candidates"]]
    return csv_file([RESULT_CSV_HEADERS, *(common + row for row in rows)])


DASHBOARD_HEADERS = ["Cấp ủy", "Cấp", "Đợt lấy phiếu", "Ngày hội nghị", "Trạng thái", "Đủ 2/3 có mặt",
                     "Phiếu phát ra", "Phiếu thu về", "Tỷ lệ thu về"] + [THRESHOLD_HEADINGS[key] for key in THRESHOLDS] + [
                     "Nhiệm kỳ", "Thuộc"]


def dashboard_workbook(parent: str, rows: list[Row], *, every_level: bool = False) -> bytes:
    """The dashboard's rows as they are filtered; "Thuộc" names the committees between `parent` and a nested one."""
    book = new_workbook()
    sheet = book.active
    sheet.title = "Tổng hợp"
    below = "các cấp ủy cấp dưới" if every_level else "các cấp ủy trực thuộc"
    title = f"Kết quả lấy phiếu tín nhiệm {below} {parent}"
    text_safe_append(sheet, [title])
    sheet["A1"].font = font(bold=True, size=13)
    text_safe_append(sheet, DASHBOARD_HEADERS)
    for cell in sheet[2]:
        cell.font = font(bold=True)
    # rows are numbered here: openpyxl's max_row scans every cell, which made 5,000 rows take half a minute
    for number, row in enumerate(rows, start=3):
        quorum = "" if row.quorum is None else ("Có" if row.quorum else "Không")
        phase = PHASE_WORDS[row.phase] + (" (cấp ủy đã kết thúc)" if row.closed else "")
        text_safe_append(sheet, [row.committee, row.level, row.title, row.held_on, phase, quorum, row.issued, row.collected,
                      row.turnout] + (list(row.crossed) if row.crossed else [None] * 3) + [row.term, row.path])
        sheet.cell(number, 9).number_format = SHARE_FORMAT
        if row.held_on:
            sheet.cell(number, 4).number_format = DATE_FORMAT
    fit_columns(sheet, overflowing=1, heading=2)  # the title overflows to the right
    sheet.freeze_panes = "B3"
    print_setup(sheet, title_rows=(2, 2), header=title)
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
    book = new_workbook()
    sheet = book.active
    sheet.title = "Lịch sử tín nhiệm"
    title = f"Kết quả lấy phiếu tín nhiệm qua các kỳ: {name}"
    text_safe_append(sheet, [title])
    sheet["A1"].font = font(bold=True, size=13)
    text_safe_append(sheet, ["Gồm các đợt lấy phiếu có kết quả được công khai cho người tải tệp này."])
    text_safe_append(sheet, [])
    text_safe_append(sheet, HISTORY_HEADERS)
    for cell in sheet[4]:
        cell.font = font(bold=True)
    for number, row in enumerate(rows, start=5):
        text_safe_append(sheet, [row.held_on, row.term, row.committee, row.parent, row.conference, row.title, row.post,
                      row.high, share(row.high, row.base), row.trust, share(row.trust, row.base), row.low,
                      share(row.low, row.base), row.invalid, BASE_WORDS[row.base_name][0], row.base]
                     + ["Có" if row.flags.get(key) else "" for key in THRESHOLDS])
        sheet.cell(number, 1).number_format = DATE_FORMAT
        for column in (9, 11, 13):
            sheet.cell(number, column).number_format = SHARE_FORMAT
    fit_columns(sheet, overflowing=2, heading=4)  # the two lines above the table overflow to the right
    sheet.freeze_panes = "D5"
    print_setup(sheet, title_rows=(4, 4), header=title)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

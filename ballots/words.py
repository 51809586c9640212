"""The Vietnamese words the official documents share: the minutes (PDF) and the exports (Excel, CSV) write a
threshold, a base, a reason for an invalid ballot or a dashboard phase in these words and no others. (The
screens say the same things through the app's Babel catalogs, in Vietnamese and in English.)"""

from __future__ import annotations

from .rules import MORE_THAN_HALF, MORE_THAN_TWO_THIRDS, TWO_THIRDS_OR_MORE
from .tally import BAD_MARKS, CROSSED_OUT, EXTRA_WRITING, NOT_ISSUED

# why a whole ballot is invalid, as the minutes list them
REASON_WORDS = {
    NOT_ISSUED: "Phiếu không do Ban kiểm phiếu phát ra",
    CROSSED_OUT: "Phiếu gạch tên in sẵn",
    EXTRA_WRITING: "Phiếu ghi thêm tên hoặc viết thêm",
    BAD_MARKS: "Phiếu không đánh dấu hoặc đánh dấu nhiều ô",
}
# why a paper sheet is a duplicate (set aside, counted nowhere), as the minutes list them: keys of the result
# document's "set_aside"
DUPLICATE_WORDS = {
    "used_on_tablet": "Mã đã được dùng để bỏ phiếu trên máy tính bảng",
    "other_sheet": "Mã trùng với mã của một tờ phiếu giấy khác",
}
# a threshold inside a sentence ("Tín nhiệm thấp trên một nửa.")
THRESHOLD_WORDS = {
    MORE_THAN_HALF: "trên một nửa",
    TWO_THIRDS_OR_MORE: "từ hai phần ba trở lên",
    MORE_THAN_TWO_THIRDS: "trên hai phần ba",
}
# a threshold as a column heading of a spreadsheet
THRESHOLD_HEADINGS = {
    MORE_THAN_HALF: "Trên một nửa tín nhiệm thấp",
    TWO_THIRDS_OR_MORE: "Từ hai phần ba trở lên",
    MORE_THAN_TWO_THIRDS: "Trên hai phần ba",
}
# what the percentages are taken over, and the unit it counts
BASE_WORDS = {
    "collected": ("số phiếu thu về", "phiếu"),
    "issued": ("số phiếu phát ra", "phiếu"),
    "convened": ("số người được triệu tập", "người"),
}
# the three boxes of a ballot row
MARK_WORDS = ("Tín nhiệm cao", "Tín nhiệm", "Tín nhiệm thấp")
# where a round stands, as the upper level's dashboard folds its states
PHASE_WORDS = {"not_started": "Chưa bắt đầu", "open": "Đang bỏ phiếu", "counting": "Đang kiểm phiếu",
               "sealed": "Đã niêm phong", "published": "Đã công khai"}

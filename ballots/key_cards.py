"""The key cards of a round's ballot box (THẺ KHÓA HÒM PHIẾU) as a PDF: one A4 page per card, for the board
member (or, for the recovery card, the direct upper-level committee) whose name it carries.

A card holds its share of the box's key as a QR code and as a typed code in groups of four, in the embedded
monospaced face of every typed code (fonts.CODE_FONT) at 13 pt: large enough to type from, its 0, 1 and 8
unmistakable; the rest of the page is in the embedded Be Vietnam Pro. Like ballot codes, the cards are printed once, when ballots are first issued, and never stored: a lost card
cannot be printed again (the recovery card stands in for one).
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from . import fonts, tokens
from .ballot_box import IssuedCard, Made
from .fonts import font
from .printing import BallotSheet, qr_operators

WIDTH, HEIGHT = 210 * mm, 297 * mm
MARGIN = 20 * mm
QR_SIDE = 60 * mm
CODE_SIZE = 13


def draw_cards(canvas: Canvas, sheet: BallotSheet, made: Made) -> None:
    """The box's cards, one A4 page each, on a canvas that goes on with other pages (the first ballots)."""
    fonts.register()
    for issued in made.cards:
        canvas.setPageSize((WIDTH, HEIGHT))
        _draw_card(canvas, sheet, made, issued)
        canvas.showPage()


def _lines(canvas: Canvas, text: str, face: str, size: float, y: float, *, centred: bool = True) -> float:
    canvas.setFont(font(face), size)
    for line in simpleSplit(text, font(face), size, WIDTH - 2 * MARGIN):
        if centred:
            canvas.drawCentredString(WIDTH / 2, y, line)
        else:
            canvas.drawString(MARGIN, y, line)
        y -= size * 1.35
    return y


def holder_words(holder: str | None) -> str:
    """Who holds a card, as the card and the minutes say it."""
    if holder is None:
        return "Thẻ dự phòng – cấp ủy cấp trên trực tiếp giữ, niêm phong"
    return f"Đồng chí {holder} – thành viên Ban kiểm phiếu"


def _draw_card(canvas: Canvas, sheet: BallotSheet, made: Made, issued: IssuedCard) -> None:
    y = HEIGHT - MARGIN - 6 * mm
    for line in (sheet.upper_committee, sheet.committee):
        if line:
            y = _lines(canvas, line.upper(), "bold" if line == sheet.committee else "regular", 11, y)
    y = _lines(canvas, "THẺ KHÓA HÒM PHIẾU", "bold", 20, y - 8 * mm)
    y = _lines(canvas, sheet.title, "semibold", 12, y - 1 * mm)
    y = _lines(canvas, f"{sheet.conference}, ngày {sheet.held_on.day:02d}/{sheet.held_on.month:02d}/"
               f"{sheet.held_on.year}", "regular", 11, y)
    y = _lines(canvas, holder_words(issued.holder), "bold", 13, y - 6 * mm)
    y -= 4 * mm
    canvas.addLiteral(qr_operators(issued.card.payload, (WIDTH - QR_SIDE) / 2, y - QR_SIDE, QR_SIDE))
    y -= QR_SIDE + 8 * mm
    code = tokens.grouped(issued.card.code)
    canvas.setFont(fonts.CODE_FONT, CODE_SIZE)
    for start in range(0, len(code), 40):
        canvas.drawCentredString(WIDTH / 2, y, code[start:start + 40])
        y -= CODE_SIZE * 1.5
    total = len(made.cards)
    rules = (f"Hòm phiếu điện tử của đợt lấy phiếu này chỉ mở được khi có {made.cards_needed} trong {total} thẻ "
             "khóa. Sau khi kết thúc bỏ phiếu, Ban kiểm phiếu xuất trình thẻ để mở hòm phiếu, trước khi kiểm phiếu. "
             "Giữ thẻ kín như phiếu bầu: không sao chụp, không chụp ảnh, không đưa cho người khác. Thẻ không được "
             "in lại; nếu mất thẻ, báo ngay Ban kiểm phiếu để dùng thẻ dự phòng của cấp ủy cấp trên.")
    _lines(canvas, rules, "regular", 11, y - 6 * mm, centred=False)


def front(sheet: BallotSheet, made: Made | None):
    """What printing.ballot_pages draws before the ballots of an issue: the box's key cards with the first batch
    (`made`), nothing with a later one."""
    if made is None:
        return None
    return lambda canvas: draw_cards(canvas, sheet, made)

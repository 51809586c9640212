"""The pages of the minutes PDF around their content: a footer numbering each page "Trang x/y", and on a draft
a red band at the top and a large pale "DỰ THẢO" across the page."""

from __future__ import annotations

from functools import cache

from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from .fonts import font

DRAFT_MARK = "DỰ THẢO – chưa niêm phong"
WATERMARK = "DỰ THẢO"
MARGIN = 15 * mm
TOP = 20 * mm  # room for the draft band above the header
BOTTOM = 16 * mm  # room for the footer


class NumberedCanvas(Canvas):
    """Holds the pages back until the end so that each footer can say "Trang x/y"."""

    def __init__(self, *args, footer: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict] = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for page, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(page, total)
            super().showPage()
        super().save()

    def _draw_footer(self, page: int, total: int) -> None:
        width, _ = self._pagesize
        y = BOTTOM / 2
        self.saveState()
        self.setStrokeColor(colors.grey)
        self.setLineWidth(0.4)
        self.line(MARGIN, y + 9, width - MARGIN, y + 9)
        self.setFont(font("regular"), 8)
        self.setFillColor(colors.black)
        self.drawString(MARGIN, y, self._footer)
        self.drawRightString(width - MARGIN, y, f"Trang {page}/{total}")
        self.restoreState()


DRAFT_RED = colors.Color(0.75, 0.08, 0.08)


def page_background(canvas: Canvas, doc, *, draft: bool) -> None:
    """Under each page's content: for a draft, a band at the top and a large pale word across the page."""
    if not draft:
        return
    width, height = A4
    watermark = _draft_watermark()
    mark_width = 190 * mm
    image_width, image_height = watermark.getSize()
    mark_height = mark_width * image_height / image_width
    canvas.saveState()
    canvas.translate(width / 2, height / 2)
    canvas.rotate(55)
    canvas.drawImage(watermark, -mark_width / 2, -mark_height / 2, mark_width, mark_height)
    canvas.restoreState()

    canvas.saveState()
    band_height = 7 * mm
    band_y = height - 6 * mm - band_height
    band_width = 88 * mm
    canvas.setStrokeColor(DRAFT_RED)
    canvas.setFillColor(DRAFT_RED)
    canvas.setLineWidth(1.2)
    canvas.rect(width / 2 - band_width / 2, band_y, band_width, band_height, stroke=1, fill=0)
    canvas.setFont(font("bold"), 11)
    canvas.drawCentredString(width / 2, band_y + band_height / 2 - 4, DRAFT_MARK)
    canvas.restoreState()


@cache
def _draft_watermark() -> ImageReader:
    """The large pale "DỰ THẢO" across a draft page, as a picture: as text it would be read into the page's
    text (by copy and paste, screen readers, pdftotext) in pieces, between the lines it crosses."""
    face = ImageFont.truetype(pdfmetrics.getFont(font("bold")).face.filename, 200)
    left, top, right, bottom = face.getbbox(WATERMARK)
    image = PILImage.new("L", (right - left + 40, bottom - top + 40), 255)
    ImageDraw.Draw(image).text((20 - left, 20 - top), WATERMARK, font=face, fill=234)
    return ImageReader(image)

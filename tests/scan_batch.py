"""A scanned batch of a round's own paper ballots, as an office's scanner hands it over: the round's sheets printed
by the product (ballots.printing, with the round's own secrets), marked with the pen strokes of tests/scan_corpus.py
where the layout puts each box, degraded as a document scanner does (skew, noise, some pages upside down), in one
multi-page PDF or as single images. Used by the app and browser tests of scanned counting."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pypdfium2
from PIL import Image

from ballots import printing, sheet_layout
from tests import scan_corpus

DPI = 150


@dataclass(frozen=True)
class Sheet:
    """One sheet of the batch: its secret, its marks (one digit a row: 0 none, 1-3 a box, 4 two boxes), a row
    marked faintly (a doubt for the reader), and whether the scanner turned it upside down."""

    secret: bytes
    marks: str
    faint_row: int | None = None
    upside_down: bool = False
    qr_torn: bool = False  # the QR torn off (painted over): the teller reads the code printed under it


def pages(round_, sheets: Sequence[Sheet], *, base_url: str = scan_corpus.BASE_URL, paper: str = "A4",
          seed: int = 14) -> list[np.ndarray]:
    """The sheets printed for `round_`, marked and scanned: one grey page each."""
    rng = np.random.default_rng(seed)
    pdf = io.BytesIO()
    printing.print_ballots(printing.sheet_of(round_), [s.secret for s in sheets], pdf, base_url=base_url,
                           paper=paper)
    layout = sheet_layout.sheet_layout(paper, len(round_.candidates))
    document = pypdfium2.PdfDocument(pdf.getvalue())
    scanned = []
    for index, sheet in enumerate(sheets):
        bitmap = document[index].render(scale=DPI / 72, grayscale=True).to_numpy()
        image = np.array(bitmap[:, :, 0] if bitmap.ndim == 3 else bitmap)
        for position, (row, digit) in enumerate(zip(layout.rows, sheet.marks)):
            if digit == "0":
                continue
            if digit == "4":
                scan_corpus.draw_mark(image, layout, DPI, row.boxes[0], "cross", rng)
                scan_corpus.draw_mark(image, layout, DPI, row.boxes[2], "cross", rng)
                continue
            kind = "faint" if position == sheet.faint_row else "cross"
            scan_corpus.draw_mark(image, layout, DPI, row.boxes[int(digit) - 1], kind, rng)
        if sheet.qr_torn:
            x0, y0 = scan_corpus._to_px(layout, DPI, layout.qr.x, layout.qr.top)
            x1, y1 = scan_corpus._to_px(layout, DPI, layout.qr.right, layout.qr.y)
            image[y0:y1, x0:x1] = 255
        scanned.append(scan_corpus.scanner(image, DPI, rng, upside_down=sheet.upside_down, jpeg=False))
    document.close()
    return scanned


def pdf_of(images: Sequence[np.ndarray]) -> bytes:
    """The pages as one PDF, as a sheet-fed scanner writes it."""
    out = io.BytesIO()
    first, *rest = [Image.fromarray(image) for image in images]
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=DPI)
    return out.getvalue()


def png_of(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()

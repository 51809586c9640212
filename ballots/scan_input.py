"""What an office's scanner or phone gives us, one page at a time: a multi-page PDF, or PNG, JPEG and TIFF images.

Every size is read from the file's own header before a pixel is decoded, so that a small file that declares a
huge image (a decompression bomb), a 100-megapixel photo or a PDF of ten thousand pages is refused for what it
says it is, without the memory it would take: PNG and JPEG headers are read by ballots.scanning (the kiosk's camera
frames go through the same check), TIFF and PDF by Pillow and PDFium, which parse headers lazily. Pages are then
decoded one at a time, straight to grey levels, and handed over: a batch of any length holds one page in memory.
A page that cannot be read is refused with a message for that page, and the rest of the file carries on.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pypdfium2
import pypdfium2.raw as pdfium_c
from PIL import Image, UnidentifiedImageError

from . import scanning
from .errors import N_, InvalidInput

MAX_PAGES = 2000  # in one file: three times a large conference's batch of sheets
MAX_PAGE_PIXELS = 50_000_000  # an A4 page at 600 dpi is 35 million; a 100-megapixel photo is refused
MAX_SIDE = 20_000
PDF_DPI = 200  # a scanned PDF is rasterized at this resolution (the reader is tested from 150 dpi up)
JPEG_TARGET_PIXELS = 16_000_000  # larger photos are decoded at 1/2, 1/4 or 1/8 scale (JPEG can, for free)

NOT_A_SCAN = N_("%(file)s is not a scan: send PDF, PNG, JPEG or TIFF files.")
TOO_MANY_PAGES = N_("%(file)s has %(pages)s pages: at most %(limit)s pages are read from one file.")
PAGE_TOO_LARGE = N_("Page %(page)s of %(file)s is too large (%(pixels)s million pixels; at most %(limit)s million): "
                    "scan at 300 dpi, or take the photo at a lower resolution.")
PAGE_UNREADABLE = N_("Page %(page)s of %(file)s could not be decoded: the file may be damaged.")


@dataclass(frozen=True)
class Page:
    source: str  # the file's name
    number: int  # 1-based page (or TIFF frame) within the file
    image: np.ndarray = field(repr=False)  # 2-D uint8 grey levels, as scanned (any orientation)


@dataclass(frozen=True)
class PageRefusal:
    source: str
    number: int | None  # None: the whole file
    message: str  # msgid, filled from params
    params: dict = field(default_factory=dict)


def pages_of(data: bytes, filename: str) -> Iterator[Page | PageRefusal]:
    """The pages of one uploaded file, one at a time, each decoded only once its size is known to be within the
    limits; a refusal in place of a page (or of the whole file) that cannot be read. Never raises for bad input."""
    head = data[:1024]
    if b"%PDF-" in head:
        yield from _pdf_pages(data, filename)
    elif head.startswith((b"II*\x00", b"MM\x00*")):
        yield from _tiff_pages(data, filename)
    elif head.startswith((scanning.PNG_SIGNATURE, b"\xff\xd8")):
        yield _single_image(data, filename)
    else:
        yield PageRefusal(filename, None, NOT_A_SCAN, {"file": filename})


def _too_large(width: int, height: int) -> bool:
    return width <= 0 or height <= 0 or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PAGE_PIXELS


def _too_large_refusal(filename: str, number: int, width: int, height: int) -> PageRefusal:
    return PageRefusal(filename, number, PAGE_TOO_LARGE, {
        "file": filename, "page": number, "pixels": f"{width * height / 1e6:.0f}",
        "limit": f"{MAX_PAGE_PIXELS / 1e6:.0f}"})


def _grey(image: Image.Image) -> np.ndarray:
    if image.mode.startswith("I;16"):  # 16-bit grey scans: keep the high byte
        return (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # palette, alpha, CMYK, 1-bit: through RGB first
    return np.asarray(image.convert("L"))


def _single_image(data: bytes, filename: str) -> Page | PageRefusal:
    try:
        kind, width, height = scanning.frame_size(data)
    except InvalidInput:
        return PageRefusal(filename, None, NOT_A_SCAN, {"file": filename})
    if _too_large(width, height):
        return _too_large_refusal(filename, 1, width, height)
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if image.size != (width, height):  # Pillow read another header than ours: trust neither
                return PageRefusal(filename, 1, PAGE_UNREADABLE, {"file": filename, "page": 1})
            if kind == "JPEG":
                reduce = 1
                while width * height / reduce**2 > JPEG_TARGET_PIXELS and reduce < 8:
                    reduce *= 2
                image.draft("L", (width // reduce, height // reduce))
            return Page(filename, 1, _grey(image))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return PageRefusal(filename, 1, PAGE_UNREADABLE, {"file": filename, "page": 1})


def _tiff_pages(data: bytes, filename: str) -> Iterator[Page | PageRefusal]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # our own limit decides, below Pillow's
        try:
            image = Image.open(io.BytesIO(data), formats=["TIFF"])  # reads the first directory only
            frames = image.n_frames  # walks the directories, not the pixels
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
                Image.DecompressionBombWarning):
            yield PageRefusal(filename, None, NOT_A_SCAN, {"file": filename})
            return
        with image:
            if frames > MAX_PAGES:
                yield PageRefusal(filename, None, TOO_MANY_PAGES, {"file": filename, "pages": frames,
                                                                    "limit": MAX_PAGES})
                return
            for number in range(1, frames + 1):
                try:
                    image.seek(number - 1)
                    width, height = image.size
                    if _too_large(width, height):
                        yield _too_large_refusal(filename, number, width, height)
                        continue
                    grey = _grey(image)
                except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
                        Image.DecompressionBombWarning):
                    yield PageRefusal(filename, number, PAGE_UNREADABLE, {"file": filename, "page": number})
                    continue
                yield Page(filename, number, grey)


PDF_PAGES_PER_OPENING = 20  # PDFium keeps what it parsed of each page until the document closes: reopen it


def _pdf_pages(data: bytes, filename: str) -> Iterator[Page | PageRefusal]:
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        yield PageRefusal(filename, None, NOT_A_SCAN, {"file": filename})
        return
    try:
        count = len(document)
        if count > MAX_PAGES:
            yield PageRefusal(filename, None, TOO_MANY_PAGES, {"file": filename, "pages": count, "limit": MAX_PAGES})
            return
        scale = PDF_DPI / 72
        for number in range(1, count + 1):
            if number % PDF_PAGES_PER_OPENING == 0:
                document.close()
                document = pypdfium2.PdfDocument(data)
            yield _pdf_page(document, number, scale, filename)
    finally:
        document.close()


def _pdf_page(document: pypdfium2.PdfDocument, number: int, scale: float, filename: str) -> Page | PageRefusal:
    try:
        page = document[number - 1]
    except pypdfium2.PdfiumError:
        return PageRefusal(filename, number, PAGE_UNREADABLE, {"file": filename, "page": number})
    try:
        points = page.get_size()
        width, height = round(points[0] * scale), round(points[1] * scale)
        if _too_large(width, height):
            return _too_large_refusal(filename, number, width, height)
        # the images the page holds are decoded whole by PDFium whatever the rendering's size: their own sizes too
        for item in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
            pixels = item.get_px_size()
            if _too_large(*pixels):
                return _too_large_refusal(filename, number, *pixels)
        bitmap = page.render(scale=scale, grayscale=True, fill_color=(255, 255, 255, 255))
        grey = bitmap.to_numpy()
        grey = np.ascontiguousarray(grey[:, :, 0] if grey.ndim == 3 else grey)
        return Page(filename, number, grey)
    except (pypdfium2.PdfiumError, ValueError):
        return PageRefusal(filename, number, PAGE_UNREADABLE, {"file": filename, "page": number})
    finally:
        page.close()

"""PDFs read back the way a person and a phone would: poppler's text of each page, zxing-cpp's reading of each QR."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import zxingcpp
from PIL import Image

from tests.conftest import poppler


def run(*command) -> str:
    """A tool's standard output; its failure (with what it said) fails the test."""
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def words(text: str) -> str:
    """Whitespace normalised, composed Unicode: what the page says, independent of its line breaks."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def page_count(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)$", run(poppler("pdfinfo"), str(pdf)), re.MULTILINE).group(1))


def page_text(pdf: Path, page: int, *, layout: bool = False) -> str:
    """The text of a page (1-based) in composed Unicode: in content-stream order, or laid out as printed (one line
    a table row)."""
    mode = "-layout" if layout else "-raw"
    return unicodedata.normalize("NFC", run(poppler("pdftotext"), mode, "-f", str(page), "-l", str(page), str(pdf),
                                            "-"))


def text(pdf: Path) -> str:
    """The whole document's text laid out as printed."""
    return unicodedata.normalize("NFC", run(poppler("pdftotext"), "-layout", str(pdf), "-"))


def qr_texts(pdf: Path) -> list[list[str]]:
    """For each page, the text of every QR code found on it rendered at 100 dpi in grey (the images are written
    beside the PDF)."""
    prefix = pdf.with_suffix("")
    run(poppler("pdftoppm"), "-r", "100", "-gray", str(pdf), str(prefix))
    found = []
    for path in sorted(pdf.parent.glob(f"{prefix.name}-*.pgm")):
        with Image.open(path) as image:
            found.append([symbol.text for symbol in zxingcpp.read_barcodes(image)])
    return found

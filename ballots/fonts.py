"""The one typeface of every PDF (ballots and minutes): Be Vietnam Pro, which has every Vietnamese diacritic,
registered with ReportLab once and embedded in each document."""

from __future__ import annotations

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

_STYLES = {"regular": "Regular", "bold": "Bold", "italic": "Italic", "semibold": "SemiBold"}


def register() -> None:
    """Register the typeface's styles with ReportLab (a no-op once done)."""
    import fontpkg_be_vietnam_pro

    for style in _STYLES.values():
        name = f"BeVietnamPro-{style}"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(fontpkg_be_vietnam_pro.ROOT / "files" / f"{name}.ttf")))


def font(key: str) -> str:
    """ReportLab's name of a style: "regular", "bold", "italic" or "semibold"."""
    return f"BeVietnamPro-{_STYLES[key]}"

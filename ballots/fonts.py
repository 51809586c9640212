"""The one typeface of every PDF (ballots and minutes): Be Vietnam Pro, which has every Vietnamese diacritic,
registered with ReportLab once and embedded in each document; and for the codes people type from paper, IBM Plex
Mono (a monospaced face whose 0, 1 and 8 are unmistakable), embedded as well. Both come in wheels (fontpkg-*) with
their licences (SIL Open Font License), so a fresh machine needs no system font."""

from __future__ import annotations

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

_STYLES = {"regular": "Regular", "bold": "Bold", "italic": "Italic", "semibold": "SemiBold"}
CODE_FONT = "IBMPlexMono-SemiBold"  # ReportLab's name of the typed codes' face (registered by register())


def register() -> None:
    """Register the typeface's styles with ReportLab (a no-op once done)."""
    import fontpkg_be_vietnam_pro

    for style in _STYLES.values():
        name = f"BeVietnamPro-{style}"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(fontpkg_be_vietnam_pro.ROOT / "files" / f"{name}.ttf")))
    if CODE_FONT not in pdfmetrics.getRegisteredFontNames():
        import fontpkg_ibm_plex_mono

        pdfmetrics.registerFont(TTFont(CODE_FONT, str(fontpkg_ibm_plex_mono.ROOT / "files" / f"{CODE_FONT}.ttf")))


def font(key: str) -> str:
    """ReportLab's name of a style: "regular", "bold", "italic" or "semibold"."""
    return f"BeVietnamPro-{_STYLES[key]}"

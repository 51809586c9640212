"""Vietnamese first: every message in the code and templates has a Vietnamese translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "app" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "N_": None, "lazy_gettext": None}


def _msgids():
    found = set()
    for subdir in ("app", "ballots", "templates"):
        method_map = [("**.py", "python"), ("**.html", "jinja2")]
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
                ROOT / subdir, method_map=method_map, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_a_vietnamese_translation():
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and "fuzzy" not in m.flags}
    missing = sorted(_msgids() - translated)
    assert missing == [], "untranslated (run `make messages`, then translate app/translations/vi):\n" + "\n".join(
        missing)


def test_the_compiled_catalog_is_used():
    assert (CATALOG.with_suffix(".mo")).exists(), "run `make translations` (make test does it)"

"""Vietnamese first, English second: Flask-Babel with the language kept in the session."""

from __future__ import annotations

import datetime as dt

from flask import Flask, session
from flask_babel import Babel, format_date, format_datetime, gettext, lazy_gettext as _l

from ballots.lifecycle import RoundState
from ballots.results import DIGITS
from ballots.rules import MORE_THAN_HALF, MORE_THAN_TWO_THIRDS, PRESETS, THRESHOLDS, TWO_THIRDS_OR_MORE, crossed_thresholds
from ballots.tally import BAD_MARKS, CROSSED_OUT, EXTRA_WRITING, NOT_ISSUED, percent

LANGUAGES = ("vi", "en")


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else "vi"


# The screens' words for the domain's keys, in both languages (the documents' Vietnamese: ballots.words).
STATE_NAMES = {
    RoundState.DRAFT: _l("Draft"),
    RoundState.ISSUED: _l("Ballots issued, voting not open yet"),
    RoundState.OPEN: _l("Open for voting"),
    RoundState.CLOSED: _l("Closed, paper entry"),
    RoundState.COUNTED: _l("Counted"),
    RoundState.SEALED: _l("Sealed"),
    RoundState.PUBLISHED: _l("Published"),
}
THRESHOLD_NAMES = {
    MORE_THAN_HALF: _l("More than half low trust (2 × low > N)"),
    TWO_THIRDS_OR_MORE: _l("Two thirds or more low trust (3 × low ≥ 2 × N)"),
    MORE_THAN_TWO_THIRDS: _l("More than two thirds low trust (3 × low > 2 × N)"),
}
REASON_NAMES = {
    NOT_ISSUED: _l("Not issued by this counting board"),
    CROSSED_OUT: _l("A printed name crossed out"),
    EXTRA_WRITING: _l("Names or writing added"),
    BAD_MARKS: _l("A row with no box or several boxes ticked"),
}
ANOMALY_NAMES = {
    "collected_exceeds_issued": _l("More sheets were collected than were issued: the board must rule on it before "
                                   "approving."),
    "issued_exceeds_present": _l("More ballots were issued than delegates were present."),
}
BASE_SENTENCES = {
    "collected": _l("Percentages are of the %(count)s ballots collected."),
    "issued": _l("Percentages are of the %(count)s ballots issued."),
    "convened": _l("Percentages are of the %(count)s people convened."),
}
BASE_NAMES = {"collected": _l("ballots collected"), "issued": _l("ballots issued"), "convened": _l("people convened")}
PHASE_NAMES = {
    "not_started": _l("Not started"),
    "open": _l("Voting"),
    "counting": _l("Counting"),
    "sealed": _l("Sealed"),
    "published": _l("Published"),
}
ROLE_NAMES = {"organizer": _l("Organizer"), "teller": _l("Teller"), "viewer": _l("Viewer")}


# One way of writing a day on every Vietnamese screen, as Vietnamese documents write it (ballots.formats.day_text):
# 30/06/2025, and a time before it: 14:05 30/06/2025. English keeps the format a template asks for.
VI_DAY, VI_TIME = "dd/MM/yyyy", "HH:mm dd/MM/yyyy"


def day_format(value, format=None, rebase=True):  # noqa: A002 (Flask-Babel's filter signature)
    if select_locale() == "vi":
        return format_date(value, VI_DAY)
    return format_date(value, format, rebase) if format else format_date(value)


def time_format(value, format=None, rebase=True):  # noqa: A002
    if select_locale() == "vi":
        return format_datetime(value, VI_TIME, rebase)
    return format_datetime(value, format, rebase) if format else format_datetime(value)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(dateformat=day_format, datetimeformat=time_format)

    @app.context_processor
    def names():
        return {
            "current_language": select_locale(),
            "languages": LANGUAGES,
            "state_name": lambda state: STATE_NAMES.get(state, state),
            "threshold_name": lambda key: THRESHOLD_NAMES.get(key, key),
            "threshold_line": threshold_line,
            "threshold_floor": threshold_floor,
            "threshold_keys": tuple(THRESHOLDS),
            "role_name": lambda role: ROLE_NAMES.get(role, role),
            "reason_name": lambda key: REASON_NAMES.get(key, key),
            "anomaly_name": lambda key: ANOMALY_NAMES.get(key, key),
            "base_sentence": lambda name, count: BASE_SENTENCES[name] % {"count": count},
            "base_name": lambda name: BASE_NAMES.get(name, name),
            "pct": percentage,
            "phase_name": lambda key: PHASE_NAMES.get(key, key),
            "day": lambda iso: day_format(dt.date.fromisoformat(iso)) if iso else "",
            "rule_set_title": lambda key: PRESETS[key].title if key in PRESETS else key,
            "marks_text": lambda marks: marks.translate(DIGITS).decode(),
        }


def threshold_line(key: str, consequence: str | None = None) -> str:
    """A threshold's name, then the consequence the rule set names for it, said once: the presets' consequences
    begin with the threshold's own short words ("Trên 1/2 tín nhiệm thấp: ...", for the minutes, which print them
    alone), which the screen does not repeat after the name."""
    name = str(THRESHOLD_NAMES.get(key, key))
    if not consequence:
        return name
    head, colon, rest = consequence.partition(": ")
    if colon and "tín nhiệm thấp" in head:
        consequence = rest
    return f"{name}: {consequence}"


def threshold_floor(key: str, base: int) -> int | None:
    """The fewest low-trust votes that cross the threshold over `base` (rules.crossed_thresholds decides), or None
    when none can (an empty base)."""
    return next((low for low in range(base + 1) if crossed_thresholds(low, base)[key]), None)


def percentage(count: int, base: int) -> str:
    """A share for display: two decimals rounded half up, with the decimal comma in Vietnamese."""
    value = percent(count, base)
    return value.replace(".", ",") if select_locale() == "vi" else value


def translate(message: str, params: dict) -> str:
    """A domain message (an English msgid) in the user's language, its string parameters translated too."""
    params = {key: gettext(value) if isinstance(value, str) and value else value for key, value in params.items()}
    message = gettext(message)
    return message % params if params else message


def translate_error(exc) -> str:
    """The public message of a domain error in the user's language."""
    return translate(exc.message, exc.params)

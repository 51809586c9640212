"""Vietnamese first, English second: Flask-Babel with the language kept in the session."""

from __future__ import annotations

import datetime as dt

from flask import Flask, session
from flask_babel import Babel, format_date, gettext, lazy_gettext as _l

from ballots.results import DIGITS
from ballots.tally import percent

LANGUAGES = ("vi", "en")


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else "vi"


STATE_NAMES = {
    "draft": _l("Draft"),
    "issued": _l("Ballots issued, voting not open yet"),
    "open": _l("Open for voting"),
    "closed": _l("Closed, paper entry"),
    "counted": _l("Counted"),
    "sealed": _l("Sealed"),
    "published": _l("Published"),
}
THRESHOLD_NAMES = {
    "more_than_half": _l("More than half low trust (2 × low > N)"),
    "two_thirds_or_more": _l("Two thirds or more low trust (3 × low ≥ 2 × N)"),
    "more_than_two_thirds": _l("More than two thirds low trust (3 × low > 2 × N)"),
}
REASON_NAMES = {
    "not_issued": _l("Not issued by this counting board"),
    "crossed_out": _l("A printed name crossed out"),
    "extra_writing": _l("Names or writing added"),
    "bad_marks": _l("A row with no box or several boxes ticked"),
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
PHASE_NAMES = {
    "not_started": _l("Not started"),
    "open": _l("Voting"),
    "counting": _l("Counting"),
    "sealed": _l("Sealed"),
    "published": _l("Published"),
}
ROLE_NAMES = {"organizer": _l("Organizer"), "teller": _l("Teller"), "viewer": _l("Viewer")}


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def names():
        return {
            "current_language": select_locale(),
            "languages": LANGUAGES,
            "state_name": lambda state: STATE_NAMES.get(state, state),
            "threshold_name": lambda key: THRESHOLD_NAMES.get(key, key),
            "role_name": lambda role: ROLE_NAMES.get(role, role),
            "reason_name": lambda key: REASON_NAMES.get(key, key),
            "anomaly_name": lambda key: ANOMALY_NAMES.get(key, key),
            "base_sentence": lambda name, count: BASE_SENTENCES[name] % {"count": count},
            "pct": percentage,
            "phase_name": lambda key: PHASE_NAMES.get(key, key),
            "day": lambda iso: format_date(dt.date.fromisoformat(iso)) if iso else "",
            "marks_text": lambda marks: marks.translate(DIGITS).decode(),
        }


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

"""The kiosk's pages, on a shared tablet or the delegate's own phone.

`/kiosk/<round>` serves one round: it scans a ballot's QR with the camera, or takes a typed code or a
barcode scanner's input. `/b` is what a ballot's QR opens in any camera app: its fragment holds the code,
which the page's script reads and removes at once. Without JavaScript the same pages work as plain forms, which
open and cast a ballot the way the API does (app.kiosk.tablets). Every answer here is `Cache-Control: no-store`,
and nothing of one voter stays for the next.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, render_template, request
from sqlalchemy.exc import DBAPIError

from ballots import casting, rounds
from ballots.db import reading

from ..db import get_db
from ..errors import DATABASE_RETRY_SECONDS, MESSAGES, is_outage
from ..security import csrf
from ..venue.public import after_vote_line
from ..views import Refusal, attempt
from . import tablets

bp = Blueprint("kiosk", __name__)
csrf.exempt(bp)  # no session and no ambient authority here: each request carries the ballot's own secret

RESET_SECONDS = 6


@bp.after_request
def nothing_kept(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/kiosk/<int:round_id>")
def scan(round_id: int):
    round_ = rounds.get_round(reading(get_db()), round_id)  # a read: a flood of page loads takes no write lock
    return render_template("kiosk/scan.html", round=round_, tablet=tablets.mint(round_.id),
                           reset_seconds=RESET_SECONDS)


@bp.get("/b")
def from_camera_app():
    """The page a ballot's QR opens: the code is in the URL's fragment, which only the page's script reads."""
    return render_template("kiosk/scan.html", round=None, tablet=tablets.mint(None), reset_seconds=RESET_SECONDS)


@bp.errorhandler(DBAPIError)
def database_unavailable(exc: DBAPIError):
    """Without JavaScript, a form sent while the database cannot be reached comes back as a page that sends the
    same form again (the same submission id: a ballot recorded meanwhile is told "already recorded")."""
    if not is_outage(exc):
        raise exc
    fields = [(name, value) for name, value in request.form.items(multi=True)][:210] if request.method == "POST" else []
    return render_template("kiosk/retry.html", message=MESSAGES[503](), action=request.path, fields=fields), 503, {
        "Retry-After": str(DATABASE_RETRY_SECONDS)}


def _refused(round_id: int, refusal: Refusal):
    wait = refusal.error.retry_after
    return (render_template("kiosk/refused.html", round_id=round_id, message=refusal.message), refusal.status,
            {"Retry-After": str(wait)} if wait else {})


@bp.post("/kiosk/<int:round_id>/ballot")
def ballot_form(round_id: int):
    """Without JavaScript: the ballot as a form of radio buttons, for the code typed or scanned."""
    code, tablet = request.form.get("code", ""), request.form.get("tablet", "")
    view, refusal = attempt(lambda db: tablets.open_ballot(code, round_id, tablet))
    if refusal:
        return _refused(round_id, refusal)
    return render_template("kiosk/ballot_form.html", view=view, code=code, round_id=round_id, tablet=tablet,
                           submission=secrets.token_urlsafe(16))


@bp.post("/kiosk/<int:round_id>/cast")
def cast_form(round_id: int):
    raw_count = request.form.get("count", "")
    # ASCII digits only, and few: str.isdigit() takes "²", which int() refuses, and int() refuses 4,300 digits
    count = int(raw_count) if len(raw_count) <= 3 and raw_count.isascii() and raw_count.isdigit() else 0
    marks = "".join(request.form.get(f"mark-{i}", "0") for i in range(min(count, 200)))
    outcome, refusal = attempt(lambda db: tablets.cast(
        request.form.get("code", ""), casting.parse_marks(marks), request.form.get("submission", ""), round_id,
        request.form.get("tablet", "")))
    if refusal:
        return _refused(round_id, refusal)
    return render_template("kiosk/recorded.html", round_id=round_id, outcome=outcome,
                           paper=after_vote_line(round_id))

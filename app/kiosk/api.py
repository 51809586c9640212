"""The kiosk's JSON API (/api/v1): open a ballot, cast it, decode a camera frame. Described by openapi.json.

No session and no CSRF token: a request carries its own authority, the ballot's secret, in its body (never in a
URL, so never in a log). Every refusal is JSON with a Vietnamese message and a 4xx status (app.errors).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from ballots import casting, scanning
from ballots.errors import N_, InvalidInput

from ..limits import gate
from ..security import csrf
from ..venue.public import after_vote_line
from . import tablets
from .openapi import document

bp = Blueprint("api", __name__)
csrf.exempt(bp)

MAX_FRAME_BYTES = 2 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024  # a cast of 200 candidates is under 1 KB


def _body() -> dict:
    """The JSON object posted, or a 400 that says so."""
    if not request.is_json:
        raise InvalidInput(N_("Send a JSON object (Content-Type: application/json)."))
    request.max_content_length = MAX_JSON_BYTES  # a larger body is a 413 before it is read
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):  # Python's parser recurses: "[[[[…" a few thousand deep is a 500 else
        raise InvalidInput(N_("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise InvalidInput(N_("Send a JSON object (Content-Type: application/json)."))
    return body


def _text(body: dict, name: str, limit: int = 200) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInput(N_("The field %(field)s is missing or not valid."), field=name)
    return value


def _round(body: dict) -> int | None:
    value = body.get("round")
    if value is None:
        return None
    if type(value) is not int or not 0 < value < 2**31:
        raise InvalidInput(N_("The field %(field)s is missing or not valid."), field="round")
    return value


@bp.after_request
def never_cached(response):
    # answers carry ballot content and codes read from frames: no cache may keep them
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/ballots/open")
def open_ballot():
    body = _body()
    code, kiosk_round = _text(body, "code"), _round(body)
    view = tablets.open_ballot(code, kiosk_round)
    return jsonify(round=view.round_id, committee=view.committee, conference=view.conference, title=view.title,
                   invalid_mark_policy=view.invalid_mark_policy, after_vote=after_vote_line(view.round_id),
                   candidates=[{"name": name, "post": post} for name, post in view.candidates])


@bp.post("/ballots")
def cast():
    body = _body()
    code, submission, kiosk_round = _text(body, "code"), _text(body, "submission", 64), _round(body)
    marks = casting.parse_marks(body.get("marks"))
    # throttled per tablet, and committed with the casts that came in together before the tablet says "recorded"
    outcome = tablets.cast(code, marks, submission, kiosk_round)
    return jsonify(status=outcome, message=_("Your ballot has been recorded.")), (
        201 if outcome == casting.RECORDED else 200)


@bp.post("/scan")
def scan():
    """Decode a camera frame (JPEG or PNG) on the server, for browsers without BarcodeDetector: its size read from
    its header first, then decoded under the process's limit on frames decoded at once (app.limits)."""
    # never more than a frame's worth read, whatever the body says of itself (past MAX_CONTENT_LENGTH: a 413)
    data = request.stream.read(MAX_FRAME_BYTES + 1)
    if not data or len(data) > MAX_FRAME_BYTES:
        raise InvalidInput(scanning.NOT_A_FRAME)
    scanning.check_frame(data)  # before waiting for a turn: a frame too large is refused at once
    with gate("decoding")():
        text = scanning.read_qr(data)
    if text is None:
        return jsonify(found=False), 200
    return jsonify(found=True, text=text)


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


"""Tablet sessions, and the two ways a tablet reaches a ballot: opening it (a read) and casting it.

A tablet session is a signed random id handed to each kiosk page, so that guessing is throttled per tablet. It
lives only in the page's memory (no cookie, no storage): a reload gets a new one, which is why the address is
throttled too, far more generously, since a venue's tablets may share one address. The throttle itself is the
domain's (ballots.guessing), one for the pages and the API alike.
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from ballots import casting, guessing
from ballots.db import reading
from ballots.errors import UnknownBallot

from ..db import get_db, own_session
from . import group_commit


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="trustvote.tablet")


def new_tablet() -> str:
    return _serializer().dumps(secrets.token_urlsafe(12))


def current_tablet(value: str | None = None) -> str:
    """The tablet session named by the request (header X-Tablet or the form's field), else its address."""
    value = value or request.headers.get("X-Tablet", "")
    try:
        return "tablet:" + _serializer().loads(value)
    except BadSignature:
        return "address:" + (request.remote_addr or "")


def open_ballot(code: str, kiosk_round: int | None, tablet_field: str | None = None) -> casting.BallotView:
    """The ballot a code opens, under the tablet's guessing throttle. Raises KioskThrottled first if the tablet
    (or its address) sent too many unknown codes, then what casting.show_ballot raises.

    Opening writes nothing, so the check and the lookup share a read (on SQLite a deferred transaction, which
    takes no write lock). A code that matches no ballot is remembered in a short session of its own, committed
    at once, since the refusal rolls the request's transaction back: with group commit, the kiosk's deliberate
    exception to one commit per request (app.views)."""
    db = reading(get_db())
    tablet, address = current_tablet(tablet_field), request.remote_addr or ""
    guessing.check(db, tablet=tablet, address=address)
    try:
        return casting.show_ballot(db, code=code, kiosk_round=kiosk_round)
    except UnknownBallot:
        with own_session() as guesses:
            guessing.record(guesses, tablet=tablet, address=address)
            guesses.commit()
        raise


def cast(code: str, marks: bytes, submission: str, kiosk_round: int | None, tablet_field: str | None = None) -> str:
    """Cast through the group commit, throttled per tablet in the same transaction (a code that matches no ballot
    is remembered with the batch). Returns RECORDED or ALREADY_RECORDED once committed, or raises the refusal."""
    return group_commit.cast(casting.Cast(code, marks, submission, kiosk_round, tablet=current_tablet(tablet_field),
                                          address=request.remote_addr or ""))

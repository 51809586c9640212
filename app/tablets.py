"""Tablet sessions: a signed random id handed to each kiosk page, so that guessing is throttled per tablet.

It lives only in the page's memory (no cookie, no storage): a reload gets a new one, which is why the address
is throttled too, far more generously, since a venue's tablets may share one address.
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer


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


def guarded(action, tablet_field: str | None = None, *, read_only: bool = False):
    """Run `action(db)`, a ballot lookup, under the tablet's guessing throttle: raises KioskThrottled first if
    the tablet (or its address) sent too many unknown codes; a code matching no ballot is remembered (in a
    transaction of its own, committed) and UnknownBallot raised again. `read_only`: the action writes nothing,
    so on SQLite the check and the action share a deferred transaction, which takes no write lock."""
    from ballots import casting
    from ballots.db import reading
    from ballots.issuing import UnknownBallot

    from .db import get_db

    db = get_db()
    tablet, address = current_tablet(tablet_field), request.remote_addr or ""
    casting.check_guessing(reading(db) if read_only else db, tablet=tablet, address=address)
    try:
        return action(db)
    except UnknownBallot:
        db.rollback()
        casting.record_guess(db, tablet=tablet, address=address)
        db.commit()
        raise

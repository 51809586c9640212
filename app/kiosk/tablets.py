"""Tablet ids, and the two ways a tablet reaches a ballot: opening it (a read) and casting it.

A tablet id is handed out only by a kiosk page (`/kiosk/<round>` or `/b`), signed with the app's secret key, and
carries the round the page serves and whether the address it was handed to was still within its allowance
(ballots.guessing.mint: MINTS_PER_ADDRESS in MINT_WINDOW). It lives only in the page's memory (no cookie, no
storage) and expires after TABLET_LIFETIME. A request with a valid id of the round it asks for counts as that
tablet; any other (no id, one the server did not sign, an expired one, one of another round, one handed out past
the address's allowance) counts as its address's anonymous requests. Minting ids is thus no way around a delay.

The throttle is the domain's (ballots.guessing), one for the pages and the API alike: every code is looked up
first, so a ballot that can be cast is always accepted at once; only a code that matched no ballot is held back,
for the delay its tablet and its address have earned, in a bounded number of held answers a process keeps at a
time (app.limits); past that, it is answered at once with 429 and Retry-After.
"""

from __future__ import annotations

import math
import secrets

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

from ballots import casting, guessing
from ballots.db import reading
from ballots.errors import KioskThrottled, UnknownBallot

from ..db import get_db, own_session
from ..limits import gate
from ..views import committed_apart
from . import group_commit

TABLET_LIFETIME = 24 * 3600  # seconds: a conference's day, then the page is reloaded


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="trustvote.tablet/2")


def _address() -> str:
    return request.remote_addr or ""


def sign_tablet(round_id: int | None, *, counted: bool) -> str:
    """A new tablet id for a page serving `round_id` (None: /b, any round); `counted`: within its address's
    allowance, so that it counts as a tablet of its own."""
    return _serializer().dumps([secrets.token_urlsafe(12), round_id or 0, 1 if counted else 0])


def mint(round_id: int | None) -> str:
    """A tablet id for the kiosk page being served, counted against its address's allowance. The count is read
    without the write lock, and only an address still within its allowance takes it to record one more (a flood
    of page loads past the allowance writes nothing)."""
    address = _address()
    with own_session() as session:
        counted = guessing.mints_left(reading(session), address=address) > 0
    if counted:
        counted = committed_apart(lambda session: guessing.mint(session, address=address))
    return sign_tablet(round_id, counted=counted)


def source_of(value: str | None, kiosk_round: int | None) -> str:
    """What a request's failures count against: "tablet:<id>" for a valid id handed out within its address's
    allowance (by the page of the round the request asks for, if it names one); "address:<address>" for anything
    else."""
    try:
        tablet, round_id, counted = _serializer().loads(value or "", max_age=TABLET_LIFETIME)
        if counted == 1 and isinstance(tablet, str) and (kiosk_round is None or round_id in (0, kiosk_round)):
            return "tablet:" + tablet
    except (BadData, ValueError, TypeError):
        pass
    return "address:" + _address()


def _tablet_field(value: str | None) -> str | None:
    return value or request.headers.get("X-Tablet")


def _slow_down(refusal: UnknownBallot) -> None:
    """Hold the answer to a code that matched no ballot for its delay, if a held answer is free in this process;
    else answer at once, asking the tablet to wait (KioskThrottled, 429 with Retry-After)."""
    if refusal.delay > 0 and not gate("held_answers").try_hold(refusal.delay):
        raise KioskThrottled(seconds=math.ceil(refusal.delay)) from None


def open_ballot(code: str, kiosk_round: int | None, tablet_field: str | None = None) -> casting.BallotView:
    """The ballot a code opens, if it can be cast now: raises what casting.show_ballot raises, an UnknownBallot held
    back for its delay, or KioskThrottled.

    The lookup is a read (on SQLite a deferred transaction, which takes no write lock). A code that matches no
    ballot is remembered in a short session of its own, committed at once, since the refusal rolls the request's
    transaction back: with group commit, the kiosk's deliberate exception to one commit per request (app.views)."""
    db = reading(get_db())
    try:
        return casting.show_ballot(db, code=code, kiosk_round=kiosk_round)
    except UnknownBallot as refusal:
        source, address = source_of(_tablet_field(tablet_field), kiosk_round), _address()
        guesses = guessing.Guesses(db, [(source, address)])  # read in the same read: a flood adds no transaction
        if guesses.worth_recording(source, address):
            committed_apart(lambda session: guessing.record(session, tablet=source, address=address, now=guesses.now))
        refusal.delay = guesses.count(source, address)
        db.rollback()  # nothing of the request's read stays open while the answer is held
        _slow_down(refusal)
        raise


def cast(code: str, marks: bytes, submission: str, kiosk_round: int | None, tablet_field: str | None = None) -> str:
    """Cast through the group commit (a code that matches no ballot is remembered with the batch). Returns
    RECORDED or ALREADY_RECORDED once committed, or raises the refusal (an UnknownBallot after its delay)."""
    try:
        return group_commit.cast(casting.Cast(code, marks, submission, kiosk_round,
                                              tablet=source_of(_tablet_field(tablet_field), kiosk_round),
                                              address=_address()))
    except UnknownBallot as refusal:
        _slow_down(refusal)
        raise

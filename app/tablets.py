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

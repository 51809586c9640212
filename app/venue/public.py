"""What a tablet reaches without an account: the venue authority's certificate and how to install it, the check
that it is installed, the kiosk's report, and the page the printer test page's QR opens.

No session, no CSRF token: nothing here reads or changes anything of a voter or a ballot. The report is one row
per address (ballots.venue.record_tablet); the printer check holds a token signed by the app.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext
from itsdangerous import BadData, URLSafeSerializer

from ballots import venue
from ballots.db import reading
from ballots.errors import N_, InvalidInput
from ballots.formats import as_utc
from ballots.models import Round, VenueTablet, utcnow

from ..db import get_db
from ..security import csrf
from ..views import committed_apart

bp = Blueprint("venue_public", __name__, url_prefix="/venue")
csrf.exempt(bp)

# a page reload on a tablet reports again; an unchanged report within this time writes nothing
REPORT_QUIET = dt.timedelta(minutes=1)


def _instance():
    return current_app.config["TRUSTVOTE"].instance_path


def _authority():
    ca = venue.ca_certificate(_instance())
    if ca is None:
        abort(404)
    return ca


@bp.get("/install")
def install():
    """How to install the venue's authority on a tablet, in Vietnamese, with its fingerprint to compare."""
    ca = venue.ca_certificate(_instance())
    settings = current_app.config["TRUSTVOTE"]
    return render_template("venue/install.html", ca=ca, fingerprint=venue.fingerprint(ca) if ca else None,
                           base_url=settings.base_url)


@bp.get("/ca.crt")
def ca_der():
    """The authority in DER, the type Android's and iPadOS's certificate installers open."""
    return Response(_authority().public_bytes(serialization.Encoding.DER), mimetype="application/x-x509-ca-cert",
                    headers={"Content-Disposition": 'attachment; filename="trustvote-hoi-nghi.crt"'})


@bp.get("/ca.pem")
def ca_pem():
    return Response(_authority().public_bytes(serialization.Encoding.PEM), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": 'attachment; filename="trustvote-hoi-nghi.pem"'})


@bp.get("/check")
def check():
    """Reached over HTTPS without a warning only once the authority is installed: the page says so (its script
    reports it like the kiosk)."""
    return render_template("venue/check.html", secure=request.is_secure)


def _flag(body: dict, name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise InvalidInput(N_("The field %(field)s is missing or not valid."), field=name)
    return value


@bp.post("/report")
def report():
    """A kiosk page's report: {"secure": window.isSecureContext, "camera": a camera API offered}. 204."""
    body = request.get_json(silent=True) if request.content_length and request.content_length < 1024 else None
    if not isinstance(body, dict):
        raise InvalidInput(N_("Send a JSON object (Content-Type: application/json)."))
    secure, camera = _flag(body, "secure"), _flag(body, "camera")
    address = request.remote_addr or ""
    seen = reading(get_db()).get(VenueTablet, address[:64])
    # as_utc: SQLite gives the stored time back without its zone
    if seen is None or (seen.secure, seen.camera) != (secure, camera) or utcnow() - as_utc(seen.seen_at) > REPORT_QUIET:
        committed_apart(lambda session: venue.record_tablet(session, address=address, secure=secure, camera=camera))
    return "", 204


def after_vote_line(round_id: int) -> str:
    """What the kiosk tells a delegate once their tablet ballot is recorded: the board's practice for the paper
    sheet (ballots.venue.PAPER_PRACTICES), which must not reach the box."""
    round_ = get_db().get(Round, round_id)  # in the request's session already, as the ballot's round
    return gettext(venue.PAPER_PRACTICES[round_.paper_after_tablet if round_ else "board"])


def printer_token(round_id: int) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="trustvote.printer-test").dumps(round_id)


@bp.get("/printed/<token>")
def printed(token: str):
    """What the printer test page's QR opens on a tablet: the round's printer check is green from now on."""
    try:
        round_id = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="trustvote.printer-test").loads(token)
    except BadData:
        abort(404)
    round_ = get_db().get(Round, round_id) if isinstance(round_id, int) else None
    if round_ is None:
        abort(404)
    venue.printer_checked(get_db(), round_)
    return render_template("venue/printed.html", round=round_, secure=request.is_secure)

"""Error pages: every refusal is a clear message and a 4xx; the domain's errors map to their own status."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ballots.errors import BallotError

from .i18n import translate_error

MESSAGES = {
    400: lambda: _("The request could not be understood."),
    415: lambda: _("This kind of content is not accepted here."),
    401: lambda: _("Please log in."),
    403: lambda: _("You do not have the right to do this."),
    404: lambda: _("This page does not exist."),
    405: lambda: _("This action is not allowed here."),
    413: lambda: _("The file or form sent is too large."),
    429: lambda: _("Too many requests. Please wait a moment."),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(BallotError)
    def ballot_error(exc: BallotError):
        from .db import get_db

        get_db().rollback()
        return render_template("error.html", message=translate_error(exc), status=exc.status), exc.status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = _("The form has expired or did not come from this site. Go back, reload the page and try again.")
        return render_template("error.html", message=message, status=400), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = MESSAGES.get(exc.code, lambda: exc.name)()
        if request.path.startswith("/api/"):
            return jsonify(error=type(exc).__name__, message=message), exc.code
        return render_template("error.html", message=message, status=exc.code), exc.code

    @app.errorhandler(500)
    def server_error(_exc):
        if request.path.startswith("/api/"):
            return jsonify(error="InternalServerError", message=_("Something went wrong on our side.")), 500
        return render_template("error.html", message=_("Something went wrong on our side."), status=500), 500

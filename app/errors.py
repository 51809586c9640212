"""Error pages: every refusal is a clear message and a 4xx; the domain's errors map to their own status.

The one place a refusal becomes an answer: an error page, or under /api/ the JSON the kiosk's script reads
(`{"error": name, "message": text}`, as the OpenAPI description says). The request's transaction is already
rolled back when these run (app.views.committed).
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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
    503: lambda: _("The server cannot reach its database just now. Try again in a few seconds: a ballot sent again "
                   "is counted only once."),
}
# how long a client waits before trying again when the database is unreachable (the kiosk's script does so by
# itself, with the same submission id)
DATABASE_RETRY_SECONDS = 3


def _answer(name: str, message: str, status: int, retry_after: int | None = None):
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if request.path.startswith("/api/"):
        return jsonify(error=name, message=message), status, headers
    return render_template("error.html", message=message, status=status), status, headers


def is_outage(exc: DBAPIError) -> bool:
    """The database cannot be reached or does not answer in time (not a query the code got wrong)."""
    return isinstance(exc, OperationalError) or exc.connection_invalidated


def init_app(app: Flask) -> None:
    @app.errorhandler(BallotError)
    def ballot_error(exc: BallotError):
        return _answer(type(exc).__name__, translate_error(exc), exc.status, exc.retry_after)

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError):
        """An outage (refused connections, a database that stopped, one locked past the busy timeout) is 503 with
        Retry-After: nothing was acknowledged, and the tablet tries again with the same submission id."""
        if not is_outage(exc):
            raise exc
        app.logger.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        return _answer("DatabaseUnavailable", MESSAGES[503](), 503, DATABASE_RETRY_SECONDS)

    @app.errorhandler(PoolTimeout)
    def pool_timeout(_exc: PoolTimeout):
        return _answer("DatabaseUnavailable", MESSAGES[503](), 503, DATABASE_RETRY_SECONDS)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = _("The form has expired or did not come from this site. Go back, reload the page and try again.")
        return render_template("error.html", message=message, status=400), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _answer(type(exc).__name__, MESSAGES.get(exc.code, lambda: exc.name)(), exc.code)

    @app.errorhandler(500)
    def server_error(_exc):
        return _answer("InternalServerError", _("Something went wrong on our side."), 500)

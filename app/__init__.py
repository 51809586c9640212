"""The Flask application: create_app wires settings, database, login, CSRF, translations and blueprints."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from ballots import lifecycle

from .settings import Settings
from .views import committed

ROOT = Path(__file__).resolve().parent.parent


class RowId(IntegerConverter):
    """`<int:...>` in every route names a row, so it is at most the largest INTEGER: a larger number is a 404,
    not an overflow in the database driver (SQLite's refuses anything past 2**63 with a 500)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


class TrustVote(Flask):
    """Flask, with one commit per request: every view runs inside app.views.committed."""

    def dispatch_request(self):
        return committed(super().dispatch_request)


def create_app(settings: Settings | None = None) -> Flask:
    """The app, for these settings (by default read from the environment, which refuses to start without the
    instance's keys: app.settings). Touches neither the database nor the network."""
    settings = settings or Settings.from_env()
    app = TrustVote(__name__, template_folder=str(ROOT / "templates"), instance_path=str(settings.instance_path))
    app.url_map.converters["int"] = RowId
    app.config.update(
        TRUSTVOTE=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="trustvote",
        WTF_CSRF_TIME_LIMIT=None,  # the token is bound to the session, which itself expires
        # Referrer-Policy: no-referrer means browsers send no Referer, which Flask-WTF's strict HTTPS check
        # would refuse; the session-bound token and SameSite=Lax cookies are the protection against CSRF.
        WTF_CSRF_SSL_STRICT=False,
        BABEL_DEFAULT_LOCALE="vi",
        BABEL_DEFAULT_TIMEZONE="Asia/Ho_Chi_Minh",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).with_name("translations")),
    )
    if settings.proxy_hops:
        # trust exactly the proxies we run (nginx), never a client's own X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                x_host=settings.proxy_hops)

    # what a round's state allows, as the domain's lifecycle says it, for the pages that show it
    app.jinja_env.globals.update(has_closed=lifecycle.has_closed, is_sealed=lifecycle.is_sealed)

    from . import auth, db, errors, i18n, kiosk, limits, security, venue

    db.init_app(app)
    limits.init_app(app)  # first of the request hooks: an upload waits for its turn before anything reads it
    i18n.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)

    from .admin import bp as admin_bp
    from .board import bp as board_bp
    from .count import bp as count_bp
    from .organize import bp as organize_bp
    from .results import bp as results_bp, upper as upper_bp

    app.register_blueprint(auth.bp)
    app.register_blueprint(organize_bp)
    app.register_blueprint(board_bp)
    app.register_blueprint(count_bp, url_prefix="/count")
    app.register_blueprint(results_bp, url_prefix="/results")
    app.register_blueprint(upper_bp, url_prefix="/results")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    kiosk.init_app(app)
    venue.init_app(app)  # the venue checklist, the certificate's install page, the kiosk's report
    return app

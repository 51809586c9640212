"""The kiosk: the audience that votes, with its own plumbing. No account, no cookie, no CSRF token: each request
carries its own authority, the ballot's secret.

- views.py: the pages a tablet or a phone shows (/kiosk/<round>, /b), which also work as plain forms;
- api.py and openapi.py: the JSON API the pages' script calls (/api/v1) and its OpenAPI description;
- tablets.py: the tablet sessions the guessing throttle counts by, and the two ways a tablet reaches a ballot
  (opening it, casting it), shared by the pages and the API;
- group_commit.py: the casts that arrive together committed in one transaction.
"""

from __future__ import annotations

from flask import Flask

from . import api, views
from .group_commit import GroupCommit, count_arrivals


def init_app(app: Flask) -> None:
    """Register the kiosk's pages and API, and its group commit beside the app's sessions (after app.db)."""
    app.extensions["trustvote.group_commit"] = GroupCommit(app.extensions["trustvote.sessionmaker"])
    count_arrivals(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")

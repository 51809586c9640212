"""The venue kit's pages: the checklist an organizer or the board goes through before printing a round's ballots,
the printer test page, the page tablets open to install the venue's certificate authority, and the report each
kiosk page sends when it loads (secure context, camera). The certificates themselves: ballots.venue and
deploy/venue.py (`make venue`).
"""

from __future__ import annotations

from flask import Flask

from . import checklist, public


def init_app(app: Flask) -> None:
    app.register_blueprint(public.bp)
    app.register_blueprint(checklist.bp)

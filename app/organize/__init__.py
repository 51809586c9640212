"""Organizers: the committee tree, members and posts, roster import, conferences and rounds in draft."""

from flask import Blueprint

from ..access import require_role

bp = Blueprint("organize", __name__)
bp.before_request(require_role("organizer"))

from . import rounds, tree  # noqa: E402,F401  (the views register themselves on bp)

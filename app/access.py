"""Who may open a page, decided in one place: each blueprint names the role, the URL names the committee."""

from __future__ import annotations

from flask import abort, current_app, g, request
from flask_login import current_user

from ballots.accounts import has_role
from ballots.models import Committee, Conference, Membership, Round

from .db import get_db

# How each URL argument leads to the committee the page belongs to.
COMMITTEE_OF = {
    "committee_id": lambda db, value: db.get(Committee, value),
    "conference_id": lambda db, value: (c := db.get(Conference, value)) and c.committee,
    "round_id": lambda db, value: (r := db.get(Round, value)) and r.conference.committee,
    "seat_id": lambda db, value: (m := db.get(Membership, value)) and m.committee,
}


def require_role(role: str):
    """A before_request hook: log-in required; if the URL names a committee, the role on it is required.

    Unknown ids answer 404, a missing role 403. The committee found is kept as g.committee.
    """

    def check():
        if not current_user.is_authenticated:
            if request.endpoint == "organize.home":
                return None  # the home page is the log-in page for a visitor
            return current_app.login_manager.unauthorized()
        db = get_db()
        for name, find in COMMITTEE_OF.items():
            if name in (request.view_args or {}):
                committee = find(db, request.view_args[name])
                if committee is None:
                    abort(404)
                if not has_role(current_user.account, role, committee):
                    abort(403)
                g.committee = committee
                return None
        return None

    return check


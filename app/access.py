"""Who may open a page, decided in one place: each blueprint names the roles, the URL names the committee."""

from __future__ import annotations

from flask import abort, current_app, g, request
from flask_login import current_user

from ballots.accounts import has_role
from ballots.models import Committee, Conference, Membership, Round

from .db import get_db


def _round(db, value):
    g.round = db.get(Round, value)
    return g.round and g.round.conference.committee


# How each URL argument leads to the committee the page belongs to.
COMMITTEE_OF = {
    "committee_id": lambda db, value: db.get(Committee, value),
    "conference_id": lambda db, value: (c := db.get(Conference, value)) and c.committee,
    "round_id": _round,
    "seat_id": lambda db, value: (m := db.get(Membership, value)) and m.committee,
}


def holds(account, role: str, committee: Committee) -> bool:
    """Whether the account holds the role for this page. "board" is a teller who sits on the round's board."""
    if role == "board":
        round_ = g.get("round")
        return (round_ is not None and has_role(account, "teller", committee)
                and any(seat.account_id == account.id for seat in round_.board))
    return has_role(account, role, committee)


def require_role(*roles: str):
    """A before_request hook: log-in required; if the URL names a committee, one of the roles on it is required.

    Unknown ids answer 404, a missing role 403. The committee found is kept as g.committee (and a round as
    g.round).
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
                if not any(holds(current_user.account, role, committee) for role in roles):
                    abort(403)
                g.committee = committee
                return None
        return None

    return check

"""Who may open a page, decided in one place: a before_request hook per kind of check, each asking
ballots.authority. A blueprint names the roles, the URL names the committee.

- `require_login`: any logged-in account (the published results, where the domain decides who reads what);
- `require_role(*roles)`: one of the roles on the committee the URL names ("board": a teller of the round's
  committee who sits on its counting board);
- `require_admin`: an administrator (who holds no role on any committee by being one).
"""

from __future__ import annotations

from flask import abort, current_app, g, request
from flask_login import current_user

from ballots import authority
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
    """Whether the account holds the role for this page. "board": a teller of the committee who sits on the
    board of the round the URL names (the board is named among the tellers; the pages also need the grant to be
    still held)."""
    if role == "board":
        round_ = g.get("round")
        return (round_ is not None and authority.has_role(account, "teller", committee)
                and authority.sits_on_board(account, round_))
    return authority.has_role(account, role, committee)


def require_login():
    """A before_request hook: a visitor is sent to log in (the home page, which is the log-in page, excepted)."""
    if current_user.is_authenticated or request.endpoint == "organize.home":
        return None
    return current_app.login_manager.unauthorized()


def require_role(*roles: str):
    """A before_request hook: log-in required; if the URL names a committee, one of the roles on it is required.

    Unknown ids answer 404, a missing role 403. The committee found is kept as g.committee (and a round as
    g.round).
    """

    def check():
        if not current_user.is_authenticated:
            return require_login()
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


def require_admin():
    """A before_request hook: an administrator, logged in."""
    if not current_user.is_authenticated:
        return require_login()
    if not current_user.is_admin:
        abort(403)
    return None

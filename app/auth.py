"""Log-in with server-side sessions (Flask-Login) and the language switch. Who may open a page: app.access."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from ballots import accounts

from .db import get_db
from .forms import LoginForm
from .i18n import LANGUAGES
from .views import attempt

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class LoggedIn(UserMixin):
    """The logged-in account. Its id for Flask-Login is the server-side session token, not the account id, so
    deleting the session row at logout makes any copy of the cookie worthless."""

    def __init__(self, account, token: str) -> None:
        self.account = account
        self.token = token

    def get_id(self) -> str:
        return self.token

    def __getattr__(self, name):
        return getattr(self.account, name)


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load(token: str):
        account = accounts.account_for_session(get_db(), token)
        return LoggedIn(account, token) if account else None


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would let a phishing link borrow our login page."""
    if target and not urlsplit(target).netloc and not urlsplit(target).scheme and target.startswith("/") \
            and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("organize.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("organize.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.is_submitted() else 200
    account, refusal = attempt(lambda db: accounts.authenticate(
        db, username=form.username.data, password=form.password.data, address=request.remote_addr or ""))
    if refusal:  # throttled
        form.form_errors.append(refusal.message)
        return render_template("auth/login.html", form=form), refusal.status
    if account is None:
        # an answer, not an exception: the failure recorded for throttling is committed with the request
        form.form_errors.append(_("Wrong username or password."))
        return render_template("auth/login.html", form=form), 401
    token = accounts.open_session(get_db(), account)
    language = session.get("lang")
    session.clear()  # a fresh session at log-in: nothing chosen before it carries over, except the language
    if language:
        session["lang"] = language
    login_user(LoggedIn(account, token))
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout():
    accounts.close_session(get_db(), current_user.token)
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def choose_language(code: str):
    if code not in LANGUAGES:
        abort(404)
    session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


"""Log-in with server-side sessions (Flask-Login) and the language switch. Who may open a page: app.access.

A log-in attempt is recorded (and committed) before its password is checked, the check itself runs under the
process's limit on password hashing (app.limits), and a browser that logged in to an account before carries a
signed device cookie (scoped to /login) whose attempts count apart from its address's: ballots.accounts says why.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer

from ballots import accounts
from ballots.errors import LoginThrottled, ServerBusy

from .db import get_db
from .forms import LoginForm
from .i18n import LANGUAGES, translate_error
from .limits import gate
from .views import committed_apart

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


DEVICE_COOKIE = "trustvote_device"
DEVICE_LIFETIME = 180 * 24 * 3600  # seconds


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="trustvote.device")


def _device_claim() -> tuple[int, str] | None:
    """(account id, device id) from the browser's device cookie, if the server signed it."""
    try:
        account_id, device = _devices().loads(request.cookies.get(DEVICE_COOKIE, ""), max_age=DEVICE_LIFETIME)
        return int(account_id), str(device)
    except (BadData, ValueError, TypeError):
        return None


def _login_page(form: LoginForm, status: int, refusal=None):
    if refusal is not None:
        form.form_errors.append(translate_error(refusal))
    headers = {"Retry-After": str(refusal.retry_after)} if refusal is not None and refusal.retry_after else {}
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("organize.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.is_submitted() else 200
    claim = _device_claim()
    # recorded and committed before the password is checked: concurrent attempts count one another
    try:
        attempt = committed_apart(lambda db: accounts.begin_login(
            db, username=form.username.data, address=request.remote_addr or "", device_claim=claim))
    except LoginThrottled as refusal:
        return _login_page(form, refusal.status, refusal)
    try:
        with gate("hashing")():
            checked = accounts.check_password(attempt, form.password.data)
    except ServerBusy as busy:
        committed_apart(lambda db: accounts.abandon_login(db, attempt))  # never checked: not against the owner
        return _login_page(form, busy.status, busy)
    account = accounts.finish_login(get_db(), attempt, checked)
    if account is None:
        form.form_errors.append(_("Wrong username or password."))  # its failure stays recorded (committed above)
        return _login_page(form, 401)
    token = accounts.open_session(get_db(), account)
    language = session.get("lang")
    session.clear()  # a fresh session at log-in: nothing chosen before it carries over, except the language
    if language:
        session["lang"] = language
    login_user(LoggedIn(account, token))
    response = redirect(_safe_next(request.args.get("next")))
    # this browser's attempts at this account count apart from its address's from now on
    device = claim[1] if claim and claim[0] == account.id else secrets.token_urlsafe(16)
    response.set_cookie(DEVICE_COOKIE, _devices().dumps([account.id, device]), max_age=DEVICE_LIFETIME,
                        path=url_for("auth.login"), httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


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


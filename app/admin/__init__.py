"""Administrators: accounts and role grants. Being an administrator grants no role on any committee, and an
administrator cannot grant one to their own account; a new password for a teller at work on a counting board
waits for a second administrator (ballots.accounts)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ballots import accounts, authority, bundles, committees
from ballots.models import Account, Committee, TrustedKey

from ..access import require_admin
from ..db import get_db
from ..forms import AccountForm, GrantForm, PasswordForm, TrustedKeyForm, options
from ..limits import gate
from ..views import attempt, form_page

bp = Blueprint("admin", __name__)
bp.before_request(require_admin)


def _committee_choices(db) -> list[tuple[int, str]]:
    return sorted(((c.id, committees.path_of(c)) for c in db.scalars(select(Committee))), key=lambda pair: pair[1])


@bp.get("/accounts")
def account_list():
    db = get_db()
    return render_template("admin/accounts.html", accounts=db.scalars(select(Account).order_by(Account.username)).all())


@bp.route("/accounts/new", methods=["GET", "POST"])
def new_account():
    form = AccountForm()

    def create(db):
        with gate("hashing")():
            return accounts.create_account(
                db, username=form.username.data, display_name=form.display_name.data, password=form.password.data,
                is_admin=form.is_admin.data, person_code=form.person_code.data, actor=current_user.username)

    return form_page(form, "admin/account_form.html", create, success=_("Account created."),
                     next_url=lambda account: url_for("admin.account", account_id=account.id))


def _account_or_404(db, account_id: int) -> Account:
    account = db.get(Account, account_id)
    if account is None:
        abort(404)
    return account


PICKER_LIMIT = 300  # committees listed at once; a search narrows a province's thousands down


def _picker(db, grant_form: GrantForm) -> tuple[list[tuple[int, str]], int, str]:
    """The committees the grant form lists: those whose name or path matches the search (without case or
    diacritics), the one already chosen always among them; and how many there are in all."""
    search = request.args.get("q", "")[:100].strip()
    everything = _committee_choices(db)
    folded = committees.fold(search)
    matching = [(cid, path) for cid, path in everything
                if cid == grant_form.committee_id.data or folded in committees.fold(path)]
    return matching[:PICKER_LIMIT], len(matching), search


def _account_page(db, account: Account, status: int = 200, error: str | None = None, **forms):
    grant_form = forms.get("grant_form") or GrantForm(formdata=None)
    shown, matching, search = _picker(db, grant_form)
    failures, addresses = accounts.recent_failures(db, account)
    return render_template("admin/account.html", account=account, grant_form=grant_form, shown=shown,
                           matching=matching, search=search,
                           password_form=forms.get("password_form") or PasswordForm(formdata=None),
                           path_of=committees.path_of, is_self=account.id == current_user.account.id,
                           waiting=accounts.waiting_password(db, account),
                           at_work=authority.boards_at_work(db, account),
                           failures=failures, failure_addresses=addresses,
                           window_minutes=int(accounts.THROTTLE_WINDOW.total_seconds() // 60), error=error), status


@bp.get("/accounts/<int:account_id>")
def account(account_id: int):
    db = get_db()
    return _account_page(db, _account_or_404(db, account_id))


@bp.post("/accounts/<int:account_id>/grants")
def grant(account_id: int):
    db = get_db()
    account = _account_or_404(db, account_id)
    form = GrantForm()
    valid = form.validate_on_submit()
    committee = db.get(Committee, form.committee_id.data) if valid else None
    if committee is None:
        if valid:
            form.committee_id.errors = [_("Choose a committee from the list.")]
        return _account_page(db, account, 400, grant_form=form)
    _done, refusal = attempt(lambda db: accounts.grant_role(
        db, account=account, committee=committee, role=form.role.data, actor=current_user.username))
    if refusal:
        form.form_errors.append(refusal.message)
        return _account_page(db, account, refusal.status, grant_form=form)
    flash(_("Role granted."), "success")
    return redirect(url_for("admin.account", account_id=account.id), 303)


@bp.post("/accounts/<int:account_id>/grants/<int:grant_id>/revoke")
def revoke(account_id: int, grant_id: int):
    db = get_db()
    account = _account_or_404(db, account_id)
    if grant_id not in {g.id for g in account.grants}:
        abort(404)
    accounts.revoke_grant(db, grant_id=grant_id, actor=current_user.username)
    flash(_("Role revoked."), "success")
    return redirect(url_for("admin.account", account_id=account.id), 303)


@bp.post("/accounts/<int:account_id>/password")
def password(account_id: int):
    db = get_db()
    account = _account_or_404(db, account_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        return _account_page(db, account, 400, password_form=form)

    def set_password(db):
        with gate("hashing")():
            return accounts.set_password(db, account, form.password.data, actor=current_user.username)

    done, refusal = attempt(set_password)
    if refusal:
        form.form_errors.append(refusal.message)
        return _account_page(db, account, refusal.status, password_form=form)
    if done:
        flash(_("Password changed; the account's open sessions were ended."), "success")
    else:
        flash(_("%(username)s sits on a counting board at work: the new password takes effect once another "
                "administrator confirms it on this page.", username=account.username), "warning")
    return redirect(url_for("admin.account", account_id=account.id, _anchor="password"), 303)


@bp.post("/accounts/<int:account_id>/password/<any(confirm, cancel):action>")
def waiting_password(account_id: int, action: str):
    """A second administrator confirms the new password of a teller at work, or either drops it."""
    db = get_db()
    account = _account_or_404(db, account_id)
    change = accounts.confirm_password if action == "confirm" else accounts.cancel_password
    _done, refusal = attempt(lambda db: change(db, account, actor=current_user.username))
    if refusal:
        return _account_page(db, account, refusal.status, error=refusal.message)
    flash(_("Password changed; the account's open sessions were ended.") if action == "confirm"
          else _("The new password was dropped."), "success")
    return redirect(url_for("admin.account", account_id=account.id, _anchor="password"), 303)


@bp.post("/accounts/<int:account_id>/unlock")
def unlock(account_id: int):
    """Forget the account's failed log-in attempts (audited), so that its owner need not wait."""
    db = get_db()
    account = _account_or_404(db, account_id)
    forgotten = accounts.unlock(db, account, actor=current_user.username)
    flash(_("%(count)s failed log-in attempts forgotten: the account can be logged in to at once.", count=forgotten),
          "success")
    return redirect(url_for("admin.account", account_id=account.id), 303)


@bp.post("/accounts/<int:account_id>/active/<any(on, off):state>")
def active(account_id: int, state: str):
    db = get_db()
    account = _account_or_404(db, account_id)
    _done, refusal = attempt(lambda db: accounts.set_active(db, account, state == "on", actor=current_user.username))
    if refusal:
        return _account_page(db, account, refusal.status, error=refusal.message)
    flash(_("Saved."), "success")
    return redirect(url_for("admin.account", account_id=account.id), 303)


@bp.route("/keys", methods=["GET", "POST"])
def keys():
    """The public keys of the conference instances whose signed results may be imported here."""
    db = get_db()
    form = TrustedKeyForm()
    form.committee_id.choices = options(_committee_choices(db))
    listed = db.scalars(select(TrustedKey).order_by(TrustedKey.id)).all()
    return form_page(form, "admin/keys.html", lambda db: bundles.register_key(
        db, public_key=form.public_key.data, label=form.label.data, committee=db.get(Committee, form.committee_id.data),
        actor=current_user.username), success=_("The key is registered."), next_url=lambda key: url_for("admin.keys"),
        keys=listed, path_of=committees.path_of)

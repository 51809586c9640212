"""The counting board's pages: paper entry, the disagreement queue, the count, approval, the minutes, the seal.

Only the tellers who sit on the round's board see anything here: before publication no one else sees a number.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

from ballots import audit, counting, minutes, signing
from ballots.errors import BallotError
from ballots.models import AuditHead, Result
from ballots.tally import percent

from ..access import require_role
from ..db import get_db
from ..forms import AnomalyForm, PaperEntryForm, RulingForm
from ..i18n import translate_error
from ..views import attachment

bp = Blueprint("count", __name__)
bp.before_request(require_role("board"))

STATUS_NAMES = {
    counting.AGREED: _l("Entries agree"),
    counting.RULED: _l("Ruled by the board"),
    counting.DISAGREE: _l("Entries disagree"),
    counting.INCOMPLETE: _l("Waiting for another teller"),
}


def _signing_key():
    return signing.load_private_key(current_app.config["TRUSTVOTE"].signing_key_path)


def _document(round_):
    """The result document: as sealed, or as it would be sealed now (a draft, for reading before approval)."""
    db = get_db()
    result = db.get(Result, round_.id)
    if result is not None:
        return json.loads(result.document), result
    head = db.get(AuditHead, 1)
    return counting.result_document(db, round_, audit_head=(head.seq, head.hash), sealed_at=None,
                                    approved_by=counting.approvers(db, round_)), None


def _overview(round_, status=200, ruling_forms=None, anomaly_form=None, error=None):
    db = get_db()
    states = counting.sheet_states(db, round_)
    progress = counting.progress(db, round_, states)
    document = result = None
    if round_.state in ("counted", "sealed", "published"):
        document, result = _document(round_)
    queue = [s for s in states if s.status in (counting.DISAGREE, counting.INCOMPLETE)]
    approved = counting.approvers(db, round_)
    return render_template(
        "count/round.html", round=round_, progress=progress, queue=queue, document=document, result=result,
        ruling_forms=ruling_forms or {}, anomaly_form=anomaly_form or AnomalyForm(formdata=None),
        approved=approved, i_approved=current_user.account.display_name in approved,
        percent=percent, status_name=STATUS_NAMES.get, error=error,
        ruling_form=RulingForm(formdata=None), tally=counting.count_of(db, round_, states).tally,
    ), status


def _act(round_, change, success: str, anchor: str = ""):
    """Run one domain change, commit, and go back to the overview; a refusal is shown there with its status."""
    db = get_db()
    try:
        outcome = change(db)
    except BallotError as exc:
        db.rollback()
        return _overview(db.get(type(round_), round_.id), exc.status, error=translate_error(exc))
    db.commit()
    flash(success if isinstance(success, str) else success(outcome), "success")
    return redirect(url_for("count.overview", round_id=round_.id) + anchor, 303)


@bp.get("/rounds/<int:round_id>")
def overview(round_id: int):
    return _overview(g.round)


@bp.route("/rounds/<int:round_id>/entry", methods=["GET", "POST"])
def entry(round_id: int):
    """The teller's fast screen: scan or type the code, key one digit per candidate, Enter. Then the next sheet."""
    db, round_ = get_db(), g.round
    form = PaperEntryForm()
    status = 200
    if form.validate_on_submit():
        try:
            entered = counting.enter_sheet(db, round_, teller=current_user.account,
                                           code=None if form.no_code.data else form.code.data, marks=form.marks.data,
                                           flaws=form.flaws(), correct=form.correct.data)
        except BallotError as exc:
            db.rollback()
            form.form_errors.append(translate_error(exc))
            status = exc.status
        else:
            db.commit()
            kind, message = _entered_message(entered)
            flash(message, kind)
            return redirect(url_for("count.entry", round_id=round_.id), 303)
    elif form.is_submitted():
        status = 400
    mine = counting.entries_by(db, round_, current_user.account)
    return render_template("count/entry.html", round=round_, form=form, mine=mine), status


def _entered_message(entered: counting.Entered) -> tuple[str, str]:
    """The category and the words the teller sees at once after a sheet."""
    if entered.outcome == "set_aside":
        if entered.set_aside == counting.TABLET:
            return "warning", _("Duplicate: this ballot was already used on a tablet. Set the sheet aside; it is "
                                "not counted.")
        return "warning", _("Duplicate: you have already entered a sheet with this code. Set this sheet aside; it "
                            "is not counted.")
    if "not_issued" in entered.flaws.split(","):
        head = _("Not issued by this counting board: collected and invalid.")
    else:
        head = _("Corrected.") if entered.outcome == "corrected" else _("Entered.")
    if entered.status == counting.AGREED:
        return "success", head + " " + _("The entries agree (%(count)s tellers).", count=entered.entries)
    if entered.status == counting.DISAGREE:
        return "warning", head + " " + _("The entries of this sheet disagree: it waits for the board's ruling.")
    return "success", head + " " + _("Entry %(count)s of %(needed)s.", count=entered.entries,
                                     needed=g.round.paper_entries)


@bp.post("/rounds/<int:round_id>/sheets/<sheet>/ruling")
def rule(round_id: int, sheet: str):
    round_, form = g.round, RulingForm()
    if not form.validate_on_submit():
        return _overview(round_, 400, ruling_forms={sheet: form})
    db = get_db()
    try:
        counting.rule_sheet(db, round_, sheet=sheet, account=current_user.account, marks=form.marks.data,
                            flaws=form.flaws())
    except BallotError as exc:
        db.rollback()
        form.form_errors.append(translate_error(exc))
        return _overview(db.get(type(round_), round_.id), exc.status, ruling_forms={sheet: form})
    db.commit()
    flash(_("The board's ruling is recorded."), "success")
    return redirect(url_for("count.overview", round_id=round_.id) + "#queue", 303)


@bp.post("/rounds/<int:round_id>/finish")
def finish(round_id: int):
    return _act(g.round, lambda db: counting.count_round(db, g.round, account=current_user.account),
                _("Counted. Read the results and the minutes, then approve."), "#results")


@bp.post("/rounds/<int:round_id>/reopen")
def reopen(round_id: int):
    return _act(g.round, lambda db: counting.reopen_count(db, g.round, account=current_user.account),
                _("Paper entry is open again; the approvals were withdrawn."))


@bp.post("/rounds/<int:round_id>/anomaly")
def anomaly(round_id: int):
    round_, form = g.round, AnomalyForm()
    if not form.validate_on_submit():
        return _overview(round_, 400, anomaly_form=form)
    return _act(round_, lambda db: counting.rule_anomaly(db, round_, account=current_user.account,
                                                         ruling=form.ruling.data),
                _("The board's ruling on the anomaly is recorded."), "#approval")


@bp.post("/rounds/<int:round_id>/approve")
def approve(round_id: int):
    return _act(g.round, lambda db: counting.approve(db, g.round, account=current_user.account, key=_signing_key()),
                lambda sealed: _("Approved. The quorum of approvals is reached: the result is sealed and signed.")
                if sealed else _("Approved. The result is sealed when enough members of the board approve."),
                "#approval")


@bp.get("/rounds/<int:round_id>/entries")
def entries(round_id: int):
    """The entry log, printable: who entered what and when, which entries agreed, the rulings, the duplicates."""
    db, round_ = get_db(), g.round
    states = counting.sheet_states(db, round_)
    return render_template("count/entries.html", round=round_, states=states,
                           progress=counting.progress(db, round_, states), set_aside=counting.set_aside_list(db, round_),
                           status_name=STATUS_NAMES.get)


@bp.get("/rounds/<int:round_id>/minutes.pdf")
def minutes_pdf(round_id: int):
    round_ = g.round
    if round_.state not in ("counted", "sealed", "published"):
        return _overview(round_, 409, error=_("The minutes exist once the round is counted."))
    document, result = _document(round_)
    pdf = minutes.minutes_pdf(document, signed=counting.envelope(result) if result else None)
    name = f"bien-ban-kiem-phieu-dot-{round_.id}{'' if result else '-du-thao'}.pdf"
    return attachment(pdf, name, "application/pdf")


@bp.get("/rounds/<int:round_id>/result.json")
def result_json(round_id: int):
    result = get_db().get(Result, round_id)
    if result is None:
        return _overview(g.round, 409, error=_("The result is signed when the count is sealed."))
    body = json.dumps(counting.envelope(result), ensure_ascii=False, indent=2, sort_keys=True)
    return attachment(body, f"ket-qua-dot-{round_id}.json", "application/json")


@bp.get("/rounds/<int:round_id>/ballots.json")
def ballot_export(round_id: int):
    """The sealed ballot list for the board's independent recount (trustvote_verify.py --ballots)."""
    db = get_db()
    try:
        export = counting.sealed_export(db, g.round)
    except BallotError as exc:
        return _overview(g.round, exc.status, error=translate_error(exc))
    audit.record(db, actor=current_user.username, action="ballots.export", subject=f"round:{round_id}")
    db.commit()
    return attachment(json.dumps(export, indent=1), f"phieu-niem-phong-dot-{round_id}.json", "application/json")

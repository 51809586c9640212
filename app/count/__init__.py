"""The counting board's pages: paper entry, the disagreement queue, the count, approval, the minutes, the seal.

Only the tellers who sit on the round's board see anything here: before publication no one else sees a number.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

from ballots import ballot_box, counting, lifecycle, minutes, paper_entry, results, sealing
from ballots.models import Result
from ballots.tally import percent

from ..access import require_role
from ..db import get_db
from ..forms import AnomalyForm, ConfirmForm, PaperEntryForm, RulingForm
from ..views import attachment, attempt

bp = Blueprint("count", __name__)
bp.before_request(require_role("board"))

STATUS_NAMES = {
    paper_entry.AGREED: _l("Entries agree"),
    paper_entry.RULED: _l("Ruled by the board"),
    paper_entry.DISAGREE: _l("Entries disagree"),
    paper_entry.INCOMPLETE: _l("Waiting for another teller"),
}


def _overview(round_, status=200, ruling_forms=None, anomaly_form=None, error=None):
    db = get_db()
    states = paper_entry.sheet_states(db, round_)
    progress = paper_entry.progress(db, round_, states)
    document = result = None
    if lifecycle.is_counted(round_):
        document, result = sealing.current_document(db, round_)
    queue = paper_entry.for_the_board(states)
    # entered by too few tellers: another teller enters them; the board has nothing to rule on yet
    waiting = [s for s in paper_entry.unsettled(states) if s.status == paper_entry.INCOMPLETE]
    approved = sealing.approvers(db, round_)
    return render_template(
        "count/round.html", round=round_, progress=progress, queue=queue, waiting=waiting,
        duplicates=paper_entry.duplicates(db, round_), document=document, result=result,
        box=ballot_box.box_of(db, round_), holders=_holders,
        ruling_forms=ruling_forms or {}, anomaly_form=anomaly_form or AnomalyForm(formdata=None),
        approved=approved, i_approved=current_user.account.display_name in approved,
        percent=percent, status_name=STATUS_NAMES.get, error=error,
        ruling_form=RulingForm(formdata=None), tally=counting.count_of(db, round_, states).tally,
    ), status


def _act(round_, change, success: str, anchor: str = ""):
    """Run one domain change and go back to the overview; a refusal is shown there with its status."""
    outcome, refusal = attempt(change)
    if refusal:
        return _overview(round_, refusal.status, error=refusal.message)
    flash(success if isinstance(success, str) else success(outcome), "success")
    return redirect(url_for("count.overview", round_id=round_.id) + anchor, 303)


@bp.get("/rounds/<int:round_id>")
def overview(round_id: int):
    return _overview(g.round)


@bp.route("/rounds/<int:round_id>/entry", methods=["GET", "POST"])
def entry(round_id: int):
    """The teller's fast screen: scan or type the code, key one digit per candidate, Enter. Then the next sheet."""
    round_, form = g.round, PaperEntryForm()
    status, offer = 200, None
    if form.validate_on_submit():
        entered, refusal = attempt(lambda db: paper_entry.enter_sheet(
            db, round_, teller=current_user.account, code=None if form.no_code.data else form.code.data,
            marks=form.marks.data, flaws=form.flaws(), correct=form.correct.data,
            another_sheet=form.another_sheet.data))
        if refusal is None and entered.outcome == paper_entry.ALREADY:
            # nothing recorded: the teller says whether this is the same sheet again or another one with its code
            offer = {"entered": entered, "code": form.code.data, "marks": form.marks.data, "flaws": form.flaws()}
            form, status = PaperEntryForm(formdata=None), 409  # the next sheet can be scanned at once
        elif refusal is None:
            kind, message = _entered_message(entered)
            flash(message, kind)
            return redirect(url_for("count.entry", round_id=round_.id), 303)
        else:
            form.form_errors.append(refusal.message)
            status = refusal.status
    elif form.is_submitted():
        status = 400
    mine = paper_entry.entries_by(get_db(), round_, current_user.account)
    return render_template("count/entry.html", round=round_, form=form, mine=mine, offer=offer), status


def _entered_message(entered: paper_entry.Entered) -> tuple[str, str]:
    """The category and the words the teller sees at once after a sheet."""
    if entered.outcome == "set_aside":
        if entered.set_aside == paper_entry.TABLET:
            return "warning", _("Duplicate: this ballot was already used on a tablet. Set the sheet aside; it is "
                                "not counted.")
        return "warning", _("Duplicate: another sheet with the code of a sheet already entered. Set this sheet "
                            "aside; it is not counted.")
    if "not_issued" in entered.flaws.split(",") and entered.sheet.startswith("t"):
        # a ballot of this round that the board voided (ballots.paper_entry._identify), said so
        head = _("A ballot the counting board voided: collected and invalid.")
    elif "not_issued" in entered.flaws.split(","):
        head = _("Not issued by this counting board: collected and invalid.")
    else:
        head = _("Corrected.") if entered.outcome == "corrected" else _("Entered.")
    if entered.status == paper_entry.AGREED:
        return "success", head + " " + _("The entries agree (%(count)s tellers).", count=entered.entries)
    if entered.status == paper_entry.DISAGREE:
        return "warning", head + " " + _("The entries of this sheet disagree: it waits for the board's ruling.")
    return "success", head + " " + _("Entry %(count)s of %(needed)s.", count=entered.entries,
                                     needed=g.round.paper_entries)


@bp.post("/rounds/<int:round_id>/sheets/<sheet>/ruling")
def rule(round_id: int, sheet: str):
    round_, form = g.round, RulingForm()
    if not form.validate_on_submit():
        return _overview(round_, 400, ruling_forms={sheet: form})
    _done, refusal = attempt(lambda db: paper_entry.rule_sheet(db, round_, sheet=sheet, account=current_user.account,
                                                           marks=form.marks.data, flaws=form.flaws()))
    if refusal:
        form.form_errors.append(refusal.message)
        # a conflict (the entries agree, or too few tellers entered the sheet) is about a sheet with no ruling form
        # on the page: say it at the top
        return _overview(round_, refusal.status, ruling_forms={sheet: form},
                         error=refusal.message if refusal.status == 409 else None)
    flash(_("The board's ruling is recorded."), "success")
    return redirect(url_for("count.overview", round_id=round_.id) + "#queue", 303)


MAX_CARDS = 20  # more fields than any board has members: the rest of the form is ignored


def _holders(names) -> str:
    """Who presented the cards that opened the box (None: the recovery card of the upper-level committee)."""
    return ", ".join(name or _("the upper-level committee (recovery card)") for name in names)


@bp.post("/rounds/<int:round_id>/box/open")
def open_box(round_id: int):
    """The board presents its key cards; the box opens with enough of them (ballots.ballot_box.open_box)."""
    if not ConfirmForm().validate_on_submit():
        return _overview(g.round, 400, error=_("The form has expired. Reload the page and present the cards again."))
    cards = request.form.getlist("card")[:MAX_CARDS]
    return _act(g.round, lambda db: ballot_box.open_box(db, g.round, account=current_user.account, cards=cards),
                lambda count: _("The ballot box is open: %(count)s tablet ballots, in random order.", count=count),
                "#box")


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
    key = current_app.config["TRUSTVOTE"].signing_key
    return _act(g.round, lambda db: sealing.approve(db, g.round, account=current_user.account, key=key),
                lambda sealed: _("Approved. The quorum of approvals is reached: the result is sealed and signed.")
                if sealed else _("Approved. The result is sealed when enough members of the board approve."),
                "#approval")


@bp.get("/rounds/<int:round_id>/entries")
def entries(round_id: int):
    """The entry log, printable: who entered what and when, which entries agreed, the rulings, the duplicates."""
    db, round_ = get_db(), g.round
    states = paper_entry.sheet_states(db, round_)
    return render_template("count/entries.html", round=round_, states=states,
                           progress=paper_entry.progress(db, round_, states),
                           set_aside=paper_entry.set_aside_list(db, round_), status_name=STATUS_NAMES.get)


@bp.get("/rounds/<int:round_id>/minutes.pdf")
def minutes_pdf(round_id: int):
    round_ = g.round
    if not lifecycle.is_counted(round_):
        return _overview(round_, 409, error=_("The minutes exist once the round is counted."))
    document, result = sealing.current_document(get_db(), round_)
    pdf = minutes.minutes_pdf(document, signed=results.envelope_of(result) if result else None)
    name = f"bien-ban-kiem-phieu-dot-{round_.id}{'' if result else '-du-thao'}.pdf"
    return attachment(pdf, name, "application/pdf")


@bp.get("/rounds/<int:round_id>/result.json")
def result_json(round_id: int):
    result = get_db().get(Result, round_id)
    if result is None:
        return _overview(g.round, 409, error=_("The result is signed when the count is sealed."))
    return attachment(results.envelope_file(results.envelope_of(result)), f"ket-qua-dot-{round_id}.json",
                      "application/json")


@bp.get("/rounds/<int:round_id>/ballots.json")
def ballot_export(round_id: int):
    """The sealed ballot list for the board's independent recount (trustvote_verify.py --ballots)."""
    export, refusal = attempt(lambda db: sealing.sealed_export(db, g.round, actor=current_user.username))
    if refusal:
        return _overview(g.round, refusal.status, error=refusal.message)
    return attachment(json.dumps(export, indent=1), f"phieu-niem-phong-dot-{round_id}.json", "application/json")


from . import scans  # noqa: E402,F401  (the scanned ballots' pages, on this blueprint)

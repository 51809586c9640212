"""The counting board and the organizers: issuing and printing ballots, voiding lost ones, their accounting."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ballots import accounting, authority, casting, issuing, key_cards, lifecycle, printing, venue
from ballots.models import IssueBatch, Round

from ..access import holds, require_role
from ..db import get_db, own_session
from ..forms import IssueForm, VoidForm
from ..views import attachment, attempt

bp = Blueprint("board", __name__)
bp.before_request(require_role("organizer", "board"))


def _page(round_, status=200, issue_form=None, void_form=None, error=None):
    numbers = accounting.ballot_accounting(get_db(), round_)
    issue_form = issue_form or IssueForm(formdata=None, count=numbers.room or 1)
    batches = get_db().scalars(select(IssueBatch).where(IssueBatch.round_id == round_.id)
                               .order_by(IssueBatch.id)).all()
    return render_template("board/ballots.html", round=round_, numbers=numbers, issue_form=issue_form,
                           void_form=void_form or VoidForm(formdata=None), batches=batches, error=error,
                           is_organizer=authority.has_role(current_user.account, "organizer", g.committee),
                           on_board=holds(current_user.account, "board", g.committee),
                           can_issue=round_.state in lifecycle.ISSUING, qr_check=qr_address_check()), status


def qr_address_check() -> tuple[str, str | None]:
    """The address every QR of the next batch will hold, and what is wrong with it for a venue (before a print
    that cannot be redone): ballots.venue.qr_address_problem."""
    base_url = current_app.config["TRUSTVOTE"].base_url
    return base_url, venue.qr_address_problem(base_url, request.host_url.rstrip("/"))


@bp.get("/rounds/<int:round_id>/ballots")
def ballots(round_id: int):
    return _page(g.round)


@bp.post("/rounds/<int:round_id>/ballots/issue")
def issue(round_id: int):
    """Issue and print a batch in one request: the secrets exist only in the PDF this answers with.

    A browser with JavaScript asks for application/x-ndjson and gets progress lines, then a line announcing the
    PDF's length, then the PDF itself; without JavaScript the answer is the PDF. The tokens are committed only
    once the PDF is complete, so a failure or a closed connection leaves no ballot that was never printed.
    """
    db, round_ = get_db(), g.round
    form = IssueForm()
    streaming = "application/x-ndjson" in request.headers.get("Accept", "")
    if not form.validate_on_submit():
        return _refuse(round_, streaming, 400, issue_form=form)
    actor, base_url = current_user.username, current_app.config["TRUSTVOTE"].base_url
    # The tokens are made in a session of the issue's own, which outlives this view when streaming (and commits
    # itself once the PDF is complete): end the request's transaction first (on SQLite it holds the write lock).
    db.rollback()
    work = own_session()
    work_round = work.get(Round, round_id)
    issued, refusal = attempt(lambda session: issuing.issue_ballots(session, work_round, count=form.count.data,
                                                                       paper=form.paper.data, actor=actor), work)
    if refusal:
        work.close()
        return _refuse(round_, streaming, refusal.status, issue_form=form, error=refusal.message)
    steps = _print(work, work_round, issued, form.paper.data, base_url)
    if streaming:
        return Response(_as_lines(steps), mimetype="application/x-ndjson",
                        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})
    *_progress, printed = steps
    return attachment(printed.pdf, printed.filename, "application/pdf")


@dataclass(frozen=True)
class Printed:
    filename: str
    pdf: bytes


def _print(session, round_: Round, issued: issuing.Issued, paper: str, base_url: str):
    """Print the issued batch; yield the number of pages done now and then, and last the Printed PDF.

    It owns `session`, which holds the new tokens uncommitted: committed only once the PDF is complete, and
    closed in any case (a streamed response is written after the request's context and its session are gone).
    """
    try:
        pdf = io.BytesIO()
        sheet = printing.sheet_of(round_)
        # the first batch begins with the ballot box's key cards, one page for each holder
        yield from printing.ballot_pages(sheet, issued.secrets, pdf, base_url=base_url, paper=paper,
                                         front=key_cards.front(sheet, issued.box))
        session.commit()
    finally:
        session.close()  # without the commit above, this rolls the tokens back
    yield Printed(f"phieu-tin-nhiem-dot-{round_.id}-lo-{issued.batch.id}.pdf", pdf.getvalue())


def _as_lines(steps):
    """Progress as JSON lines, then a line announcing the PDF, then the PDF's bytes."""
    for step in steps:
        if isinstance(step, Printed):
            yield json.dumps({"pdf": len(step.pdf), "filename": step.filename}) + "\n"
            yield step.pdf
        else:
            yield json.dumps({"done": step}) + "\n"


def _refuse(round_, streaming: bool, status: int, error: str | None = None, **forms):
    if streaming:
        form = forms.get("issue_form")
        message = error or "; ".join(str(m) for messages in form.errors.values() for m in messages)
        return {"error": message}, status
    return _page(round_, status, error=error, **forms)


@bp.post("/rounds/<int:round_id>/voting/<any(open, close):action>")
def voting(round_id: int, action: str):
    """Open the round for casting, or close it."""
    round_ = g.round
    change = casting.open_voting if action == "open" else casting.close_voting
    _done, refusal = attempt(lambda db: change(db, round_, actor=current_user.username))
    if refusal:
        return _page(round_, refusal.status, error=refusal.message)
    flash(_("Voting is open: tablets can take ballots.") if action == "open" else _("Voting is closed."), "success")
    return redirect(url_for("board.ballots", round_id=round_.id), 303)


@bp.get("/rounds/<int:round_id>/turnout.json")
def turnout(round_id: int):
    """Issued, cast and remaining, for the live turnout: counts only, never the content of a ballot."""
    numbers = accounting.turnout(get_db(), g.round)
    return {"state": g.round.state, "issued": numbers.issued, "cast": numbers.cast, "remaining": numbers.remaining}


@bp.post("/rounds/<int:round_id>/ballots/void")
def void(round_id: int):
    round_, form = g.round, VoidForm()
    if not form.validate_on_submit():
        return _page(round_, 400, void_form=form)
    _done, refusal = attempt(lambda db: issuing.void_ballot(db, round_, code=form.code.data, reason=form.reason.data,
                                                        actor=current_user.username))
    if refusal:
        form.form_errors.append(refusal.message)
        return _page(round_, refusal.status, void_form=form)
    flash(_("The ballot was voided."), "success")
    return redirect(url_for("board.ballots", round_id=round_.id), 303)

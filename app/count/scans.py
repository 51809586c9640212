"""The board's scanned paper ballots: a batch upload (a file at a time, a progress bar in the page), a camera
capture, and the review screen where a teller confirms the scanner's reading of a sheet beside its image with one
keystroke, or keys their own reading. The rules are ballots.machine_entry's; the pages are the count blueprint's,
so only the round's board sees them (and the images)."""

from __future__ import annotations

from flask import Response, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ballots import machine_entry, paper_entry

from ..db import get_db
from ..forms import ConfirmForm, ScanReadingForm
from ..views import attempt
from . import bp

MAX_FILES = 200  # files of one form sent without the page's script (which sends them one at a time)


def words(message: str, params: dict | None = None) -> str:
    """A domain or reader msgid in the teller's language."""
    return _(message, **(params or {}))


def scan_files(round_, files: list[tuple[str, bytes]]):
    """Read each file's pages and record them: one domain call for the reading (no database: the pages are
    decoded and read while this request holds no lock, so that a batch never holds up the writers of other
    rounds) and one for the recording. The "scans" gate (app.limits) bounds how many files a process reads."""
    db = get_db()
    layouts = machine_entry.layouts_of(db, round_)
    db.rollback()  # nothing written yet: end the read so that SQLite's write lock is not held while reading
    readings = [reading for name, data in files for reading in machine_entry.read_file(data, name, layouts)]
    return attempt(lambda db: machine_entry.record_readings(db, round_, uploader=current_user.account,
                                                            readings=readings))


def _outcome_json(round_id: int, outcome: machine_entry.Outcome) -> dict:
    return {"source": outcome.source, "page": outcome.number, "outcome": outcome.outcome,
            "message": words(outcome.message, outcome.params), "reasons": [words(r) for r in outcome.reasons],
            "review": url_for("count.review_scan", round_id=round_id, page_id=outcome.page_id)
            if outcome.page_id else None}


def _scans_page(round_, outcomes=(), status: int = 200, error: str | None = None):
    db = get_db()
    pending = machine_entry.to_review(db, round_, current_user.account)
    return render_template("count/scans.html", round=round_, pending=pending, outcomes=outcomes, error=error,
                           words=words, reasons_of=machine_entry.reasons_of, max_mb=48), status


@bp.context_processor
def scan_helpers():
    """For the count page's queue: why the scanner doubted a sheet, in the teller's language."""
    return {"scan_reasons": lambda page: [words(r) for r in machine_entry.reasons_of(page)]}


@bp.get("/rounds/<int:round_id>/scans")
def scans(round_id: int):
    return _scans_page(g.round)


@bp.post("/rounds/<int:round_id>/scans")
def upload_scans(round_id: int):
    """One file (the page's script sends them one at a time and lists each page's outcome), or, without the
    script, every file of the form. Each page is recorded or refused on its own; a refused page writes nothing."""
    wants_json = request.accept_mimetypes.best == "application/json"
    if not ConfirmForm().validate_on_submit():
        message = _("The form has expired. Reload the page and send the files again.")
        return (jsonify(error=message), 400) if wants_json else _scans_page(g.round, status=400, error=message)
    files = [(f.filename or "scan", f.read()) for f in request.files.getlist("file")[:MAX_FILES] if f.filename]
    if not files:
        message = _("Choose the files of the scanned sheets (PDF, PNG, JPEG or TIFF), or take a photo.")
        return (jsonify(error=message), 400) if wants_json else _scans_page(g.round, status=400, error=message)
    outcomes, refusal = scan_files(g.round, files)
    if refusal:
        return ((jsonify(error=refusal.message), refusal.status) if wants_json
                else _scans_page(g.round, status=refusal.status, error=refusal.message))
    if wants_json:
        pending = len(machine_entry.to_review(get_db(), g.round, current_user.account))
        return jsonify(pages=[_outcome_json(round_id, o) for o in outcomes], pending=pending,
                       next=url_for("count.next_scan", round_id=round_id))
    return _scans_page(g.round, outcomes=outcomes)


@bp.get("/rounds/<int:round_id>/scans/next")
def next_scan(round_id: int):
    """The next sheet this teller has to look at, or the scans page when there is none."""
    pending = machine_entry.to_review(get_db(), g.round, current_user.account)
    if not pending:
        flash(_("No scanned sheet waits for you."), "success")
        return redirect(url_for("count.scans", round_id=round_id), 303)
    return redirect(url_for("count.review_scan", round_id=round_id, page_id=pending[0].id), 303)


def _review(round_, page_id: int, form: ScanReadingForm | None = None, status: int = 200, error: str | None = None):
    db = get_db()
    page = machine_entry.page_of(db, round_, page_id)
    state = None if page.sheet is None else paper_entry.sheet_state(db, round_, page.sheet)
    mine = state is not None and any(e.teller_id == current_user.account.id for e in state.entries)
    digits = page.marks.translate(bytes.maketrans(bytes(range(5)), b"01234")).decode() if page.marks else None
    pending = machine_entry.to_review(db, round_, current_user.account)
    return render_template(
        "count/review.html", round=round_, page=page, state=state, mine=mine, digits=digits,
        form=form or ScanReadingForm(formdata=None), confirm_form=ConfirmForm(formdata=None), error=error,
        reasons=[words(r) for r in machine_entry.reasons_of(page)], left=len(pending),
    ), status


@bp.get("/rounds/<int:round_id>/scans/<int:page_id>")
def review_scan(round_id: int, page_id: int):
    return _review(g.round, page_id)


def _after_entry(state) -> Response:
    """Tell the teller where the sheet stands (a SheetState, or what paper_entry.enter_sheet met) and go on."""
    status = state.status
    if isinstance(state, paper_entry.Entered) and state.outcome == "set_aside":
        flash(_("Duplicate: this ballot was already used on a tablet. Set the sheet aside; it is not counted."),
              "warning")
        return redirect(url_for("count.next_scan", round_id=g.round.id), 303)
    message = {
        paper_entry.AGREED: _("Confirmed: the entries agree and the sheet counts."),
        paper_entry.DISAGREE: _("Recorded. The readings of this sheet differ, or the scanner was not sure: it waits "
                                "for the board's ruling."),
        paper_entry.INCOMPLETE: _("Recorded. The sheet waits for another teller."),
    }.get(status, _("Recorded."))
    flash(message, "warning" if status == paper_entry.DISAGREE else "success")
    return redirect(url_for("count.next_scan", round_id=g.round.id), 303)


@bp.post("/rounds/<int:round_id>/scans/<int:page_id>/confirm")
def confirm_scan(round_id: int, page_id: int):
    if not ConfirmForm().validate_on_submit():
        return _review(g.round, page_id, status=400, error=_("The form has expired. Reload the page."))
    state, refusal = attempt(lambda db: machine_entry.confirm(db, g.round, page_id=page_id,
                                                              teller=current_user.account))
    if refusal:
        return _review(g.round, page_id, status=refusal.status, error=refusal.message)
    return _after_entry(state)


@bp.post("/rounds/<int:round_id>/scans/<int:page_id>/reading")
def key_scan(round_id: int, page_id: int):
    form = ScanReadingForm()
    if not form.validate_on_submit():
        return _review(g.round, page_id, form=form, status=400)
    state, refusal = attempt(lambda db: machine_entry.key_reading(
        db, g.round, page_id=page_id, teller=current_user.account, marks=form.marks.data or "", flaws=form.flaws(),
        code=form.code.data, no_code=form.no_code.data))
    if refusal:
        form.form_errors.append(refusal.message)
        return _review(g.round, page_id, form=form, status=refusal.status)
    return _after_entry(state)


@bp.get("/rounds/<int:round_id>/scans/<int:page_id>/image")
def scan_image(round_id: int, page_id: int):
    """The sheet's image: a ballot, for the board's eyes only, never cached, never framed elsewhere."""
    image, refusal = attempt(lambda db: machine_entry.image_of(db, g.round, page_id=page_id,
                                                               account=current_user.account))
    if refusal:
        return Response(refusal.message, status=refusal.status, content_type="text/plain; charset=utf-8")
    data, content_type = image
    return Response(data, content_type=content_type, headers={"Cache-Control": "no-store",
                                                              "Content-Disposition": "inline"})

"""Published results: a reader's list, a result page with its downloads, publishing, the upper-level dashboard,
and results carried up the tree as signed bundles.

Who reads what is the domain's decision (ballots.authority, through ballots.publication): every view here asks
it, and every reading or download of a result is audited by it. A page here needs only a log-in.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ballots import authority, bundles, dashboard, exports, minutes, publication, results
from ballots.models import ImportedResult, Round

from ..access import require_login, require_role
from ..db import get_db
from ..forms import ImportBundleForm
from ..views import XLSX, attachment, attempt

bp = Blueprint("results", __name__)
bp.before_request(require_login)
upper = Blueprint("upper", __name__)
upper.before_request(require_role("viewer", "organizer"))

DOWNLOADS = {"pdf": "application/pdf", "xlsx": XLSX, "csv": "text/csv; charset=utf-8", "json": "application/json"}


def _round_or_404(round_id: int) -> Round:
    round_ = get_db().get(Round, round_id)
    if round_ is None:
        abort(404)
    return round_


@bp.get("/")
def home():
    db = get_db()
    readable = publication.published_rounds(db, current_user.account)
    return render_template("results/home.html", readable=readable)


@bp.get("/rounds/<int:round_id>")
def result(round_id: int):
    db, round_ = get_db(), _round_or_404(round_id)
    reading = publication.read_result(db, round_, account=current_user.account)  # a refusal: app.errors answers it
    positions = {c["position"] for c in reading.document["candidates"]}
    return render_template("results/result.html", reading=reading, doc=reading.document, round=round_,
                           elsewhere=publication.other_results(db, round_, current_user.account, positions),
                           can_export=authority.sits_on_board(current_user.account, round_))


@bp.get("/rounds/<int:round_id>/<any(pdf, xlsx, csv, json):kind>")
def download(round_id: int, kind: str):
    db, round_ = get_db(), _round_or_404(round_id)
    reading = publication.read_result(db, round_, account=current_user.account, what=f"download.{kind}")
    if reading.reach != authority.EVERYTHING and kind in ("pdf", "json"):
        abort(403)  # the minutes and the signed document hold every row; a rated person reads only their own
    name = f"ket-qua-dot-{round_id}"
    body = {
        "pdf": lambda: minutes.minutes_pdf(reading.envelope["result"], signed=reading.envelope),
        "xlsx": lambda: exports.result_workbook([reading.document]),
        "csv": lambda: exports.result_csv(reading.document),
        "json": lambda: results.envelope_file(reading.envelope),
    }[kind]()
    return attachment(body, f"{name}.{kind}", DOWNLOADS[kind])


@bp.post("/rounds/<int:round_id>/publish")
def publish(round_id: int):
    db, round_ = get_db(), _round_or_404(round_id)
    publication.publish(db, round_, account=current_user.account)  # not the publisher: 403; not sealed: 409
    flash(_("The result is published to its audience."), "success")
    return redirect(url_for("results.result", round_id=round_id), 303)


@bp.get("/rounds/<int:round_id>/bundle")
def bundle(round_id: int):
    """The signed bundle that carries this published result to the upper level's server (the board's)."""
    db, round_ = get_db(), _round_or_404(round_id)
    if not authority.sits_on_board(current_user.account, round_):
        abort(403)
    body = bundles.export_bundle(db, round_, key=current_app.config["TRUSTVOTE"].signing_key,
                                 actor=current_user.username)  # not published: 409
    return attachment(json.dumps(body, ensure_ascii=False, indent=1), f"goi-ket-qua-dot-{round_id}.json",
                    DOWNLOADS["json"])


@bp.get("/imported/<int:imported_id>")
def imported(imported_id: int):
    db = get_db()
    found = db.get(ImportedResult, imported_id)
    if found is None:
        abort(404)
    doc = publication.read_imported(db, found, account=current_user.account)
    return render_template("results/imported.html", found=found, doc=doc)


@bp.route("/import", methods=["GET", "POST"])
def import_bundle():
    """An organizer brings in a result exported by a conference's own laptop (the domain checks that they
    organize the committee the result belongs to; the page is for organizers of any committee)."""
    if not authority.organizer_roots(get_db(), current_user.account):
        abort(403)
    form = ImportBundleForm()
    status = 200
    if form.validate_on_submit():
        found, refusal = attempt(lambda db: bundles.import_bundle(
            db, bundles.parse(form.file.data.read(bundles.MAX_BUNDLE + 1)), account=current_user.account))
        if refusal is None:
            flash(_("The result was verified and imported."), "success")
            return redirect(url_for("upper.board", committee_id=found.committee.parent_id or found.committee_id), 303)
        form.form_errors.append(refusal.message)
        status = refusal.status
    elif form.is_submitted():
        status = 400
    return render_template("results/import.html", form=form), status


@upper.get("/committees/<int:committee_id>/below")
def board(committee_id: int):
    """The dashboard of the committees directly below this one."""
    db, committee = get_db(), g.committee
    everything = dashboard.rows(db, committee, current_user.account)
    sort, phase = request.args.get("sort", "name"), request.args.get("phase") or None
    flagged = request.args.get("flagged") == "1"
    descending = request.args.get("order") == "desc"
    shown = dashboard.arrange(everything, sort=sort, phase=phase, flagged_only=flagged, descending=descending)
    if request.args.get("format") == "xlsx":
        return attachment(exports.dashboard_workbook(committee.name, shown), f"tong-hop-{committee_id}.xlsx",
                        DOWNLOADS["xlsx"])
    page = max(1, request.args.get("page", 1, type=int))
    per_page = 100
    return render_template("results/dashboard.html", committee=committee, rows=shown[(page - 1) * per_page:
                           page * per_page], total=len(shown), page=page, pages=max(1, -(-len(shown) // per_page)),
                           totals=dashboard.totals(everything), sort=sort, phase=phase, flagged=flagged,
                           descending=descending, phases=dashboard.PHASE_ORDER)

"""Published results: a reader's list, a result page with its downloads, publishing, the upper-level dashboard,
a person's trust over time, and results carried up the tree as signed bundles.

Who reads what is the domain's decision (ballots.authority, through ballots.publication): every view here asks
it, and every reading or download of a result is audited by it. A page here needs only a log-in.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ballots import authority, bundles, dashboard, exports, history, minutes, publication, results
from ballots.models import ImportedResult, Person, Round

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
                           people={c.position: c.person_id for c in round_.candidates if c.position in positions},
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
    """The dashboard of the committees below this one: directly below, or at every depth (scope=all), in a term."""
    db, committee = get_db(), g.committee
    args = request.args
    scope = args.get("scope") if args.get("scope") in dashboard.SCOPES else "children"
    found = dashboard.board(db, committee, current_user.account, scope=scope, term=args.get("term") or None)
    sort, phase = args.get("sort", "name"), args.get("phase") or None
    flagged, level, search = args.get("flagged") == "1", args.get("level") or None, args.get("q", "")[:100]
    descending = args.get("order") == "desc"
    shown = dashboard.arrange(found.rows, sort=sort, phase=phase, flagged_only=flagged, descending=descending,
                              level=level, search=search)
    if args.get("format") == "xlsx":
        return attachment(exports.dashboard_workbook(committee.name, shown, every_level=scope == "all"),
                          f"tong-hop-{committee_id}.xlsx", DOWNLOADS["xlsx"])
    page = max(1, args.get("page", 1, type=int))
    per_page = 100
    # the filters a link keeps (the page's own links change one of them)
    kept = {"scope": scope if scope != "children" else None, "term": args.get("term") or None, "sort": sort,
            "order": "desc" if descending else None, "phase": phase, "flagged": "1" if flagged else None,
            "level": level, "q": search or None}
    return render_template("results/dashboard.html", committee=committee, board=found,
                           rows=shown[(page - 1) * per_page: page * per_page], total=len(shown), page=page,
                           pages=max(1, -(-len(shown) // per_page)), sort=sort, phase=phase, flagged=flagged,
                           descending=descending, scope=scope, level=level, search=search, kept=kept,
                           phases=dashboard.PHASE_ORDER)


@bp.get("/people")
def people():
    """The people whose trust this reader may follow: those rated in the results published to them."""
    search = request.args.get("q", "")[:100]
    found = history.people(get_db(), current_user.account, search=search)
    return render_template("results/people.html", people=found[:200], total=len(found), search=search)


@bp.get("/people/<int:person_id>")
def person(person_id: int):
    """A person's trust over time: every round they were rated in whose result is published to this reader."""
    db, person_ = get_db(), _person_or_404(person_id)
    rows = history.trust_over_time(db, person_, current_user.account)  # none readable: 403, and no name shown
    return render_template("results/person.html", person=person_, rows=rows)


@bp.get("/people/<int:person_id>/xlsx")
def person_xlsx(person_id: int):
    db, person_ = get_db(), _person_or_404(person_id)
    rows = history.trust_over_time(db, person_, current_user.account, what="download.xlsx")
    return attachment(exports.history_workbook(rows[-1].name, rows), f"lich-su-tin-nhiem-{person_id}.xlsx",
                      DOWNLOADS["xlsx"])


def _person_or_404(person_id: int) -> Person:
    found = get_db().get(Person, person_id)
    if found is None:
        abort(404)
    return found

"""The venue checklist of a round (organizers and the counting board), before its ballots are printed once:
the address the QR codes will hold, the tablets that reached the server and whether each has the venue's
certificate installed, the printer test page, the board's key cards, the time. All green, then print.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from ballots import fonts, lifecycle, printing, venue
from ballots.models import BallotBox

from ..access import require_role
from ..db import get_db
from ..views import attachment, attempt
from .public import printer_token

bp = Blueprint("venue", __name__)
bp.before_request(require_role("organizer", "board"))

OK, PROBLEM, PENDING = "ok", "problem", "pending"


@dataclass(frozen=True)
class Item:
    key: str
    state: str  # OK, PROBLEM or PENDING (not a fault: it comes later, e.g. the key cards with the first print)
    title: str
    detail: str


def _address_item(base_url: str, browser_base: str) -> Item:
    problem = venue.qr_address_problem(base_url, browser_base)
    title = _("The address in the QR codes: %(address)s", address=base_url)
    if problem == venue.LOOPBACK:
        return Item("address", PROBLEM, title, _(
            "This is the laptop's own address: a tablet opening it reaches itself, not this server. Start the "
            "server with `make venue` (or set TRUSTVOTE_BASE_URL) before printing."))
    if problem == venue.DIFFERENT:
        return Item("address", PROBLEM, title, _(
            "This browser reached the server at %(browser)s, not at the address the QR codes will hold. Check that "
            "the tablets reach %(address)s before printing.", browser=browser_base, address=base_url))
    if not base_url.startswith("https://"):
        return Item("address", PROBLEM, title, _(
            "Plain HTTP: ballot codes and marks cross the Wi-Fi in clear, and the tablets' camera cannot be used "
            "in the page. Start the server with `make venue`."))
    return Item("address", OK, title, _("HTTPS, the address this browser reached the server at."))


def _tablet_items(tablets) -> list[Item]:
    if not tablets:
        return [Item("tablets", PROBLEM, _("No tablet has opened the kiosk yet"), _(
            "Open the kiosk page on each tablet: it reports here whether it reaches the server and has the "
            "certificate installed."))]
    items = [Item("tablets", OK, _("%(count)s tablets reached the server", count=len(tablets)), "")]
    for tablet in tablets:
        when = _("last seen at %(time)s", time=format_time(tablet.seen_at, "short"))
        if tablet.secure:
            items.append(Item("tablet", OK, _("Tablet %(address)s: certificate installed", address=tablet.address),
                              when + (" · " + _("camera available") if tablet.camera else "")))
        else:
            items.append(Item("tablet", PROBLEM, _("Tablet %(address)s: certificate not installed",
                                                   address=tablet.address),
                              when + " · " + _("open %(page)s on this tablet and follow the steps",
                                               page="/venue/install")))
    return items


def checklist_of(round_, base_url: str, browser_base: str, tablets, has_box: bool) -> list[Item]:
    """The checklist's items for this round, in the order a clerk goes through them."""
    items = [_address_item(base_url, browser_base), *_tablet_items(tablets)]
    if round_.printer_checked_at:
        items.append(Item("printer", OK, _("Printer test page printed and read by a tablet"), ""))
    else:
        items.append(Item("printer", PROBLEM, _("Printer test page not read by a tablet yet"), _(
            "Print the test page below at actual size, check its ruler measures 100 mm, and scan its QR code with "
            "a tablet's camera app.")))
    if has_box:
        items.append(Item("cards", OK, _("The board's key cards are printed"), _(
            "They were the first pages of the first ballot PDF.")))
    else:
        items.append(Item("cards", PENDING, _("The board's key cards: printed with the first ballots"), _(
            "The first pages of the first ballot PDF are the key cards: print it with the board present.")))
    return items


@bp.get("/rounds/<int:round_id>/venue")
def page(round_id: int):
    round_ = g.round
    db = get_db()
    base_url = current_app.config["TRUSTVOTE"].base_url
    items = checklist_of(round_, base_url, request.host_url.rstrip("/"), venue.tablets_seen(db),
                         db.get(BallotBox, round_.id) is not None)
    ready = all(item.state != PROBLEM for item in items)
    now = dt.datetime.now(dt.timezone.utc)
    return render_template("venue/checklist.html", round=round_, items=items, ready=ready, now=now,
                           practices=venue.PAPER_PRACTICE_NAMES, can_set_practice=not lifecycle.has_closed(round_))


@bp.post("/rounds/<int:round_id>/venue/paper")
def paper_practice(round_id: int):
    """The board's practice for the paper sheet of a delegate who voted on a tablet (told by the kiosk)."""
    _done, refusal = attempt(lambda db: venue.set_paper_practice(db, g.round, request.form.get("practice", "")))
    if refusal:
        flash(refusal.message, "error")
        return redirect(url_for("venue.page", round_id=round_id), 303)
    flash(_("Saved: the kiosk tells delegates this after a tablet vote."), "success")
    return redirect(url_for("venue.page", round_id=round_id), 303)


TEST_PAGE_TEXT = [
    _l("1. Print this page at actual size (100%, no fit to page) on the printer of the ballots."),
    _l("2. The ruler below must measure 100 mm: otherwise the printer scales the ballots too."),
    _l("3. Scan the QR code with a tablet's camera app: the tablet opens a page that says the printer is good, "
       "and the checklist turns green."),
]


@bp.get("/rounds/<int:round_id>/venue/test-page.pdf")
def test_page(round_id: int):
    """One A4 page: a QR of a ballot's size that opens this round's printer check at the address the ballots will
    hold, and a 100 mm ruler."""
    round_ = g.round
    base_url = current_app.config["TRUSTVOTE"].base_url
    payload = f"{base_url}/venue/printed/{printer_token(round_.id)}"
    fonts.register()
    paper = printing.PAPERS["A4"]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(paper.width, paper.height), pageCompression=1)
    canvas.setTitle(_("Printer test page"))
    left, top = 20 * mm, paper.height - 25 * mm
    canvas.setFont(fonts.font("bold"), 18)
    canvas.drawString(left, top, _("Printer test page"))
    canvas.setFont(fonts.font("regular"), 11)
    canvas.drawString(left, top - 8 * mm, f"{round_.conference.committee.name} · {round_.title}")
    y = top - 20 * mm
    for line in TEST_PAGE_TEXT:
        for part in _wrap(canvas, str(line), paper.width - 2 * left, 11):
            canvas.drawString(left, y, part)
            y -= 6 * mm
    # the QR as large as on an A4 ballot, where a ballot has it
    y -= paper.qr + 4 * mm
    canvas.addLiteral(printing.qr_operators(payload, left, y, paper.qr))
    canvas.setFont(fonts.font("regular"), 9)
    canvas.drawString(left + paper.qr + 6 * mm, y + paper.qr / 2, base_url)
    # a 100 mm ruler, a tick each 10 mm
    y -= 18 * mm
    canvas.setLineWidth(0.6)
    canvas.line(left, y, left + 100 * mm, y)
    for tick in range(11):
        x = left + tick * 10 * mm
        canvas.line(x, y, x, y + (5 if tick % 5 == 0 else 3) * mm)
        canvas.drawCentredString(x, y - 4 * mm, str(tick * 10))
    canvas.drawString(left + 104 * mm, y - 1 * mm, "mm")
    canvas.showPage()
    canvas.save()
    return attachment(out.getvalue(), f"trang-in-thu-dot-{round_.id}.pdf", "application/pdf")


def _wrap(canvas, text: str, width: float, size: float) -> list[str]:
    from reportlab.lib.utils import simpleSplit

    return simpleSplit(text, fonts.font("regular"), size, width)

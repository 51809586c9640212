"""How a view talks to the domain: one transaction per request, committed once; refusals shown in one way.

A view parses its input, makes one domain call and renders. It never commits: `committed` (run by
`TrustVote.dispatch_request` around every view) commits the request's session once the view has returned, and
rolls it back if the view raised. A refusal the view does not catch (a BallotError) is answered by app.errors
with its message and status; a form page that shows the refusal beside the input asks `attempt` instead.

A few kinds of work keep a session of their own, because they outlive or stand apart from the request's
transaction, and commit it themselves: the kiosk's casts (app.kiosk.group_commit, and a guess remembered when a
ballot is opened or a tablet id handed out, app.kiosk.tablets), a log-in attempt recorded before its password is
checked (app.auth: concurrent attempts must see it), and the printing of issued ballots (app.board), which streams
its PDF after the request's context has gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Response, flash, g, redirect, render_template
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session

from ballots.errors import BallotError

from .db import get_db, own_session
from .i18n import translate_error

T = TypeVar("T")


def committed(view: Callable[[], T]) -> T:
    """Run a view and end the request's transaction with it: committed once the view has returned, before any
    answer leaves (a tablet or a teller is told only what is durable, and a failed commit is a 500, not a false
    "saved"); rolled back if it raised, a BallotError or an abort() alike, so that no error page carries half a
    change (nor the audit entry of a reading that was then refused)."""
    try:
        answer = view()
    except BaseException:
        if (session := g.get("db")) is not None:
            session.rollback()
        raise
    if (session := g.get("db")) is not None:
        session.commit()
    return answer


def committed_apart(action: Callable[[Session], T]) -> T:
    """Run `action(session)` in a short session of its own, committed at once, whatever then becomes of the
    request's transaction: for a record that must stand even when the request is refused (a login attempt reserved
    before its password is checked; a guessed ballot code; a tablet id handed out). The one other place besides
    `committed` where the app commits for a view (the kiosk's group commit has its own)."""
    with own_session() as session:
        result = action(session)
        session.commit()
        return result


@dataclass(frozen=True)
class Refusal:
    """The domain's refusal of an attempt, ready to show beside the form: its message in the user's language
    and its status."""

    error: BallotError

    @property
    def message(self) -> str:
        return translate_error(self.error)

    @property
    def status(self) -> int:
        return self.error.status


def attempt(action: Callable[[Session], T], session: Session | None = None) -> tuple[T | None, Refusal | None]:
    """Run `action(session)`, one domain call, for a page that shows a refusal beside its input: (its result,
    None), or (None, the Refusal) with the session rolled back (with anything written before it: a view makes
    one domain call), so the page is rendered from what is stored.
    The session is the request's (committed as the view returns) unless the view works in one of its own."""
    session = session or get_db()
    try:
        return action(session), None
    except BallotError as exc:
        session.rollback()
        return None, Refusal(exc)


def form_page(form: FlaskForm, template: str, apply: Callable[[Session], object], *, success: str,
              next_url: Callable[[object], str], **context):
    """On a valid submission, `apply(db)` (a domain call), flash `success` and redirect to `next_url(result)`.
    Otherwise, or when the domain refuses, render `template` with the form, which keeps what the user typed and
    says what is wrong: 200 for a first view, the refusal's 4xx after a submission."""
    status = 200
    if form.validate_on_submit():
        result, refusal = attempt(apply)
        if refusal is None:
            flash(success, "success")
            return redirect(next_url(result))
        form.form_errors.append(refusal.message)
        status = refusal.status
    elif form.is_submitted():
        status = 400
    return render_template(template, form=form, **context), status


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(body: bytes | str, filename: str, content_type: str) -> Response:
    """A file to save, never kept by a cache (ballots, minutes, results and exports are all private)."""
    return Response(body, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})

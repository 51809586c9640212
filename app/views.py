"""The one shape of a form page: validate, call the domain, commit and go on; or show the form again."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, flash, redirect, render_template
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session

from ballots.errors import BallotError

from .db import get_db
from .i18n import translate_error


def form_page(form: FlaskForm, template: str, apply: Callable[[Session], object], *, success: str,
              next_url: Callable[[object], str], **context):
    """On a valid submission, `apply(db)` (a domain call), commit, flash `success` and redirect to
    `next_url(result)`. Otherwise, or when the domain refuses, render `template` with the form, which keeps
    what the user typed and says what is wrong: 200 for a first view, the refusal's 4xx after a submission."""
    db = get_db()
    status = 200
    if form.validate_on_submit():
        try:
            result = apply(db)
        except BallotError as exc:
            db.rollback()
            form.form_errors.append(translate_error(exc))
            status = exc.status
        else:
            db.commit()
            flash(success, "success")
            return redirect(next_url(result))
    elif form.is_submitted():
        status = 400
    return render_template(template, form=form, **context), status


def attachment(body: bytes | str, filename: str, content_type: str) -> Response:
    """A file to save, never kept by a cache (ballots, minutes, results and exports are all private)."""
    return Response(body, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})

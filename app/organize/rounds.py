"""Views of conferences and of rounds in draft: one form for the whole draft (title, numbers, rule set, settings,
candidates, counting board), editing and deleting a conference or a round while nothing of it is printed, and the
way on after the draft (ballots, the count, the published result)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ballots import authority, lifecycle, rounds, rules
from ballots.errors import N_, InvalidInput, RoundNotDraft
from ballots.models import Account, Conference, Round
from sqlalchemy import select

from ..db import get_db
from ..forms import (
    AUDIENCE_CHOICES,
    BASE_CHOICES,
    INVALID_MARK_CHOICES,
    PUBLISHER_CHOICES,
    ConferenceForm,
    ConfirmForm,
    DraftForm,
    SCAN_RETENTION_CHOICES,
    RoundForm,
    options,
)
from ..views import attempt, form_page
from . import bp

SETTING_LABELS = {"base": dict(BASE_CHOICES), "invalid_mark_policy": dict(INVALID_MARK_CHOICES),
                  "publisher": dict(PUBLISHER_CHOICES), "audience": dict(AUDIENCE_CHOICES),
                  "scan_retention": dict(SCAN_RETENTION_CHOICES)}


@bp.route("/committees/<int:committee_id>/conferences/new", methods=["GET", "POST"])
def new_conference(committee_id: int):
    committee = g.committee
    form = ConferenceForm()
    return form_page(form, "organize/conference_form.html", lambda db: rounds.create_conference(
        db, committee=committee, name=form.name.data, held_on=form.held_on.data, place=form.place.data,
        term=form.term.data, actor=current_user.username),
        success=_("Conference created."),
        next_url=lambda conference: url_for("organize.conference", conference_id=conference.id), committee=committee)


@bp.get("/conferences/<int:conference_id>")
def conference(conference_id: int):
    conference = get_db().get(Conference, conference_id)
    return render_template("organize/conference.html", conference=conference,
                           editable=all(r.is_draft for r in conference.rounds), delete_form=ConfirmForm(formdata=None))


@bp.route("/conferences/<int:conference_id>/edit", methods=["GET", "POST"])
def edit_conference(conference_id: int):
    conference = get_db().get(Conference, conference_id)
    form = ConferenceForm(obj=conference)
    return form_page(form, "organize/conference_form.html", lambda db: rounds.update_conference(
        db, conference, name=form.name.data, held_on=form.held_on.data, place=form.place.data, term=form.term.data,
        actor=current_user.username),
        success=_("Saved."), next_url=lambda _done: url_for("organize.conference", conference_id=conference.id),
        committee=conference.committee, conference=conference)


@bp.post("/conferences/<int:conference_id>/delete")
def delete_conference(conference_id: int):
    db = get_db()
    conference = db.get(Conference, conference_id)
    committee_id = conference.committee_id
    if not ConfirmForm().validate_on_submit():
        abort(400)
    deleted, refusal = attempt(lambda db: rounds.delete_conference(db, conference, actor=current_user.username))
    if refusal:
        flash(refusal.message, "error")
        return redirect(url_for("organize.conference", conference_id=conference_id), 303)
    flash(_("Conference deleted, with its %(count)s rounds in draft.", count=deleted), "success")
    return redirect(url_for("organize.committee", committee_id=committee_id), 303)


@bp.route("/conferences/<int:conference_id>/rounds/new", methods=["GET", "POST"])
def new_round(conference_id: int):
    conference = get_db().get(Conference, conference_id)
    form = RoundForm()
    return form_page(form, "organize/round_form.html", lambda db: rounds.create_round(
        db, conference=conference, title=form.title.data, rule_set=form.rule_set.data, convened=form.convened.data,
        present=form.present.data, actor=current_user.username),
        success=_("Round created in draft with every member of the committee as a candidate."),
        next_url=lambda created: url_for("organize.round_page", round_id=created.id), conference=conference)


def _board_choices(db, round_: Round) -> list:
    """The accounts the board may be named from: the tellers of the round's committee."""
    return options((a.id, a.display_name) for a in authority.tellers_of(db, round_.conference.committee))


@dataclass(frozen=True)
class Row:
    """One row of the candidate table: a person on the ballot, or a member who can be put on it."""

    person_id: int
    name: str
    included: bool
    order: str
    post: str
    member: bool  # still sits on the committee (one who left is listed so that the organizer sees it)


def _rows(round_: Round) -> list[Row]:
    """The candidate table as stored: the candidates in ballot order, then the members not on the ballot."""
    members = {m.person_id: m for m in round_.conference.committee.memberships}
    listed = [Row(c.person_id, c.person.full_name, True, str(c.position), c.post, c.person_id in members)
              for c in round_.candidates]
    listed_ids = {row.person_id for row in listed}
    others = [m for m in round_.conference.committee.memberships if m.person_id not in listed_ids]
    return listed + [Row(m.person_id, m.person.full_name, False, str(len(listed) + i), m.post, True)
                     for i, m in enumerate(others, start=1)]


def _submitted_rows(round_: Round) -> list[Row]:
    """The candidate table as the organizer submitted it (shown again, unchanged, beside a refusal)."""
    stored = {row.person_id: row for row in _rows(round_)}
    rows = []
    for raw_id in request.form.getlist("person"):
        if raw_id.isdigit() and int(raw_id) in stored:
            row = stored[int(raw_id)]
            rows.append(Row(row.person_id, row.name, bool(request.form.get(f"include-{raw_id}")),
                            request.form.get(f"order-{raw_id}", "")[:6], request.form.get(f"post-{raw_id}", "")[:120],
                            row.member))
    return rows or list(stored.values())


def _draft_form(db, round_: Round, submitted: DraftForm | None = None) -> DraftForm:
    form = submitted or DraftForm(obj=round_, formdata=None, tellers=[m.account_id for m in round_.board],
                                  approvals=round_.approvals_required)
    form.tellers.choices = _board_choices(db, round_)
    return form


def administrators(db) -> list[Account]:
    """Who grants roles: the active administrators, named on the page where a role is missing."""
    return [a for a in db.scalars(select(Account).where(Account.is_admin.is_(True)).order_by(Account.display_name))
            if a.is_active_account]


def _render(round_: Round, status: int = 200, error: str | None = None, form: DraftForm | None = None):
    db = get_db()
    rows = _submitted_rows(round_) if form is not None else _rows(round_)
    return render_template(
        "organize/round.html", round=round_, form=_draft_form(db, round_, form), rows=rows,
        rule_set=rules.rule_set_of(round_), presets=rules.PRESETS, thresholds=rules.THRESHOLDS, error=error,
        labels=SETTING_LABELS, administrators=administrators(db), reach=authority.reach_of_round(
            current_user.account, round_), on_board=authority.sits_on_board(current_user.account, round_),
        delete_form=ConfirmForm(formdata=None)), status


@bp.get("/rounds/<int:round_id>")
def round_page(round_id: int):
    return _render(rounds.get_round(get_db(), round_id))


def _consequences() -> dict[str, str]:
    consequences = {key: text for key in rules.THRESHOLDS
                    if (text := " ".join(request.form.get(f"consequence-{key}", "").split()))}
    if any(len(text) > 300 for text in consequences.values()):
        raise InvalidInput(N_("A consequence is longer than %(limit)s characters."), limit=300)
    return consequences


def _candidate_entries() -> list[tuple[int, str]]:
    """The candidate table as (person id, post) in the order the organizer numbered the rows."""
    rows = []
    for index, raw_id in enumerate(request.form.getlist("person")):
        if not raw_id.isdigit() or not request.form.get(f"include-{raw_id}"):
            continue
        order = request.form.get(f"order-{raw_id}", "").strip()
        if not order.isdigit():
            raise InvalidInput(N_("Each listed candidate needs an order number."))
        rows.append((int(order), index, int(raw_id), request.form.get(f"post-{raw_id}", "")))
    rows.sort()
    return [(person_id, post) for _order, _index, person_id, post in rows]


@bp.post("/rounds/<int:round_id>")
def round_save(round_id: int):
    """The whole draft in one submission: nothing typed in one part is lost by saving another."""
    db = get_db()
    round_ = rounds.get_round(db, round_id)
    # a round past draft refuses any change whatever the form holds (409, not a list of field errors)
    _done, refusal = attempt(lambda db: lifecycle.require_state(round_, lifecycle.RoundState.DRAFT,
                                                                refusal=RoundNotDraft))
    if refusal:
        return _render(round_, refusal.status, error=refusal.message)
    form = _draft_form(db, round_, DraftForm())
    if not form.validate_on_submit():
        return _render(round_, 400, form=form)

    def save(db):
        return rounds.save_draft(db, round_, rounds.Draft(
            title=form.title.data, convened=form.convened.data, present=form.present.data, spares=form.spares.data,
            rule_set=form.rule_set.data, candidates=_candidate_entries(), board=form.tellers.data or [],
            approvals_required=form.approvals.data, settings=dict(
                base=form.base.data, invalid_mark_policy=form.invalid_mark_policy.data,
                extra_writing_policy=form.extra_writing_policy.data, places_limit=form.places_limit.data,
                paper_entries=form.paper_entries.data, publisher=form.publisher.data, audience=form.audience.data,
                machine_entries=form.machine_entries.data, scan_retention=form.scan_retention.data,
                consequences=_consequences())), actor=current_user.username)

    switched, refusal = attempt(save)
    if refusal:
        return _render(round_, refusal.status, error=refusal.message, form=form)
    flash(_("Saved. The settings took the values of the new rule set; check them.") if switched else _("Saved."),
          "success")
    return redirect(url_for("organize.round_page", round_id=round_.id, _anchor="settings" if switched else None), 303)


@bp.post("/rounds/<int:round_id>/delete")
def delete_round(round_id: int):
    db = get_db()
    round_ = rounds.get_round(db, round_id)
    conference_id = round_.conference_id
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _done, refusal = attempt(lambda db: rounds.delete_round(db, round_, actor=current_user.username))
    if refusal:
        return _render(rounds.get_round(db, round_id), refusal.status, error=refusal.message)
    flash(_("Round deleted."), "success")
    return redirect(url_for("organize.conference", conference_id=conference_id), 303)

"""Views of conferences and of rounds in draft: numbers, rule set, settings, candidates, counting board."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ballots import authority, rounds, rules
from ballots.errors import N_, InvalidInput
from ballots.models import Conference, Round

from ..db import get_db
from ..forms import (
    BASE_CHOICES,
    INVALID_MARK_CHOICES,
    PUBLISHER_CHOICES,
    BoardForm,
    ConferenceForm,
    ConfirmForm,
    NumbersForm,
    RoundForm,
    RuleSetForm,
    SettingsForm,
    options,
)
from ..views import attempt, form_page
from . import bp

SETTING_LABELS = {"base": dict(BASE_CHOICES), "invalid_mark_policy": dict(INVALID_MARK_CHOICES),
                  "publisher": dict(PUBLISHER_CHOICES)}


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
    return render_template("organize/conference.html", conference=get_db().get(Conference, conference_id))


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


def _forms(db, round_: Round, **submitted):
    """The round page's forms, filled from the round unless one was just submitted (and so keeps its input)."""
    forms = {
        "numbers": NumbersForm(obj=round_, formdata=None),
        "rule_set": RuleSetForm(rule_set=round_.rule_set, formdata=None),
        "settings": SettingsForm(obj=round_, formdata=None),
        "board": BoardForm(tellers=[m.account_id for m in round_.board], approvals=round_.approvals_required,
                           formdata=None),
    }
    forms.update(submitted)
    forms["board"].tellers.choices = _board_choices(db, round_)
    return forms


def _render(round_: Round, status: int = 200, error: str | None = None, **submitted):
    db = get_db()
    committee = round_.conference.committee
    candidate_ids = {c.person_id for c in round_.candidates}
    # members not on the list yet can be put back; people listed who left the committee stay listed
    others = [m for m in committee.memberships if m.person_id not in candidate_ids]
    return render_template("organize/round.html", round=round_, forms=_forms(db, round_, **submitted),
                           others=others, rule_set=rules.rule_set_of(round_), presets=rules.PRESETS,
                           thresholds=rules.THRESHOLDS, error=error, labels=SETTING_LABELS), status


@bp.get("/rounds/<int:round_id>")
def round_page(round_id: int):
    return _render(rounds.get_round(get_db(), round_id))


def _change(round_: Round, form, apply, section: str):
    """Validate a section's form and call the domain; or show the page again with the input kept."""
    if not form.validate_on_submit():
        return _render(round_, 400, **{section: form})
    _done, refusal = attempt(apply)
    if refusal:
        return _render(round_, refusal.status, error=refusal.message, **{section: form})
    flash(_("Saved."), "success")
    return redirect(url_for("organize.round_page", round_id=round_.id, _anchor=section), 303)


@bp.post("/rounds/<int:round_id>/numbers")
def round_numbers(round_id: int):
    round_ = rounds.get_round(get_db(), round_id)
    form = NumbersForm()
    return _change(round_, form, lambda db: rounds.set_numbers(
        db, round_, convened=form.convened.data, present=form.present.data, spares=form.spares.data,
        actor=current_user.username), "numbers")


@bp.post("/rounds/<int:round_id>/rule-set")
def round_rule_set(round_id: int):
    round_ = rounds.get_round(get_db(), round_id)
    form = RuleSetForm()
    return _change(round_, form, lambda db: rounds.choose_rule_set(
        db, round_, form.rule_set.data, actor=current_user.username), "rule_set")


@bp.post("/rounds/<int:round_id>/settings")
def round_settings(round_id: int):
    round_ = rounds.get_round(get_db(), round_id)
    form = SettingsForm()

    def apply(db):
        consequences = {key: text for key in rules.THRESHOLDS
                        if (text := " ".join(request.form.get(f"consequence-{key}", "").split()))}
        if any(len(text) > 300 for text in consequences.values()):
            raise InvalidInput(N_("A consequence is longer than %(limit)s characters."), limit=300)
        rounds.override_settings(db, round_, actor=current_user.username, base=form.base.data,
                                 invalid_mark_policy=form.invalid_mark_policy.data,
                                 extra_writing_policy=form.extra_writing_policy.data,
                                 places_limit=form.places_limit.data, paper_entries=form.paper_entries.data,
                                 publisher=form.publisher.data,
                                 audience=form.audience.data, consequences=consequences)

    return _change(round_, form, apply, "settings")


@bp.post("/rounds/<int:round_id>/candidates")
def round_candidates(round_id: int):
    round_ = rounds.get_round(get_db(), round_id)
    form = ConfirmForm()  # the rows are parsed below: their number depends on the committee

    def apply(db):
        rounds.set_candidates(db, round_, _candidate_entries(), actor=current_user.username)

    return _change(round_, form, apply, "candidates")


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


@bp.post("/rounds/<int:round_id>/board")
def round_board(round_id: int):
    db = get_db()
    round_ = rounds.get_round(db, round_id)
    form = BoardForm()
    form.tellers.choices = _board_choices(db, round_)
    return _change(round_, form, lambda db: rounds.set_board(
        db, round_, form.tellers.data or [], approvals_required=form.approvals.data, actor=current_user.username),
        "board")

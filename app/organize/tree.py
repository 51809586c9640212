"""Views of the committee tree, its members and roster import, and its history: dated renames and moves, mergers,
committees closed, members carried over from the committees a new one was formed from."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ballots import authority, committees, roster
from ballots.errors import RosterInvalid
from ballots.models import BoardMember, Committee, Conference, Membership, Person, Round

from ..db import get_db
from ..forms import CarryOverForm, CloseForm, CommitteeForm, FormationForm, ImportForm, MemberForm, options
from ..i18n import translate
from ..views import XLSX, attachment, attempt, form_page
from . import bp
from .rounds import administrators


def _actor() -> str:
    return current_user.username


def _children_map(db, roots: list[Committee]) -> dict[int | None, list[Committee]]:
    ids = set().union(*(committees.subtree_ids(db, r) for r in roots)) if roots else set()
    children: dict[int | None, list[Committee]] = {}
    for committee in db.scalars(select(Committee).where(Committee.id.in_(ids)).order_by(Committee.name)):
        children.setdefault(committee.parent_id, []).append(committee)
    return children


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        from ..auth import login

        return login()
    db = get_db()
    roots = authority.organizer_roots(db, current_user.account)
    other = sorted({(g_.committee, g_.role) for g_ in current_user.account.grants if g_.role != "organizer"},
                   key=lambda pair: (committees.path_of(pair[0]), pair[1]))
    boards = db.scalars(select(Round).join(BoardMember).where(BoardMember.account_id == current_user.account.id)
                        .order_by(Round.id.desc())).all()
    return render_template("organize/home.html", roots=roots, children=_children_map(db, roots), other_roles=other,
                           boards=boards, administrators=administrators(db))


@bp.get("/committees/<int:committee_id>")
def committee(committee_id: int):
    committee = g.committee
    conferences = get_db().scalars(select(Conference).where(Conference.committee_id == committee.id)
                                   .order_by(Conference.held_on.desc())).all()
    return render_template("organize/committee.html", committee=committee, path=committees.path_of(committee),
                           conferences=conferences)


def _reach(db) -> set[int]:
    """The committees this organizer organizes: their grants' committees and everything below them."""
    return set().union(*(committees.subtree_ids(db, r) for r in authority.organizer_roots(db, current_user.account)))


def _parent_choices(db, committee: Committee | None, exclude: set[int]) -> list[tuple[int, str]]:
    """The committees this organizer may put a committee under: within their reach, never below itself, never
    one that no longer exists."""
    reach = _reach(db)
    choices = [(c.id, committees.path_of(c)) for c in db.scalars(select(Committee).where(Committee.id.in_(reach)))
               if c.id not in exclude and c.closed_on is None]
    if committee is not None and committee.parent_id not in reach:
        # the top of the organizer's reach stays where it is
        parent = committee.parent
        choices = [(parent.id, committees.path_of(parent))] if parent else [(0, _("(none: top of the tree)"))]
    return sorted(choices, key=lambda pair: pair[1])


@bp.route("/committees/<int:committee_id>/edit", methods=["GET", "POST"])
def edit_committee(committee_id: int):
    db, committee = get_db(), g.committee
    form = CommitteeForm(obj=committee, parent_id=committee.parent_id or 0)
    form.parent_id.choices = options(_parent_choices(db, committee, committees.subtree_ids(db, committee)))

    def apply(db):
        parent = db.get(Committee, form.parent_id.data) if form.parent_id.data else None
        committees.update_committee(db, committee, name=form.name.data, level=form.level.data, parent=parent,
                                    on=form.effective_on.data, actor=_actor())

    return form_page(form, "organize/committee_form.html", apply, success=_("Saved."),
                     next_url=lambda _: url_for("organize.committee", committee_id=committee.id),
                     committee=committee, new=False)


@bp.route("/committees/<int:committee_id>/formation", methods=["GET", "POST"])
def formation(committee_id: int):
    """Record the committees this one was formed from (a merger, a split): those still existing end the day
    before. The choices are the committees this organizer organizes; `q` narrows the list shown."""
    db, committee = get_db(), g.committee
    line = {c.id for c in authority.ancestors(committee)} | committees.subtree_ids(db, committee)
    everything = sorted(((c.id, committees.path_of(c), c.closed_on) for c in db.scalars(
        select(Committee).where(Committee.id.in_(_reach(db) - line)))), key=lambda choice: choice[1])
    form = FormationForm(sources=[c.id for c in committee.sources], formed_on=committee.formed_on)
    form.sources.choices = options((cid, path) for cid, path, _closed in everything)
    search = committees.fold(request.args.get("q", "")[:100])
    chosen = set(form.sources.data or [])
    shown = [(cid, path, closed) for cid, path, closed in everything
             if cid in chosen or (search and search in committees.fold(path))]

    def apply(db):
        sources = list(db.scalars(select(Committee).where(Committee.id.in_(form.sources.data))))
        committees.record_formation(db, committee, sources=sources, on=form.formed_on.data, actor=_actor())

    return form_page(form, "organize/formation.html", apply, success=_("Saved."),
                     next_url=lambda _: url_for("organize.committee", committee_id=committee.id),
                     committee=committee, shown=shown, search=request.args.get("q", "")[:100])


@bp.route("/committees/<int:committee_id>/close", methods=["GET", "POST"])
def close_committee(committee_id: int):
    committee = g.committee
    parent = committee.parent
    if parent is None or not authority.has_role(current_user.account, "organizer", parent):
        abort(403)  # as deleting: the top of one's own reach stays
    form = CloseForm()
    return form_page(form, "organize/close.html", lambda db: committees.close_committee(
        db, committee, on=form.closed_on.data, actor=_actor()), success=_("Saved."),
        next_url=lambda _: url_for("organize.committee", committee_id=committee.id), committee=committee)


@bp.route("/committees/<int:committee_id>/carry-over", methods=["GET", "POST"])
def carry_over(committee_id: int):
    """Seat someone who sat on a committee this one was formed from: the same person, their seats linked."""
    db, committee = get_db(), g.committee
    former = committees.former_members(db, committee)
    form = CarryOverForm()
    form.person_id.choices = options((f.person.id, f"{f.person.full_name} — " + "; ".join(
        f"{post}, {name}" for name, post in f.seats)) for f in former)

    def apply(db):
        committees.add_member(db, committee=committee, person=db.get(Person, form.person_id.data), post=form.post.data,
                              actor=_actor())

    return form_page(form, "organize/carry_over.html", apply, success=_("Member added."),
                     next_url=lambda _: url_for("organize.carry_over", committee_id=committee.id),
                     committee=committee, former=former)


@bp.route("/committees/<int:committee_id>/new-child", methods=["GET", "POST"])
def new_committee(committee_id: int):
    parent = g.committee
    form = CommitteeForm(parent_id=parent.id)
    form.parent_id.choices = options([(parent.id, committees.path_of(parent))])
    return form_page(form, "organize/committee_form.html", lambda db: committees.create_committee(
        db, name=form.name.data, level=form.level.data, parent=parent, actor=_actor()),
        success=_("Committee created."), next_url=lambda child: url_for("organize.committee", committee_id=child.id),
        committee=parent, new=True)


@bp.post("/committees/<int:committee_id>/delete")
def delete_committee(committee_id: int):
    db, committee = get_db(), g.committee
    parent = committee.parent
    if parent is None or not authority.has_role(current_user.account, "organizer", parent):
        # deleting the top of one's own reach would leave the organizer with nothing to organize
        abort(403)
    committees.delete_committee(db, committee, actor=_actor())
    flash(_("Committee deleted."), "success")
    return redirect(url_for("organize.committee", committee_id=parent.id), 303)


@bp.route("/committees/<int:committee_id>/members/new", methods=["GET", "POST"])
def new_member(committee_id: int):
    committee = g.committee
    form = MemberForm()

    def apply(db):
        person = committees.person_for(db, full_name=form.full_name.data, code=form.code.data)
        committees.add_member(db, committee=committee, person=person, post=form.post.data, actor=_actor())

    return form_page(form, "organize/member_form.html", apply, success=_("Member added."),
                     next_url=lambda _: url_for("organize.committee", committee_id=committee.id),
                     committee=committee, seat=None)


@bp.route("/seats/<int:seat_id>/edit", methods=["GET", "POST"])
def edit_member(seat_id: int):
    seat = get_db().get(Membership, seat_id)
    form = MemberForm(full_name=seat.person.full_name, post=seat.post, code=seat.person.code)
    return form_page(form, "organize/member_form.html", lambda db: committees.update_member(
        db, seat, full_name=form.full_name.data, post=form.post.data, editor=current_user.account, actor=_actor()),
        success=_("Saved."), next_url=lambda _: url_for("organize.committee", committee_id=seat.committee_id),
        committee=seat.committee, seat=seat)


@bp.post("/seats/<int:seat_id>/remove")
def remove_member(seat_id: int):
    db = get_db()
    seat = db.get(Membership, seat_id)
    committee_id = seat.committee_id
    name = seat.person.full_name
    drafts = committees.remove_member(db, seat, actor=_actor())
    flash(_("Member removed."), "success")
    if drafts:  # never silently: the organizer learns which ballots changed
        flash(_("%(name)s was also taken off the candidate list of the rounds in draft: %(rounds)s.", name=name,
                rounds="; ".join(r.title for r in drafts)), "warning")
    return redirect(url_for("organize.committee", committee_id=committee_id), 303)


@bp.post("/seats/<int:seat_id>/move/<any(up, down):direction>")
def move_member(seat_id: int, direction: str):
    db = get_db()
    seat = db.get(Membership, seat_id)
    committees.move_member(db, seat, offset=-1 if direction == "up" else 1, actor=_actor())
    return redirect(url_for("organize.committee", committee_id=seat.committee_id, _anchor=f"seat-{seat.id}"), 303)


@bp.route("/committees/<int:committee_id>/import", methods=["GET", "POST"])
def import_roster(committee_id: int):
    committee, form = g.committee, ImportForm()
    problems, message = [], None
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        summary, refusal = attempt(lambda db: roster.import_roster(
            db, into=committee, filename=upload.filename or "", data=upload.read(), editor=current_user.account,
            actor=_actor()))
        if refusal is None:
            flash(_("Imported: %(people)s new people, %(added)s seats added, %(updated)s seats updated.",
                    people=summary.people_added, added=summary.seats_added, updated=summary.seats_updated), "success")
            return redirect(url_for("organize.committee", committee_id=committee.id))
        if isinstance(refusal.error, RosterInvalid):  # the rows at fault, each with what is wrong in it
            message = refusal.message
            problems = [(row, translate(text, params)) for row, text, params in refusal.error.problems]
        else:
            form.form_errors.append(refusal.message)
        status = refusal.status
    elif form.is_submitted():
        status = 400
    return render_template("organize/import.html", form=form, committee=committee, problems=problems,
                           message=message), status


@bp.get("/committees/<int:committee_id>/import/mau-danh-sach.xlsx")
def roster_template(committee_id: int):
    """A starting file with the Vietnamese headers and the committee's own path filled in."""
    return attachment(roster.template_workbook(g.committee), "mau-danh-sach.xlsx", XLSX)


"""Flask-WTF forms: CSRF on every one, and the shape of the input checked before the domain sees it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ballots import rules

from wtforms.fields.choices import SelectChoice

REQUIRED = _l("This field is required.")


def options(pairs):
    """(value, label) pairs as WTForms options: WTForms 3.3 deprecates bare tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(REQUIRED), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=200)])


class CommitteeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    level = StringField(_l("Level"), validators=[DataRequired(REQUIRED), Length(max=80)],
                        description=_l("For example: Tỉnh ủy, Đảng ủy xã, Chi bộ"))
    parent_id = SelectField(_l("Direct upper-level committee"), coerce=int, validators=[InputRequired(REQUIRED)])
    effective_on = DateField(_l("Takes effect on"), validators=[Optional()], description=_l(
        "Leave empty to correct a typing error. When the committee is renamed or moved, give the day: the rounds "
        "held before it keep the old name."))


class FormationForm(FlaskForm):
    sources = MultiCheckboxField(_l("Formed from"), coerce=int,
                                 validators=[DataRequired(_l("Choose the committees it was formed from."))])
    formed_on = DateField(_l("Formed on"), validators=[DataRequired(_l("Enter a date."))],
                          description=_l("The committees it was formed from that still exist end the day before."))


class CloseForm(FlaskForm):
    closed_on = DateField(_l("Last day"), validators=[DataRequired(_l("Enter a date."))],
                          description=_l("It keeps its members, rounds and results as history and takes nothing new."))


class CarryOverForm(FlaskForm):
    person_id = SelectField(_l("Person"), coerce=int, validators=[InputRequired(REQUIRED)])
    post = StringField(_l("Post"), validators=[DataRequired(REQUIRED), Length(max=120)],
                       description=_l("As printed on the ballot: Bí thư, Phó Bí thư, Ủy viên BTV, Ủy viên BCH…"))


class MemberForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    post = StringField(_l("Post"), validators=[DataRequired(REQUIRED), Length(max=120)],
                       description=_l("As printed on the ballot: Bí thư, Phó Bí thư, Ủy viên BTV, Ủy viên BCH…"))
    code = StringField(_l("Person code (optional)"), validators=[Optional(), Length(max=40)],
                       description=_l("The same code links one person across several committees."))


class ImportForm(FlaskForm):
    file = FileField(_l("Roster file (.xlsx or .csv)"), validators=[FileRequired(_l("Choose a file."))])


class ConferenceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    held_on = DateField(_l("Date"), validators=[DataRequired(_l("Enter a date."))])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    term = StringField(_l("Term"), validators=[DataRequired(REQUIRED), Length(max=20)],
                       description=_l("The term under review, e.g. 2020-2025."))


def rule_set_choices():
    return options((key, preset.title) for key, preset in rules.PRESETS.items())


NUMBER = dict(validators=[InputRequired(REQUIRED), NumberRange(min=0, max=100000, message=_l("Enter a number from 0."))])


class RoundForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(REQUIRED), Length(max=200)])
    rule_set = SelectField(_l("Rule set"), choices=rule_set_choices, default=rules.DEFAULT_PRESET)
    convened = IntegerField(_l("Convened"), **NUMBER)
    present = IntegerField(_l("Present"), **NUMBER)


class NumbersForm(FlaskForm):
    convened = IntegerField(_l("Convened"), **NUMBER)
    present = IntegerField(_l("Present"), **NUMBER)
    spares = IntegerField(_l("Spare ballots"), **NUMBER,
                          description=_l("Ballots that may be issued beyond those present, to replace spoiled sheets."))


class RuleSetForm(FlaskForm):
    rule_set = SelectField(_l("Rule set"), choices=rule_set_choices)


BASE_CHOICES = [("collected", _l("Ballots collected")), ("issued", _l("Ballots issued")),
                ("convened", _l("Number convened"))]
PUBLISHER_CHOICES = [("board", _l("The counting board")), ("organizer", _l("The committee's organizers"))]
SCAN_RETENTION_CHOICES = [("delete", _l("Deleted")), ("archive", _l("Archived in the instance folder"))]
INVALID_MARK_CHOICES = [("ballot", _l("The whole ballot is invalid")), ("row", _l("Only that row is invalid"))]
EXTRA_WRITING_CHOICES = [("void", _l("Voids the ballot")), ("ignore", _l("Is ignored"))]
AUDIENCE_CHOICES = [("committee", _l("The committee itself")), ("upper", _l("The direct upper-level committee")),
                    ("above", _l("Every upper-level committee, up the tree")),
                    ("candidate", _l("Each rated person (their own rows)")),
                    ("conference", _l("The whole conference"))]


class SettingsForm(FlaskForm):
    base = SelectField(_l("Percentages are taken over"), choices=options(BASE_CHOICES))
    invalid_mark_policy = SelectField(_l("A row with no box or several boxes ticked"),
                                      choices=options(INVALID_MARK_CHOICES))
    extra_writing_policy = SelectField(_l("Extra names or writing on the ballot"),
                                       choices=options(EXTRA_WRITING_CHOICES))
    places_limit = IntegerField(_l("Most places one person is rated at"), validators=[
        Optional(), NumberRange(min=1, max=50, message=_l("Enter a number from 1, or leave empty for no limit."))],
        description=_l("Leave empty to rate a person at every committee they sit on."))
    paper_entries = SelectField(_l("Independent entries of each paper ballot"), coerce=int,
                                choices=options([(2, "2"), (3, "3")]))
    audience = MultiCheckboxField(_l("Published to"), choices=options(AUDIENCE_CHOICES),
                                  validators=[DataRequired(_l("Choose at least one group."))])
    publisher = SelectField(_l("Who publishes the result"), choices=options(PUBLISHER_CHOICES))
    machine_entries = SelectField(_l("Tellers confirming each scanned paper ballot"), coerce=int,
                                  choices=options([(1, "1"), (2, "2")]),
                                  description=_l("Besides the scanner's reading, which never counts alone."))
    scan_retention = SelectField(_l("Scanned images at the seal"), choices=options(SCAN_RETENTION_CHOICES))


class BoardForm(FlaskForm):
    tellers = MultiCheckboxField(_l("Counting board"), coerce=int)
    approvals = IntegerField(_l("Approvals that seal the count"), validators=[
        Optional(), NumberRange(min=1, max=50, message=_l("Enter a number from 1, or leave empty."))],
        description=_l("Leave empty for more than half of the board."))


class DraftForm(NumbersForm, RuleSetForm, SettingsForm, BoardForm):
    """The round page's one form: every part of a round in draft, saved together (an unsaved change in one part
    is never lost by saving another). The candidate rows are parsed by the view: their number varies."""

    title = StringField(_l("Title"), validators=[DataRequired(REQUIRED), Length(max=200)])


class AccountForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(REQUIRED), Length(max=60)])
    display_name = StringField(_l("Display name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(min=10, max=200, message=_l(
        "A password needs at least 10 characters."))])
    person_code = StringField(_l("Person code (optional)"), validators=[Optional(), Length(max=40)],
                              description=_l("Links the account to a person, so that a candidate cannot count."))
    is_admin = BooleanField(_l("Administrator (manages accounts; sees no result)"))


class GrantForm(FlaskForm):
    """Nothing chosen beforehand: one careless click must not make someone the organizer of a whole province."""

    committee_id = RadioField(_l("Committee"), coerce=int, validate_choice=False,
                              validators=[InputRequired(_l("Choose a committee from the list."))])
    role = SelectField(_l("Role"), choices=options([("", _l("— choose a role —")), ("viewer", _l("Viewer")),
                                                    ("teller", _l("Teller")), ("organizer", _l("Organizer"))]),
                       default="", validators=[DataRequired(_l("Choose a role."))],
                       description=_l("An organizer's role reaches every committee below the one chosen."))


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED), Length(min=10, max=200, message=_l(
        "A password needs at least 10 characters."))])


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change state."""


class IssueForm(FlaskForm):
    count = IntegerField(_l("Number of ballots"), validators=[
        InputRequired(REQUIRED), NumberRange(min=1, max=5000, message=_l("Issue between 1 and 5000 ballots at a time."))])
    paper = SelectField(_l("Paper"), choices=options([("A4", "A4"), ("A5", "A5")]), default="A4")


class VoidForm(FlaskForm):
    code = StringField(_l("Ballot code"), validators=[DataRequired(REQUIRED), Length(max=200)],
                       description=_l("Scan the QR code or type the code printed under it."))
    reason = StringField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=200)],
                         description=_l("For example: sheet lost, sheet spoiled while writing."))


class PaperEntryForm(FlaskForm):
    """One paper sheet as a teller reads it: its code (scanned or typed), then one keystroke per candidate."""

    code = StringField(_l("Ballot code"), validators=[Optional(), Length(max=200)],
                       description=_l("Scan the QR code (the scanner types it) or type the code printed under it."))
    no_code = BooleanField(_l("The sheet has no readable code (not issued by this board)"))
    marks = StringField(_l("Marks, one digit per candidate in ballot order"), validators=[Optional(), Length(max=200)],
                        description=_l("1 high trust · 2 trust · 3 low trust · 0 no box ticked · 4 several boxes"))
    crossed_out = BooleanField(_l("A printed name is crossed out"))
    extra_writing = BooleanField(_l("Names or writing added to the sheet"))
    correct = BooleanField(_l("Correct my earlier entry of this sheet"))
    # a second physical sheet with a code this teller already entered: only the teller holding it can tell
    another_sheet = BooleanField(_l("This is another sheet with a code I have already entered (a duplicate)"))

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.no_code.data and not (self.code.data or "").strip():
            self.code.errors.append(_l("Scan or type the ballot's code, or tick that it has none."))
            return False
        return True

    def flaws(self) -> list[str]:
        return [name for name in ("crossed_out", "extra_writing") if getattr(self, name).data]


class RulingForm(FlaskForm):
    """The board's decision on a paper sheet whose entries disagree."""

    marks = StringField(_l("Marks, one digit per candidate in ballot order"), validators=[Optional(), Length(max=200)])
    crossed_out = BooleanField(_l("A printed name is crossed out"))
    extra_writing = BooleanField(_l("Names or writing added to the sheet"))

    def flaws(self) -> list[str]:
        return [name for name in ("crossed_out", "extra_writing") if getattr(self, name).data]


class AnomalyForm(FlaskForm):
    ruling = StringField(_l("The board's ruling"), validators=[DataRequired(REQUIRED), Length(max=1000)])


class ImportBundleForm(FlaskForm):
    file = FileField(_l("Result bundle (.json) exported by the conference's instance"),
                     validators=[FileRequired(_l("Choose a file."))])


class TrustedKeyForm(FlaskForm):
    public_key = StringField(_l("Public key (64 hexadecimal digits)"), validators=[DataRequired(REQUIRED), Length(max=80)],
                             description=_l("As the other instance shows it: trustvote key show."))
    label = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)],
                        description=_l("For example: the laptop of Đảng ủy xã Tân Hòa's conference."))
    committee_id = SelectField(_l("May report results of this committee and those below it"), coerce=int,
                               validators=[InputRequired(REQUIRED)])


class ScanReadingForm(FlaskForm):
    """A teller's own reading of a scanned sheet, keyed beside its image (app.count.scans). For a page whose QR
    the scanner could not read, also the code printed under it, or that it has none."""

    code = StringField(_l("Ballot code"), validators=[Optional(), Length(max=200)],
                       description=_l("Type the code printed under the sheet's QR, as you read it on the image."))
    no_code = BooleanField(_l("The sheet has no readable code (not issued by this board)"))
    marks = StringField(_l("Marks, one digit per candidate in ballot order"), validators=[Optional(), Length(max=200)],
                        description=_l("1 high trust · 2 trust · 3 low trust · 0 no box ticked · 4 several boxes"))
    crossed_out = BooleanField(_l("A printed name is crossed out"))
    extra_writing = BooleanField(_l("Names or writing added to the sheet"))

    def flaws(self) -> list[str]:
        return [name for name in ("crossed_out", "extra_writing") if getattr(self, name).data]

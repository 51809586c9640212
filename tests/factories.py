"""The one factory of the tests: small, named worlds built through the domain functions (so the audit log is real
too), on whichever engine the session is bound to.

- `build_world(session)`: a committee tree (province > district > two communes), its members, accounts with
  their roles, and a conference of the commune.
- `add_members(session, committee, seats)`: more people on a committee (so more candidates in its next round).
- `accounts_with_role(session, world, committee, role, *usernames)`: accounts holding a role on a committee (the
  world's account of that name, or a new one): a board elsewhere than the commune, a viewer higher up.
- `make_conference(session, committee, ...)`: a conference of any committee.
- `make_round(session, world, until=..., ...)`: a round taken in one call as far along its lifecycle as asked:
  created with candidates and a board, ballots issued (and some voided), voting opened, tablet ballots cast with
  the given marks, closed, paper sheets keyed by the board, counted, approved and sealed, published. Returns a
  `Built`: the round, the secrets of its ballots, its board and what the tellers' paper entries met.
- `sealed_round(session, world, key, ...)`: the commune's usual sealed round (its numbers are beside it).
- `rated_round(session, world, committee, key, held_on=..., low=...)`: a round of any committee at a conference of
  its own, its ballots cast on tablets with the given candidates low trust on all of them (a person's history).
- `make_imported_result(session, world, ...)`: a result the sibling commune counted on an instance of its own,
  carried up to this one.

Each function flushes; `make_round` and `sealed_round` commit, like the app between two requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ballots import accounts, ballot_box, casting, committees, counting, formats, issuing, paper_entry, publication, rounds
from ballots import sealing, tokens
from ballots.models import Account, Committee, Conference, ImportedResult, Person, Round, TrustedKey

PASSWORD = "mật-khẩu-thử-nghiệm"
TITLE = "Lấy phiếu tín nhiệm BCH"
TELLERS = ("teller", "teller2")  # both tellers of the commune: a board that can key each paper sheet twice
STAGES = ("draft", "issued", "open", "closed", "counted", "sealed", "published")
VOID_REASON = "Đại biểu làm rơi phiếu"


@dataclass
class World:
    province: Committee
    district: Committee
    commune: Committee
    sibling: Committee
    people: dict[str, Person] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    conference: Conference | None = None
    password: str = PASSWORD


def build_world(session) -> World:
    province = committees.create_committee(session, name="Tỉnh ủy Thử Nghiệm", level="Tỉnh ủy", parent=None,
                                           actor="test")
    district = committees.create_committee(session, name="Huyện ủy Đông Anh", level="Huyện ủy", parent=province,
                                           actor="test")
    commune = committees.create_committee(session, name="Đảng ủy xã Yên Bình", level="Đảng ủy xã", parent=district,
                                          actor="test")
    sibling = committees.create_committee(session, name="Đảng ủy xã Hòa Lạc", level="Đảng ủy xã", parent=district,
                                          actor="test")
    world = World(province, district, commune, sibling)
    seats = [
        (commune, "Nguyễn Văn Hùng", "Bí thư", "CB-001"),
        (commune, "Trần Thị Lan", "Phó Bí thư", None),
        (commune, "Lê Đức Thắng", "Ủy viên Ban Thường vụ", None),
        (commune, "Phạm Thị Hương", "Ủy viên Ban Chấp hành", None),
        (district, "Nguyễn Văn Hùng", "Ủy viên Ban Chấp hành", "CB-001"),
        (district, "Hoàng Minh Đức", "Bí thư", None),
        (sibling, "Vũ Thị Yến", "Bí thư", None),
        (province, "Đặng Quang Sơn", "Bí thư", None),
    ]
    for committee, name, post, code in seats:
        person = committees.person_for(session, full_name=name, code=code)
        world.people.setdefault(name, person)
        committees.add_member(session, committee=committee, person=person, post=post, actor="test")
    teller_person = committees.create_person(session, full_name="Bùi Văn Kiểm", code="KP-01")
    grants = {
        "admin": [],
        "organizer": [(province, "organizer")],
        "commune_organizer": [(commune, "organizer")],
        "teller": [(commune, "teller")],
        "teller2": [(commune, "teller")],
        "viewer": [(commune, "viewer")],
        "district_viewer": [(district, "viewer")],
        "sibling_viewer": [(sibling, "viewer")],
    }
    for username, roles in grants.items():
        account = accounts.create_account(session, username=username, display_name=username, password=PASSWORD,
                                          is_admin=username == "admin",
                                          person_code="KP-01" if username == "teller" else None, actor="test")
        for committee, role in roles:
            accounts.grant_role(session, account=account, committee=committee, role=role, actor="test")
        world.accounts[username] = account
    world.people["Bùi Văn Kiểm"] = teller_person
    world.conference = make_conference(session, commune, name="Hội nghị sơ kết giữa nhiệm kỳ",
                                       held_on=dt.date(2026, 12, 5), place="Hội trường xã")
    return world


def add_members(session, committee: Committee, seats: Iterable[tuple[str, str]]) -> list[Person]:
    """New people (full name, post) seated on `committee` after its members: candidates of its next round."""
    people = []
    for name, post in seats:
        person = committees.create_person(session, full_name=name)
        committees.add_member(session, committee=committee, person=person, post=post, actor="test")
        people.append(person)
    return people


def accounts_with_role(session, world: World, committee: Committee, role: str, *usernames: str) -> list[Account]:
    """Accounts holding `role` on `committee`: the world's account of each name, or a new account with the world's
    password (added to world.accounts)."""
    found = []
    for username in usernames:
        account = world.accounts.get(username)
        if account is None:
            account = accounts.create_account(session, username=username, display_name=username,
                                              password=world.password, actor="test")
            world.accounts[username] = account
        accounts.grant_role(session, account=account, committee=committee, role=role, actor="test")
        found.append(account)
    return found


def make_conference(session, committee: Committee, *, name: str = "Hội nghị Ban Chấp hành",
                    held_on: dt.date = dt.date(2026, 12, 6), place: str = "Nhà văn hóa",
                    term: str = "2020-2025") -> Conference:
    return rounds.create_conference(session, committee=committee, name=name, held_on=held_on, place=place,
                                    term=term, actor="test")


@dataclass(frozen=True)
class Paper:
    """A paper sheet as the board keys it: `marks` as every teller keys it, or one string per teller (they may
    disagree); the whole-sheet `flaws` each ticks; the board's `ruling` (marks) when the tellers disagree."""

    marks: str | tuple[str, ...] = ""
    flaws: tuple[str, ...] = ()
    ruling: str | None = None


@dataclass
class Built:
    """What `make_round` built. `secrets[i]` is the i-th ballot issued; `entered[i]` what each teller's entry of
    the i-th paper sheet met (paper_entry.Entered, in board order)."""

    round: Round
    secrets: list[bytes]
    board: list[Account]
    entered: list[list] = field(default_factory=list)
    box: ballot_box.Made | None = None  # the ballot box and its key cards, made with the first batch

    def cards(self, count: int | None = None) -> list[str]:
        """The QR payloads of the box's first `count` cards (as many as open it, by default)."""
        return [c.card.payload for c in self.box.cards[:self.box.cards_needed if count is None else count]]

    @property
    def id(self) -> int:
        return self.round.id

    @property
    def codes(self) -> list[str]:
        """The ballots' codes, plain (as a scanner types them)."""
        return [tokens.code_of(secret) for secret in self.secrets]

    @property
    def grouped(self) -> list[str]:
        """The ballots' codes as printed under the QR, in groups."""
        return [tokens.grouped(code) for code in self.codes]


def make_round(
    session,
    world: World,
    *,
    until: str = "draft",
    conference: Conference | None = None,
    title: str = TITLE,
    convened: int = 10,
    present: int = 10,
    spares: int = 0,
    rule_set: str | None = None,
    settings: Mapping | None = None,
    board: Sequence[str | Account] = ("teller",),
    approvals_required: int | None = None,
    issue: int | None = None,
    void: Sequence[int] = (),
    tablet: Sequence[bytes | str] = (),
    paper: Sequence[tuple[int | str, str | Paper]] = (),
    open_box: bool = True,
    key=None,
) -> Built:
    """A round of `conference` (the world's, by default) taken as far as `until` (one of STAGES), committed.

    draft: created with every member of the committee as a candidate, `convened`/`present`/`spares`, the preset
      `rule_set` with the `settings` overridden (audience, publisher, paper_entries, ...), and `board` (usernames
      of the world's accounts, or accounts) asking for `approvals_required` approvals;
    issued: `issue` ballots issued (default: one for each present) by the board's first member, then the ballots
      at the indexes in `void` voided;
    open: voting open, and the first len(`tablet`) ballots cast on tablets with those marks (bytes, or a digit a
      row: "1230");
    closed: voting closed, the ballot box opened with the first cards that open it (unless `open_box` is false),
      then each `paper` sheet keyed by as many tellers of the board as the rule set asks, in
      order: (the index of an issued ballot, or a code: unknown, of another round, or "" for none; its marks or a
      Paper);
    counted: counted by the board's first member;
    sealed: approved by the board, in order, until sealed with `key`;
    published: published by the board's first member.
    """
    stage = STAGES.index(until)
    round_ = rounds.create_round(session, conference=conference or world.conference, title=title,
                                 convened=convened, present=present, actor="test",
                                 **({"rule_set": rule_set} if rule_set else {}))
    if spares:
        rounds.set_numbers(session, round_, convened=convened, present=present, spares=spares, actor="test")
    if settings:
        rounds.override_settings(session, round_, actor="test", **settings)
    members = [world.accounts[who] if isinstance(who, str) else who for who in board]
    if members:
        rounds.set_board(session, round_, [m.id for m in members], approvals_required=approvals_required,
                         actor="test")
    built = Built(round_, [], members)
    if stage >= STAGES.index("issued"):
        issuer = members[0].username if members else "test"
        issued = issuing.issue_ballots(session, round_, count=present if issue is None else issue, actor=issuer)
        built.secrets, built.box = issued.secrets, issued.box
        for index in void:
            issuing.void_ballot(session, round_, code=built.codes[index], reason=VOID_REASON, actor=issuer)
    if stage >= STAGES.index("open"):
        casting.open_voting(session, round_, actor="test")
        for index, marks in enumerate(tablet):
            casting.cast_ballot(session, code=built.codes[index], submission=f"submission-{round_.id}-{index:06d}",
                                marks=marks if isinstance(marks, bytes) else bytes(int(m) for m in marks))
    if stage >= STAGES.index("closed"):
        casting.close_voting(session, round_, actor="test")
        if open_box and not ballot_box.box_of(session, round_).is_open:  # an empty box opens itself
            ballot_box.open_box(session, round_, account=members[0], cards=built.cards())
        built.entered = [_key_sheet(session, built, sheet, what) for sheet, what in paper]
    if stage >= STAGES.index("counted"):
        counting.count_round(session, round_, account=members[0])
    if stage >= STAGES.index("sealed"):
        for member in members:
            if sealing.approve(session, round_, account=member, key=key):
                break
    if stage >= STAGES.index("published"):
        publication.publish(session, round_, account=members[0])
    session.commit()
    return built


def _key_sheet(session, built: Built, sheet: int | str, what: str | Paper) -> list:
    """Each teller of the board the rule set asks for keys the sheet; the board rules on it if it is given."""
    paper = what if isinstance(what, Paper) else Paper(what)
    tellers = built.board[:built.round.paper_entries]
    readings = (paper.marks,) * len(tellers) if isinstance(paper.marks, str) else paper.marks
    code = built.codes[sheet] if isinstance(sheet, int) else sheet
    entered = [paper_entry.enter_sheet(session, built.round, teller=teller, code=code, marks=marks,
                                       flaws=paper.flaws)
               for teller, marks in zip(tellers, readings, strict=True)]
    if paper.ruling is not None:
        paper_entry.rule_sheet(session, built.round, sheet=entered[-1].sheet, account=tellers[-1],
                               marks=paper.ruling)
    return entered


# The commune's usual sealed round: 10 convened and present, 5 ballots issued, 3 cast on tablets and 1 paper sheet
# keyed by both tellers: 4 collected, all valid. Per candidate (high, trust, low): (3, 1, 0), (3, 1, 0), (2, 0, 2)
# and (0, 1, 3): candidate 3 has exactly half low (2*2 = 4 is not more than 4), candidate 4 more than two thirds
# (3*3 = 9 > 8).
SEALED_TABLET = (b"\x01\x01\x03\x03", b"\x01\x02\x03\x03", b"\x02\x01\x01\x03")
SEALED_PAPER = ((3, "1112"),)


def sealed_round(session, world: World, key, *, audience=None, publisher=None, title: str = TITLE,
                 publish: bool = False) -> Round:
    """The commune's usual round (SEALED_TABLET, SEALED_PAPER), counted and sealed with `key` by both tellers, and
    published if asked; `audience` and `publisher` override the rule set's."""
    settings = {k: v for k, v in (("audience", audience), ("publisher", publisher)) if v is not None}
    return make_round(session, world, until="published" if publish else "sealed", title=title, settings=settings,
                      board=TELLERS, issue=5, tablet=SEALED_TABLET, paper=SEALED_PAPER, key=key).round


def rated_round(session, world: World, committee: Committee, key, *, held_on: dt.date, term: str = "2020-2025",
                until: str = "published", low: Sequence[int] | Mapping[int, int] = (), ballots: int = 4,
                audience=None, board: Sequence[str] = TELLERS) -> Round:
    """A round of `committee` at a conference of its own held on `held_on` in `term`, every ballot cast on a
    tablet: each candidate high trust, but those at the 1-based positions in `low` low trust on every ballot (100 %:
    every threshold), or, given {position: n}, on the first n ballots. Taken to `until` (sealed with `key`);
    `audience` overrides the rule set's. The board (the world's tellers by default) is given the teller role on the
    committee if it lacks it."""
    for username in board:
        account = world.accounts.get(username)
        if account is None or not any(g.committee_id == committee.id and g.role == "teller" for g in account.grants):
            accounts_with_role(session, world, committee, "teller", username)
    conference = make_conference(session, committee, name="Hội nghị sơ kết giữa nhiệm kỳ", held_on=held_on,
                                 term=term)
    lows = low if isinstance(low, Mapping) else dict.fromkeys(low, ballots)
    tablet = ["".join("3" if number < lows.get(position, 0) else "1"
                      for position in range(1, len(committee.memberships) + 1)) for number in range(ballots)]
    return make_round(session, world, until=until, conference=conference, convened=ballots, present=ballots,
                      settings={"audience": audience} if audience else None, board=board,
                      tablet=tablet if STAGES.index(until) >= STAGES.index("open") else (), key=key).round


def make_imported_result(session, world: World, *, document: Mapping | None = None,
                         title: str = "Lấy phiếu tín nhiệm (máy xã)", audience: Sequence[str] = ("committee", "upper"),
                         convened: int = 9, present: int = 9, issued: int = 9, collected: int = 9,
                         crossed: tuple[int, int, int] = (0, 0, 0)) -> ImportedResult:
    """A result the sibling commune counted on its own laptop and carried up here, as an import leaves it: its key
    registered for the district, its numbers in columns, `document` as the signed text (its signature is not one:
    nothing here verifies it again)."""
    key = TrustedKey(public_key="ab" * 32, label="Máy xã Hòa Lạc", committee_id=world.district.id,
                     registered_by="admin")
    session.add(key)
    session.flush()
    imported = ImportedResult(
        committee_id=world.sibling.id, key_id=key.id, document=formats.canonical_json(dict(document or {})),
        digest="ef" * 32, signature="sig", title=title, audience=list(audience), published_at="2026-12-05T10:00:00Z",
        issued=issued, collected=collected, convened=convened, present=present, more_than_half=crossed[0],
        two_thirds_or_more=crossed[1], more_than_two_thirds=crossed[2], imported_by="organizer")
    session.add(imported)
    session.flush()
    return imported


def logged_casts(session, round_id: int | None = None) -> int:
    """How many tablet ballots the audit log says were cast (in one round, or in all): each batch of casts logs
    one untimed entry per round that counts its ballots."""
    import json

    from sqlalchemy import select

    from ballots.models import AuditEntry

    query = select(AuditEntry.details).where(AuditEntry.action == "ballot.cast")
    if round_id is not None:
        query = query.where(AuditEntry.subject == f"round:{round_id}")
    return sum(json.loads(details)["ballots"] for details in session.scalars(query))

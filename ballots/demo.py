"""The demo province that `make run` loads into an empty database: a fictional province after the 2025
reorganization, with the term before it kept as history.

Today's tree (2025–2030): Tỉnh ủy Sơn Lâm; directly below it a hundred đảng ủy xã, phường and one đặc khu, formed
on 1 July 2025 by merging the old communes, and a few đảng ủy trực thuộc; chi bộ under some communes, and under a
large phường an đảng bộ bộ phận with chi bộ of its own. The mid-term rounds of 2027 stand in every state, so the
province's dashboard shows a realistic spread: most published, some sealed, counting, voting, issued or in draft,
and communes that have not started. Four of them make the README's walkthrough: a round in draft (Tân Hòa), one
whose ballots are issued and printed (Phú Lộc), one whose tablet voting is over and whose paper ballots wait to be
counted (Thạch Bàn, printed too), and one counted, sealed and published (Tân Phú).

The term before (2020–2025), kept as history: the old district committees and, for three of them, their old
communes, each with its mid-term round of 2023, published; the old communes are recorded as what the new ones were
formed from, and they and the districts ended on 30 June 2025. A person who sat on the district committee of Tân
Phú sits on the new commune of Tân Phú: one person, whose trust over time runs across both. The province's agency
committee was renamed in 2025; its 2023 result keeps the old name. A chi bộ's round published to every upper level
shows in the province's roll-up; the others' only to their commune.

An account of each role. The demo is built through the domain functions (every audit entry is real) and quickly:
`make run` on a fresh machine loads it in seconds, not minutes.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from . import accounts, ballot_box, casting, committees, counting, issuing, printing, publication, rounds, rules
from . import sealing, tally, tokens
from .fonts import font
from .models import Account, Committee, Person, Round
from .sheet_layout import SheetLayout
from .tally import CROSSED_OUT, Sheet

ACTOR = "demo"
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh",
          "Võ", "Phan", "Trịnh", "Mai", "Lương", "Tạ"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thanh", "Hữu", "Quang", "Ngọc", "Thu", "Xuân", "Công", "Thế", "Bảo", "Kim",
          "Hồng", "Anh"]
GIVEN = ["Hùng", "Lan", "Hương", "Dũng", "Tuấn", "Hà", "Nga", "Thắng", "Sơn", "Hải", "Phương", "Cường", "Yến",
         "Khánh", "Long", "Mai", "Quý", "Thảo", "Bình", "Huệ", "Việt", "Trường", "Ánh", "Đạt", "Hiếu", "Nam", "Linh",
         "Tâm", "Trang", "Hạnh", "Quân", "Vinh"]

PROVINCE = ("Tỉnh ủy Sơn Lâm", "Tỉnh ủy")
OLD_TERM, NEW_TERM = "2020-2025", "2025-2030"
# the district level ended and the new communes were formed (Hướng dẫn 31-HD/BTCTW)
DISTRICTS_END, COMMUNES_FORMED = dt.date(2025, 6, 30), dt.date(2025, 7, 1)

# The old districts (2020–2025). Three keep their communes as history; the others only their own committee.
OLD_DISTRICTS = {
    "Huyện ủy Tân Phú": ["Đảng ủy thị trấn Tân Phú", "Đảng ủy xã Tân An", "Đảng ủy xã Tân Hòa", "Đảng ủy xã Phú Mỹ",
                         "Đảng ủy xã Phú Lộc", "Đảng ủy xã Thạch Bàn"],
    "Huyện ủy Kim Sơn": ["Đảng ủy xã Kim Đông", "Đảng ủy xã Yên Mật", "Đảng ủy xã Lai Thành", "Đảng ủy xã Kim Tân"],
    "Thành ủy Lâm Giang": ["Đảng ủy phường Bến Thủy", "Đảng ủy phường Hưng Bình", "Đảng ủy phường Trung Đô",
                           "Đảng ủy xã Nghi Phú"],
    "Thị ủy Bình Minh": [], "Huyện ủy Yên Lạc": [], "Huyện ủy Sông Mã": [], "Huyện ủy Hòa Vang": [],
    "Huyện ủy Cô Tiên": [],
}
# the new communes formed from old ones that the demo keeps (the others' origins are not recorded)
FORMED_FROM = {
    "Đảng ủy xã Tân Phú": ["Đảng ủy thị trấn Tân Phú", "Đảng ủy xã Tân An"],
    "Đảng ủy xã Tân Hòa": ["Đảng ủy xã Tân Hòa", "Đảng ủy xã Phú Mỹ"],
    "Đảng ủy xã Phú Lộc": ["Đảng ủy xã Phú Lộc"],
    "Đảng ủy xã Thạch Bàn": ["Đảng ủy xã Thạch Bàn"],
    "Đảng ủy xã Kim Sơn": ["Đảng ủy xã Kim Đông", "Đảng ủy xã Yên Mật", "Đảng ủy xã Kim Tân"],
    "Đảng ủy xã Lai Thành": ["Đảng ủy xã Lai Thành"],
    "Đảng ủy phường Lâm Giang": ["Đảng ủy phường Bến Thủy", "Đảng ủy phường Hưng Bình"],
    "Đảng ủy phường Trung Đô": ["Đảng ủy phường Trung Đô", "Đảng ủy xã Nghi Phú"],
}
# the agency committee of the old term, renamed in the 2025 reorganization (its 2023 result keeps the old name)
AGENCY_OLD, AGENCY_NEW, AGENCY_RENAMED = ("Đảng ủy Khối các cơ quan tỉnh", "Đảng ủy các cơ quan Đảng tỉnh",
                                          dt.date(2025, 2, 1))
DIRECT = [AGENCY_NEW, "Đảng ủy Ủy ban nhân dân tỉnh", "Đảng ủy Quân sự tỉnh", "Đảng ủy Công an tỉnh",
          "Đảng ủy Bộ đội Biên phòng tỉnh"]
DIRECT_LEVEL = "Đảng ủy trực thuộc"
FIRST = ["Tân", "Phú", "Kim", "Yên", "Bình", "An", "Hòa", "Hưng", "Long", "Thuận", "Vĩnh", "Quang", "Minh", "Đức",
         "Thanh", "Xuân", "Trung", "Hải", "Cẩm", "Ngọc", "Phước", "Đông", "Nam", "Sơn", "Mỹ", "Lộc", "Thạch", "Gia"]
SECOND = ["Phú", "Lộc", "Hòa", "Bình", "Sơn", "Lâm", "Thành", "Hưng", "An", "Thịnh", "Mỹ", "Điền", "Giang", "Hà",
          "Lợi", "Tiến", "Phong", "Thủy", "Khánh", "Hiệp", "Trạch", "Xá", "Yên", "Vân"]
COMMUNES = 96  # đảng ủy xã, phường and đặc khu directly below the province
WARDS = 16
SPECIAL = "Đảng ủy đặc khu Cô Tiên"

# The four rounds of the README's walkthrough (2027, the mid-term of 2025–2030)
CONFERENCE_COMMUNE = "Đảng ủy xã Tân Hòa"  # a round in draft
READY_COMMUNE = "Đảng ủy xã Phú Lộc"  # ballots issued and printed: instance/demo-ballots.pdf
COUNTING_COMMUNE = "Đảng ủy xã Thạch Bàn"  # tablet voting over, paper ballots printed: instance/demo-paper-ballots.pdf
PUBLISHED_COMMUNE = "Đảng ủy xã Tân Phú"  # counted, sealed, published
# whose trust over time the walkthrough follows: Phó Bí thư of the old district, Bí thư of the new commune
FOLLOWED, FOLLOWED_CODE = "Hoàng Minh Khôi", "CB-TP-001"

COMMITTEE_POSTS = ["Bí thư", "Phó Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Thường vụ",
                   "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành",
                   "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành"]
CELL_POSTS = ["Bí thư chi bộ", "Phó Bí thư chi bộ", "Chi ủy viên"]
TITLE = "Lấy phiếu tín nhiệm đối với Ban Chấp hành"


@dataclass(frozen=True)
class Login:
    role: str
    username: str
    password: str
    display_name: str


LOGINS = [
    Login("administrator", "quantri", "quantri-demo-2025", "Quản trị hệ thống"),
    Login("organizer", "tochuc", "tochuc-demo-2025", "Ban Tổ chức Tỉnh ủy"),
    Login("teller", "kiemphieu1", "kiemphieu-demo-2025", "Trần Thị Kiểm (Tổ kiểm phiếu)"),
    Login("teller", "kiemphieu2", "kiemphieu-demo-2025", "Lê Văn Phiếu (Tổ kiểm phiếu)"),
    Login("teller", "kiemphieu3", "kiemphieu-demo-2025", "Phạm Ngọc Đếm (Tổ kiểm phiếu)"),
    Login("viewer", "xemxa", "xemxa-demo-2025", "Đảng ủy xã Tân Phú"),
    Login("viewer", "xemtinh", "xemtinh-demo-2025", "Tỉnh ủy Sơn Lâm"),
    Login("viewer", "xemhuyen", "xemhuyen-demo-2025", "Huyện ủy Tân Phú (2020-2025)"),
]
# the counting boards of the province's other rounds (no login printed: their password is random)
BOARD = [("tokiemphieu1", "Tổ kiểm phiếu cơ sở (1)"), ("tokiemphieu2", "Tổ kiểm phiếu cơ sở (2)")]


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Committee)))


class Demo:
    """What the loader builds as it goes: the committees by name, the accounts, a source of names and chance."""

    def __init__(self, session: Session, key):
        self.session, self.key = session, key
        self.rng = random.Random(2025)  # the same province every time
        self.cast_marks: dict[int, list[bytes]] = {}  # what the tablets cast, by round (the paper demo's answer)
        self.used: set[str] = set()
        self.accounts: dict[str, Account] = {}
        self.named: dict[str, Committee] = {}

    # --- people and committees ----------------------------------------------------------------------------------

    def name(self) -> str:
        while True:
            name = f"{self.rng.choice(FAMILY)} {self.rng.choice(MIDDLE)} {self.rng.choice(GIVEN)}"
            if name not in self.used:
                self.used.add(name)
                return name

    def person(self, name: str | None = None, code: str | None = None) -> Person:
        if name:
            self.used.add(name)
        return committees.create_person(self.session, full_name=name or self.name(), code=code)

    def committee(self, name: str, level: str, parent: Committee | None, key: str | None = None,
                  formed_on: dt.date | None = None) -> Committee:
        made = committees.create_committee(self.session, name=name, level=level, parent=parent, formed_on=formed_on,
                                           actor=ACTOR)
        self.named[key or name] = made
        return made

    def seat(self, committee: Committee, posts: list[str], people: list[Person] = ()) -> list[Person]:
        """Seat `people` in the first posts, new people in the others; return everyone seated, in order."""
        seated = [people[index] if index < len(people) else self.person() for index in range(len(posts))]
        committees.add_members(self.session, committee=committee, seats=list(zip(seated, posts)), actor=ACTOR)
        return seated

    def grant(self, username: str, committee: Committee, role: str) -> None:
        accounts.grant_role(self.session, account=self.accounts[username], committee=committee, role=role, actor=ACTOR)

    # --- rounds ---------------------------------------------------------------------------------------------------

    def round(self, committee: Committee, *, until: str, held_on: dt.date, term: str, board: tuple[str, str],
              present: int, cast: int | None = None, audience: list[str] | None = None, low: float = 0.08,
              title: str | None = None) -> tuple[Round, list[bytes]]:
        """A conference of the committee and its round (every member a candidate) taken to `until`: draft,
        issued, open (`cast` ballots cast on tablets), closed (the box opened: the board can count), counted,
        sealed (with the instance's key), published. Returns the round and its ballots' secrets."""
        session = self.session
        for username in board:
            if not any(g.committee_id == committee.id and g.role == "teller" for g in self.accounts[username].grants):
                self.grant(username, committee, "teller")
        conference = rounds.create_conference(
            session, committee=committee, name=f"Hội nghị sơ kết giữa nhiệm kỳ {term.replace('-', '–')}",
            held_on=held_on, place=f"Hội trường {committee.name}", term=term, actor=ACTOR)
        round_ = rounds.create_round(session, conference=conference, title=title or TITLE, actor=ACTOR)
        convened = present + self.rng.choice((0, 1, 2, 2, 3, 4))
        rounds.set_numbers(session, round_, convened=convened, present=present, actor=ACTOR)
        if audience:
            rounds.override_settings(session, round_, audience=audience, actor=ACTOR)
        tellers = [self.accounts[username] for username in board]
        rounds.set_board(session, round_, [t.id for t in tellers], actor=ACTOR)
        stages = ("draft", "issued", "open", "closed", "counted", "sealed", "published")
        stage = stages.index(until)
        if stage < 1:
            return round_, []
        issued = issuing.issue_ballots(session, round_, count=present, actor=tellers[0].username)
        if stage < 2:
            return round_, issued.secrets
        casting.open_voting(session, round_, actor=ACTOR)
        # a delegate or two may leave with their sheet: issued, not collected
        voters = issued.secrets[:present - self.rng.choice((0, 0, 1, 2)) if cast is None else cast]
        self.cast(round_, voters, low)
        if stage < 3:
            return round_, issued.secrets
        casting.close_voting(session, round_, actor=ACTOR)
        ballot_box.open_box(session, round_, account=tellers[0],
                            cards=[c.card.payload for c in issued.box.cards[:issued.box.cards_needed]])
        if stage < 4:
            return round_, issued.secrets
        counting.count_round(session, round_, account=tellers[0])
        if stage < 5 or self.key is None:
            return round_, issued.secrets
        for teller in tellers:
            if sealing.approve(session, round_, account=teller, key=self.key):
                break
        if stage >= 6:
            publication.publish(session, round_, account=tellers[0])
        return round_, issued.secrets

    def cast(self, round_: Round, secrets: list[bytes], low: float) -> None:
        """The ballots cast as tablets would, in one batch: most rows high trust or trust; each candidate's share
        of low trust drawn around `low`, one candidate of some rounds far past it (a threshold shows)."""
        rng = self.rng
        candidates = len(round_.candidates)
        shares = [min(0.9, max(0.0, rng.gauss(low, low / 2))) for _ in range(candidates)]
        if rng.random() < 0.25:
            shares[rng.randrange(candidates)] = rng.choice((0.45, 0.55, 0.7))
        casts = []
        for number, secret in enumerate(secrets):
            marks = bytes(3 if rng.random() < share else rng.choice((1, 1, 1, 2)) for share in shares)
            casts.append(casting.Cast(tokens.code_of(secret), marks, f"demo-round-{round_.id}-{number:04d}"))
        outcomes = casting.cast_ballots(self.session, casts)
        assert all(outcome == casting.RECORDED for outcome in outcomes), outcomes[:3]
        self.cast_marks[round_.id] = [cast.marks for cast in casts]


def _level(name: str) -> str:
    """The level of a commune-level committee, as its name says it."""
    for level in ("Đảng ủy thị trấn", "Đảng ủy phường", "Đảng ủy đặc khu"):
        if name.startswith(level):
            return level
    return "Đảng ủy xã"


def load(
    session: Session, *, ballots_pdf: BinaryIO | None = None, paper_pdf: BinaryIO | None = None,
    signing_key=None, base_url: str = "http://127.0.0.1:5000",
) -> None:
    """Create the demo province. With `ballots_pdf`, the walkthrough's round ready to vote has its ballots printed
    there; with `paper_pdf`, the round closed after tablet voting has its unused sheets printed there, as the
    paper ballots to key in; with `signing_key` (the instance's), the rounds past their count are sealed with it
    (and most published); without it they stay counted.

    Flushes, never commits.
    """
    demo = Demo(session, signing_key)
    for login in LOGINS:
        demo.accounts[login.username] = accounts.create_account(
            session, username=login.username, display_name=login.display_name, password=login.password,
            is_admin=login.role == "administrator", actor=ACTOR)
    for username, display_name in BOARD:
        demo.accounts[username] = accounts.create_account(
            session, username=username, display_name=display_name, password=secrets.token_urlsafe(24),
            actor=ACTOR)
    province = demo.committee(*PROVINCE, parent=None)
    demo.grant("tochuc", province, "organizer")
    demo.grant("xemtinh", province, "viewer")
    _old_term(demo, province)
    _new_term(demo, province, ballots_pdf=ballots_pdf, paper_pdf=paper_pdf, base_url=base_url)


def _old_term(demo: Demo, province: Committee) -> None:
    """2020–2025: the districts and some of their communes, each with its mid-term round of 2023, published."""
    demo.seat(province, COMMITTEE_POSTS[:11])
    agency = demo.committee(AGENCY_OLD, DIRECT_LEVEL, province, key=AGENCY_NEW)
    demo.seat(agency, COMMITTEE_POSTS[:9])
    demo.round(agency, until="published", held_on=dt.date(2023, 3, 14), term=OLD_TERM, board=_board(), present=38)
    for number, (district_name, communes) in enumerate(OLD_DISTRICTS.items()):
        level = district_name.split(" ")[0] + " ủy"
        district = demo.committee(district_name, level, province)
        followed = demo.person(FOLLOWED, code=FOLLOWED_CODE) if district_name == "Huyện ủy Tân Phú" else None
        seated = demo.seat(district, COMMITTEE_POSTS[:11], [demo.person(), followed] if followed else [])
        # the district's secretary also sits on the provincial committee: rated at each, separately
        secretary = seated[0]
        secretary.code = f"CB-{district.id:04d}"
        committees.add_member(demo.session, committee=province, person=secretary, post="Ủy viên Ban Chấp hành",
                              actor=ACTOR)
        demo.round(district, until="published", held_on=dt.date(2023, 5, 10 + number), term=OLD_TERM,
                   board=_board(), present=demo.rng.randrange(40, 60))
        for index, commune_name in enumerate(communes):
            commune = demo.committee(commune_name, _level(commune_name), district, key=f"old:{commune_name}")
            # the followed person was also the Bí thư of the town before the merger
            demo.seat(commune, COMMITTEE_POSTS[:7], [followed] if followed and index == 0 else [])
            demo.round(commune, until="published", held_on=dt.date(2023, 4, 3 + index * 2), term=OLD_TERM,
                       board=_board(), present=demo.rng.randrange(28, 45))


def _new_term(demo: Demo, province: Committee, *, ballots_pdf, paper_pdf, base_url: str) -> None:
    """2025–2030: the communes formed on 1 July 2025 from the old ones, the agencies, chi bộ; the rounds of 2027."""
    session = demo.session
    agency = demo.named[AGENCY_NEW]
    committees.update_committee(session, agency, name=AGENCY_NEW, level=DIRECT_LEVEL, parent=province,
                                on=AGENCY_RENAMED, actor=ACTOR)
    for name in DIRECT[1:]:
        demo.seat(demo.committee(name, DIRECT_LEVEL, province), COMMITTEE_POSTS[:9])
    names = _commune_names(demo.rng)
    for name in names:
        commune = demo.committee(name, _level(name), province, formed_on=COMMUNES_FORMED)
        sources = [demo.named[f"old:{old}"] for old in FORMED_FROM.get(name, ())]
        carried = [seat.person for source in sources for seat in source.memberships[:2]]
        if name == PUBLISHED_COMMUNE:
            carried = [session.scalar(select(Person).where(Person.code == FOLLOWED_CODE))] + [
                p for p in carried if p.code != FOLLOWED_CODE]
        demo.seat(commune, COMMITTEE_POSTS[:demo.rng.choice((9, 11, 11, 13))], carried[:4])
        if sources:
            committees.record_formation(session, commune, sources=sources, on=COMMUNES_FORMED, actor=ACTOR)
    for district_name in OLD_DISTRICTS:
        committees.close_committee(session, demo.named[district_name], on=DISTRICTS_END, actor=ACTOR)
    _cells(demo)
    _walkthrough(demo, ballots_pdf=ballots_pdf, paper_pdf=paper_pdf, base_url=base_url)
    _campaign(demo, province)


def _commune_names(rng: random.Random) -> list[str]:
    """The new communes: those formed from the demo's old ones, then names made of two syllables, some wards."""
    names = list(FORMED_FROM)
    taken = {name.split(" ", 3)[3] for name in names}
    pairs = [(a, b) for a in FIRST for b in SECOND if a != b]
    rng.shuffle(pairs)
    while len(names) < COMMUNES - 1:
        place = " ".join(pairs.pop())
        if place not in taken:
            taken.add(place)
            kind = "phường" if len(names) % 6 == 1 and sum("phường" in n for n in names) < WARDS else "xã"
            names.append(f"Đảng ủy {kind} {place}")
    return names + [SPECIAL]


def _cells(demo: Demo) -> None:
    """Chi bộ under some communes, and a large ward's đảng bộ bộ phận with chi bộ of its own."""
    for commune_name in ("Đảng ủy xã Tân Phú", "Đảng ủy xã Kim Sơn", "Đảng ủy xã Lai Thành", "Đảng ủy xã Tân Hòa"):
        commune = demo.named[commune_name]
        for cell in ("Chi bộ thôn Đông", "Chi bộ thôn Trung", "Chi bộ thôn Đoài", "Chi bộ Trường Tiểu học"):
            demo.seat(demo.committee(cell, "Chi bộ", commune, key=f"{commune_name}/{cell}"), CELL_POSTS)
    ward = demo.named["Đảng ủy phường Lâm Giang"]
    for part in ("Đảng bộ bộ phận khu phố 1", "Đảng bộ bộ phận khu phố 2"):
        branch = demo.committee(part, "Đảng bộ bộ phận", ward, key=part)
        demo.seat(branch, ["Bí thư", "Phó Bí thư", "Ủy viên"])
        for cell in ("Chi bộ tổ dân phố 1", "Chi bộ tổ dân phố 2", "Chi bộ tổ dân phố 3"):
            demo.seat(demo.committee(cell, "Chi bộ", branch, key=f"{part}/{cell}"), CELL_POSTS)


def _board() -> tuple[str, str]:
    return (BOARD[0][0], BOARD[1][0])


def _walkthrough(demo: Demo, *, ballots_pdf, paper_pdf, base_url: str) -> None:
    """The README's four rounds, on the tellers kiemphieu1..3; xemxa reads Tân Phú's, xemtinh the province's."""
    named = demo.named
    for commune_name in (CONFERENCE_COMMUNE, PUBLISHED_COMMUNE):
        demo.grant("xemxa", named[commune_name], "viewer")
    demo.grant("xemhuyen", named["Huyện ủy Tân Phú"], "viewer")
    demo.round(named[CONFERENCE_COMMUNE], until="draft", held_on=dt.date(2027, 11, 26), term=NEW_TERM,
               board=("kiemphieu1", "kiemphieu2"), present=42)
    if ballots_pdf is not None:
        round_, secrets = demo.round(named[READY_COMMUNE], until="issued", held_on=dt.date(2027, 11, 25),
                                     term=NEW_TERM, board=("kiemphieu2", "kiemphieu3"), present=30)
        printing.print_ballots(printing.sheet_of(round_), secrets, ballots_pdf, base_url=base_url)
    if paper_pdf is not None:
        # 20 ballots issued, 14 cast on tablets, voting closed and the box opened: the 6 sheets left are printed
        # as the paper ballots the board keys in (kiemphieu1 and kiemphieu3)
        round_, secrets = demo.round(named[COUNTING_COMMUNE], until="closed", held_on=dt.date(2027, 11, 24),
                                     term=NEW_TERM, board=("kiemphieu1", "kiemphieu3"), present=20, cast=14,
                                     low=0.3)
        paper = paper_sheets(len(round_.candidates))
        expected = expected_count(round_, demo.cast_marks[round_.id], paper)
        printing.print_ballots(printing.sheet_of(round_), secrets[14:], paper_pdf, base_url=base_url,
                               front=lambda canvas: draw_answer(canvas, round_, paper, expected),
                               overlay=lambda canvas, layout, index: draw_pen(canvas, layout, paper[index]))
    demo.round(named[PUBLISHED_COMMUNE], until="published", held_on=dt.date(2027, 10, 15), term=NEW_TERM,
               board=("kiemphieu1", "kiemphieu2"), present=48, low=0.12)


# --- the paper ballots of the walkthrough, marked as delegates would ------------------------------------------

@dataclass(frozen=True)
class PaperSheet:
    """A demo paper sheet as a delegate marked it: a digit a row (1 high, 2 trust, 3 low, 0 none, 4 several
    boxes) and the rows whose printed name is crossed out."""

    marks: str
    crossed_out: tuple[int, ...] = ()

    @property
    def sheet(self) -> Sheet:
        return Sheet(self.marks.encode().translate(bytes.maketrans(b"01234", bytes(range(5)))),
                     frozenset({CROSSED_OUT}) if self.crossed_out else frozenset())


def paper_sheets(candidates: int) -> list[PaperSheet]:
    """Six sheets for the tellers to key in: four valid ones, one with a row ticked in two boxes, one with a
    printed name crossed out (both invalid under QĐ 96), so that every kind of entry is tried once."""
    rng = random.Random(2027)
    def valid() -> str:
        return "".join(rng.choice("1112223") for _ in range(candidates))
    sheets = [PaperSheet(valid()) for _ in range(4)]
    several = valid()
    sheets.append(PaperSheet(several[:1] + "4" + several[2:]))
    sheets.append(PaperSheet(valid(), crossed_out=(candidates,)))
    return sheets


def expected_count(round_: Round, tablet: list[bytes], paper: list[PaperSheet]) -> tally.Tally:
    """What the count must show once the six sheets are keyed in: the tablets' ballots and the paper sheets,
    counted by the domain's own tally under the round's rule set."""
    return tally.tally([Sheet(marks) for marks in tablet] + [p.sheet for p in paper],
                       candidates=len(round_.candidates), rule_set=rules.rule_set_of(round_),
                       convened=round_.convened, present=round_.present, issued=len(tablet) + len(paper))


PEN = (0.08, 0.2, 0.62)  # a blue ballpoint


def draw_pen(canvas: Canvas, layout: SheetLayout, paper: PaperSheet) -> None:
    """A delegate's pen on the printed sheet: a cross in each chosen box (two boxes for a "4"), a line through
    a crossed-out name."""
    canvas.saveState()
    canvas.setStrokeColorRGB(*PEN)
    canvas.setLineWidth(1.4)
    canvas.setLineCap(1)
    for row, digit in zip(layout.rows, paper.marks):
        for box in ({"1": (0,), "2": (1,), "3": (2,), "4": (0, 2)}.get(digit, ())):
            rect = row.boxes[box]
            inset_x, inset_y = rect.width * 0.3, rect.height * 0.22
            canvas.line(rect.x + inset_x, rect.y + inset_y, rect.right - inset_x, rect.top - inset_y)
            canvas.line(rect.x + inset_x, rect.top - inset_y, rect.right - inset_x, rect.y + inset_y)
        if row.position in paper.crossed_out:
            middle = row.name.centre[1]
            canvas.line(row.name.x + 2 * mm, middle, row.name.right - 2 * mm, middle + 0.6 * mm)
    canvas.restoreState()


def draw_answer(canvas: Canvas, round_: Round, paper: list[PaperSheet], expected: tally.Tally) -> None:
    """A page before the sheets, for whoever tries the demo: what each sheet holds as the tellers key it, and
    the result the count must then show (not a ballot: it has no QR code)."""
    canvas.setPageSize(A4)
    width, height = A4
    y = height - 20 * mm

    def line(text: str, size: float = 10, style: str = "regular", x: float = 20 * mm) -> None:
        nonlocal y
        canvas.setFont(font(style), size)
        canvas.drawString(x, y, text)
        y -= size * 1.45

    line("BẢN DEMO — TRANG HƯỚNG DẪN, KHÔNG PHẢI PHIẾU", 13, "bold")
    line(f"{round_.conference.committee.name} · {round_.title}", 10)
    line(f"{len(paper)} phiếu giấy sau trang này, đã đánh dấu sẵn; {expected.issued - len(paper)} phiếu khác đã bỏ "
         "trên máy tính bảng.", 10)
    line("Hai thành viên Ban kiểm phiếu (kiemphieu1 và kiemphieu3) nhập từng phiếu, mỗi dòng một chữ số:", 10)
    line("1 tín nhiệm cao · 2 tín nhiệm · 3 tín nhiệm thấp · 0 không đánh dấu · 4 đánh dấu nhiều ô", 10, "semibold")
    y -= 4
    for number, sheet in enumerate(paper, start=1):
        note = ""
        if "4" in sheet.marks:
            note = f" — dòng {sheet.marks.index('4') + 1} đánh dấu hai ô: phiếu không hợp lệ"
        if sheet.crossed_out:
            note = f" — tên ở dòng {sheet.crossed_out[0]} bị gạch: đánh dấu “gạch tên”, phiếu không hợp lệ"
        line(f"Phiếu {number}: {sheet.marks}{note}", 10, x=24 * mm)
    y -= 6
    line("Kết quả phải thấy sau khi kiểm phiếu", 12, "bold")
    line(f"Phát ra {expected.issued} · thu về {expected.collected} · hợp lệ {expected.valid} · "
         f"không hợp lệ {expected.invalid} (tỷ lệ tính trên {expected.base} phiếu thu về)", 10)
    columns = (24 * mm, 34 * mm, 112 * mm, 137 * mm, 162 * mm)
    canvas.setFont(font("semibold"), 9)
    for x, text in zip(columns, ("STT", "Họ và tên", "Tín nhiệm cao", "Tín nhiệm", "Tín nhiệm thấp")):
        canvas.drawString(x, y, text)
    y -= 9 * 1.5
    for candidate, count in zip(round_.candidates, expected.candidates):
        if y < 20 * mm:
            canvas.showPage()
            y = height - 20 * mm
        canvas.setFont(font("regular"), 9)
        for x, text in zip(columns, (str(candidate.position), candidate.name, str(count.high),
                                     str(count.trust), str(count.low))):
            canvas.drawString(x, y, text)
        y -= 9 * 1.45
    canvas.showPage()


# how far the other communes' rounds have come, as a share of them: most published, every state present
CAMPAIGN = (("published", 0.45), ("sealed", 0.04), ("counted", 0.03), ("closed", 0.04), ("open", 0.09),
            ("issued", 0.07), ("draft", 0.12))


def _campaign(demo: Demo, province: Committee) -> None:
    """The mid-term rounds of 2027 across the province; a tenth of the communes have not started. Chi bộ of two
    communes hold theirs too: one published to its commune only, one to every upper level."""
    walkthrough = {CONFERENCE_COMMUNE, READY_COMMUNE, COUNTING_COMMUNE, PUBLISHED_COMMUNE}
    others = [c for c in province.children if c.closed_on is None and c.name not in walkthrough]
    demo.rng.shuffle(others)
    start = 0
    for state, share in CAMPAIGN:
        count = round(share * len(others))
        for offset, committee in enumerate(others[start:start + count]):
            held_on = dt.date(2027, 9, 6) + dt.timedelta(days=(start + offset) * 80 // len(others))
            present = demo.rng.randrange(30, 56)
            demo.round(committee, until=state, held_on=held_on, term=NEW_TERM, board=_board(), present=present,
                       cast=present * demo.rng.randrange(55, 95) // 100 if state == "open" else None,
                       low=demo.rng.choice((0.04, 0.06, 0.08, 0.1, 0.15)))
        start += count
    for commune_name, audience in (("Đảng ủy xã Kim Sơn", ["committee", "upper"]),
                                   ("Đảng ủy xã Lai Thành", ["committee", "upper", "above"])):
        for number, cell in enumerate(("Chi bộ thôn Đông", "Chi bộ thôn Trung", "Chi bộ thôn Đoài")):
            demo.round(demo.named[f"{commune_name}/{cell}"], until="published", held_on=dt.date(2027, 8, 20 + number),
                       term=NEW_TERM, board=_board(), present=demo.rng.randrange(15, 28), audience=audience,
                       title="Lấy phiếu tín nhiệm đối với Chi ủy", low=0.1)

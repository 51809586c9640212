"""The demo province that `make run` loads into an empty database: a fictional province, realistic shape.

Three levels below the province (districts, communes, Party cells), Vietnamese names and posts, district
secretaries who also sit on the provincial committee, a conference with a round in draft, another whose ballots
are issued and printed (ready to vote), a third whose tablet voting is over and whose paper ballots wait to be
counted (printed too, so a newcomer can key them in), a fourth whose result is counted, sealed and published
(what the viewers and the district's dashboard show), and an account of each role.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import accounts, casting, committees, counting, issuing, printing, publication, rounds, sealing, tokens
from .models import Committee

ACTOR = "demo"
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thanh", "Hữu", "Quang", "Ngọc", "Thu", "Xuân", "Công", "Thế"]
GIVEN = ["Hùng", "Lan", "Hương", "Dũng", "Tuấn", "Hà", "Nga", "Thắng", "Sơn", "Hải", "Phương", "Cường", "Yến",
         "Khánh", "Long", "Mai", "Quý", "Thảo", "Bình", "Huệ", "Việt", "Trường", "Ánh", "Đạt"]

PROVINCE = ("Tỉnh ủy Sơn Lâm", "Tỉnh ủy")
DISTRICTS = {
    "Huyện ủy Tân Phú": ["Đảng ủy xã Tân Hòa", "Đảng ủy xã Phú Lộc", "Đảng ủy thị trấn Tân Phú", "Đảng ủy xã Thạch Bàn"],
    "Huyện ủy Kim Sơn": ["Đảng ủy xã Kim Đông", "Đảng ủy xã Yên Mật", "Đảng ủy xã Lai Thành"],
    "Thành ủy Lâm Giang": ["Đảng ủy phường Bến Thủy", "Đảng ủy phường Hưng Bình", "Đảng ủy xã Nghi Phú"],
}
CELLS = ["Chi bộ thôn Đông", "Chi bộ thôn Trung", "Chi bộ thôn Đoài", "Chi bộ Trường Tiểu học"]
CONFERENCE_COMMUNE = "Đảng ủy xã Tân Hòa"
TERM = "2020-2025"

COMMITTEE_POSTS = ["Bí thư", "Phó Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Thường vụ",
                   "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành", "Ủy viên Ban Chấp hành"]
CELL_POSTS = ["Bí thư chi bộ", "Phó Bí thư chi bộ", "Chi ủy viên"]


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
    Login("viewer", "xemxa", "xemxa-demo-2025", "Đảng ủy xã Tân Hòa"),
    Login("viewer", "xemhuyen", "xemhuyen-demo-2025", "Huyện ủy Tân Phú"),
]


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Committee)))


READY_COMMUNE = "Đảng ủy xã Phú Lộc"
COUNTING_COMMUNE = "Đảng ủy xã Thạch Bàn"
PUBLISHED_COMMUNE = "Đảng ủy thị trấn Tân Phú"


def load(
    session: Session, *, ballots_pdf: BinaryIO | None = None, paper_pdf: BinaryIO | None = None,
    signing_key=None, base_url: str = "http://127.0.0.1:5000",
) -> None:
    """Create the demo province. With `ballots_pdf`, also a round ready to vote whose ballots are printed there;
    with `paper_pdf`, a round closed after tablet voting whose unused sheets, printed there, play the paper ballots;
    with `signing_key` (the instance's), a round whose result is sealed with it and published.

    Flushes, never commits.
    """
    names = _names()
    province = committees.create_committee(session, name=PROVINCE[0], level=PROVINCE[1], parent=None, actor=ACTOR)
    _seat_members(session, province, COMMITTEE_POSTS + ["Ủy viên Ban Chấp hành"] * 3, names)
    by_name = {}
    for district_name, communes in DISTRICTS.items():
        level = "Thành ủy" if district_name.startswith("Thành ủy") else "Huyện ủy"
        district = committees.create_committee(session, name=district_name, level=level, parent=province, actor=ACTOR)
        _seat_members(session, district, COMMITTEE_POSTS, names)
        # the district's secretary also sits on the provincial committee: rated at each, separately
        secretary = district.memberships[0].person
        secretary.code = f"CB-{district.id:04d}"
        committees.add_member(session, committee=province, person=secretary, post="Ủy viên Ban Chấp hành",
                              actor=ACTOR)
        for commune_name in communes:
            level = "Đảng ủy phường" if "phường" in commune_name else (
                "Đảng ủy thị trấn" if "thị trấn" in commune_name else "Đảng ủy xã")
            commune = committees.create_committee(session, name=commune_name, level=level, parent=district,
                                                  actor=ACTOR)
            _seat_members(session, commune, COMMITTEE_POSTS[:7], names)
            by_name[commune_name] = commune
    for commune_name in ("Đảng ủy xã Tân Hòa", "Đảng ủy xã Phú Lộc", "Đảng ủy xã Kim Đông", "Đảng ủy phường Bến Thủy"):
        for cell_name in CELLS:
            cell = committees.create_committee(session, name=cell_name, level="Chi bộ", parent=by_name[commune_name],
                                               actor=ACTOR)
            _seat_members(session, cell, CELL_POSTS, names)

    commune = by_name[CONFERENCE_COMMUNE]
    made = {}
    for login in LOGINS:
        made[login.username] = accounts.create_account(
            session, username=login.username, display_name=login.display_name, password=login.password,
            is_admin=login.role == "administrator", actor=ACTOR)
    accounts.grant_role(session, account=made["tochuc"], committee=province, role="organizer", actor=ACTOR)
    for teller in ("kiemphieu1", "kiemphieu2", "kiemphieu3"):
        accounts.grant_role(session, account=made[teller], committee=commune, role="teller", actor=ACTOR)
    accounts.grant_role(session, account=made["xemxa"], committee=commune, role="viewer", actor=ACTOR)
    accounts.grant_role(session, account=made["xemhuyen"], committee=commune.parent, role="viewer", actor=ACTOR)

    conference = rounds.create_conference(
        session, committee=commune, name="Hội nghị sơ kết giữa nhiệm kỳ 2020-2025",
        held_on=dt.date(2026, 12, 5), place="Hội trường Ủy ban nhân dân xã Tân Hòa", term=TERM, actor=ACTOR)
    round_ = rounds.create_round(
        session, conference=conference, title="Lấy phiếu tín nhiệm đối với Ban Chấp hành Đảng bộ xã",
        rule_set="qd96-2023", convened=45, present=42, actor=ACTOR)
    rounds.set_board(session, round_, [made["kiemphieu1"].id, made["kiemphieu2"].id], actor=ACTOR)
    if ballots_pdf is not None:
        _ready_to_vote(session, by_name[READY_COMMUNE], made, ballots_pdf, base_url)
    if paper_pdf is not None:
        _ready_to_count(session, by_name[COUNTING_COMMUNE], made, paper_pdf, base_url)
    if signing_key is not None:
        _published(session, by_name[PUBLISHED_COMMUNE], made, signing_key)


def _round_with_board(session, commune: Committee, tellers: list, *, held_on: dt.date, unit: str, convened: int,
                      present: int, spares: int = 0):
    """A conference of the commune and its round (every member a candidate), with `tellers` on its board."""
    for teller in tellers:
        accounts.grant_role(session, account=teller, committee=commune, role="teller", actor=ACTOR)
    conference = rounds.create_conference(
        session, committee=commune, name="Hội nghị sơ kết giữa nhiệm kỳ 2020-2025", held_on=held_on,
        place=f"Hội trường {commune.name}", term=TERM, actor=ACTOR)
    round_ = rounds.create_round(
        session, conference=conference, title=f"Lấy phiếu tín nhiệm đối với Ban Chấp hành Đảng bộ {unit}",
        rule_set="qd96-2023", actor=ACTOR)
    rounds.set_numbers(session, round_, convened=convened, present=present, spares=spares, actor=ACTOR)
    rounds.set_board(session, round_, [t.id for t in tellers], actor=ACTOR)
    return round_


def _cast_on_tablets(session, round_, secrets: list[bytes], *, seed: int, last_row: tuple[int, ...]) -> None:
    """Cast the ballots as tablets would: mostly high trust and trust; the last candidate's mark drawn from
    `last_row`, so that a threshold shows in the count."""
    rng = random.Random(seed)
    candidates = len(round_.candidates)
    for number, secret in enumerate(secrets):
        marks = bytes(rng.choice((1, 1, 1, 2, 2, 3)) for _ in range(candidates - 1)) + bytes([rng.choice(last_row)])
        casting.cast_ballot(session, code=tokens.code_of(secret), marks=marks,
                            submission=f"demo-round-{round_.id}-{number:04d}")


def _ready_to_vote(session, commune: Committee, made: dict, out: BinaryIO, base_url: str) -> None:
    """A second commune whose round has its ballots issued and printed: a newcomer can vote at once."""
    round_ = _round_with_board(session, commune, [made["kiemphieu2"], made["kiemphieu3"]],
                               held_on=dt.date(2026, 12, 6), unit="xã", convened=32, present=30, spares=2)
    issued = issuing.issue_ballots(session, round_, count=round_.present, actor="kiemphieu2")
    printing.print_ballots(printing.sheet_of(round_), issued.secrets, out, base_url=base_url)


def _ready_to_count(session, commune: Committee, made: dict, out: BinaryIO, base_url: str) -> None:
    """A third commune: 20 ballots issued, 14 cast on tablets, voting closed. The 6 sheets left are printed as
    the paper ballots the board keys in (by kiemphieu1 and kiemphieu3)."""
    round_ = _round_with_board(session, commune, [made["kiemphieu1"], made["kiemphieu3"]],
                               held_on=dt.date(2026, 12, 4), unit="xã", convened=22, present=20)
    secrets = issuing.issue_ballots(session, round_, count=20, actor="kiemphieu1").secrets
    casting.open_voting(session, round_, actor=ACTOR)
    _cast_on_tablets(session, round_, secrets[:14], seed=2026, last_row=(1, 3, 3))
    casting.close_voting(session, round_, actor=ACTOR)
    printing.print_ballots(printing.sheet_of(round_), secrets[14:], out, base_url=base_url)


def _published(session, commune: Committee, made: dict, key) -> None:
    """A fourth commune: 28 ballots cast on tablets, counted, approved by two tellers, sealed and published."""
    tellers = [made["kiemphieu1"], made["kiemphieu2"]]
    accounts.grant_role(session, account=made["xemxa"], committee=commune, role="viewer", actor=ACTOR)
    round_ = _round_with_board(session, commune, tellers, held_on=dt.date(2026, 12, 3), unit="thị trấn",
                               convened=30, present=28)
    secrets = issuing.issue_ballots(session, round_, count=28, actor="kiemphieu1").secrets
    casting.open_voting(session, round_, actor=ACTOR)
    _cast_on_tablets(session, round_, secrets, seed=2027, last_row=(1, 2, 3, 3, 3, 3))
    casting.close_voting(session, round_, actor=ACTOR)
    counting.count_round(session, round_, account=tellers[0])
    for teller in tellers:
        sealing.approve(session, round_, account=teller, key=key)
    publication.publish(session, round_, account=tellers[0])


def _names():
    rng = random.Random(2025)  # the same province every time
    used = set()
    while True:
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        if name not in used:
            used.add(name)
            yield name


def _seat_members(session: Session, committee: Committee, posts: list[str], names) -> None:
    for post in posts:
        person = committees.create_person(session, full_name=next(names))
        committees.add_member(session, committee=committee, person=person, post=post, actor=ACTOR)

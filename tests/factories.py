"""Factories that build small, named worlds through the domain functions (so the audit log is real too)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ballots import accounts, committees, rounds
from ballots.models import Account, Committee, Conference, Person

PASSWORD = "mật-khẩu-thử-nghiệm"


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
    world.conference = rounds.create_conference(
        session, committee=commune, name="Hội nghị sơ kết giữa nhiệm kỳ", held_on=dt.date(2026, 12, 5),
        place="Hội trường xã", term="2020-2025", actor="test")
    return world


def sealed_round(session, world: World, key, *, audience=None, publisher=None, title="Lấy phiếu tín nhiệm BCH",
                 publish=False):
    """A round of the world's commune, counted and sealed with `key`: 3 tablet ballots, one paper sheet keyed by
    both tellers; 17 low of 33 is not needed here, so the low counts are 2 of 4 for candidate 3 (exactly half:
    2*2 = 4 is not more than 4) and 3 of 4 for candidate 4 (3*3 = 9 > 8: more than two thirds)."""
    from ballots import casting, counting, issuing, publication, tokens

    round_ = rounds.create_round(session, conference=world.conference, title=title, convened=10, present=10,
                                 actor="test")
    if audience is not None or publisher is not None:
        rounds.override_settings(session, round_, actor="test", **{k: v for k, v in (
            ("audience", audience), ("publisher", publisher)) if v is not None})
    tellers = [world.accounts["teller"], world.accounts["teller2"]]
    rounds.set_board(session, round_, [t.id for t in tellers], actor="test")
    codes = [tokens.code_of(s) for s in issuing.issue_ballots(session, round_, count=5, actor="teller").secrets]
    casting.open_voting(session, round_, actor="test")
    for index, marks in enumerate((b"\x01\x01\x03\x03", b"\x01\x02\x03\x03", b"\x02\x01\x01\x03")):
        casting.cast_ballot(session, code=codes[index], marks=marks, submission=f"submission-{round_.id}-{index:06d}")
    casting.close_voting(session, round_, actor="test")
    for teller in tellers:
        counting.enter_sheet(session, round_, teller=teller, code=codes[3], marks="1112")
    counting.count_round(session, round_, account=tellers[0])
    for teller in tellers:
        counting.approve(session, round_, account=teller, key=key)
    if publish:
        publication.publish(session, round_, account=tellers[0])
    session.commit()
    return round_

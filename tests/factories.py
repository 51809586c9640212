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

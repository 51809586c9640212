"""The committee tree, the people who sit on it, and the accounts that log in with their roles."""

from __future__ import annotations

import datetime as dt

from typing import NamedTuple

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class KnownAs(NamedTuple):
    """What a committee was on a day: its name, its level and its direct upper-level committee's name then."""

    name: str
    level: str
    parent: str | None


class Committee(Base):
    """A Party committee (cấp ủy). The tree has any depth; the level is a label, not code.

    Its name, level and place in the tree as they are now; what they were before a dated change is kept in
    `former` (ballots.committees.update_committee), so that a round keeps the name it was held under
    (`known_as(day)`). A committee may be formed from others (`sources`, the 2025 mergers) and closed when it no
    longer exists (`closed_on`): it then keeps its members, rounds and results as history.
    """

    __tablename__ = "committee"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(80))  # e.g. "Tỉnh ủy", "Đảng ủy xã", "Chi bộ"
    formed_on: Mapped[dt.date | None] = mapped_column(Date)  # None: not recorded
    closed_on: Mapped[dt.date | None] = mapped_column(Date)  # the last day it existed; None: it exists
    parent: Mapped[Committee | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Committee]] = relationship(back_populates="parent", order_by="Committee.name")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="committee", order_by="Membership.rank"
    )
    former: Mapped[list[CommitteeFormer]] = relationship(
        back_populates="committee", order_by="CommitteeFormer.until", cascade="all, delete-orphan",
        foreign_keys="CommitteeFormer.committee_id")
    sources: Mapped[list[Committee]] = relationship(
        secondary="committee_origin", primaryjoin="Committee.id == CommitteeOrigin.committee_id",
        secondaryjoin="Committee.id == CommitteeOrigin.source_id", order_by="Committee.name", viewonly=True)
    successors: Mapped[list[Committee]] = relationship(
        secondary="committee_origin", primaryjoin="Committee.id == CommitteeOrigin.source_id",
        secondaryjoin="Committee.id == CommitteeOrigin.committee_id", order_by="Committee.name", viewonly=True)
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_committee_sibling_name"),)

    @property
    def is_closed(self) -> bool:
        return self.closed_on is not None

    def known_as(self, day: dt.date) -> KnownAs:
        """The name, level and upper-level committee's name the committee bore on `day`: what a round held that
        day printed on its ballots and sealed in its result (a later rename or move changes neither)."""
        name, level, parent = self.name, self.level, self.parent
        for change in self.former:  # oldest first: the first change after `day` says what it was on `day`
            if day < change.until:
                name, level, parent = change.name, change.level, change.parent
                break
        return KnownAs(name, level, parent.known_as(day).name if parent is not None else None)

    def name_on(self, day: dt.date) -> str:
        return self.known_as(day).name


class CommitteeFormer(Base):
    """What a committee was called, its level and its direct upper-level committee until a day (`until`, the
    first day of what followed): kept by a dated rename or move, for the rounds held before it."""

    __tablename__ = "committee_former"
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(80))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id", ondelete="RESTRICT"))
    until: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(60))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    committee: Mapped[Committee] = relationship(back_populates="former", foreign_keys=[committee_id])
    parent: Mapped[Committee | None] = relationship(foreign_keys=[parent_id])
    __table_args__ = (UniqueConstraint("committee_id", "until", name="uq_committee_former_once_a_day"),)


class CommitteeOrigin(Base):
    """That a committee was formed from another: the 2025 mergers (a new commune from several old ones), a
    split (one old commune in several new ones)."""

    __tablename__ = "committee_origin"
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="RESTRICT"), primary_key=True,
                                           index=True)
    __table_args__ = (CheckConstraint("committee_id <> source_id", name="not_itself"),)


class Person(Base):
    """A person who may sit on several committees. `code` (optional, unique) matches them across roster rows."""

    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    memberships: Mapped[list[Membership]] = relationship(back_populates="person")


class Membership(Base):
    """A person sits on a committee with a post. `rank` orders the members as a ballot lists them."""

    __tablename__ = "membership"
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    post: Mapped[str] = mapped_column(String(120))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    committee: Mapped[Committee] = relationship(back_populates="memberships")
    person: Mapped[Person] = relationship(back_populates="memberships")
    __table_args__ = (UniqueConstraint("committee_id", "person_id", name="uq_membership_one_seat"),)


class Account(Base):
    """A login. Roles are granted per committee; `is_admin` manages accounts only, it sees no result."""

    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active_account: Mapped[bool] = mapped_column(default=True)
    # the person this account belongs to, if any: a teller must not be a candidate of the round
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    person: Mapped[Person | None] = relationship()
    grants: Mapped[list[Grant]] = relationship(back_populates="account", cascade="all, delete-orphan")


ROLES = ("organizer", "teller", "viewer")


class Grant(Base):
    """A role on a committee. An organizer's grant also covers the committees below it."""

    __tablename__ = "role_grant"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(12))
    account: Mapped[Account] = relationship(back_populates="grants")
    committee: Mapped[Committee] = relationship()
    __table_args__ = (
        CheckConstraint("role IN ('organizer','teller','viewer')", name="role"),
        UniqueConstraint("account_id", "committee_id", "role", name="uq_role_grant_once"),
    )


class LoginSession(Base):
    """A server-side login session: logging out deletes the row, so a copied cookie stops working."""

    __tablename__ = "login_session"
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    account: Mapped[Account] = relationship()


class LoginFailure(Base):
    """One log-in attempt that did not succeed, kept for slowing down guesses (ballots.accounts): written before
    the password is checked, deleted again if it was right. `device` is the browser's device cookie when it was
    one the account had logged in from before (its attempts count apart from its address's), else None."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    device: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class PasswordReset(Base):
    """A new password for a teller who sits on a counting board at work (between the opening of a round and its
    seal), set by one administrator and waiting for a second to confirm it (ballots.accounts)."""

    __tablename__ = "password_reset"
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(60))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    account: Mapped[Account] = relationship()

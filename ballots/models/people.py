"""The committee tree, the people who sit on it, and the accounts that log in with their roles."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class Committee(Base):
    """A Party committee (cấp ủy). The tree has any depth; the level is a label, not code."""

    __tablename__ = "committee"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("committee.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(80))  # e.g. "Tỉnh ủy", "Đảng ủy xã", "Chi bộ"
    parent: Mapped[Committee | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Committee]] = relationship(back_populates="parent", order_by="Committee.name")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="committee", order_by="Membership.rank"
    )
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_committee_sibling_name"),)


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
    """One failed log-in, kept for throttling guesses per username and per address."""

    __tablename__ = "login_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

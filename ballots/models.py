"""The tables. Typed SQLAlchemy 2 models; constraints named so that Alembic migrations stay stable."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


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


class Conference(Base):
    """A mid-term review conference (hội nghị sơ kết giữa nhiệm kỳ) of one committee."""

    __tablename__ = "conference"
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[dt.date] = mapped_column(Date)
    place: Mapped[str] = mapped_column(String(200), default="")
    # the term (nhiệm kỳ) the review belongs to: places per person are counted within one term
    term: Mapped[str] = mapped_column(String(20))
    committee: Mapped[Committee] = relationship()
    rounds: Mapped[list[Round]] = relationship(back_populates="conference", order_by="Round.id")


ROUND_STATES = ("draft", "issued", "open", "closed", "counted", "sealed", "published")


class Round(Base):
    """A round of trust voting on a list of candidates, counted under its rule set (copied in, overridable in draft)."""

    __tablename__ = "round"
    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10), default="draft")
    convened: Mapped[int] = mapped_column(Integer, default=0)
    present: Mapped[int] = mapped_column(Integer, default=0)
    # ballots that may be issued beyond the number present (spoiled sheets replaced), declared in advance
    spares: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # SHA-256 over the sorted hashes of every token issued for the round (tokens.commitment)
    commitment: Mapped[str | None] = mapped_column(String(64))
    rule_set: Mapped[str] = mapped_column(String(40))
    base: Mapped[str] = mapped_column(String(12))
    invalid_mark_policy: Mapped[str] = mapped_column(String(8))
    extra_writing_policy: Mapped[str] = mapped_column(String(8))
    consequences: Mapped[dict] = mapped_column(JSON)
    places_limit: Mapped[int | None] = mapped_column(Integer)
    audience: Mapped[list] = mapped_column(JSON)
    paper_entries: Mapped[int] = mapped_column(Integer)
    publisher: Mapped[str] = mapped_column(String(10), default="board", server_default="board")
    # approvals of board members that seal the count; None: more than half of the board
    approvals_required: Mapped[int | None] = mapped_column(Integer)
    # the board's written ruling on an anomaly of the count (more sheets collected than issued, ...)
    anomaly_ruling: Mapped[str | None] = mapped_column(Text)
    anomaly_ruled_by: Mapped[str | None] = mapped_column(String(120))
    conference: Mapped[Conference] = relationship(back_populates="rounds")
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="round", order_by="Candidate.position", cascade="all, delete-orphan"
    )
    board: Mapped[list[BoardMember]] = relationship(back_populates="round", cascade="all, delete-orphan")
    __table_args__ = (
        CheckConstraint(
            "state IN ('draft','issued','open','closed','counted','sealed','published')", name="state"
        ),
        CheckConstraint("present >= 0 AND convened >= 0 AND present <= convened AND spares >= 0", name="numbers"),
        CheckConstraint("paper_entries IN (2, 3)", name="paper_entries"),
    )

    @property
    def absent(self) -> int:
        return self.convened - self.present

    @property
    def approvals_needed(self) -> int:
        """How many board members must approve the count before it is sealed."""
        return self.approvals_required or len(self.board) // 2 + 1

    @property
    def is_draft(self) -> bool:
        return self.state == "draft"

    @property
    def has_quorum(self) -> bool:
        """At least two thirds of those convened are present (3*present >= 2*convened), exactly."""
        return self.convened > 0 and 3 * self.present >= 2 * self.convened


class Candidate(Base):
    """A person rated in a round, with the post printed on the ballot, in ballot order."""

    __tablename__ = "candidate"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    post: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer)
    round: Mapped[Round] = relationship(back_populates="candidates")
    person: Mapped[Person] = relationship()
    __table_args__ = (
        UniqueConstraint("round_id", "person_id", name="uq_candidate_once"),
        UniqueConstraint("round_id", "position", name="uq_candidate_position"),
    )


class BoardMember(Base):
    """A teller's account on the counting board (ban kiểm phiếu) of a round."""

    __tablename__ = "board_member"
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), primary_key=True)
    round: Mapped[Round] = relationship(back_populates="board")
    account: Mapped[Account] = relationship()


TOKEN_STATES = ("issued", "cast", "void")


class Token(Base):
    """The right to cast one ballot. Only the hash of the secret is stored; the secret exists only on paper."""

    __tablename__ = "token"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("issue_batch.id", ondelete="RESTRICT"), index=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    state: Mapped[str] = mapped_column(String(8), default="issued")
    void_reason: Mapped[str | None] = mapped_column(String(200))
    # the hash of the random id of the tablet's submission that spent it: a retry of that same submission is
    # told "already recorded" without touching the ballot table, which holds no link to any token
    submission_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # deliberately no time of any kind: with the ballot table it would date each ballot
    __table_args__ = (CheckConstraint("state IN ('issued','cast','void')", name="state"),)


class Ballot(Base):
    """One anonymous ballot: a random id, its round, its marks. No token, no time, no tablet, no order.

    `marks` has one byte per candidate in ballot order: 0 none, 1 high trust, 2 trust, 3 low trust,
    4 several boxes ticked (paper only). On SQLite the table has no rowid, so rows are stored in the order of
    their random ids, not of their casting; on PostgreSQL closing the round rewrites the table in that order.
    """

    __tablename__ = "ballot"
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    marks: Mapped[bytes] = mapped_column(LargeBinary(200))
    __table_args__ = ({"sqlite_with_rowid": False},)


class KioskFailure(Base):
    """A code that matched no ballot, kept to throttle guessing per tablet session and per address."""

    __tablename__ = "kiosk_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    tablet: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class IssueBatch(Base):
    """One issue of ballots: how many, on which paper, the digest of its tokens, who issued them."""

    __tablename__ = "issue_batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    paper: Mapped[str] = mapped_column(String(4))
    commitment: Mapped[str] = mapped_column(String(64))
    issued_by: Mapped[str] = mapped_column(String(60))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (CheckConstraint("count > 0", name="count"),)


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log. A trigger refuses UPDATE and DELETE.

    `at` is left empty for events about ballots, so that no entry dates a ballot finer than the round's state.
    """

    __tablename__ = "audit_entry"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(120))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's head in one row: appends lock it (serialising writers) and a truncated tail shows against it."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class PaperEntry(Base):
    """One teller's reading of one paper sheet. A sheet counts only when the entries of enough tellers agree.

    `sheet` names the sheet within the round: "t<token id>" for a ballot of this round; "x<hash>" for a code
    that is not one of this round's ballots (unknown or of another round); "n<k>" for a teller's k-th sheet
    without a readable code. The token's secret is never stored, only what the board needs to match entries.
    Paper sheets are linked to their tokens here by design (the sheet itself carries the QR); tablet ballots
    never appear in this table.
    """

    __tablename__ = "paper_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    sheet: Mapped[str] = mapped_column(String(40))
    teller_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    marks: Mapped[bytes] = mapped_column(LargeBinary(200))
    flaws: Mapped[str] = mapped_column(String(60), default="")  # sorted, comma-joined (tally reasons)
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    teller: Mapped[Account] = relationship()
    __table_args__ = (UniqueConstraint("round_id", "sheet", "teller_id", name="uq_paper_entry_once"),)


class SetAside(Base):
    """A sheet set aside at paper entry as a duplicate, counted nowhere: its code was already used on a tablet,
    or the same teller had already entered a sheet with that code (a copy)."""

    __tablename__ = "set_aside"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    sheet: Mapped[str] = mapped_column(String(40))
    teller_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(String(8))
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    teller: Mapped[Account] = relationship()
    __table_args__ = (CheckConstraint("reason IN ('tablet','again')", name="reason"),)


class SheetRuling(Base):
    """The board's decision on a paper sheet whose entries disagreed (or were too few): what it counts as."""

    __tablename__ = "sheet_ruling"
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), primary_key=True)
    sheet: Mapped[str] = mapped_column(String(40), primary_key=True)
    marks: Mapped[bytes] = mapped_column(LargeBinary(200))
    flaws: Mapped[str] = mapped_column(String(60), default="")
    ruled_by: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    ruled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ruler: Mapped[Account] = relationship()


class Approval(Base):
    """A board member's approval of the count, given in their own session."""

    __tablename__ = "approval"
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), primary_key=True)
    approved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    account: Mapped[Account] = relationship()


class Result(Base):
    """The sealed result of a round: its canonical JSON document (trustvote.result/1) and Ed25519 signature."""

    __tablename__ = "result"
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes signed
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the document: the result's fingerprint
    signature: Mapped[str] = mapped_column(String(100))
    public_key: Mapped[str] = mapped_column(String(64))
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ResultSummary(Base):
    """What the upper-level dashboard shows of a sealed result, taken from its document at the seal: a dashboard
    of thousands of committees reads these few integers instead of parsing thousands of documents."""

    __tablename__ = "result_summary"
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), primary_key=True)
    issued: Mapped[int] = mapped_column(Integer)
    collected: Mapped[int] = mapped_column(Integer)
    convened: Mapped[int] = mapped_column(Integer)
    present: Mapped[int] = mapped_column(Integer)
    more_than_half: Mapped[int] = mapped_column(Integer)  # candidates past each threshold
    two_thirds_or_more: Mapped[int] = mapped_column(Integer)
    more_than_two_thirds: Mapped[int] = mapped_column(Integer)


class Publication(Base):
    """A sealed result published to its round's audience: by whom, and when."""

    __tablename__ = "publication"
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), primary_key=True)
    published_by: Mapped[str] = mapped_column(String(60))
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrustedKey(Base):
    """The public key of another TrustVote instance (a conference's laptop), registered by an administrator:
    signed results it exports for committees within `committee_id`'s subtree may be imported here."""

    __tablename__ = "trusted_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)  # hex of the raw Ed25519 key
    label: Mapped[str] = mapped_column(String(200))
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="RESTRICT"))
    registered_by: Mapped[str] = mapped_column(String(60))
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    committee: Mapped[Committee] = relationship()


class ImportedResult(Base):
    """A published result carried up the tree from another instance, verified on import, shown like a local one."""

    __tablename__ = "imported_result"
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committee.id", ondelete="RESTRICT"), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("trusted_key.id", ondelete="RESTRICT"))
    document: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly the bytes signed
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    audience: Mapped[list] = mapped_column(JSON)  # from the signed document's rule set
    published_at: Mapped[str] = mapped_column(String(20))  # as the exporting instance signed it
    issued: Mapped[int] = mapped_column(Integer)
    collected: Mapped[int] = mapped_column(Integer)
    convened: Mapped[int] = mapped_column(Integer)
    present: Mapped[int] = mapped_column(Integer)
    more_than_half: Mapped[int] = mapped_column(Integer)
    two_thirds_or_more: Mapped[int] = mapped_column(Integer)
    more_than_two_thirds: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(String(60))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    committee: Mapped[Committee] = relationship()
    key: Mapped[TrustedKey] = relationship()

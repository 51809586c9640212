"""Conferences and their rounds: candidates, counting boards, the one-time tokens and the anonymous ballots."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..lifecycle import RoundState, TokenState
from .base import Base, one_of, utcnow

if TYPE_CHECKING:  # relationships name these; SQLAlchemy resolves them through its registry
    from .people import Account, Committee, Person


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
    # tellers confirming a scanned sheet besides the scanner; the scanned images at the seal (rules.RuleSet)
    machine_entries: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    scan_retention: Mapped[str] = mapped_column(String(8), default="delete", server_default="delete")
    # approvals of board members that seal the count; None: more than half of the board
    approvals_required: Mapped[int | None] = mapped_column(Integer)
    # the board's written ruling on an anomaly of the count (more sheets collected than issued, ...)
    anomaly_ruling: Mapped[str | None] = mapped_column(Text)
    anomaly_ruled_by: Mapped[str | None] = mapped_column(String(120))
    # what the kiosk tells a delegate to do with the paper sheet after voting on a tablet, the board's practice
    # (ballots.venue.PAPER_PRACTICES): a sheet put in the box after a tablet vote is a duplicate at the count
    paper_after_tablet: Mapped[str] = mapped_column(String(8), default="board", server_default="board")
    # when a tablet first opened the QR of the venue's printer test page (ballots.venue.printer_checked): the
    # printer prints QR codes a tablet reads, at the address the ballots will hold
    printer_checked_at: Mapped[dt.datetime | None]
    conference: Mapped[Conference] = relationship(back_populates="rounds")
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="round", order_by="Candidate.position", cascade="all, delete-orphan"
    )
    board: Mapped[list[BoardMember]] = relationship(back_populates="round", cascade="all, delete-orphan")
    __table_args__ = (
        CheckConstraint(one_of(RoundState), name="state"),
        CheckConstraint("present >= 0 AND convened >= 0 AND present <= convened AND spares >= 0", name="numbers"),
        CheckConstraint("paper_entries IN (2, 3)", name="paper_entries"),
        CheckConstraint("machine_entries IN (1, 2)", name="machine_entries"),
        CheckConstraint("scan_retention IN ('delete','archive')", name="scan_retention"),
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
        return self.state == RoundState.DRAFT

    @property
    def has_quorum(self) -> bool:
        """Whether the numbers convened and present make a quorum (the rule: accounting.has_quorum)."""
        from ..accounting import has_quorum  # accounting queries these models: imported when asked, not at load

        return has_quorum(self.convened, self.present)


class Candidate(Base):
    """A person rated in a round, with the post printed on the ballot, in ballot order."""

    __tablename__ = "candidate"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    post: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer)
    # the name as printed on the ballots, fixed when they are issued: a later rename of the person changes
    # neither the tablet's ballot nor the result (None in draft, where the person's current name is shown)
    printed_name: Mapped[str | None] = mapped_column(String(120))
    round: Mapped[Round] = relationship(back_populates="candidates")
    person: Mapped[Person] = relationship()

    @property
    def name(self) -> str:
        """The name on the ballot: as printed once issued, else the person's name now."""
        return self.printed_name or self.person.full_name
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
    __table_args__ = (CheckConstraint(one_of(TokenState), name="state"),)


class Ballot(Base):
    """One opened tablet ballot: a random id, its round, its marks. No token, no time, no tablet, no order.

    `marks` has one byte per candidate in ballot order: 0 none, 1 high trust, 2 trust, 3 low trust,
    4 several boxes ticked (paper only). Written only when the board opens the box (ballots.opening): all of a
    round's in one transaction, in random order, with fresh random ids; on SQLite the table has no rowid, so
    its rows are kept in the order of those ids.
    """

    __tablename__ = "ballot"
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    marks: Mapped[bytes] = mapped_column(LargeBinary(200))
    __table_args__ = ({"sqlite_with_rowid": False},)


class SealedBallot(Base):
    """A tablet ballot as cast: its marks sealed to the round's public key (ballots.box), readable only with the
    board's key cards. A random id, its round, the sealed bytes: nothing else."""

    __tablename__ = "sealed_ballot"
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary(400))
    __table_args__ = ({"sqlite_with_rowid": False},)


class BallotBox(Base):
    """The round's ballot box: its public key and how many key cards open it; what the close recorded of the
    sealed ballots (count, digest); who opened it and what the opening recorded of the opened ballots."""

    __tablename__ = "ballot_box"
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    cards_needed: Mapped[int] = mapped_column(Integer)
    sealed_count: Mapped[int | None] = mapped_column(Integer)  # at the close
    sealed_digest: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime | None] = mapped_column()
    opened_by: Mapped[list | None] = mapped_column(JSON)  # the holders of the cards presented
    opened_count: Mapped[int | None] = mapped_column(Integer)
    opened_digest: Mapped[str | None] = mapped_column(String(64))  # results.ballots_digest of the opened ballots
    # HMAC of all the above under the instance's audit key (outside the database): an insider can read the public
    # key but cannot swap it, nor rewrite the close or opening record (ballots.ballot_box)
    mac: Mapped[str | None] = mapped_column(String(64))
    cards: Mapped[list[BoxCard]] = relationship(order_by="BoxCard.index", cascade="all, delete-orphan")
    __table_args__ = (CheckConstraint("cards_needed >= 1", name="cards_needed"),)

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


class BoxCard(Base):
    """One key card of a round's box: its share's index, who holds it (None: the recovery card kept by the
    direct upper-level committee), and SHA-256 of the card's bytes, so a card is checked alone. Never the share."""

    __tablename__ = "box_card"
    round_id: Mapped[int] = mapped_column(ForeignKey("ballot_box.round_id", ondelete="RESTRICT"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    commitment: Mapped[str] = mapped_column(String(64))
    holder: Mapped[Account | None] = relationship()


class KioskFailure(Base):
    """A code that matched no ballot, kept to throttle guessing per tablet session and per address."""

    __tablename__ = "kiosk_failure"
    id: Mapped[int] = mapped_column(primary_key=True)
    tablet: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class KioskTablet(Base):
    """That a kiosk page handed out a tablet id to an address, kept for a while so that an address can have only
    so many (ballots.guessing.mint): the ids themselves are signed and live only in the pages."""

    __tablename__ = "kiosk_tablet"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class VenueTablet(Base):
    """What a kiosk page last reported from one address at the venue (a tablet on the Wi-Fi has its own): whether
    it runs in a secure context (the venue's certificate authority installed) and may use the camera. Nothing of a
    voter: a page reports when it loads, before any ballot, and the venue checklist lists these (ballots.venue)."""

    __tablename__ = "venue_tablet"
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    secure: Mapped[bool]
    camera: Mapped[bool]
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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

"""What the count and its publication write: the audit log, paper entries and rulings, approvals, sealed
results and their publication, and results imported from other instances."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:  # relationships name these; SQLAlchemy resolves them through its registry
    from .people import Account, Committee


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
    # HMAC-SHA256 of `hash` under the instance's audit key, which lives outside the database: whoever holds
    # only the database cannot rewrite the chain and recompute it (empty for entries written before the key)
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head in one row: appends lock it (serialising writers) and a truncated tail shows against it."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))  # as an entry's, over the head's seq and hash
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

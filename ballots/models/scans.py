"""Scanned paper sheets: each page a teller uploaded, the scanner's reading of it, and its image."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:  # relationships name these; SQLAlchemy resolves them through its registry
    from .people import Account


class ScanPage(Base):
    """One scanned page of a paper sheet: the scanner's entry of the sheet, never enough alone to count it.

    `sheet` names the sheet as paper entry does ("t<token id>", "x<hash>"); None while its QR could not be read
    (a teller reads the code off the image). `marks` is the scanner's reading, one byte a row as a paper entry's
    (None when the page gave no reading); `problems` the reasons it is not to be trusted (empty: a
    clean reading a teller may confirm with one keystroke). Kept after the seal like the paper entries (the entry
    log and the minutes count on it); its image is not (ScanImage). The secret in the sheet's QR is never stored.
    """

    __tablename__ = "scan_page"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    sheet: Mapped[str | None] = mapped_column(String(40))
    marks: Mapped[bytes | None] = mapped_column(LargeBinary(200))
    flaws: Mapped[str] = mapped_column(String(60), default="")
    problems: Mapped[str] = mapped_column(Text, default="")  # the reader's msgids, "|"-joined
    # what the reader saw in each row, for the review screen: its digit, or None where it could not decide
    rows: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(200))  # the file and page it came from
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # the teller who read the code of a page whose QR the scanner could not read
    identified_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    uploader: Mapped[Account] = relationship(foreign_keys=[uploaded_by])
    # NULLs are distinct on both engines: any number of pages wait to be identified, each sheet is scanned once
    __table_args__ = (UniqueConstraint("round_id", "sheet", name="uq_scan_page_sheet"),)

    @property
    def is_trusted(self) -> bool:
        """A reading a teller may confirm: identified, read, and nothing the reader doubted."""
        return self.sheet is not None and self.marks is not None and not self.problems


class ScanImage(Base):
    """The image of a scanned page: a ballot, seen only by the round's board, until the seal (then deleted or
    archived, as the round says). Stored encrypted (AES-256-GCM) under a key of the round that lives in the
    instance folder, not in the database (machine_entry.ScanVault): whoever holds the database or a backup of it
    cannot look at a sheet, and once the key is destroyed at the seal no copy anywhere can be opened."""

    __tablename__ = "scan_image"
    page_id: Mapped[int] = mapped_column(ForeignKey("scan_page.id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="RESTRICT"), index=True)
    content_type: Mapped[str] = mapped_column(String(16))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # nonce + ciphertext
    __table_args__ = (CheckConstraint("content_type IN ('image/jpeg','image/png')", name="content_type"),)

"""The append-only, hash-chained audit log: append an entry, verify the chain.

Each entry's hash covers its sequence number, time, actor, action, subject, details and the previous entry's
hash, so editing, deleting or reordering any row breaks the chain at that row. The head row records the
last sequence number and hash, so a truncated tail shows too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .formats import canonical_json, utc_stamp
from .models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


def entry_hash(
    *, seq: int, at: dt.datetime | None, actor: str, action: str, subject: str, details: str, prev_hash: str
) -> str:
    stamp = utc_stamp(at) if at else ""
    record = canonical_json([seq, stamp, actor, action, subject, details, prev_hash])
    return hashlib.sha256(record.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str = "",
    details: dict | None = None,
    timed: bool = True,
    now: dt.datetime | None = None,
    count: int = 1,
) -> AuditEntry:
    """Append one entry (or `count` identical ones, each chained to the one before) and return the last.
    `timed=False` for ballot events (no time finer than the round's state).

    Locks the head row first, so concurrent appends on PostgreSQL queue up instead of forking the chain
    (SQLite's BEGIN IMMEDIATE already serialises writers). Flushes, never commits.
    """
    # populate_existing: the row just locked, not a copy this session loaded before another writer moved on
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    at = (now or utcnow()).replace(microsecond=0) if timed else None
    details_json = canonical_json(details or {})
    entries = []
    seq, prev_hash = head.seq, head.hash
    for _ in range(count):
        fields = dict(seq=seq + 1, at=at, actor=actor, action=action, subject=subject, details=details_json,
                      prev_hash=prev_hash)
        entry = AuditEntry(**fields, hash=entry_hash(**fields))
        entries.append(entry)
        seq, prev_hash = entry.seq, entry.hash
    session.add_all(entries)
    head.seq, head.hash = seq, prev_hash
    session.flush()
    return entries[-1]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    head: str
    broken_seq: int | None = None
    reason: str = ""


def verify(session: Session) -> Verdict:
    """Walk the chain in sequence order and name the first broken entry (None when the chain holds)."""
    expected_seq, prev = 1, GENESIS
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for entry in rows:
        if entry.seq != expected_seq:
            return Verdict(False, expected_seq - 1, prev, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return Verdict(False, expected_seq - 1, prev, entry.seq, "does not follow the entry before it")
        recomputed = entry_hash(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            details=entry.details,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            return Verdict(False, expected_seq - 1, prev, entry.seq, "its content does not match its hash")
        prev = entry.hash
        expected_seq += 1
    count = expected_seq - 1
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (count, prev):
        return Verdict(False, count, prev, count + 1, f"the head says {head_seq} entries, the chain has {count}")
    return Verdict(True, count, prev)

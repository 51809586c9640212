"""The append-only, hash-chained audit log: append an entry, verify the chain.

Each entry's hash covers its sequence number, time, actor, action, subject, details and the previous entry's
hash, so editing, deleting or reordering any row breaks the chain at that row. The head row records the
last sequence number and hash, so a truncated tail shows too.

A chain alone can be rewritten by whoever holds the database: change an entry, recompute every hash after it
and the head. So each entry's hash, and the head, also carry an HMAC-SHA256 under the instance's audit key, which
lives in the instance folder, never in the database (the key travels with the session: `session.info
["audit_key"]`, set by ballots.db.make_sessionmaker). `verify` with the key names any entry whose MAC is wrong
or missing after the sequence number at which the instance got its key (entries written before it, by an older
version, are counted, not authenticated).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from .formats import canonical_json, utc_stamp
from .models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64


def entry_hash(
    *, seq: int, at: dt.datetime | None, actor: str, action: str, subject: str, details: str, prev_hash: str
) -> str:
    stamp = utc_stamp(at) if at else ""
    record = canonical_json([seq, stamp, actor, action, subject, details, prev_hash])
    return hashlib.sha256(record.encode()).hexdigest()


def entry_mac(key: bytes, entry_hash: str) -> str:
    """The MAC of an entry: HMAC-SHA256 of its hash under the audit key."""
    return hmac.new(key, f"entry {entry_hash}".encode(), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, head_hash: str) -> str:
    """The MAC of the head: HMAC-SHA256 of its sequence number and hash under the audit key."""
    return hmac.new(key, f"head {seq} {head_hash}".encode(), hashlib.sha256).hexdigest()


def keyed_mac(session: Session, text: str) -> str | None:
    """HMAC-SHA256 of `text` under the session's audit key (None without one): for a record outside the chain
    that the domain must be able to trust when it reads it back (the ballot box's)."""
    key = session.info.get("audit_key")
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest() if key else None


def keyed_mac_holds(session: Session, text: str, given: str | None) -> bool:
    """Whether `given` is the MAC of `text` under the session's audit key; without a key, nothing to check."""
    expected = keyed_mac(session, text)
    return expected is None or (given is not None and hmac.compare_digest(given, expected))


_entry = AuditEntry.__table__
_head = AuditHead.__table__
# built once: SQLAlchemy caches their compiled form (an append runs in every batch of casts, the hot path). Core
# statements rather than the ORM's unit of work: an append was most of a batch's own cost.
_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)
_LOCK_HEAD = _HEAD.with_for_update()
_NEW_HEAD = insert(_head).values(id=1, seq=0, hash=GENESIS)
_APPEND = insert(_entry)
_MOVE_HEAD = update(_head).where(_head.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"),
                                                        mac=bindparam("new_mac"))


def head(session: Session) -> tuple[int, str]:
    """The chain's head as this transaction sees it: the last sequence number and hash ((0, GENESIS) when empty)."""
    row = session.execute(_HEAD).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str = "",
    details: dict | None = None,
    timed: bool = True,
    now: dt.datetime | None = None,
) -> AuditEntry:
    """Append one entry; return what was written (an AuditEntry not attached to the session). `timed=False` for
    ballot events (no time finer than the round's state).

    Locks the head row first, so concurrent appends on PostgreSQL queue up instead of forking the chain
    (SQLite's BEGIN IMMEDIATE already serialises writers). Flushes the session's pending changes first (the
    entry names rows they create), never commits.
    """
    session.flush()
    locked = session.execute(_LOCK_HEAD).first()
    if locked is None:
        session.execute(_NEW_HEAD)
    seq, prev_hash = (locked.seq, locked.hash) if locked else (0, GENESIS)
    at = (now or utcnow()).replace(microsecond=0) if timed else None
    key = session.info.get("audit_key")
    fields = dict(seq=seq + 1, at=at, actor=actor, action=action, subject=subject,
                  details=canonical_json(details or {}), prev_hash=prev_hash)
    digest = entry_hash(**fields)
    mac = entry_mac(key, digest) if key else None
    session.execute(_APPEND, {**fields, "hash": digest, "mac": mac})
    session.execute(_MOVE_HEAD, {"new_seq": seq + 1, "new_hash": digest,
                                 "new_mac": head_mac(key, seq + 1, digest) if key else None})
    loaded = session.identity_map.get(identity_key(AuditHead, 1))
    if loaded is not None:  # a copy this session read before: not the head any longer
        session.expire(loaded)
    return AuditEntry(**fields, hash=digest, mac=mac)


def last_seq(session: Session) -> int:
    """The sequence number of the last entry (0 for an empty log)."""
    return head(session)[0]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    head: str
    broken_seq: int | None = None
    reason: str = ""
    unauthenticated: int = 0  # entries written before the instance had its audit key


def _authentic(key: bytes, given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given, expected)


def verify(session: Session, key: bytes | None = None, since: int = 0,
           anchor: tuple[int, str] | None = None) -> Verdict:
    """Walk the chain in sequence order and name the first broken entry (None when the chain holds). With the
    audit `key`, every entry after sequence number `since` (when the instance got its key) and the head must
    carry their MAC. `anchor`, a (sequence number, hash) verified before and kept outside the database, must
    still be in the chain: a chain cut back to an older head (restored from a backup, MAC and all) is caught."""
    expected_seq, prev = 1, GENESIS
    anchored = None
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
        if key is not None and entry.seq > since and not _authentic(key, entry.mac, entry_mac(key, entry.hash)):
            return Verdict(False, expected_seq - 1, prev, entry.seq,
                           "its MAC is not the audit key's: the chain was rewritten without the key")
        if anchor is not None and entry.seq == anchor[0]:
            anchored = entry.hash
        prev = entry.hash
        expected_seq += 1
    count = expected_seq - 1
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (count, prev):
        return Verdict(False, count, prev, count + 1, f"the head says {head_seq} entries, the chain has {count}")
    if key is not None and count > since and not _authentic(key, head.mac, head_mac(key, head_seq, head_hash)):
        return Verdict(False, count, prev, count, "the head's MAC is not the audit key's")
    if anchor is not None and anchored != anchor[1]:
        return Verdict(False, count, prev, min(anchor[0], count + 1),
                       f"the chain no longer holds entry {anchor[0]} as an earlier verification saw it: it was cut "
                       "back or rewritten")
    return Verdict(True, count, prev, unauthenticated=min(since, count) if key is not None else count)

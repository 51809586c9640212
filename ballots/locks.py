"""Locks on a name for the rest of a transaction, for counters that must not be passed by a burst (log-in
attempts, tablet ids): count, then write, with no other transaction doing the same in between.

On PostgreSQL a transaction-level advisory lock per name (released at commit or rollback); on SQLite every
writing transaction already begins IMMEDIATE (ballots.db) and holds the database's one write lock, so nothing
more is needed.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def key_of(name: str) -> int:
    """A signed 64-bit key for a name (PostgreSQL's advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def hold(session: Session, *names: str) -> None:
    """Lock each name until the session's transaction ends, in one fixed order (so two transactions locking the
    same names cannot deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({key_of(name) for name in names}):
        session.execute(_LOCK, {"key": key})

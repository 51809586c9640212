"""The guessing throttle of the kiosk, one for both ways of voting (the JSON API and the plain form).

A code that matched no ballot is remembered for a while with its tablet session and its address; a tablet that
sent too many lately, or (far more generously, since a venue's tablets may share one address behind its Wi-Fi
router) an address, is refused for the rest of the window. Takes a Session, flushes, never commits: the caller
commits a remembered guess with the cast it came in, or on its own when the lookup was a read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.orm import Session

from .errors import KioskThrottled
from .models import KioskFailure, utcnow

MAX_FAILURES_PER_TABLET = 10
MAX_FAILURES_PER_ADDRESS = 500  # a venue's tablets may all share one address behind its Wi-Fi router
FAILURE_WINDOW = dt.timedelta(minutes=5)

_failure = KioskFailure.__table__
# built once: SQLAlchemy caches its compiled form, and it runs before every batch of casts, the hot path
_RECENT_FAILURES = (select(_failure.c.tablet, _failure.c.address)
                    .where(_failure.c.at > bindparam("since"),
                           or_(_failure.c.tablet.in_(bindparam("tablets", expanding=True)),
                               _failure.c.address.in_(bindparam("addresses", expanding=True)))))


class Guesses:
    """The recent failures of some tablets and addresses, read with one query, plus those recorded since (a
    batch of casts checks each cast and counts its own failures as it goes)."""

    def __init__(self, session: Session, sources: Iterable[tuple[str, str]], now: dt.datetime | None = None) -> None:
        self.by_tablet: Counter[str] = Counter()
        self.by_address: Counter[str] = Counter()
        sources = list(sources)
        if sources:
            rows = session.execute(_RECENT_FAILURES, {
                "since": (now or utcnow()) - FAILURE_WINDOW,
                "tablets": sorted({tablet for tablet, _ in sources}),
                "addresses": sorted({address for _, address in sources})}).all()
            for tablet, address in rows:
                self.add(tablet, address)

    def check(self, tablet: str, address: str) -> None:
        """Raise KioskThrottled if this tablet, or its address, has sent too many codes that matched nothing."""
        if (self.by_tablet[tablet] >= MAX_FAILURES_PER_TABLET
                or self.by_address[address] >= MAX_FAILURES_PER_ADDRESS):
            raise KioskThrottled(minutes=int(FAILURE_WINDOW.total_seconds() // 60))

    def add(self, tablet: str, address: str) -> None:
        self.by_tablet[tablet] += 1
        self.by_address[address] += 1


def check(session: Session, *, tablet: str, address: str, now: dt.datetime | None = None) -> None:
    """Raise KioskThrottled if this tablet session (or its address) has sent too many unknown codes lately.
    Other tablets behind the same address are not held up. Writes nothing."""
    Guesses(session, [(tablet, address)], now).check(tablet, address)


def record(session: Session, *, tablet: str, address: str, now: dt.datetime | None = None) -> None:
    """Remember a code that matched no ballot, and forget those older than the window. Flushes; the caller
    commits."""
    now = now or utcnow()
    session.execute(delete(KioskFailure).where(KioskFailure.at < now - FAILURE_WINDOW))
    session.add(KioskFailure(tablet=tablet[:64], address=address[:64], at=now))
    session.flush()

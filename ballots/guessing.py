"""The guessing throttle of the kiosk, one for both ways of voting (the JSON API and the plain form).

A code is always looked up first: one that opens or casts a ballot is accepted whoever sends it, however many
wrong codes its tablet or its address sent before (a venue's tablets may share one address behind its Wi-Fi
router, and a phone among them must not stop the hall). Only a code that matches nothing is slowed down: it is
remembered with its source and its address, and its answer is held back (by the app: app.kiosk.tablets) for a
delay that grows with the recent failures of the source and of the address, and is bounded:

- the source is the tablet (a signed id a kiosk page handed out, app.kiosk.tablets) or, for a request without
  an id this address was given, the address's anonymous requests: FREE_PER_SOURCE failures answered at once;
- the address counts every failure sent from it, tablets included: FREE_PER_ADDRESS answered at once;
- past those, each failure waits FIRST_DELAY, doubling with each further one, at most MAX_DELAY, the larger of
  the two; the failures of the last FAILURE_WINDOW count.

Tablet ids are handed out only by the kiosk pages, at most MINTS_PER_ADDRESS in MINT_WINDOW per address (`mint`):
an id minted past that counts as the address's anonymous requests, so minting new ids does not reset a delay.

Takes a Session, flushes, never commits: the caller commits a remembered failure with the casts it came in, or
on its own when the lookup was a read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from . import locks
from .models import KioskFailure, KioskTablet, utcnow

FAILURE_WINDOW = dt.timedelta(minutes=5)
FREE_PER_SOURCE = 3  # a delegate's slip (a code of another instance, a sheet of another hall)
FREE_PER_ADDRESS = 20  # a venue's tablets may all share one address
FIRST_DELAY = 0.5  # seconds
MAX_DELAY = 5.0  # seconds: the longest a failure's answer is held
MINT_WINDOW = dt.timedelta(minutes=10)
MINTS_PER_ADDRESS = 100  # a hall's tablets behind one router, each loading its page a few times

_failure = KioskFailure.__table__
# built once: SQLAlchemy caches its compiled form
_RECENT_FAILURES = (select(_failure.c.tablet, _failure.c.address)
                    .where(_failure.c.at > bindparam("since"),
                           or_(_failure.c.tablet.in_(bindparam("tablets", expanding=True)),
                               _failure.c.address.in_(bindparam("addresses", expanding=True)))))


def delay_for(failures: int, free: int) -> float:
    """Seconds to hold the answer to the `failures`-th recent failure of a source allowed `free` at once:
    0, then FIRST_DELAY doubling with each one more, at most MAX_DELAY."""
    if failures <= free:
        return 0.0
    return min(FIRST_DELAY * 2 ** min(failures - free - 1, 16), MAX_DELAY)


def _at_cap(failures: int, free: int) -> bool:
    return delay_for(failures, free) >= MAX_DELAY


class Guesses:
    """The recent failures of some sources and addresses, read with one query, plus those recorded since (a batch
    of casts reads them once, when one of its codes matches nothing, and counts its own as it goes)."""

    def __init__(self, session: Session, sources: Iterable[tuple[str, str]], now: dt.datetime | None = None) -> None:
        self.now = now or utcnow()
        self.by_source: Counter[str] = Counter()
        self.by_address: Counter[str] = Counter()
        sources = list(sources)
        if sources:
            rows = session.execute(_RECENT_FAILURES, {
                "since": self.now - FAILURE_WINDOW,
                "tablets": sorted({source for source, _ in sources}),
                "addresses": sorted({address for _, address in sources})}).all()
            for source, address in rows:
                self.by_source[source] += 1
                self.by_address[address] += 1

    def delay(self, source: str, address: str) -> float:
        """Seconds the next failure's answer of this source at this address is held, counting those so far."""
        return max(delay_for(self.by_source[source], FREE_PER_SOURCE),
                   delay_for(self.by_address[address], FREE_PER_ADDRESS))

    def worth_recording(self, source: str, address: str) -> bool:
        """Whether one more failure would change a delay: not once both the source and its address are held the
        longest (a flood then adds no row)."""
        return not (_at_cap(self.by_source[source], FREE_PER_SOURCE)
                    and _at_cap(self.by_address[address], FREE_PER_ADDRESS))

    def count(self, source: str, address: str) -> float:
        """Count a failure of this source (recorded or not) and return the seconds its answer is held."""
        self.by_source[source] += 1
        self.by_address[address] += 1
        return self.delay(source, address)

    def fail(self, session: Session, source: str, address: str) -> float:
        """Count a code of this source that matched nothing, remember it if that is worth it, and return the
        seconds its answer is held. Flushes; the caller commits."""
        if self.worth_recording(source, address):
            record(session, tablet=source, address=address, now=self.now)
        return self.count(source, address)


def fail(session: Session, *, tablet: str, address: str, now: dt.datetime | None = None) -> float:
    """A code from this source matched nothing: remember it and return the seconds its answer is held. Flushes."""
    return Guesses(session, [(tablet, address)], now).fail(session, tablet, address)


def record(session: Session, *, tablet: str, address: str, now: dt.datetime | None = None) -> None:
    """Remember a code that matched no ballot, and forget those older than the window. Flushes; the caller
    commits. Nothing in the row names the code."""
    now = now or utcnow()
    session.execute(delete(KioskFailure).where(KioskFailure.at < now - FAILURE_WINDOW))
    session.add(KioskFailure(tablet=tablet[:64], address=address[:64], at=now))
    session.flush()


def mints_left(session: Session, *, address: str, now: dt.datetime | None = None) -> int:
    """How many more tablet ids this address may be handed now. Writes nothing."""
    since = (now or utcnow()) - MINT_WINDOW
    minted = session.scalar(select(func.count()).select_from(KioskTablet)
                            .where(KioskTablet.address == address[:64], KioskTablet.at > since))
    return max(MINTS_PER_ADDRESS - minted, 0)


def mint(session: Session, *, address: str, now: dt.datetime | None = None) -> bool:
    """Count a tablet id handed to this address, if it may have one more: True, or False once it has had
    MINTS_PER_ADDRESS in the window (its id then counts as the address's anonymous requests). Counted under a
    lock on the address (ballots.locks), so that a burst of page loads cannot pass the limit. Flushes; the caller
    commits."""
    now = now or utcnow()
    locks.hold(session, f"kiosk-mint:{address}")
    if mints_left(session, address=address, now=now) <= 0:
        return False
    session.execute(delete(KioskTablet).where(KioskTablet.at < now - MINT_WINDOW))
    session.add(KioskTablet(address=address[:64], at=now))
    session.flush()
    return True

"""Group commit of casts: the casts that arrive together in one server process share one transaction and commit.

A commit is durable only once the database has synced it to disk (SQLite with synchronous=FULL, PostgreSQL's
WAL flush): milliseconds on a venue laptop or a VM. Casts also queue one behind the other for the audit chain's
head (on SQLite for the write lock), so with a commit each the whole server casts no faster than one sync at a
time. Here the request threads of a process that have a cast to make wait together: one of them (the leader)
takes every cast waiting, runs them through `casting.cast_ballots` in one transaction, commits, and only then
answers each; then it hands the lead to the next cast that came in meanwhile, and answers its own voter.

A commit costs the server more than the casts in it: its sync to disk takes milliseconds of the kernel's CPU, on
SQLite in this process, on PostgreSQL in its backend. So a leader whose batch is small while more casts are on
their way (requests to cast that this process has begun to answer: `arriving`) waits for them a moment, at most
GATHER_SECONDS, as PostgreSQL's commit_delay does: fewer, fuller commits under load, and no wait at all for a
voter who casts alone.

What each cast promises is unchanged: its token spent by its own conditional UPDATE, its ballot and audit entry
committed before its voter is told "recorded", nothing written for a refused cast, and nothing that links a
ballot to its token, time or order (the batch's ballots are as anonymous as before: random ids, untimed entries).
The batch's sessions are its own, committed here: the kiosk's deliberate exception to one commit per request
(app.views).
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, g, request
from sqlalchemy.exc import OperationalError

from ballots import casting
from ballots.errors import BallotError

try:
    import fcntl
except ImportError:  # not on Windows, where gunicorn does not run either
    fcntl = None

MAX_BATCH = 32  # casts in one transaction; more only lengthen the wait of the first
# how long a leader waits for casts already arriving: well under a commit's own sync, and a few of a request's
# parsing, on a venue laptop
GATHER_SECONDS = 0.003


@dataclass
class Arrival:
    """A request to cast, counted as arriving until its cast joins the waiting (or the request ends)."""

    joined: bool = False


@dataclass
class _Job:
    cast: casting.Cast
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next batch rather than with its answer
    outcome: str | None = None
    error: BaseException | None = None


class GroupCommit:
    """Casts of one process, committed together. `cast` returns RECORDED or ALREADY_RECORDED, or raises the
    cast's BallotError, only once the transaction that holds its ballot is committed."""

    def __init__(self, sessionmaker, max_batch: int = MAX_BATCH, gather_seconds: float = GATHER_SECONDS) -> None:
        self._sessionmaker = sessionmaker
        self._turn = _sqlite_turn(sessionmaker.kw["bind"])
        self._max_batch = max_batch
        self._gather_seconds = gather_seconds
        self._lock = threading.Lock()
        self._joined = threading.Condition(self._lock)  # notified when a cast joins the waiting, or stops arriving
        self._waiting: list[_Job] = []
        self._leading = False
        self._arriving = 0  # requests to cast begun in this process, not yet waiting here

    def arrive(self) -> Arrival:
        """A request that will cast has begun: a leader gathering a batch waits for it a moment."""
        with self._lock:
            self._arriving += 1
        return Arrival()

    def leave(self, arrival: Arrival) -> None:
        """The request has ended; if it never cast (refused before, or failed), nobody waits for it any longer."""
        if not arrival.joined:
            with self._lock:
                arrival.joined = True
                self._arriving -= 1
                self._joined.notify_all()

    def cast(self, cast: casting.Cast, arrival: Arrival | None = None) -> str:
        job = _Job(cast)
        with self._lock:
            self._waiting.append(job)
            if arrival is not None and not arrival.joined:
                arrival.joined = True
                self._arriving -= 1
            self._joined.notify_all()
            if not self._leading:
                self._leading = job.lead = True
        while True:
            if job.lead:  # first to come, or handed the lead: this batch holds its own cast, so ends with it done
                job.lead = False
                job.done.clear()
                self._run_batch()
            if job.done.is_set():
                break
            job.done.wait()
        if job.error is not None:
            raise job.error
        return job.outcome

    def _run_batch(self) -> None:
        with self._lock:
            self._gather()
            batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
        try:
            self._commit(batch)
        finally:
            # answer every cast of the batch, then hand the lead to the first cast still waiting, if any
            with self._lock:
                if self._waiting:
                    successor = self._waiting[0]
                    successor.lead = True
                else:
                    successor = None
                    self._leading = False
            for job in batch:
                job.done.set()
            if successor is not None:
                successor.done.set()

    def _gather(self) -> None:
        """Wait (holding the lock's condition) until the casts arriving have joined, the batch is full, or the
        gathering time has passed."""
        deadline = time.monotonic() + self._gather_seconds
        while self._arriving and len(self._waiting) < self._max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._joined.wait(left)

    def _commit(self, batch: list[_Job]) -> None:
        try:
            self._apply(batch)
        except Exception as exc:  # noqa: BLE001 (the database failed, not a cast: try each on its own)
            if len(batch) == 1:
                batch[0].error = exc
                return
            for job in batch:
                try:
                    self._apply([job])
                except Exception as alone:  # noqa: BLE001 (this cast's own failure, answered as before)
                    job.error = alone

    def _apply(self, batch: list[_Job]) -> None:
        with self._turn(), self._sessionmaker() as session:
            outcomes = casting.cast_ballots(session, [job.cast for job in batch])
            session.commit()  # durable before any voter is told
        for job, outcome in zip(batch, outcomes):
            if isinstance(outcome, BallotError):
                job.error = outcome
            else:
                job.outcome = outcome


@contextmanager
def _no_turn():
    yield


def _sqlite_turn(engine):
    """On SQLite, the batches of the server's processes take turns through an flock on a file beside the database,
    before BEGIN IMMEDIATE: a process waiting for the write lock in SQLite's busy handler sleeps in growing steps
    (up to 100 ms) and can lose it again and again to a process that keeps writing; one blocked in flock is woken
    as soon as the lock is free. Elsewhere (PostgreSQL queues its lock waits itself), nothing."""
    if fcntl is None or engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return _no_turn
    path = f"{engine.url.database}.cast-lock"

    @contextmanager
    def turn():
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # the database's folder is gone or read-only: the database is unavailable
            raise OperationalError("open the cast lock", None, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    return turn


def cast(cast_: casting.Cast) -> str:
    """Cast through the current app's group commit (see the module's docstring)."""
    return current_app.extensions["trustvote.group_commit"].cast(cast_, g.get("trustvote_arrival"))


CASTING_ENDPOINTS = frozenset({"api.cast", "kiosk.cast_form"})


def count_arrivals(app) -> None:
    """Count each request to a casting endpoint as arriving from its start (before its body is parsed), so that
    a leader gathering a batch knows it is coming."""
    group_commit = app.extensions["trustvote.group_commit"]

    def arrive():
        if request.endpoint in CASTING_ENDPOINTS:
            g.trustvote_arrival = group_commit.arrive()

    def leave(_exc):
        arrival = g.pop("trustvote_arrival", None)
        if arrival is not None:
            group_commit.leave(arrival)

    app.before_request(arrive)
    app.teardown_request(leave)

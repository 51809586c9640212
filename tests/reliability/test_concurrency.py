"""One ballot, one vote under concurrency: many tablets casting the same sheet at once, on SQLite and PostgreSQL.

64 worker threads, each with its own session and connection, are released together by a barrier on the same
token, round after round (200 rounds, a fresh token each). Exactly one cast is accepted per round, the others are
refused as "already used", and nothing else happens: no deadlock, no "database is locked", no other error.

A test of a race is worth only as much as its power to see one, so the same harness is run on a deliberately
racy cast (check the state, then update without the condition) and must catch it: on PostgreSQL as the same sheet
accepted twice; on SQLite, where a deferred transaction cannot write over a newer commit, as errors, and as the
same sheet accepted twice once the check and the write are in two transactions.
"""

from __future__ import annotations

import functools
import random
import secrets as random_source
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update

from ballots import box, casting, tokens
from ballots.db import make_engine, make_sessionmaker
from ballots.errors import BallotAlreadyUsed
from ballots.models import AuditEntry, Ballot, SealedBallot, Token
from tests.conftest import count_rows
from tests.factories import make_round

THREADS = 64
ROUNDS = 200
RETRIES = 16  # one tablet re-sending its submission from several requests at once
SWITCH_INTERVAL = 0.0005  # seconds
BARRIER_TIMEOUT = 120  # seconds; a deadlock fails the test instead of hanging it


@dataclass
class Tally:
    """What the threads of one round met."""

    outcomes: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def _submission() -> str:
    return random_source.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-]


def _hammer(engine, codes, *, candidates: int, cast=casting.cast_ballot, threads: int = THREADS,
            same_submission: bool = False) -> list[Tally]:
    """For each code in turn, release `threads` long-lived workers together to cast it, each in its own
    session, and tally what each met: RECORDED, ALREADY_RECORDED, "refused" (BallotAlreadyUsed) or an error."""
    new_session = make_sessionmaker(engine)
    start, done = threading.Barrier(threads + 1), threading.Barrier(threads + 1)
    tallies = [Tally() for _ in codes]
    lock = threading.Lock()
    shared: dict = {}

    broken: list[str] = []  # what stopped a worker outside any cast (no connection, a broken barrier)

    def worker(index: int) -> None:
        chooser = random.Random(index)
        try:
            # a connection of its own for the worker's life, like a server process's pooled one (and no pre-ping
            # per cast); a fresh session for each cast, like a request
            with engine.connect() as connection:
                for number, code in enumerate(codes):
                    start.wait(BARRIER_TIMEOUT)
                    _cast_once(connection, number, code, chooser)
                    done.wait(BARRIER_TIMEOUT)
        except Exception as exc:
            with lock:
                broken.append(f"worker {index}: {type(exc).__name__}: {exc}")
            start.abort()
            done.abort()

    def _cast_once(connection, number: int, code: str, chooser: random.Random) -> None:
        submission = shared[number] if same_submission else _submission()
        marks = bytes(chooser.randrange(4) for _ in range(candidates))
        try:
            with new_session(bind=connection) as session:
                try:
                    outcome = cast(session, code=code, marks=marks, submission=submission)
                    session.commit()
                except BallotAlreadyUsed:
                    outcome = "refused"
        except Exception as exc:  # anything else is a failure of the cast, reported with its round
            with lock:
                tallies[number].errors.append(f"{type(exc).__name__}: {exc}")
        else:
            with lock:
                tallies[number].outcomes[outcome] += 1

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    # threads take turns at the interpreter ten times as often as by default: a worker holding the database's lock
    # gets back to its next statement sooner (a quarter off the SQLite rounds), and the casts interleave more finely
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    for thread in workers:
        thread.start()
    try:
        for number in range(len(codes)):
            shared[number] = _submission()
            start.wait(BARRIER_TIMEOUT)
            done.wait(BARRIER_TIMEOUT)
    except threading.BrokenBarrierError:
        start.abort()
        done.abort()
    finally:
        for thread in workers:
            thread.join(BARRIER_TIMEOUT)
        sys.setswitchinterval(switch_interval)
    assert not any(thread.is_alive() for thread in workers), "a worker is stuck"
    assert not broken and not start.broken, broken[:3] or "a round took longer than the barrier's timeout"
    return tallies


@pytest.fixture
def hammer_engine(db_url):
    """An engine of its own for the workers, with a connection for each of them."""
    engine = make_engine(db_url, pool_size=THREADS + 6, max_overflow=0)
    yield engine
    engine.dispose()


def _rounds_with(tallies: list[Tally], wanted: dict) -> list[int]:
    """The rounds whose outcomes differ from `wanted` or that met any error."""
    return [number for number, tally in enumerate(tallies)
            if tally.errors or +tally.outcomes != Counter(wanted)]


def test_64_tablets_casting_one_sheet_200_times_are_accepted_exactly_once_each_time(session, world, hammer_engine):
    voting = make_round(session, world, until="open", convened=ROUNDS, present=ROUNDS)
    round_ = voting.round
    candidates = len(round_.candidates)

    began = time.monotonic()
    tallies = _hammer(hammer_engine, voting.codes, candidates=candidates)
    elapsed = time.monotonic() - began

    wrong = _rounds_with(tallies, {casting.RECORDED: 1, "refused": THREADS - 1})
    assert not wrong, [(n, dict(tallies[n].outcomes), tallies[n].errors[:3]) for n in wrong[:5]]
    assert count_rows(session, SealedBallot, SealedBallot.round_id == round_.id) == ROUNDS
    assert count_rows(session, Token, Token.round_id == round_.id, Token.state == "cast") == ROUNDS
    assert count_rows(session, AuditEntry, AuditEntry.action == "ballot.cast") == ROUNDS
    key = box.combine([box.parse_card(card) for card in voting.cards()])  # as the board opens the box
    assert all(len(marks) == candidates and set(marks) <= {0, 1, 2, 3}
               for marks in (box.unseal(key, round_.id, sealed) for sealed in session.scalars(
                   select(SealedBallot.sealed).where(SealedBallot.round_id == round_.id))))
    print(f"{hammer_engine.dialect.name}: {ROUNDS} rounds x {THREADS} threads in {elapsed:.1f} s")


def test_16_retries_of_one_submission_record_one_ballot_and_tell_the_others_already_recorded(
        session, world, hammer_engine):
    voting = make_round(session, world, until="open", convened=20, present=20)
    round_ = voting.round
    tallies = _hammer(hammer_engine, voting.codes, candidates=len(round_.candidates), threads=RETRIES,
                      same_submission=True)

    wrong = _rounds_with(tallies, {casting.RECORDED: 1, casting.ALREADY_RECORDED: RETRIES - 1})
    assert not wrong, [(n, dict(tallies[n].outcomes), tallies[n].errors[:3]) for n in wrong[:5]]
    assert count_rows(session, SealedBallot, SealedBallot.round_id == round_.id) == 20
    assert count_rows(session, Token, Token.round_id == round_.id, Token.state == "cast") == 20


# --- the harness can fail ------------------------------------------------------------------------------------


def _racy_cast(session, *, code: str, marks: bytes, submission: str, apart: bool = False) -> str:
    """A broken cast, for these tests only: it reads the token's state, and if it saw "issued" spends the token
    with an UPDATE that has no condition on the state, so two tablets that both saw "issued" both record a ballot.

    It waits a little between its check and its write, as a slower server would. On SQLite its transaction is
    deferred (a read first, the write lock only at the UPDATE), as a careless implementation would have it;
    `apart` ends the checking transaction before the one that writes, as a server that checks when it shows the
    ballot and spends it on a later request would."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    secret_hash = tokens.hash_secret(tokens.secret_of(code))
    row = session.execute(select(Token.round_id, Token.state).where(Token.secret_hash == secret_hash)).one()
    if row.state != "issued":
        raise BallotAlreadyUsed()
    if apart:
        session.commit()
    time.sleep(0.002)
    session.execute(update(Token).where(Token.secret_hash == secret_hash)
                    .values(state="cast", submission_hash=casting.submission_hash(submission)))
    session.add(Ballot(id=random_source.token_bytes(16), round_id=row.round_id, marks=marks))
    session.flush()
    return casting.RECORDED


def _doubles(tallies: list[Tally]) -> list[int]:
    """The rounds that accepted the same sheet more than once."""
    return [number for number, tally in enumerate(tallies) if tally.outcomes[casting.RECORDED] > 1]


RACY_ROUNDS = 3  # every round of these races at once: three are plenty


def test_the_harness_catches_a_check_then_unconditional_update_in_one_transaction(session, world, hammer_engine):
    voting = make_round(session, world, until="open", convened=RACY_ROUNDS, present=RACY_ROUNDS)
    round_ = voting.round
    tallies = _hammer(hammer_engine, voting.codes, candidates=len(round_.candidates), cast=_racy_cast)

    assert _rounds_with(tallies, {casting.RECORDED: 1, "refused": THREADS - 1}), "the harness did not see the race"
    if hammer_engine.dialect.name == "postgresql":
        # READ COMMITTED: the second UPDATE waits for the first to commit, then updates the row again
        assert _doubles(tallies), [dict(t.outcomes) for t in tallies]
        assert count_rows(session, Ballot, Ballot.round_id == round_.id) > RACY_ROUNDS
    else:
        # SQLite cannot lose this update: in WAL mode a deferred transaction whose snapshot is older than the
        # last commit is refused the write lock (SQLITE_BUSY_SNAPSHOT, at once, without waiting), so the race
        # shows as "database is locked" errors, which the harness counts as failures, never as a second ballot
        assert not _doubles(tallies)
        assert any("database is locked" in error for tally in tallies for error in tally.errors)


def test_the_harness_catches_a_check_and_an_unconditional_update_in_two_transactions(session, world, hammer_engine):
    voting = make_round(session, world, until="open", convened=RACY_ROUNDS, present=RACY_ROUNDS)
    round_ = voting.round
    racy = functools.partial(_racy_cast, apart=True)
    tallies = _hammer(hammer_engine, voting.codes, candidates=len(round_.candidates), cast=racy)

    assert _doubles(tallies), [(dict(t.outcomes), t.errors[:1]) for t in tallies]
    assert count_rows(session, Ballot, Ballot.round_id == round_.id) > RACY_ROUNDS

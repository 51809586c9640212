"""Group commit on its own, on SQLite and PostgreSQL: casts that arrive together share one transaction; each caller
hears only its own cast's answer; a commit that fails answers every waiting cast with an error and records nothing.

Each scenario casts from one thread per cast. The first cast is held at its commit until the others have been
handed to the group commit, so that they wait together and the next batch takes them all.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select

from app.kiosk.group_commit import GroupCommit
from ballots import casting, tokens
from ballots.db import make_engine, make_sessionmaker
from ballots.errors import InvalidMarks
from ballots.models import SealedBallot, Token
from tests.conftest import fresh
from tests.factories import logged_casts, make_round

CASTS = 8
MARKS = b"\x01\x02\x03\x00"  # one mark a candidate of the world's commune
QUEUE_TIME = 0.5  # seconds for the other threads to reach the queue; a late one only makes a batch of its own


class DiskFull(Exception):
    """What the database says when a commit cannot be made durable."""


@pytest.fixture
def sessions(db_url):
    """A sessionmaker as the app makes it (on SQLite every transaction BEGIN IMMEDIATE), its commits counted."""
    engine = make_engine(db_url)
    maker = make_sessionmaker(engine)
    maker.commits = 0

    @event.listens_for(maker, "after_commit")
    def counted(_session):
        maker.commits += 1

    yield maker
    engine.dispose()


@pytest.fixture
def batches(monkeypatch) -> list[list[casting.Cast]]:
    """The casts of each transaction the group commit ran, in order."""
    seen, cast_ballots = [], casting.cast_ballots

    def recorded(session, casts):
        seen.append(list(casts))
        return cast_ballots(session, casts)

    monkeypatch.setattr(casting, "cast_ballots", recorded)
    return seen


@pytest.fixture
def codes(session, world) -> list[str]:
    """The codes of an open round's ballots, one a cast."""
    return make_round(session, world, until="open", issue=CASTS).codes


def _casts(codes, marks=None):
    marks = marks or {}
    return [casting.Cast(code, marks.get(index, MARKS), f"group-commit-{index:04d}") for index, code in
            enumerate(codes)]


def _cast_together(sessions, casts: list[casting.Cast]) -> list:
    """What each caller of GroupCommit.cast got, its outcome or the error raised to it, the first cast held at its
    commit until the others are queued behind it."""
    group = GroupCommit(sessions, max_batch=32)
    first_committing, others_queued = threading.Event(), threading.Event()

    def hold_the_first(_session):
        if not first_committing.is_set():  # batches run one at a time: no race on the flag
            first_committing.set()
            assert others_queued.wait(30)

    event.listen(sessions, "before_commit", hold_the_first, insert=True)  # before a listener that fails the commit

    def answer(cast):
        try:
            return group.cast(cast)
        except Exception as error:  # noqa: BLE001 (the caller's answer is what is checked)
            return error

    with ThreadPoolExecutor(len(casts)) as pool:
        first = pool.submit(answer, casts[0])
        assert first_committing.wait(30)
        rest = [pool.submit(answer, cast) for cast in casts[1:]]
        time.sleep(QUEUE_TIME)
        others_queued.set()
        return [future.result(timeout=60) for future in (first, *rest)]


def _recorded(session) -> tuple[int, int, list[str]]:
    """Ballots (sealed, in the box), audit entries of casts, and every token's state, as committed."""
    fresh(session)
    return (session.scalar(select(func.count()).select_from(SealedBallot)),
            logged_casts(session),
            list(session.scalars(select(Token.state).order_by(Token.id))))


def _state_of(session, code: str) -> tuple[str, bytes | None]:
    return session.execute(select(Token.state, Token.submission_hash)
                           .where(Token.secret_hash == tokens.hash_secret(tokens.secret_of(code)))).one()


def test_casts_arriving_together_share_fewer_commits_and_each_is_recorded_once(session, sessions, codes):
    answers = _cast_together(sessions, _casts(codes))
    assert answers == [casting.RECORDED] * CASTS
    assert sessions.commits < CASTS  # the first alone, the seven queued behind it together
    assert _recorded(session) == (CASTS, CASTS, ["cast"] * CASTS)


def test_a_refused_cast_in_a_batch_is_answered_to_its_caller_alone_and_writes_nothing(session, sessions, batches,
                                                                                        codes):
    refused = 5
    casts = _casts(codes, {refused: b"\x01\x02"})  # a mark short
    answers = _cast_together(sessions, casts)
    assert isinstance(answers[refused], InvalidMarks)
    assert answers[:refused] + answers[refused + 1:] == [casting.RECORDED] * (CASTS - 1)
    assert [len(batch) > 1 for batch in batches if casts[refused] in batch] == [True]  # in one batch, with others
    assert sessions.commits == len(batches) < CASTS
    ballots, entries, states = _recorded(session)
    assert (ballots, entries, states.count("cast")) == (CASTS - 1, CASTS - 1, CASTS - 1)
    assert _state_of(session, codes[refused]) == ("issued", None)  # not spent, no submission kept


def test_a_failed_commit_answers_every_waiting_cast_with_an_error_and_records_nothing(session, sessions, codes):
    @event.listens_for(sessions, "before_commit")
    def disk_full(_session):
        raise DiskFull("no space left on device")

    answers = _cast_together(sessions, _casts(codes))
    assert all(isinstance(answer, DiskFull) for answer in answers), answers
    assert sessions.commits == 0
    assert _recorded(session) == (0, 0, ["issued"] * CASTS)
    assert {_state_of(session, code) for code in codes} == {("issued", None)}


LONG_GATHER = 30.0  # seconds: longer than any test here, so that only the rule ends a leader's wait


def _lead_alone(sessions, cast: casting.Cast, arrival=None, *, then=None):
    """Cast `cast` as the leader of a group commit that gathers for LONG_GATHER seconds while `arrival` (a
    request already begun) has not joined; `then(group)` runs in another thread once the leader waits. Returns
    the leader's answer and how long it took."""
    group = GroupCommit(sessions, max_batch=32, gather_seconds=LONG_GATHER)
    arrival = group.arrive() if arrival else None
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(group.cast, cast)
        if then is not None:
            time.sleep(QUEUE_TIME)  # the leader is waiting for the arrival by now
            pool.submit(then, group, arrival).result(timeout=60)
        answer = leader.result(timeout=60)
    return answer, time.monotonic() - started


def test_a_leader_waits_for_a_cast_already_arriving_and_commits_it_with_its_own(session, sessions, batches, codes):
    first, second = _casts(codes[:2])
    answer, _took = _lead_alone(sessions, first, arrival=True,
                                then=lambda group, arrival: group.cast(second, arrival))
    assert answer == casting.RECORDED
    assert [len(batch) for batch in batches] == [2] and sessions.commits == 1


def test_a_leader_with_nobody_arriving_does_not_wait(session, sessions, batches, codes):
    answer, took = _lead_alone(sessions, _casts(codes[:1])[0])
    assert answer == casting.RECORDED and took < LONG_GATHER / 2
    assert [len(batch) for batch in batches] == [1]


def test_a_request_that_ends_without_casting_stops_the_leaders_wait(session, sessions, batches, codes):
    answer, took = _lead_alone(sessions, _casts(codes[:1])[0], arrival=True,
                               then=lambda group, arrival: group.leave(arrival))  # refused before it was cast
    assert answer == casting.RECORDED and took < LONG_GATHER / 2
    assert [len(batch) for batch in batches] == [1]


def test_every_request_to_cast_is_counted_arriving_until_it_casts_or_ends(app, client, session, world):
    # a request counted as arriving and never uncounted would keep every later leader waiting its gathering time
    built = make_round(session, world, until="open", issue=2)
    session.commit()
    group = app.extensions["trustvote.group_commit"]
    counted = []
    arrive = group.arrive
    group.arrive = lambda: counted.append(arrive()) or counted[-1]
    answers = [client.post("/api/v1/ballots", json={"code": built.codes[0], "marks": "1230",
                                                    "submission": "arrival-0123456789"}).status_code,
               client.post("/api/v1/ballots", data="not json", content_type="application/json").status_code,
               client.post("/api/v1/ballots", json={"code": built.codes[1], "marks": "12",
                                                    "submission": "arrival-0123456780"}).status_code,
               client.get("/api/v1/openapi.json").status_code]
    assert answers == [201, 400, 400, 200]
    assert len(counted) == 3 and all(arrival.joined for arrival in counted) and group._arriving == 0

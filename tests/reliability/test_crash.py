"""Durability: the server killed (SIGKILL, master and workers at once) in the middle of a stream of casts.

After a restart, every ballot whose cast was acknowledged (201) is there, none is half-written (a token spent
without its ballot, a ballot without its spent token, a ballot without its audit entry, broken marks), a retry of
an acknowledged cast is told "already recorded", a retry of a cast whose answer was lost is told the truth, and
the server goes on answering as before. Through the shipped deployment: `trustvote init`, then gunicorn with
deploy/gunicorn.conf.py, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import http.client
import random
import secrets as random_source
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, func, select

from ballots import audit, box, casting, tokens
from ballots.db import make_sessionmaker
from ballots.models import SealedBallot, Token
from tests.factories import build_world, logged_casts, make_round

from .helpers import (
    Gunicorn,
    get,
    init_instance,
    instance_sessions,
    module_database,
    post_json,
    quick_password_hashing,
)

BALLOTS = 400
CLIENTS = 8
KILL_AFTER = 1.2  # seconds of casting, or sooner if most ballots are cast already: the stream must be running
KILL_AT_MOST = 0.75 * BALLOTS


@dataclass
class Cast:
    code: str
    submission: str
    marks: list[int]


@dataclass
class Stream:
    """Tablets casting one ballot after another until the server stops answering."""

    base: str
    codes: list[str]
    candidates: int
    acknowledged: list[Cast] = field(default_factory=list)  # answered 201
    in_doubt: list[Cast] = field(default_factory=list)  # the connection broke: recorded or not, nobody was told
    unexpected: list[tuple[Cast, int, dict]] = field(default_factory=list)  # answered anything else

    def __post_init__(self):
        self._lock = threading.Lock()
        self._next = iter(self.codes)
        self.stopped = threading.Event()

    def remaining(self):
        """The codes no tablet took (once the stream has stopped)."""
        with self._lock:
            return list(self._next)

    def _take(self) -> str | None:
        with self._lock:
            return None if self.stopped.is_set() else next(self._next, None)

    def client(self, seed: int) -> None:
        chooser = random.Random(seed)
        while (code := self._take()) is not None:
            cast = Cast(code, random_source.token_urlsafe(18), [chooser.randrange(4) for _ in range(self.candidates)])
            try:
                status, body = post_json(f"{self.base}/api/v1/ballots",
                                         {"code": code, "marks": cast.marks, "submission": cast.submission})
            except (OSError, http.client.HTTPException):  # refused, reset, cut short: URLError is an OSError too
                with self._lock:
                    self.in_doubt.append(cast)
                return  # the server is gone
            with self._lock:
                if status == 201 and body.get("status") == casting.RECORDED:
                    self.acknowledged.append(cast)
                else:
                    self.unexpected.append((cast, status, body))


def _hash(code: str) -> bytes:
    return tokens.hash_secret(tokens.secret_of(code))


@dataclass
class Crashed:
    """A round cast through gunicorn until the server was killed, and the server started again on it."""

    engine: Engine
    server: Gunicorn  # the restarted one
    round_id: int
    candidates: int
    stream: Stream
    casts_sent: int  # codes handed to the tablets before the kill stopped them
    spare_codes: list[str]  # never sent before the crash
    cards: list[str]  # the key cards that open the round's ballot box


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crashed(request, tmp_path_factory):
    """The crash, once per engine, looked at by each test below: set up through the domain, `trustvote init`,
    gunicorn with the shipped config, eight tablets casting, SIGKILL to gunicorn's whole process group after
    about a second, then gunicorn started again."""
    db_url, engine = module_database(request, tmp_path_factory)
    try:
        folder = tmp_path_factory.mktemp("crash")
        env = init_instance(db_url, folder / "instance")
        with quick_password_hashing(), instance_sessions(engine, folder / "instance")() as session:
            voting = make_round(session, build_world(session), until="open", convened=BALLOTS, present=BALLOTS)
        round_, codes = voting.round, voting.codes
        candidates = len(round_.candidates)
        spare_codes, codes = codes[-2:], codes[:-2]
        log = folder / "gunicorn.log"

        with Gunicorn(env, log) as server:
            stream = Stream(server.base, codes, candidates)
            clients = [threading.Thread(target=stream.client, args=(i,), daemon=True) for i in range(CLIENTS)]
            began = time.monotonic()
            for thread in clients:
                thread.start()
            try:
                while time.monotonic() - began < KILL_AFTER and len(stream.acknowledged) < KILL_AT_MOST:
                    time.sleep(0.01)
                server.kill()  # SIGKILL to the master and its workers at once: no request is finished
            finally:
                stream.stopped.set()
                for thread in clients:
                    thread.join(30)
        assert not any(thread.is_alive() for thread in clients)

        with Gunicorn(env, log) as restarted:
            yield Crashed(engine=engine, server=restarted, round_id=round_.id, candidates=candidates,
                          stream=stream, casts_sent=len(codes) - len(stream.remaining()),
                          spare_codes=spare_codes, cards=voting.cards())
    finally:
        engine.dispose()


@pytest.fixture
def reader(crashed):
    with make_sessionmaker(crashed.engine)() as session:
        yield session


def _states(session, codes) -> dict[str, str]:
    by_hash = dict(session.execute(select(Token.secret_hash, Token.state)
                                   .where(Token.secret_hash.in_([_hash(c) for c in codes]))).all())
    return {code: by_hash[_hash(code)] for code in codes}


def _count(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))


def _cast(crashed: Crashed, cast: Cast) -> tuple[int, str | None]:
    status, body = post_json(f"{crashed.server.base}/api/v1/ballots",
                             {"code": cast.code, "marks": cast.marks, "submission": cast.submission})
    return status, body.get("status")


def test_the_server_was_killed_while_casts_were_in_flight(crashed):
    stream = crashed.stream
    assert not stream.unexpected, stream.unexpected[:3]
    assert stream.acknowledged, "nothing was cast before the kill"
    assert stream.in_doubt, "no cast was in flight when the server was killed"
    assert crashed.casts_sent < BALLOTS - len(crashed.spare_codes), "the stream had ended before the kill"


def test_every_acknowledged_ballot_is_recorded_after_the_restart(crashed, reader):
    acknowledged = [cast.code for cast in crashed.stream.acknowledged]
    assert set(_states(reader, acknowledged).values()) == {"cast"}
    assert _count(reader, SealedBallot, SealedBallot.round_id == crashed.round_id) >= len(acknowledged)


def test_every_spent_token_has_its_ballot_and_its_audit_entry_and_no_more_after_the_restart(crashed, reader):
    spent = _count(reader, Token, Token.round_id == crashed.round_id, Token.state == "cast")
    assert spent == _count(reader, SealedBallot, SealedBallot.round_id == crashed.round_id)
    assert spent == logged_casts(reader, crashed.round_id)


def test_every_ballot_has_one_tablet_mark_per_candidate_after_the_restart(crashed, reader):
    key = box.combine([box.parse_card(card) for card in crashed.cards])  # as the board opens the box
    marks = [box.unseal(key, crashed.round_id, sealed) for sealed in reader.scalars(
        select(SealedBallot.sealed).where(SealedBallot.round_id == crashed.round_id))]
    assert marks
    assert all(len(m) == crashed.candidates and set(m) <= {0, 1, 2, 3} for m in marks), marks


def test_the_audit_chain_holds_after_the_restart(crashed, reader):
    verdict = audit.verify(reader)
    assert verdict.ok, verdict


def test_a_retry_of_an_acknowledged_cast_is_told_it_was_already_recorded(crashed):
    answers = {_cast(crashed, cast) for cast in crashed.stream.acknowledged}
    assert answers == {(200, casting.ALREADY_RECORDED)}


def test_a_retry_of_a_cast_whose_answer_was_lost_is_told_the_truth(crashed, reader):
    """Recorded before the crash (committed, the answer lost): "already recorded". Not recorded: recorded now."""
    in_doubt = crashed.stream.in_doubt
    before = _states(reader, [cast.code for cast in in_doubt])
    reader.rollback()
    for cast in in_doubt:
        expected = (200, casting.ALREADY_RECORDED) if before[cast.code] == "cast" else (201, casting.RECORDED)
        assert _cast(crashed, cast) == expected, (cast, before[cast.code])
    assert set(_states(reader, [cast.code for cast in in_doubt]).values()) == {"cast"}


def test_the_restarted_server_opens_and_casts_a_new_ballot(crashed, reader):
    code = crashed.spare_codes[0]
    status, body = post_json(f"{crashed.server.base}/api/v1/ballots/open", {"code": code})
    assert status == 200 and len(body["candidates"]) == crashed.candidates, body
    cast = Cast(code, random_source.token_urlsafe(18), [1] * crashed.candidates)
    assert _cast(crashed, cast) == (201, casting.RECORDED)
    assert _states(reader, [code]) == {code: "cast"}
    assert get(f"{crashed.server.base}/login") == 200

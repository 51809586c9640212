"""A province on one PostgreSQL with several app instances: two gunicorn instances, separate processes with pools of
their own, serving the same database (PostgreSQL only: the province's deployment; SQLite is one laptop's).

1. One ballot, one vote across instances: 64 threads, half through each instance, released together by a barrier
   on the same sheet, sheet after sheet: exactly one acceptance a sheet, every other thread told it is used, one
   sealed ballot and one spent token a sheet. The control serves a deliberately racy cast (check, then an UPDATE
   without the condition: tests/reliability/racy_app.py) as two instances on the same database, and the same
   harness must see a sheet accepted twice.

2. Closing and opening one round never holds up casting in another. While 16 tablets cast round B through both
   instances, the board closes round A (1,500 sealed ballots), opens its ballot box, and opens round C, each in a
   transaction of its own. A monitor polls PostgreSQL's pg_locks every few milliseconds and records every lock
   wait of the casts (every backend of the database but the board's and its own), how long it lasted
   (pg_locks.waitstart, PostgreSQL 14+) and whether the lock was held by the board's transaction
   (pg_blocking_pids). No cast may wait on a lock the board holds longer than BOUND_MS. The control closes round D
   rewriting the ballot and token tables (CLUSTER, as the close did before issue 11; here 200,000 tokens of other
   rounds, a province's volume): the casts must then be seen waiting on the board longer than the bound.

Measured on the 2-core VM of the README's benchmarks (2026-11-30, the other sessions' work running, load 5–7),
five runs: with today's close the longest wait of a cast on a lock the board held was 21–49 ms (the close; the
casts wait for its transaction to release the audit log's head row, which every writer locks); the box opening
(925–1,327 ms for 1,500 ballots) held casts up for at most 5 ms, the round's opening 14 ms; casts queueing on each
other alone waited up to 21–35 ms. With the CLUSTER: 329–848 ms. BOUND_MS is 150 ms, three times the worst seen
today and under half the least the old close caused. (With the CLUSTER after the close's audit entry, its order
before issue 11, PostgreSQL reported a deadlock against the casts: see `_close_with_cluster`.)
"""

from __future__ import annotations

import contextlib
import secrets as random_source
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import insert, select, text

from ballots import ballot_box, casting
from ballots.db import make_engine, make_sessionmaker
from ballots.models import Account, Ballot, IssueBatch, Round, SealedBallot, Token
from app.settings import AUDIT_KEY_FILE, load_audit_key
from tests.conftest import count_rows
from tests.factories import build_world, make_conference, make_round
from tests.reliability.helpers import Gunicorn, init_instance, module_database, post_json, quick_password_hashing

THREADS = 64
SHEETS = 25  # sheets hammered by all the threads at once, one after the other
TABLETS = 16  # tablets casting round B while the board works on rounds A and C
BOUND_MS = 150
FILLER = 200_000  # tokens of other rounds (and a quarter as many ballots): what a province's tables hold
BARRIER_TIMEOUT = 60
BOARD = "trustvote-test-board-"  # the application_name of the board's and the monitor's connections


@dataclass
class Province:
    url: str
    engine: object
    env: dict
    tmp: object
    board: list  # the accounts of the board of rounds A and C
    same: list[str]  # codes of the sheets the 64 threads fight over
    candidates: int
    audit_key: bytes = b""  # the instance's: what the domain writes here, the instances accept as their own
    rounds: dict = field(default_factory=dict)  # name -> factories.Built
    b_cast: int = 0  # round B's sheets the tablets have used so far

    def session(self, engine=None):
        return make_sessionmaker(engine or self.engine, audit_key=self.audit_key)()


@pytest.fixture(scope="module", params=["postgresql"])
def province(request, tmp_path_factory):
    """One PostgreSQL database: a world, a round whose sheets the threads fight over, and rounds A (open, 1,500
    sealed ballots), B (open, 4,000 sheets to cast), C (issued), D and E (like A, for the control's close), and
    100,000 tokens and ballots of a round long counted; the instance folder the two gunicorns share."""
    url, engine = module_database(request, tmp_path_factory)
    instance = tmp_path_factory.mktemp("instance") / "instance"
    env = init_instance(url, instance)
    audit_key = load_audit_key(instance / AUDIT_KEY_FILE)[0]
    with quick_password_hashing(), make_sessionmaker(engine, audit_key=audit_key)() as session:
        world = build_world(session)
        session.commit()
        candidates = len(world.commune.memberships)
        found_so_far: list = []

        def new_round(until: str, present: int, cast: int = 0):
            # a term each: one person is rated in at most two places a term (the rule set's limit)
            conference = make_conference(session, world.commune, name=f"Hội nghị {until} {present}",
                                         term=f"round {len(found_so_far) + 1}")
            found_so_far.append(conference)
            built = make_round(session, world, until=until, conference=conference, convened=present,
                               present=present, board=("teller", "teller2"))
            if cast:
                _cast_in_process(session, built, cast, candidates)
            return built

        found = {"same": new_round("open", SHEETS), "A": new_round("open", 1500, cast=1500),
                 "B": new_round("open", 4000), "C": new_round("issued", 50),
                 "D": new_round("open", 1500, cast=1500), "filler": new_round("issued", 1)}
        board = [world.accounts["teller"], world.accounts["teller2"]]
        _fill(session, found["filler"].round.id)
    yield Province(url, engine, env, tmp_path_factory.mktemp("logs"), board, found["same"].codes, candidates,
                   audit_key, found)
    engine.dispose()


def _cast_in_process(session, built, count: int, candidates: int) -> None:
    """Cast `count` ballots through the domain, as the tablets would have (sealed in the box)."""
    for start in range(0, count, 500):
        casts = [casting.Cast(code, bytes([1] * candidates), random_source.token_urlsafe(18))
                 for code in built.codes[start:start + 500][:count - start]]
        assert set(casting.cast_ballots(session, casts)) == {casting.RECORDED}
        session.commit()


def _fill(session, round_id: int) -> None:
    """A province's volume in the tables the old close CLUSTERed: tokens spent and ballots of a round counted."""
    batch = session.scalar(select(IssueBatch.id).where(IssueBatch.round_id == round_id))
    connection = session.connection()
    for start in range(0, FILLER, 20_000):
        connection.execute(insert(Token), [
            {"round_id": round_id, "batch_id": batch, "secret_hash": random_source.token_bytes(32), "state": "cast"}
            for _ in range(20_000)])
        connection.execute(insert(Ballot), [
            {"id": random_source.token_bytes(16), "round_id": round_id, "marks": bytes(40)} for _ in range(5_000)])
    session.execute(text("ANALYZE token"))
    session.commit()


@contextlib.contextmanager
def two_instances(province: Province, name: str, app: str = "app:create_app()", env: dict | None = None):
    log = province.tmp / f"{name}.log"
    with Gunicorn(env or province.env, log, app=app) as first, Gunicorn(env or province.env, log, app=app) as second:
        assert first.process.pid != second.process.pid
        yield [first, second]


# --- 1. exactly once across instances --------------------------------------------------------------------------


def _hammer(servers, codes: list[str], candidates: int) -> list[Counter]:
    """For each code in turn, release THREADS threads together (half through each server) to cast it, each with
    a submission of its own; return, a code, how many got each status."""
    start, done = threading.Barrier(THREADS + 1), threading.Barrier(THREADS + 1)
    tallies = [Counter() for _ in codes]
    lock = threading.Lock()
    broken: list[str] = []

    def worker(index: int) -> None:
        base = servers[index % 2].base
        try:
            for number, code in enumerate(codes):
                start.wait(BARRIER_TIMEOUT)
                try:
                    status, _body = post_json(f"{base}/api/v1/ballots", {
                        "code": code, "marks": [1] * candidates, "submission": random_source.token_urlsafe(18)},
                        timeout=30)
                except OSError as exc:
                    status = type(exc).__name__
                with lock:
                    tallies[number][status] += 1
                done.wait(BARRIER_TIMEOUT)
        except threading.BrokenBarrierError as exc:
            broken.append(f"worker {index}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        for _ in codes:
            start.wait(BARRIER_TIMEOUT)
            done.wait(BARRIER_TIMEOUT)
    finally:
        for thread in threads:
            thread.join(BARRIER_TIMEOUT)
    assert not broken, broken[:3]
    return tallies


def test_64_tablets_through_two_instances_cast_each_sheet_exactly_once(province):
    with two_instances(province, "exactly-once") as servers:
        tallies = _hammer(servers, province.same, province.candidates)
    wrong = [(number, dict(t)) for number, t in enumerate(tallies) if t != Counter({201: 1, 409: THREADS - 1})]
    assert not wrong, wrong[:5]
    with province.session() as session:
        round_id = province.rounds["same"].round.id
        assert count_rows(session, Token, Token.round_id == round_id, Token.state == "cast") == SHEETS
        assert count_rows(session, SealedBallot, SealedBallot.round_id == round_id) == SHEETS


def test_the_harness_sees_a_racy_cast_accept_a_sheet_twice_across_instances(province):
    """The control: the same harness, two instances of a cast that checks and then updates without the
    condition, on the same database and fresh sheets. It must see at least one sheet accepted more than once."""
    with province.session() as session:
        codes = make_round(session, build_world_again(session), until="open", convened=SHEETS, present=SHEETS,
                           board=("teller",)).codes
    with two_instances(province, "racy", app="tests.reliability.racy_app:app") as servers:
        tallies = _hammer(servers, codes, province.candidates)
    assert max(t[201] for t in tallies) > 1, [dict(t) for t in tallies[:3]]


def build_world_again(session):
    """The fixture's world, read back (for a round of the commune with its tellers)."""
    from tests.factories import World
    from ballots.models import Account, Committee

    commune = session.scalars(select(Committee).where(Committee.name == "Đảng ủy xã Yên Bình")).one()
    world = World(commune.parent.parent, commune.parent, commune, commune.parent.children[0])
    world.accounts = {a.username: a for a in session.scalars(select(Account))}
    world.conference = make_conference(session, commune, name="Hội nghị", term=random_source.token_hex(4))
    return world


# --- 2. closing and opening one round never holds up casting in another -----------------------------------------


@dataclass
class Wait:
    pid: int
    lock: str
    started: float  # epoch seconds (pg_locks.waitstart)
    longest: float  # seconds waited, as last seen
    on_board: bool = False  # the lock waited for was held by the board's transaction (pg_blocking_pids)


class LockMonitor:
    """Polls pg_locks for the backends of this database that wait on a lock, but the board's and its own (their
    application_name starts with BOARD), every `every` seconds until stopped; keeps each wait once, with the
    longest time it was seen waiting."""

    def __init__(self, url: str, every: float = 0.003):
        self.engine = make_engine(url, isolation_level="AUTOCOMMIT",
                                  connect_args={"application_name": f"{BOARD}monitor"})
        self.every = every
        self.waits: dict[tuple[int, float], Wait] = {}
        self.polls = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        query = text("SELECT l.pid, l.locktype || ':' || l.mode || ':' || coalesce(l.relation::regclass::text, '')"
                     ", extract(epoch from l.waitstart), extract(epoch from clock_timestamp() - l.waitstart),"
                     " EXISTS (SELECT 1 FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(l.pid))"
                     "         AND b.application_name LIKE :board)"
                     " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                     " WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.datname = current_database()"
                     " AND a.application_name NOT LIKE :board")
        with self.engine.connect() as connection:
            while not self.stop.is_set():
                for pid, lock, started, waited, on_board in connection.execute(query, {"board": f"{BOARD}%"}):
                    key = (pid, float(started))
                    known = self.waits.setdefault(key, Wait(pid, lock, float(started), 0.0))
                    known.longest = max(known.longest, float(waited))
                    known.on_board = known.on_board or on_board
                self.polls += 1
                time.sleep(self.every)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        self.engine.dispose()

    def longest(self, since: float = 0.0, until: float = float("inf"), *, on_board: bool = False) -> Wait | None:
        found = [w for w in self.waits.values() if since <= w.started <= until and (w.on_board or not on_board)]
        return max(found, key=lambda w: w.longest, default=None)


class Tablets:
    """TABLETS threads casting round B's sheets through both instances until stopped; each cast's start, end, status."""

    def __init__(self, servers, codes: list[str], candidates: int):
        self.servers, self.codes, self.candidates = servers, iter(codes), candidates
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.casts: list[tuple[float, float, int]] = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(TABLETS)]

    def run(self, index: int) -> None:
        base = self.servers[index % 2].base
        while not self.stop.is_set():
            with self.lock:
                code = next(self.codes, None)
            if code is None:
                return
            began = time.time()
            status, _ = post_json(f"{base}/api/v1/ballots", {"code": code, "marks": [2] * self.candidates,
                                                              "submission": random_source.token_urlsafe(18)})
            with self.lock:
                self.casts.append((began, time.time(), status))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


@dataclass
class Run:
    phases: dict[str, tuple[float, float]]  # what the board did: its start and end (epoch seconds)
    monitor: LockMonitor
    tablets: Tablets

    def longest_on_board_ms(self) -> float:
        """The longest any cast waited on a lock the board's transactions held."""
        wait = self.monitor.longest(on_board=True)
        return wait.longest * 1000 if wait else 0.0

    def report(self) -> str:
        first = min(since for since, _ in self.phases.values())
        steady = self.monitor.longest(until=first)
        lines = [f"{len(self.tablets.casts)} casts through two instances, {self.monitor.polls} polls of pg_locks, "
                 f"{len(self.monitor.waits)} lock waits of casts; longest on a lock the board held: "
                 f"{self.longest_on_board_ms():.0f} ms; longest while casting alone, before the board: "
                 f"{steady.longest * 1000 if steady else 0:.0f} ms (casts queueing on each other)"]
        for name, (since, until) in self.phases.items():
            on_board = self.monitor.longest(since, until, on_board=True)
            wait = self.monitor.longest(since, until)
            latencies = [end - began for began, end, _ in self.tablets.casts if began <= until and end >= since]
            lines.append(f"  {name}: {(until - since) * 1000:.0f} ms; cast lock waits begun meanwhile: on the "
                         f"board's locks {on_board.longest * 1000 if on_board else 0:.0f} ms "
                         f"({on_board.lock if on_board else '-'}), any {wait.longest * 1000 if wait else 0:.0f} ms; "
                         f"{len(latencies)} casts overlapping it, the slowest {max(latencies, default=0) * 1000:.0f} ms")
        return "\n".join(lines)


def _board_works(province: Province, servers, *, close, names=("A", "C")) -> Run:
    """Round B cast by the tablets through both instances; meanwhile the board closes round `names[0]`, opens its
    box and opens round `names[1]`, each in a transaction of its own (as three requests would), on a connection
    the monitor ignores."""
    rounds = province.rounds
    closing, opening = rounds[names[0]], rounds[names[1]]
    engine = make_engine(province.url, connect_args={"application_name": f"{BOARD}requests"})
    phases: dict[str, tuple[float, float]] = {}
    with province.session(engine) as session, LockMonitor(province.url) as monitor, \
            Tablets(servers, rounds["B"].codes[province.b_cast:], province.candidates) as tablets:
        time.sleep(1.5)  # casting steadily before the board starts
        closing_round = session.get(Round, closing.round.id)
        for name, action in (
                ("close", lambda: close(session, closing_round)),
                ("box", lambda: ballot_box.open_box(session, closing_round, cards=closing.cards(),
                                                    account=session.get(Account, province.board[0].id))),
                ("open", lambda: casting.open_voting(session, session.get(Round, opening.round.id),
                                                     actor="teller"))):
            began = time.time()
            action()
            session.commit()
            phases[name] = (began, time.time())
            time.sleep(0.8)
    province.b_cast += len(tablets.casts)
    engine.dispose()
    failed = [status for _, _, status in tablets.casts if status != 201]
    assert not failed, Counter(failed)
    return Run(phases, monitor, tablets)


def _todays_close(session, round_):
    casting.close_voting(session, round_, actor="teller")


def _close_with_cluster(session, round_):
    """A close that rewrites the province's ballot and token tables in its transaction, as the close did before
    issue 11 (there the CLUSTER came after the close's audit entry, and with casts going on in other rounds
    PostgreSQL found that order deadlocked: the cast waiting for the audit log's head row, the CLUSTER for the
    cast's table; here it comes first, so that the control measures the wait instead of a deadlock)."""
    session.execute(text("CLUSTER ballot USING pk_ballot"))
    session.execute(text("CLUSTER token USING pk_token"))
    casting.close_voting(session, round_, actor="teller")


def test_closing_and_opening_a_round_never_holds_up_casting_in_another(province, capsys):
    with two_instances(province, "locks") as servers:
        run = _board_works(province, servers, close=_todays_close)
    with capsys.disabled():
        print(f"\ntoday's close, box opening and round opening:\n{run.report()}")
    assert run.tablets.casts and run.monitor.polls > 100
    assert run.longest_on_board_ms() < BOUND_MS, run.report()


def test_the_monitor_sees_casts_wait_when_a_close_locks_the_provinces_tables(province, capsys):
    """The control: round D closed as before issue 11 (CLUSTER in the close's transaction) while round B casts;
    the casts must be seen waiting longer than the bound, or the measurement above would mean nothing."""
    with province.session() as session:
        spare = make_round(session, build_world_again(session), until="issued", convened=10, present=10,
                           board=("teller", "teller2"))
    province.rounds["spare"] = spare
    with two_instances(province, "locks-control") as servers:
        run = _board_works(province, servers, close=_close_with_cluster, names=("D", "spare"))
    with capsys.disabled():
        print(f"\nthe old close (CLUSTER ballot, token):\n{run.report()}")
    assert run.longest_on_board_ms() > BOUND_MS, run.report()

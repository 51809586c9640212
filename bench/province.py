"""A province on one PostgreSQL: 500 rounds open at once, casts spread over all of them through two app instances.

Two gunicorn instances (`gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`, separate processes, each with the
config's workers and pools) serve the same database and share one instance folder (keys), as behind nginx. N client
threads, half on each instance, each with its own connection, take jobs from a shared queue: a ballot of any of the
500 rounds, in random order, POSTed to /api/v1/ballots {code, marks, submission, round} as the round's kiosk sends
it. Printed: ballots accepted per second and p50/p95/p99 latency, against the cheapest real endpoint of the same app
(GET /static/css/app.css) served by the same two instances to the same clients in the same run, and the ratio of
the rates (the machines are shared and noisy: the ratio is the figure to compare), and the CPU a request costs
the server side (both gunicorns and PostgreSQL's backends for this run's database) and the client. Then every
round's ballots are counted in the database: exactly the accepted ones, in the right round. Each run also casts
the same number of ballots into one round alone, through the same instances: what spreading over the province
costs, in the same run.

Set-up goes through the domain where it matters (each round created with its candidates, its board, its ballots
issued with their box, opened) and in bulk where it does not (500 communes and their members: Core inserts). Not
timed. PostgreSQL: the server at TRUSTVOTE_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test), in a
database of this run's own, dropped at the end. SQLite (--db sqlite): the same on one file, for comparison.

Run: .venv/bin/python bench/province.py [--db postgresql|sqlite|both] [--rounds 500] [--ballots 2000] [--clients 64]
     [--repeat 3] [--candidates 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import queue
import random
import secrets as random_source
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from ballots import accounts, casting, committees, issuing, rounds, schema, tokens  # noqa: E402
from ballots.db import make_engine, make_sessionmaker  # noqa: E402
from ballots.models import Account, Committee, Membership, Person, SealedBallot  # noqa: E402
from _databases import (  # noqa: E402
    candidate, database, load_arguments, quick_password_hashing, reachable_engines,
)
from cast import (  # noqa: E402
    BIN, CONFIG, TRIVIAL, Phase, check, client_cpu_seconds, configured_workers, free_port, median,
    server_cpu_seconds, stop, wait_until_answering,
)

INSTANCES = 2


# --- the province, through the domain where it matters ------------------------------------------------------------

def set_up(url: str, instance: Path, *, rounds_open: int, ballots: int, candidates: int,
           single: int) -> dict[int, list[str]]:
    """A province with `rounds_open` communes, each with `candidates` members and an open round of `ballots`
    ballots, and one more commune whose open round has `single` ballots (the same-run comparison: every cast in
    one round), made with the instance's keys (`instance`, as `trustvote init` made it); return each round's
    codes, the single round's last."""
    from app.settings import AUDIT_KEY_FILE, load_audit_key

    engine = make_engine(url)
    schema.upgrade(engine)
    new_session = make_sessionmaker(engine, audit_key=load_audit_key(instance / AUDIT_KEY_FILE)[0])
    with new_session() as session:
        province = committees.create_committee(session, name="Tỉnh ủy Sơn Lâm", level="Tỉnh ủy", parent=None,
                                               actor="bench")
        teller = accounts.create_account(session, username="tokiemphieu", display_name="Tổ kiểm phiếu",
                                         password=random_source.token_urlsafe(24), actor="bench")
        session.commit()
        province_id, teller_id = province.id, teller.id
    with engine.begin() as connection:  # the communes and their members, in bulk: not what is measured
        connection.execute(insert(Committee), [
            {"parent_id": province_id, "name": f"Đảng ủy xã Số {number:03d}", "level": "Đảng ủy xã"}
            for number in range(rounds_open + 1)])
        commune_ids = connection.scalars(select(Committee.id).where(Committee.parent_id == province_id)
                                         .order_by(Committee.id)).all()
        connection.execute(insert(Person), [{"full_name": candidate(i)[0]}
                                            for i in range((rounds_open + 1) * candidates)])
        person_ids = connection.scalars(select(Person.id).order_by(Person.id)).all()
        connection.execute(insert(Membership), [
            {"committee_id": cid, "person_id": person_ids[n * candidates + i], "post": candidate(i)[1], "rank": i + 1}
            for n, cid in enumerate(commune_ids) for i in range(candidates)])
    codes: dict[int, list[str]] = {}
    with new_session() as session:
        teller = session.get(Account, teller_id)
        for number, cid in enumerate(commune_ids):
            size = single if number == rounds_open else ballots
            commune = session.get(Committee, cid)
            accounts.grant_role(session, account=teller, committee=commune, role="teller", actor="bench")
            conference = rounds.create_conference(session, committee=commune, name="Hội nghị sơ kết giữa nhiệm kỳ",
                                                  held_on=dt.date(2027, 10, 5), place="Hội trường",
                                                  term="2025-2030", actor="bench")
            round_ = rounds.create_round(session, conference=conference, title="Lấy phiếu tín nhiệm BCH",
                                         convened=size, present=size, actor="bench")
            rounds.set_board(session, round_, [teller_id], actor="bench")
            secrets = []
            while len(secrets) < size:
                count = min(issuing.MAX_BATCH, size - len(secrets))
                secrets += issuing.issue_ballots(session, round_, count=count, actor="bench").secrets
            casting.open_voting(session, round_, actor="bench")
            codes[round_.id] = [tokens.code_of(secret) for secret in secrets]
            session.commit()
    engine.dispose()
    return codes


def sealed_by_round(url: str) -> Counter:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = Counter(dict(connection.execute(select(SealedBallot.round_id, func.count())
                                                .group_by(SealedBallot.round_id)).all()))
    engine.dispose()
    return found


# --- two instances --------------------------------------------------------------------------------------------------

@dataclass
class Instances:
    ports: list[int]
    pids: list[int]
    workers: int
    database_name: str | None

    def cpu(self) -> float:
        """Both gunicorns' CPU, and PostgreSQL's backends for the run's database counted once."""
        return sum(server_cpu_seconds(pid, self.database_name if n == 0 else None)
                   for n, pid in enumerate(self.pids))


@contextmanager
def instances(url: str, instance: Path, workdir: Path, workers: int | None):
    """INSTANCES gunicorns with the shipped config on free ports, one instance folder (its keys) for all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTVOTE_")}
    env.update(TRUSTVOTE_INSTANCE=str(instance), TRUSTVOTE_DATABASE_URL=url, TRUSTVOTE_ACCESS_LOG="-")
    if workers:
        env["TRUSTVOTE_WORKERS"] = str(workers)
    started: list[subprocess.Popen] = []
    ports = [free_port() for _ in range(INSTANCES)]
    logs = [workdir / f"gunicorn-{n}.log" for n in range(INSTANCES)]
    try:
        for port, log in zip(ports, logs):
            with log.open("wb") as log_file:
                started.append(subprocess.Popen(
                    [str(BIN / "gunicorn"), "-c", CONFIG, "app:create_app()"], cwd=ROOT,
                    env={**env, "TRUSTVOTE_BIND": f"127.0.0.1:{port}"}, stdin=subprocess.DEVNULL, stdout=log_file,
                    stderr=subprocess.STDOUT))
        for process, port, log in zip(started, ports, logs):
            wait_until_answering(process, port, log)
        database_name = None if url.startswith("sqlite") else url.rsplit("/", 1)[1].split("?")[0]
        yield Instances(ports, [p.pid for p in started], configured_workers(env), database_name)
    finally:
        for process in started:
            stop(process)
    for log in logs:
        errors = [line for line in log.read_text(errors="replace").splitlines()
                  if "Traceback" in line or "[ERROR]" in line]
        if errors:
            print(f"  {log.name}: {len(errors)} errors logged: {errors[:3]}", file=sys.stderr)


def drive(servers: Instances, jobs: list, clients: int, build, expected: int, name: str) -> Phase:
    """`jobs` through `clients` threads, alternately on each instance, each with its own connection; each request
    timed. (bench/cast.py's drive, for several instances.)"""
    work: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        work.put(job)
    phase = Phase(name, expected)
    gate = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client(port: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        gate.wait()
        while True:
            try:
                job = work.get_nowait()
            except queue.Empty:
                break
            method, path, body, headers = build(job)
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                with lock:
                    phase.failures.append((type(exc).__name__, str(exc)))
                continue
            elapsed = time.perf_counter() - began
            with lock:
                if response.status == expected:
                    phase.latencies.append(elapsed)
                else:
                    phase.failures.append((response.status, data[:200].decode("utf-8", "replace")))
        connection.close()

    threads = [threading.Thread(target=client, args=(servers.ports[i % len(servers.ports)],), daemon=True)
               for i in range(clients)]
    for thread in threads:
        thread.start()
    server_before, client_before = servers.cpu(), client_cpu_seconds()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - began
    phase.server_cpu, phase.client_cpu = servers.cpu() - server_before, client_cpu_seconds() - client_before
    return phase


def trivial_request(_job):
    return "GET", TRIVIAL, None, {}


def cast_request(job):
    round_id, code, marks = job
    body = json.dumps({"code": code, "marks": marks, "submission": random_source.token_urlsafe(16),
                       "round": round_id}).encode()
    return "POST", "/api/v1/ballots", body, {"Content-Type": "application/json"}


# --- one engine -------------------------------------------------------------------------------------------------------

@dataclass
class EngineResult:
    engine: str
    workers: int
    rounds_cast: int  # rounds that received ballots in the timed runs
    trivial: list[Phase]
    cast: list[Phase]  # spread over the rounds open at once
    single: list[Phase]  # the same number, every one in one round: the same-run comparison


def run_engine(engine_name: str, args) -> EngineResult:
    warm = args.clients * 2
    total = warm + args.ballots * args.repeat
    per_round = -(-total // args.rounds)
    with tempfile.TemporaryDirectory(prefix="trustvote-bench-") as tmp, database(engine_name, Path(tmp)) as url:
        from app.settings import init_instance

        started = time.perf_counter()
        instance = Path(tmp) / "instance"
        init_instance(instance)
        with quick_password_hashing():
            codes = set_up(url, instance, rounds_open=args.rounds, ballots=per_round, candidates=args.candidates,
                           single=args.ballots * args.repeat)
        print(f"  {engine_name}: {args.rounds} rounds open, {per_round} ballots each, set up in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        rng = random.Random(15)
        single_id, single_codes = codes.popitem()
        one_round = [(single_id, code, "".join(rng.choice("0123") for _ in range(args.candidates)))
                     for code in single_codes]
        jobs = [(round_id, code, "".join(rng.choice("0123") for _ in range(args.candidates)))
                for round_id, round_codes in codes.items() for code in round_codes]
        rng.shuffle(jobs)  # spread: consecutive casts land in any of the rounds
        jobs = jobs[:total]
        with instances(url, instance, Path(tmp), args.workers) as servers:
            drive(servers, [None] * warm, args.clients, trivial_request, 200, "warm-up")
            check(drive(servers, jobs[:warm], args.clients, cast_request, 201, "warm-up"))
            trivial, cast, single = [], [], []
            for run in range(args.repeat):
                trivial.append(check(drive(servers, [None] * args.ballots, args.clients, trivial_request, 200,
                                           f"GET {TRIVIAL}")))
                chunk = jobs[warm + run * args.ballots: warm + (run + 1) * args.ballots]
                cast.append(check(drive(servers, chunk, args.clients, cast_request, 201, "POST /api/v1/ballots")))
                single.append(check(drive(servers, one_round[run * args.ballots:(run + 1) * args.ballots],
                                          args.clients, cast_request, 201, "POST /api/v1/ballots, one round")))
                print(f"  {engine_name} run {run + 1}: trivial {trivial[-1].rate:.0f}/s, cast {cast[-1].rate:.0f}/s "
                      f"(p99 {cast[-1].percentile(99) * 1000:.0f} ms), one round {single[-1].rate:.0f}/s",
                      file=sys.stderr)
            workers = servers.workers
        expected = Counter(round_id for round_id, _code, _marks in jobs)
        expected[single_id] = len(one_round)
        found = sealed_by_round(url)
        if found != expected:
            wrong = [r for r in set(found) | set(expected) if found[r] != expected[r]]
            raise SystemExit(f"{engine_name}: the rounds' sealed ballots differ from the accepted casts in "
                             f"{len(wrong)} rounds, e.g. round {wrong[0]}: {found[wrong[0]]} != {expected[wrong[0]]}")
    return EngineResult(engine_name, workers, len(expected) - 1, trivial, cast, single)


def report(results: list[EngineResult], args) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f" (load average {os.getloadavg()[0]:.1f} at the end)" if hasattr(os, "getloadavg") else ""
    print(f"province: {args.rounds} rounds open at once, {args.ballots} ballots of {args.candidates} candidates a run "
          f"spread over them, {args.clients} concurrent clients through {INSTANCES} gunicorn instances "
          f"(-c {CONFIG}) on one database, median of {args.repeat}, {cores} cores{load}")
    print(f"  {'engine':<11} {'endpoint':<24} {'workers':>11} {'rate':>15} {'p50':>9} {'p95':>9} {'p99':>9} "
          f"{'ratio':>6} {'server CPU':>11} {'client CPU':>11}")
    for result in results:
        trivial_rate = median([p.rate for p in result.trivial])
        for phases, label, unit in ((result.trivial, f"GET {TRIVIAL}", "req/s"),
                                    (result.cast, "POST /api/v1/ballots", "ballots/s"),
                                    (result.single, "  the same, one round", "ballots/s")):
            rate = median([p.rate for p in phases])
            p50, p95, p99 = (median([p.percentile(q) for p in phases]) * 1000 for q in (50, 95, 99))
            ratio = f"{rate / trivial_rate:6.2f}" if phases is not result.trivial else ""
            server, client = (median([p.cpu_ms(which) for p in phases]) for which in ("server", "client"))
            print(f"  {result.engine:<11} {label:<24} {f'{INSTANCES} x {result.workers}':>11} {rate:>6.0f} {unit:<9}"
                  f"{p50:>6.1f} ms {p95:>6.1f} ms {p99:>6.1f} ms {ratio:>6} {server:>5.2f} ms/r {client:>5.2f} ms/r")
    for result in results:
        ratio = median([p.rate for p in result.cast]) / median([p.rate for p in result.trivial])
        spread = median([p.rate for p in result.cast]) / median([p.rate for p in result.single])
        print(f"  {result.engine:<11} ratio {ratio:.2f} of the trivial endpoint, {spread:.2f} of the same casts into one "
              f"round; ballots landed in {result.rounds_cast} rounds, each round's sealed ballots exactly its "
              f"accepted casts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, db="postgresql", ballots=2000, candidates=15,
                   clients_help="concurrent tablet clients, half on each instance",
                   workers_help="gunicorn workers of each instance (default: TRUSTVOTE_WORKERS, else the config's)")
    parser.add_argument("--rounds", type=int, default=500, help="rounds open at once")
    args = parser.parse_args()
    report([run_engine(engine_name, args) for engine_name in reachable_engines(args.db)], args)


if __name__ == "__main__":
    main()

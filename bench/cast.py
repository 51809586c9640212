"""Casting from tablets: ballots of 40 candidates cast by 64 concurrent clients against the app under gunicorn.

Serves the app as shipped (`gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`, its sync workers, its
access log) on a free port, on SQLite and on PostgreSQL, and drives it with N client threads, each with its own
connection (http.client: keep-alive where the server keeps it; gunicorn's sync workers close after each
answer) and its own tablet id taken from a kiosk page. Each client takes codes from a shared queue and POSTs
/api/v1/ballots {code, marks, submission}. Prints ballots accepted per second and p50/p95/p99 latency, against
the cheapest real endpoint of the same app served the same way in the same run (GET /static/css/app.css: a file
Flask serves through the app's own after-request hooks, no database; measured under gunicorn it answers about as
fast as GET /api/v1/openapi.json and a 404, and faster than /b or /login), and the ratio of the two rates (the
machines are shared and noisy: the ratio is the figure to compare). Also printed: the CPU a request costs the
server (gunicorn's processes, and PostgreSQL's backends for this run's database) and the client, read from
/proc, which noise on a shared machine disturbs less than rates. Workers recycled by the config's max_requests
count in the phase they fall in: that is part of serving as shipped.

Set-up goes through the domain: a committee of 40 members, a conference, a round with them as candidates,
present = the ballots to cast, a counting board, ballots issued (their secrets in this process's memory only),
the round opened. PostgreSQL: the server at TRUSTVOTE_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test), in a database of this run's own, dropped at the end.

Run: .venv/bin/python bench/cast.py [--db sqlite|postgresql|both] [--ballots 4000] [--clients 64]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import re
import runpy
import secrets as random_source
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ballots import casting, issuing, schema, tokens  # noqa: E402
from ballots.db import make_engine, make_sessionmaker  # noqa: E402
from _databases import database, draft_round, load_arguments, reachable_engines  # noqa: E402

BIN = Path(sys.executable).parent
CONFIG = "deploy/gunicorn.conf.py"
TRIVIAL = "/static/css/app.css"
TABLET = re.compile(r'data-tablet="([^"]+)"')
# the rate against the trivial endpoint's, and the p99 against its p99 in the same closed loop: an absolute p99
# means nothing on 2 shared cores, where mean latency is clients / rate for any endpoint
TARGET_RATIO, TARGET_P99_RATIO = 0.6, 1.3


# --- the database and the round, through the domain --------------------------------------------------------------

def set_up_round(url: str, *, ballots: int, candidates: int, audit_key: bytes) -> tuple[int, list[str]]:
    """Migrate, then a committee, conference and open round with `ballots` issued; return the round and codes.
    Its ballot box is authenticated with the server's audit key, as if the server had made it."""
    engine = make_engine(url)
    schema.upgrade(engine)
    with make_sessionmaker(engine, audit_key=audit_key)() as session:
        round_, _board = draft_round(session, candidates=candidates, ballots=ballots)
        secrets: list[bytes] = []
        while len(secrets) < ballots:
            count = min(issuing.MAX_BATCH, ballots - len(secrets))
            secrets += issuing.issue_ballots(session, round_, count=count, actor="bench").secrets
        casting.open_voting(session, round_, actor="bench")
        session.commit()
        round_id = round_.id
    engine.dispose()
    return round_id, [tokens.code_of(secret) for secret in secrets]


def ballots_cast(url: str, round_id: int) -> int:
    from sqlalchemy import func, select

    from ballots.models import SealedBallot

    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(SealedBallot)
                                  .where(SealedBallot.round_id == round_id))
    engine.dispose()
    return count


def new_instance(instance: Path) -> bytes:
    """The server's instance folder and keys, made before the round (whose box its audit key authenticates)."""
    from app.settings import AUDIT_KEY_FILE, init_instance, load_audit_key

    init_instance(instance)
    return load_audit_key(instance / AUDIT_KEY_FILE)[0]


# --- gunicorn ------------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configured_workers(env: dict[str, str]) -> int:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return int(runpy.run_path(str(ROOT / CONFIG))["workers"])
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def gunicorn(url: str, workdir: Path, workers: int | None):
    """The app under gunicorn with the shipped config, on a free port."""
    instance = workdir / "instance"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTVOTE_")}
    env.update(TRUSTVOTE_INSTANCE=str(instance), TRUSTVOTE_DATABASE_URL=url, TRUSTVOTE_BIND=f"127.0.0.1:{port}",
               TRUSTVOTE_ACCESS_LOG="-")
    if workers:
        env["TRUSTVOTE_WORKERS"] = str(workers)
    elif os.environ.get("TRUSTVOTE_WORKERS"):
        env["TRUSTVOTE_WORKERS"] = os.environ["TRUSTVOTE_WORKERS"]
    log = workdir / "gunicorn.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen([str(BIN / "gunicorn"), "-c", CONFIG, "app:create_app()"], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_until_answering(process, port, log)
            database_name = None if url.startswith("sqlite") else url.rsplit("/", 1)[1].split("?")[0]
            yield Server(port, configured_workers(env), process.pid, database_name)
        finally:
            stop(process)
    tail = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line or "[ERROR]" in line]
    if tail:
        print(f"  gunicorn logged {len(tail)} errors; see the log: {tail[:3]}", file=sys.stderr)


def wait_until_answering(process: subprocess.Popen, port: int, log: Path) -> None:
    """Wait (30 s at most) until the gunicorn just started answers the trivial endpoint; stop the run if it dies."""
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if request("127.0.0.1", port, "GET", TRIVIAL)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"gunicorn did not answer within 30 s:\n{log.read_text()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """Stop a gunicorn gracefully (SIGTERM), or kill it after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(host: str, port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: str) -> tuple[int, list[str]] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[1]), fields  # the parent's pid, then the fields from the state on
    except (OSError, IndexError, ValueError):
        return None


def server_cpu_seconds(master: int, database_name: str | None) -> float:
    """CPU seconds used so far by gunicorn (its master, its live workers and the workers it has reaped) and, on
    PostgreSQL, by the server's backends connected to this run's database. Linux only (0 elsewhere)."""
    if not os.path.isdir("/proc"):
        return 0.0
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        found = _proc_stat(pid)
        if found is None:
            continue
        parent, fields = found
        # fields[11:15]: utime, stime, cutime, cstime
        if int(pid) == master:
            total += sum(int(value) for value in fields[11:15])
        elif parent == master:
            total += int(fields[11]) + int(fields[12])
        elif database_name:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    command = cmdline.read().decode("utf-8", "replace")
            except OSError:
                continue
            if command.startswith("postgres: ") and f" {database_name} " in command:
                total += int(fields[11]) + int(fields[12])
    return total / TICK


def client_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


# --- the clients ---------------------------------------------------------------------------------------------------

@dataclass
class Phase:
    name: str
    expected: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[tuple[int | str, str]] = field(default_factory=list)
    server_cpu: float = 0.0  # seconds of CPU: gunicorn's master and workers, and the run's PostgreSQL backends
    client_cpu: float = 0.0  # seconds of CPU of this process (the client threads)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def cpu_ms(self, which: str) -> float:
        """CPU milliseconds a request, on the server side or the client side."""
        return (self.server_cpu if which == "server" else self.client_cpu) / len(self.latencies) * 1000

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Server:
    port: int
    workers: int
    pid: int
    database_name: str | None

    def cpu(self) -> float:
        return server_cpu_seconds(self.pid, self.database_name)


def drive(server: Server, jobs: list, clients: int, tablets: list[str], build, expected: int, name: str) -> Phase:
    """Run `jobs` through `clients` threads, each with its own connection; time each request."""
    port = server.port
    work: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        work.put(job)
    phase = Phase(name, expected)
    start_gate = threading.Barrier(clients + 1)

    def client(tablet: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start_gate.wait()
        while True:
            try:
                job = work.get_nowait()
            except queue.Empty:
                break
            method, path, body, headers = build(job, tablet)
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                phase.failures.append((type(exc).__name__, str(exc)))
                continue
            elapsed = time.perf_counter() - began
            if response.status == expected:
                phase.latencies.append(elapsed)
            else:
                phase.failures.append((response.status, data[:200].decode("utf-8", "replace")))
        connection.close()

    threads = [threading.Thread(target=client, args=(tablets[i % len(tablets)],), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    server_before, client_before = server.cpu(), client_cpu_seconds()
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - began
    phase.server_cpu, phase.client_cpu = server.cpu() - server_before, client_cpu_seconds() - client_before
    return phase


def trivial_request(_job, _tablet):
    return "GET", TRIVIAL, None, {}


def cast_request(job, tablet):
    code, marks = job
    body = json.dumps({"code": code, "marks": marks, "submission": random_source.token_urlsafe(16)}).encode()
    return "POST", "/api/v1/ballots", body, {"Content-Type": "application/json", "X-Tablet": tablet}


# --- one engine ----------------------------------------------------------------------------------------------------

@dataclass
class EngineResult:
    engine: str
    workers: int
    trivial: list[Phase]
    cast: list[Phase]
    alone: Phase  # one client casting alone: the latency a voter sees when the tablets are not all at once


def run_engine(engine_name: str, args) -> EngineResult:
    warm = args.clients * 2
    per_run = args.ballots
    alone = args.alone
    with tempfile.TemporaryDirectory(prefix="trustvote-bench-") as tmp, database(engine_name, Path(tmp)) as url:
        workdir = Path(tmp)
        started = time.perf_counter()
        total = warm + per_run * args.repeat + alone
        round_id, codes = set_up_round(url, ballots=total, candidates=args.candidates,
                                       audit_key=new_instance(workdir / "instance"))
        print(f"  {engine_name}: set up {len(codes)} ballots in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        rng = random.Random(1)
        ballots = [(code, "".join(rng.choice("0123") for _ in range(args.candidates))) for code in codes]
        with gunicorn(url, workdir, args.workers) as server:
            workers = server.workers
            tablets = []
            for _ in range(args.clients):  # each tablet loads its kiosk page once, as a real one does
                status, page = request("127.0.0.1", server.port, "GET", f"/kiosk/{round_id}")
                assert status == 200, status
                tablets.append(TABLET.search(page.decode()).group(1))
            # warm every worker up on both endpoints (imports, templates, connection pools)
            drive(server, [None] * warm, args.clients, tablets, trivial_request, 200, "warm-up")
            warm_cast = drive(server, ballots[:warm], args.clients, tablets, cast_request, 201, "warm-up")
            check(warm_cast)
            trivial, cast = [], []
            for run in range(args.repeat):
                trivial.append(check(drive(server, [None] * per_run, args.clients, tablets, trivial_request, 200,
                                           f"GET {TRIVIAL}")))
                chunk = ballots[warm + run * per_run: warm + (run + 1) * per_run]
                cast.append(check(drive(server, chunk, args.clients, tablets, cast_request, 201,
                                        "POST /api/v1/ballots")))
                print(f"  {engine_name} run {run + 1}: trivial {trivial[-1].rate:.0f}/s, cast {cast[-1].rate:.0f}/s "
                      f"(p99 {cast[-1].percentile(99) * 1000:.0f} ms)", file=sys.stderr)
            by_one = check(drive(server, ballots[total - alone:], 1, tablets, cast_request, 201, "one client"))
        recorded = ballots_cast(url, round_id)
        if recorded != total:
            raise SystemExit(f"{engine_name}: {recorded} ballots in the database, {total} accepted")
    return EngineResult(engine_name, workers, trivial, cast, by_one)


def check(phase: Phase) -> Phase:
    if phase.failures:
        print(f"{phase.name}: {len(phase.failures)} of {len(phase.failures) + len(phase.latencies)} requests "
              f"failed (expected {phase.expected}):", file=sys.stderr)
        for failure in sorted(set(phase.failures))[:10]:
            print(f"  {failure}", file=sys.stderr)
        raise SystemExit(1)
    return phase


def median(values):
    return statistics.median(values)


def report(results: list[EngineResult], args) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f" (load average {os.getloadavg()[0]:.1f} at the end)" if hasattr(os, "getloadavg") else ""
    print(f"cast: {args.ballots} ballots x {args.candidates} candidates a run, {args.clients} concurrent clients, "
          f"gunicorn -c {CONFIG}, median of {args.repeat}, {cores} cores{load}")
    print(f"  {'engine':<11} {'endpoint':<24} {'workers':>7} {'rate':>15} {'p50':>9} {'p95':>9} {'p99':>9} "
          f"{'ratio':>6} {'server CPU':>11} {'client CPU':>11}")
    for result in results:
        trivial_rate = median([p.rate for p in result.trivial])
        for phases, label, unit in ((result.trivial, f"GET {TRIVIAL}", "req/s"),
                                    (result.cast, "POST /api/v1/ballots", "ballots/s")):
            rate = median([p.rate for p in phases])
            p50, p95, p99 = (median([p.percentile(q) for p in phases]) * 1000 for q in (50, 95, 99))
            ratio = f"{rate / trivial_rate:6.2f}" if phases is result.cast else ""
            server, client = (median([p.cpu_ms(which) for p in phases]) for which in ("server", "client"))
            print(f"  {result.engine:<11} {label:<24} {result.workers:>7} {rate:>6.0f} {unit:<9}"
                  f"{p50:>6.1f} ms {p95:>6.1f} ms {p99:>6.1f} ms {ratio:>6} {server:>5.2f} ms/r {client:>5.2f} ms/r")
    print(f"Target: at least {TARGET_RATIO} of the trivial endpoint's rate, and a p99 at most {TARGET_P99_RATIO} x "
          f"its p99, at {args.clients} concurrent clients")
    for result in results:
        ratio = median([p.rate for p in result.cast]) / median([p.rate for p in result.trivial])
        p99 = median([p.percentile(99) for p in result.cast]) * 1000
        p99_ratio = p99 / (median([p.percentile(99) for p in result.trivial]) * 1000)
        cpu_ratio = median([p.cpu_ms("server") for p in result.trivial]) / median(
            [p.cpu_ms("server") for p in result.cast])
        verdict = "met" if ratio >= TARGET_RATIO and p99_ratio <= TARGET_P99_RATIO else "MISSED"
        print(f"  {result.engine:<11} ratio {ratio:.2f}, p99 {p99:.0f} ms = {p99_ratio:.2f} x the trivial's: {verdict}"
              f"   (server CPU a request, trivial / cast: {cpu_ratio:.2f})")
    print(f"  (a closed loop: each client waits for its answer, so mean latency = {args.clients} / rate, for the "
          "trivial endpoint too)")
    for result in results:
        alone = result.alone
        print(f"  {result.engine:<11} one client alone, {len(alone.latencies)} ballots: {alone.rate:.0f} ballots/s, "
              f"p50 {alone.percentile(50) * 1000:.1f} ms, p95 {alone.percentile(95) * 1000:.1f} ms, "
              f"p99 {alone.percentile(99) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, ballots=4000, candidates=40, clients_help="concurrent tablet clients",
                   workers_help="gunicorn workers (default: TRUSTVOTE_WORKERS, else the config's own count)")
    parser.add_argument("--alone", type=int, default=200, help="ballots then cast by one client alone")
    args = parser.parse_args()
    report([run_engine(engine_name, args) for engine_name in reachable_engines(args.db)], args)


if __name__ == "__main__":
    main()

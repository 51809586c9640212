"""Counting: the time from closing a round to its signed result, for 2,000 and 200,000 ballots of 40 candidates.

Each timed run is what the board does after the vote, one transaction each as the app commits one per request,
each in a fresh session that loads the round again: `casting.close_voting`, `ballot_box.open_box` with two of
the board's key cards (timed and printed, but outside the headline: bench/open_box.py has its own target),
`counting.count_round`, then
`sealing.approve` by each of the board's two members, the second of which seals (the tally, the ballots digest,
the canonical JSON document, its Ed25519 signature). Printed against two bare queries of the same ballots timed in
the same run, through the same driver, on the same (sealed) rows: `SELECT count(*) FROM ballot WHERE round_id = ?`
(the issue's baseline: the headline ratio) and `SELECT marks FROM ballot WHERE round_id = ?` fetched whole (the
least any count must do; its ratio says what the domain adds over reading the rows). The machines are shared
and noisy: the ratios are the figures to compare. Each phase's time is printed too, to show where time goes.

Set-up (not timed): a database of each run's own (SQLite: a temporary file; PostgreSQL: the server at
TRUSTVOTE_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test, a database created and dropped),
migrated by ballots.schema.upgrade; a committee of 40 members, a conference, a round with them as candidates,
present = the ballots, a board of two tellers, all through the domain. Up to --domain-limit ballots the tokens are
issued by issuing.issue_ballots (batches of at most issuing.MAX_BATCH); above it the batch and its token rows are
inserted with bulk Core inserts and the round's commitment computed as issuing does. The round is opened through
the domain, then every token is marked cast and one sealed ballot a token (ballots.box.seal, as a cast does)
inserted in bulk: random marks 1-3, and about 2 % of the ballots with an unmarked row, which the default rule set
counts as invalid ballots.

Run: .venv/bin/python bench/count.py [--db sqlite|postgresql|both] [--sizes 2000,200000] [--repeat 3]
     [--profile] (cProfile of one close-to-seal run of each size, printed after the figures)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import secrets as random_source
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import insert, text, update  # noqa: E402

from ballots import ballot_box, box, casting, counting, issuing, lifecycle, schema, sealing, tokens  # noqa: E402
from ballots.db import make_engine, make_sessionmaker  # noqa: E402
from _databases import database, draft_round, quick_password_hashing, reachable_engines  # noqa: E402
from ballots.models import Account, IssueBatch, Result, Round, SealedBallot, Token  # noqa: E402

TARGETS = {2000: 0.2, 200000: 5.0}  # seconds from close to signed result (issue 5)
UNMARKED_SHARE = 0.02  # ballots with one row left unmarked: invalid under the default rule set
PHASES = ("close", "open", "count", "approve 1", "approve 2 + seal")
# the box's opening has its own benchmark and target (bench/open_box.py): close -> seal is timed without it
OUTSIDE_HEADLINE = ("open",)
BARE_COUNT = "SELECT count(*) FROM ballot WHERE round_id = :r"
BARE_FETCH = "SELECT marks FROM ballot WHERE round_id = :r"


# --- the database and the round ------------------------------------------------------------------------------------

def random_marks(rng: random.Random, ballots: int, candidates: int) -> list[bytes]:
    """Marks 1-3 for every row; about UNMARKED_SHARE of the ballots have one row left at 0."""
    to_level = bytes((value % 3) + 1 for value in range(256))
    joined = bytearray(rng.randbytes(ballots * candidates).translate(to_level))
    for index in rng.sample(range(ballots), round(ballots * UNMARKED_SHARE)):
        joined[index * candidates + rng.randrange(candidates)] = 0
    return [bytes(joined[i * candidates:(i + 1) * candidates]) for i in range(ballots)]


def issue_in_bulk(session, round_: Round, count: int) -> ballot_box.Made:
    """What issuing.issue_ballots writes, for a count far above its batch limit: one batch, its token rows (in
    hash order), the round's commitment, the state 'issued', the ballot box and the audit entry. The secrets are
    not kept; the box's cards are returned."""
    from ballots import audit

    hashes = sorted(tokens.hash_secret(random_source.token_bytes(tokens.SECRET_BYTES)) for _ in range(count))
    commitment = tokens.commitment(hashes)
    batch = IssueBatch(round_id=round_.id, count=count, paper="A4", commitment=commitment, issued_by="bench")
    session.add(batch)
    session.flush()
    for start in range(0, count, 20000):
        session.execute(insert(Token), [{"round_id": round_.id, "batch_id": batch.id, "secret_hash": h,
                                         "state": "issued"} for h in hashes[start:start + 20000]])
    round_.commitment = commitment
    lifecycle.advance(round_, lifecycle.RoundState.ISSUED)
    made = ballot_box.make_box(session, round_, actor="bench")
    session.flush()
    audit.record(session, actor="bench", action="ballots.issue", subject=f"round:{round_.id}",
                 details={"batch": batch.id, "count": count, "paper": "A4", "batch_commitment": commitment,
                          "round_commitment": commitment})
    return made


@dataclass
class Seeded:
    round_id: int
    board: tuple[int, int]
    cards: list[str]  # the key cards that open the round's box
    seconds: float


def set_up_round(url: str, *, ballots: int, candidates: int, domain_limit: int, seed: int) -> Seeded:
    """Migrate; a committee, conference, round and board through the domain; `ballots` issued, opened, cast."""
    started = time.perf_counter()
    engine = make_engine(url)
    schema.upgrade(engine)
    with make_sessionmaker(engine)() as session, quick_password_hashing():
        round_, board = draft_round(session, candidates=candidates, ballots=ballots, tellers=2)
        if ballots <= domain_limit:
            made = issuing.issue_ballots(session, round_, count=min(issuing.MAX_BATCH, ballots), actor="bench").box
            issued = min(issuing.MAX_BATCH, ballots)
            while issued < ballots:
                count = min(issuing.MAX_BATCH, ballots - issued)
                issuing.issue_ballots(session, round_, count=count, actor="bench")
                issued += count
        else:
            made = issue_in_bulk(session, round_, ballots)
        casting.open_voting(session, round_, actor="bench")
        # every sheet cast on a tablet: the tokens spent, one sealed ballot each (casting.cast_ballot's rows)
        session.execute(update(Token).where(Token.round_id == round_.id).values(state="cast")
                        .execution_options(synchronize_session=False))
        marks = random_marks(random.Random(seed), ballots, candidates)
        for start in range(0, ballots, 20000):
            session.execute(insert(SealedBallot), [
                {"id": random_source.token_bytes(16), "round_id": round_.id,
                 "sealed": box.seal(made.public_key, round_.id, m)} for m in marks[start:start + 20000]])
        session.commit()
        round_id = round_.id
        cards = [c.card.payload for c in made.cards[:made.cards_needed]]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")  # as autovacuum would have, long before the vote ends
    engine.dispose()
    return Seeded(round_id, (board[0], board[1]), cards, time.perf_counter() - started)


# --- the timed run -------------------------------------------------------------------------------------------------

@dataclass
class Run:
    phases: dict[str, float] = field(default_factory=dict)
    bare_count: float = 0.0
    bare_fetch: float = 0.0
    collected: int = 0
    invalid: int = 0

    @property
    def total(self) -> float:
        """Close to signed result, the box's opening aside (bench/open_box.py times it against its own target)."""
        return sum(seconds for name, seconds in self.phases.items() if name not in OUTSIDE_HEADLINE)


def close_to_seal(url: str, seeded: Seeded, key: Ed25519PrivateKey, profiler: cProfile.Profile | None) -> Run:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with engine.connect() as connection:  # open the pool's connection before the clock starts
        connection.exec_driver_sql("SELECT 1")
    run = Run()

    def step(name: str, action: Callable) -> None:
        """One request's work: a fresh session loads the round, acts, commits."""
        if profiler:
            profiler.enable()
        began = time.perf_counter()
        with sessions() as session:
            round_ = session.get(Round, seeded.round_id)
            action(session, round_)
            session.commit()
        run.phases[name] = time.perf_counter() - began
        if profiler:
            profiler.disable()

    first, second = seeded.board
    step("close", lambda s, r: casting.close_voting(s, r, actor="bench"))
    step("open", lambda s, r: ballot_box.open_box(s, r, account=s.get(Account, first), cards=seeded.cards))
    step("count", lambda s, r: counting.count_round(s, r, account=s.get(Account, first)))
    step("approve 1", lambda s, r: sealing.approve(s, r, account=s.get(Account, first), key=key))
    step("approve 2 + seal", lambda s, r: sealing.approve(s, r, account=s.get(Account, second), key=key))
    with sessions() as session:
        numbers = json.loads(session.get(Result, seeded.round_id).document)["numbers"]
        run.collected, run.invalid = numbers["collected"], numbers["invalid"]
    with engine.connect() as connection:
        count_times, fetch_times = [], []
        for _ in range(3):
            began = time.perf_counter()
            counted = connection.execute(text(BARE_COUNT), {"r": seeded.round_id}).scalar_one()
            count_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            fetched = connection.execute(text(BARE_FETCH), {"r": seeded.round_id}).all()
            fetch_times.append(time.perf_counter() - began)
        assert counted == len(fetched) == run.collected, (counted, len(fetched), run.collected)
        run.bare_count, run.bare_fetch = statistics.median(count_times), statistics.median(fetch_times)
    engine.dispose()
    return run


@dataclass
class SizeResult:
    engine: str
    ballots: int
    runs: list[Run]
    seed_seconds: list[float]
    profile: str = ""

    def median(self, value: Callable[[Run], float]) -> float:
        return statistics.median(value(run) for run in self.runs)


def run_size(engine_name: str, ballots: int, args) -> SizeResult:
    repeat = args.repeat if ballots <= args.repeat_limit else 1
    key = Ed25519PrivateKey.generate()
    runs, seeds, profile = [], [], ""
    for number in range(repeat):
        profiler = cProfile.Profile() if args.profile and number == repeat - 1 else None
        with tempfile.TemporaryDirectory(prefix="trustvote-bench-") as tmp, \
                database(engine_name, Path(tmp), f"{ballots}_{number}") as url:
            seeded = set_up_round(url, ballots=ballots, candidates=args.candidates, domain_limit=args.domain_limit,
                                  seed=number)
            run = close_to_seal(url, seeded, key, profiler)
        runs.append(run)
        seeds.append(seeded.seconds)
        print(f"  {engine_name} {ballots} run {number + 1}: set up {seeded.seconds:.1f} s; close to seal "
              f"{run.total * 1000:.0f} ms ({', '.join(f'{k} {v * 1000:.0f}' for k, v in run.phases.items())}); "
              f"bare count {run.bare_count * 1000:.1f} ms, bare fetch {run.bare_fetch * 1000:.1f} ms",
              file=sys.stderr)
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile_lines)
            profile = out.getvalue()
    return SizeResult(engine_name, ballots, runs, seeds, profile)


# --- the report ----------------------------------------------------------------------------------------------------

def report(results: list[SizeResult], args) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f" (load average {os.getloadavg()[0]:.1f} at the end)" if hasattr(os, "getloadavg") else ""
    print(f"count: close to signed result, {args.candidates} candidates, board of 2, a commit after each step; "
          f"median of {args.repeat} runs up to {args.repeat_limit} ballots, 1 run above; {cores} cores{load}")
    print("  headline ratio: close-to-seal time / bare `SELECT count(*)` of the round's ballots; also against a bare "
          "fetch of every ballot's marks")
    print(f"  {'engine':<11} {'ballots':>8} {'runs':>4} {'close→seal':>11} {'bare count':>11} {'ratio':>7} "
          f"{'bare fetch':>11} {'ratio':>6}   " + "  ".join(f"{p:>8}" for p in ("close", "open", "count", "approve1",
                                                                           "seal")))
    for result in results:
        total, bare_count, bare_fetch = (result.median(v) for v in (
            lambda r: r.total, lambda r: r.bare_count, lambda r: r.bare_fetch))
        phases = [result.median(lambda r, p=p: r.phases[p]) for p in PHASES]
        print(f"  {result.engine:<11} {result.ballots:>8,} {len(result.runs):>4} {total * 1000:>8.0f} ms "
              f"{bare_count * 1000:>8.1f} ms {total / bare_count:>7.0f} {bare_fetch * 1000:>8.1f} ms "
              f"{total / bare_fetch:>6.1f}   " + "  ".join(f"{p * 1000:>5.0f} ms" for p in phases))
    print("  (each row's figures are medians over its runs, phase by phase; collected/invalid checked against the "
          "sealed document)")
    print("Target: under " + ", ".join(f"{t:g} s for {n:,}" for n, t in TARGETS.items()))
    for result in results:
        total = result.median(lambda r: r.total)
        target = TARGETS.get(result.ballots)
        verdict = ("met" if total < target else "MISSED") if target else "no target"
        run = result.runs[0]
        print(f"  {result.engine:<11} {result.ballots:>8,}: {total:.3f} s: {verdict}   "
              f"({run.collected:,} collected, {run.invalid:,} invalid)")
    for result in results:
        if result.profile:
            print(f"\ncProfile of the last run, {result.engine}, {result.ballots:,} ballots "
                  f"(sorted by cumulative time):")
            print(result.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", default="2000,200000", help="ballots in a round, comma-separated")
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each size; the median is reported")
    parser.add_argument("--repeat-limit", type=int, default=20000,
                        help="above this many ballots, one run only (set-up takes long)")
    parser.add_argument("--domain-limit", type=int, default=20000,
                        help="up to this many ballots, issue through issuing.issue_ballots; above, bulk inserts")
    parser.add_argument("--profile", action="store_true", help="cProfile one close-to-seal run of each size")
    parser.add_argument("--profile-lines", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    results = []
    for engine_name in reachable_engines(args.db):
        for ballots in sizes:
            results.append(run_size(engine_name, ballots, args))
    report(results, args)


if __name__ == "__main__":
    main()

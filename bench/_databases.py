"""What every benchmark needs before it measures: a database of the run's own, cheap throw-away passwords, and a
commune's round in draft with its candidates and board, made through the domain.

Imported by the bench/*.py scripts (run as files, so this folder is on their path); `make bench` skips it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from ballots import accounts
from ballots.db import make_engine

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
POSTS = ["Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Chấp hành"]
POSTGRES_URL = os.environ.get("TRUSTVOTE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def database(engine_name: str, workdir: Path, name: str = "trustvote") -> Iterator[str]:
    """The URL of an empty database of this run's own: a SQLite file in `workdir`, or a PostgreSQL database
    created beside TRUSTVOTE_TEST_POSTGRES's and dropped at the end."""
    if engine_name == "sqlite":
        yield f"sqlite:///{workdir / f'{name}.db'}"
        return
    base = make_url(make_engine(POSTGRES_URL).url)
    own = f"{base.database}_trustvote_bench_{os.getpid()}_{name}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{own}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{own}"')
    try:
        yield base.set(database=own).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')
        admin.dispose()


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be reached, in one line, or None."""
    try:
        engine = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 (any failure to connect means "not reachable")
        return f"{exc.__class__.__name__}: {exc}".splitlines()[0]


@contextmanager
def quick_password_hashing():
    """A benchmark's accounts are throw-away: hash their passwords cheaply, as the tests do (set-up is not timed)."""
    from argon2 import PasswordHasher

    saved = accounts._hasher, accounts._DUMMY_HASH
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts._hasher, accounts._DUMMY_HASH = quick, quick.hash("not a password")
    try:
        yield
    finally:
        accounts._hasher, accounts._DUMMY_HASH = saved


def reachable_engines(choice: str) -> list[str]:
    """The engines a run asked for ("sqlite", "postgresql" or "both"), less PostgreSQL when it cannot be reached:
    then it is skipped with a note when both were asked for, and the run stops when it alone was."""
    engines = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in engines and (problem := postgres_problem()):
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}"
        if choice == "postgresql":
            raise SystemExit(message)
        print(f"  skipping postgresql: {message}", file=sys.stderr)
        engines.remove("postgresql")
    return engines


def candidate(i: int) -> tuple[str, str]:
    """The name and post of the i-th (from 0) candidate of a benchmark's ballot: long Vietnamese names."""
    return f"{FAMILY[i % 8]} Thị Phương Thảo {i + 1}", POSTS[i % 4]


def draft_round(session, *, candidates: int, ballots: int, tellers: int = 1):
    """A commune committee of `candidates` members and `tellers` tellers, its conference, and a round in draft
    for `ballots` delegates (all present) whose board is those tellers. Returns the round and the board's ids."""
    import datetime as dt
    import secrets as random_source

    from ballots import committees, rounds

    committee = committees.create_committee(session, name="Đảng ủy xã Tân Hòa", level="Đảng ủy xã", parent=None,
                                            actor="bench")
    for i in range(candidates):
        name, post = candidate(i)
        person = committees.create_person(session, full_name=name)
        committees.add_member(session, committee=committee, person=person, post=post, actor="bench")
    board = []
    for number in range(1, tellers + 1):
        teller = accounts.create_account(session, username=f"kiemphieu{number}", display_name=f"Kiểm phiếu {number}",
                                         password=random_source.token_urlsafe(24), actor="bench")
        accounts.grant_role(session, account=teller, committee=committee, role="teller", actor="bench")
        board.append(teller.id)
    conference = rounds.create_conference(session, committee=committee, name="Hội nghị sơ kết giữa nhiệm kỳ",
                                          held_on=dt.date(2026, 12, 5), place="Hội trường xã", term="2020-2025",
                                          actor="bench")
    round_ = rounds.create_round(session, conference=conference, title="Lấy phiếu tín nhiệm BCH",
                                 convened=ballots, present=ballots, actor="bench")
    assert len(round_.candidates) == candidates
    rounds.set_board(session, round_, board, actor="bench")
    return round_, board


def load_arguments(parser, *, db: str = "both", ballots: int, candidates: int, clients_help: str,
                   workers_help: str) -> None:
    """The options every load benchmark shares: engines, ballots a run, candidates, clients, workers, repeats."""
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default=db)
    parser.add_argument("--ballots", type=int, default=ballots, help="ballots cast in each timed run")
    parser.add_argument("--candidates", type=int, default=candidates)
    parser.add_argument("--clients", type=int, default=64, help=clients_help)
    parser.add_argument("--workers", type=int, default=None, help=workers_help)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; the median is reported")

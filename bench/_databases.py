"""What every benchmark needs before it measures: a database of the run's own and cheap throw-away passwords.

Imported by the bench/*.py scripts (run as files, so this folder is on their path); `make bench` skips it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from ballots import accounts
from ballots.db import make_engine

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

"""Fixtures shared by every test: a database on each engine (SQLite file, PostgreSQL), the app, clients.

Every database test runs twice, on SQLite and on PostgreSQL (TRUSTVOTE_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/test). Without a reachable PostgreSQL those runs are skipped locally and
fail in CI (CI=true), where a missing PostgreSQL is an error, never a silent skip.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from ballots import schema
from ballots.db import make_engine, make_sessionmaker
from ballots.models import Base

POSTGRES_URL = os.environ.get("TRUSTVOTE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(problem: str) -> NoReturn:
    """Something a test needs (PostgreSQL, Chromium, a poppler tool) is missing: the test is skipped on a
    developer's machine and fails in CI, where nothing is skipped silently."""
    if IN_CI:
        pytest.fail(problem + " (CI requires it)")
    pytest.skip(problem)


def poppler(name: str) -> str:
    """The path of a poppler tool (pdftotext, pdftoppm, pdfinfo, pdffonts)."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found: install poppler-utils")
    return path


def _postgres_problem() -> str | None:
    try:
        engine = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not reachable"
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}: {exc}"


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Hash test passwords cheaply: the suite creates hundreds of accounts. The production parameters are
    checked on their own in tests/ballots/test_accounts.py."""
    from argon2 import PasswordHasher

    from ballots import accounts

    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", quick)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", quick.hash("not a password"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once; each test gets a copy (a file, not :memory:, whose locking differs)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file we copy
    return path


@pytest.fixture(scope="session")
def postgres_ready():
    """A database of this test run's own on the server at TRUSTVOTE_TEST_POSTGRES, migrated once.

    Its own, so that two test runs on one machine (a developer's and a helper's) never reset each other's
    tables; it is dropped at the end. Where the role may not create databases, the named one is used."""
    problem = _postgres_problem()
    if problem:
        unavailable(problem)
    base = make_url(make_engine(POSTGRES_URL).url)
    own = f"{base.database}_trustvote_{os.getpid()}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            _drop_abandoned(connection, f"{base.database}_trustvote_")
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{own}"')
            connection.exec_driver_sql(f'CREATE DATABASE "{own}"')
        url = base.set(database=own).render_as_string(hide_password=False)
    except Exception:
        own, url = None, POSTGRES_URL
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    yield url
    if own:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')
    admin.dispose()


def _drop_abandoned(connection, prefix: str) -> None:
    """Drop the databases of earlier test runs on this machine that were killed before they could clean up."""
    names = connection.exec_driver_sql("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                       (prefix.replace("_", r"\_") + "%",)).scalars()
    for name in names:
        pid = name[len(prefix):]
        if pid.isdigit() and not _running(int(pid)):
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        # replica mode skips user triggers, including the audit log's refusal of TRUNCATE: tests only
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """The URL of an empty, migrated database, once per engine."""
    if request.param == "sqlite":
        path = tmp_path / "trustvote.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_ready")
    _reset_postgres(url)
    return url


@pytest.fixture
def engine(db_url):
    # The tests' own session reads between the app's requests in the same thread; a deferred BEGIN keeps it
    # from holding SQLite's write lock while the app (another connection) writes.
    engine = make_engine(db_url).execution_options(sqlite_begin="DEFERRED")
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine, instance):
    """A session whose audit entries are authenticated with the instance's audit key, as the app's are."""
    from app.settings import AUDIT_KEY_FILE, load_audit_key

    from ballots.machine_entry import SCANS_FOLDER, ScanVault

    key, _since = load_audit_key(instance / AUDIT_KEY_FILE)
    with make_sessionmaker(engine, audit_key=key, scan_vault=ScanVault(instance / SCANS_FOLDER))() as session:
        yield session


def fresh(session):
    """The session with its transaction ended and every object expired: it next reads what others committed (the
    app, between requests)."""
    session.rollback()
    session.expire_all()
    return session


def count_rows(session, model, *conditions) -> int:
    """How many rows of `model` meet `conditions`, as committed (see fresh)."""
    return fresh(session).scalar(select(func.count()).select_from(model).where(*conditions))


@pytest.fixture
def instance(tmp_path) -> Path:
    from app.settings import init_instance

    path = tmp_path / "instance"
    init_instance(path)
    return path


@pytest.fixture
def settings(db_url, instance):
    from app.settings import Settings

    return Settings.from_env({"TRUSTVOTE_INSTANCE": str(instance), "TRUSTVOTE_DATABASE_URL": db_url})


@pytest.fixture
def app(settings):
    from app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["trustvote.engine"].dispose()


CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


class Browserish:
    """A Flask test client that, like a browser, takes the CSRF token from the page it posts from."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def submit(self, page_url: str, action_url: str | None = None, data: dict | None = None, **kwargs):
        page = self.client.get(page_url)
        assert page.status_code == 200, (page_url, page.status_code)
        payload = {"csrf_token": csrf_from(page.get_data(as_text=True)), **(data or {})}
        return self.client.post(action_url or page_url, data=payload, **kwargs)


@pytest.fixture
def client(app):
    return Browserish(app.test_client())


@pytest.fixture
def world(session):
    """A small province: province > district > commune, members, a person on two committees, accounts."""
    from tests.factories import build_world

    world = build_world(session)
    session.commit()
    return world


@pytest.fixture
def login_as(app, world):
    """A logged-in client for one of the world's accounts: login_as("organizer")."""

    def login(username: str) -> Browserish:
        client = Browserish(app.test_client())
        response = client.submit("/login", data={"username": username, "password": world.password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return login

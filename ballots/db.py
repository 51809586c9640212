"""Engines and sessions. SQLite: WAL, synchronous=FULL, foreign keys, every transaction BEGIN IMMEDIATE."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling would issue a deferred BEGIN; take it over so that every transaction
    # starts with BEGIN IMMEDIATE: a writer holds the lock from its first statement, and two transactions can
    # never both read and then fail to upgrade (the lost-update race SELECT ... FOR UPDATE cannot prevent here).
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # a deleted row's bytes are overwritten, not left in the free pages of the file (the sealed ballots once
        # the box is opened, above all): a copy of the file shows nothing of what was removed
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def reading(session: Session) -> Session:
    """Make the session's next transaction a read: on SQLite a deferred BEGIN, which takes no write lock, so
    a long read (verifying the audit chain, an export) never holds up writers. Call before the first query."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    return session


def make_sessionmaker(engine: Engine, audit_key: bytes | None = None, scan_vault=None) -> sessionmaker[Session]:
    """Sessions on the engine; with the instance's audit key, every audit entry they append is authenticated
    (ballots.audit). The app and the CLI always pass it, and the vault of scanned images
    (machine_entry.ScanVault, in the instance folder)."""
    info = {"audit_key": audit_key} if audit_key else {}
    if scan_vault is not None:
        info["scan_vault"] = scan_vault
    return sessionmaker(engine, expire_on_commit=False, info=info)

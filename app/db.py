"""The database: the engine and sessionmaker of the app, and one session per request, closed at teardown (and so
rolled back unless app.views.committed committed it)."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from ballots.db import make_engine, make_sessionmaker
from ballots.machine_entry import SCANS_FOLDER, ScanVault


def init_app(app: Flask) -> None:
    # create_engine does not connect: nothing touches the database at start-up
    settings = app.config["TRUSTVOTE"]
    engine = make_engine(settings.database_url)
    app.extensions["trustvote.engine"] = engine
    app.extensions["trustvote.sessionmaker"] = make_sessionmaker(
        engine, audit_key=settings.audit_key, scan_vault=ScanVault(settings.instance_path / SCANS_FOLDER))
    app.teardown_appcontext(_close)


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["trustvote.sessionmaker"]()
    return g.db


def own_session() -> Session:
    """A session the caller commits and closes itself: for work that outlives the request's context, such as a
    stream, or that must be kept whatever becomes of the request's transaction."""
    return current_app.extensions["trustvote.sessionmaker"]()


def _close(_exc) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()

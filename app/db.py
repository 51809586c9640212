"""One database session per request, closed (and so rolled back unless committed) at teardown; the casts' group
commit (app.group_commit), one per app beside its sessions."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from ballots.db import make_engine, make_sessionmaker

from .group_commit import GroupCommit


def init_app(app: Flask) -> None:
    # create_engine does not connect: nothing touches the database at start-up
    engine = make_engine(app.config["TRUSTVOTE"].database_url)
    app.extensions["trustvote.engine"] = engine
    app.extensions["trustvote.sessionmaker"] = make_sessionmaker(engine)
    app.extensions["trustvote.group_commit"] = GroupCommit(app.extensions["trustvote.sessionmaker"])
    app.teardown_appcontext(_close)


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["trustvote.sessionmaker"]()
    return g.db


def own_session() -> Session:
    """A session the caller closes itself: for work that outlives the request's context, such as a stream."""
    return current_app.extensions["trustvote.sessionmaker"]()


def _close(_exc) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()

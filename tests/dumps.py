"""What a database keeps, as bytes to search for secrets: a dump of every table, and on SQLite its raw files."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine


def database_dump(engine: Engine) -> list[bytes]:
    """The dump first (SQLite's iterdump, or pg_dump of the whole database), then on SQLite the bytes of the
    database file, its WAL and its shared-memory index, as they are on disk."""
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database)
        with contextlib.closing(sqlite3.connect(path)) as connection:
            dump = "\n".join(connection.iterdump()).encode()
        return [dump, *(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())]
    url = engine.url
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    if url.password:
        env["PGPASSWORD"] = url.password
    command = ["pg_dump", "--no-owner", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
               "-U", url.username or "postgres", url.database]
    done = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [done.stdout]

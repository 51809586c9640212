"""A deliberately racy cast, served by gunicorn like the app: it checks that the token is unused, then spends it
with an UPDATE that has no condition, in two transactions. test_province serves it as two instances on one
PostgreSQL to show that its harness sees one sheet accepted twice when the condition is missing (the control that
gives the real app's "exactly once" its meaning). Never part of the product."""

from __future__ import annotations

import json
import os
import time

from sqlalchemy import select, update

from ballots import tokens
from ballots.db import make_engine
from ballots.models import Token

engine = make_engine(os.environ["TRUSTVOTE_DATABASE_URL"])


def app(environ, start_response):
    if environ["PATH_INFO"] != "/api/v1/ballots" or environ["REQUEST_METHOD"] != "POST":
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b"{}"]
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    secret_hash = tokens.hash_secret(tokens.secret_of(body["code"]))
    with engine.begin() as connection:
        state = connection.scalar(select(Token.state).where(Token.secret_hash == secret_hash))
    if state != "issued":
        start_response("409 Conflict", [("Content-Type", "application/json")])
        return [b'{"error": "used"}']
    time.sleep(0.002)  # the gap between the check and the write that the real cast does not have
    with engine.begin() as connection:
        connection.execute(update(Token).where(Token.secret_hash == secret_hash).values(state="cast"))
    start_response("201 Created", [("Content-Type", "application/json")])
    return [json.dumps({"status": "recorded"}).encode()]

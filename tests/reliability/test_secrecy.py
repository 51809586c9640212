"""Secrecy after a whole round: 300 ballots cast through the kiosk API of a real gunicorn, then voting closed and
the ballot box opened by the board's key card.

Then everything the server keeps is searched: a dump of the whole database (and on SQLite the raw bytes of its
files), the server's access and error log, the ballot table's columns and the audit log, and the order in which the
ballot rows are stored. No secret and no submission id is found in any form, and nothing links a ballot to its
token, its time or its place in the casting order. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import secrets as random_source
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, inspect, select, text

from ballots import ballot_box, casting, tokens
from ballots.db import make_sessionmaker
from ballots.models import AuditEntry, Ballot, Round
from tests.dumps import database_dump
from tests.factories import add_members, build_world, logged_casts, make_round

from .helpers import Gunicorn, init_instance, instance_sessions, module_database, post_json, quick_password_hashing

BALLOTS = 300
TABLETS = 4  # casting at once, each ballot opened then cast
BASE_URL = "https://bau.example.vn"
# enough candidates for every ballot to carry a pattern of marks of its own (4^6 = 4096 patterns)
EXTRA_CANDIDATES = [("Đỗ Thị Mai", "Ủy viên Ban Chấp hành"), ("Ngô Văn Bình", "Ủy viên Ban Chấp hành")]


def _written_forms(secret: bytes) -> set[bytes]:
    """Every way a secret could have been written down as text, in lower case (looked for in lower-cased text,
    so in any case): hex, the code, the grouped code (so the QR payload too), base64, base64url, base32."""
    code = tokens.code_of(secret)
    texts = [secret.hex(), code, tokens.grouped(code), base64.b64encode(secret).decode().rstrip("="),
             base64.urlsafe_b64encode(secret).decode().rstrip("="), base64.b32encode(secret).decode().rstrip("=")]
    return {form.lower().encode() for form in texts}


def _secrets_found(secrets: list[bytes], submissions: list[str], haystacks: list[bytes]) -> list[str]:
    """Which secrets (as raw bytes or written in any form) and submission ids occur in any of the haystacks."""
    lowered = [haystack.lower() for haystack in haystacks]
    found = []
    for secret in secrets:
        if any(secret in haystack for haystack in haystacks):
            found.append(f"secret {secret.hex()} as raw bytes")
        found += [f"secret {secret.hex()} as {form!r}" for form in _written_forms(secret)
                  if any(form in haystack for haystack in lowered)]
    found += [f"submission {submission}" for submission in submissions
              if any(submission.lower().encode() in haystack for haystack in lowered)]
    return found


def _as_sent(secret: bytes, number: int) -> str:
    """The code as a tablet would send it: typed plain, typed in groups, in lower case, or the whole QR."""
    code = tokens.code_of(secret)
    return (code, tokens.grouped(code), tokens.grouped(code).lower(), tokens.qr_payload(BASE_URL, secret))[number % 4]


def _spearman(xs: list[int], ys: list[int]) -> float:
    """Spearman's rank correlation of two lists of distinct values."""
    n = len(xs)
    rank_x = {value: rank for rank, value in enumerate(sorted(xs))}
    rank_y = {value: rank for rank, value in enumerate(sorted(ys))}
    squares = sum((rank_x[x] - rank_y[y]) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1 - 6 * squares / (n * (n * n - 1))


def _storage_order(session, table: str, columns: str) -> list:
    """Rows in the order the database keeps them: PostgreSQL by ctid, SQLite by a plain scan of the table."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(text(f"SELECT {columns} FROM {table} ORDER BY ctid")).all()
    return session.execute(text(f"SELECT {columns} FROM {table} NOT INDEXED")).all()


@dataclass
class Voted:
    """A closed round whose ballots were all cast through gunicorn, and what the tests look for."""

    engine: Engine
    round_id: int
    secrets: list[bytes]
    submissions: list[str]
    log: bytes
    cast_order: dict[bytes, int]  # a ballot's marks -> its place in the casting order


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def voted(request, tmp_path_factory):
    """A round of 300 ballots, every one cast through the kiosk API of gunicorn with a marks pattern of its own
    (the code sent in each of the forms a tablet may send it), then closed with the domain's close_voting and the
    box opened with the board's card."""
    db_url, engine = module_database(request, tmp_path_factory)
    try:
        yield _cast_and_close(engine, db_url, tmp_path_factory)
    finally:
        engine.dispose()


def _cast_and_close(engine, db_url: str, tmp_path_factory) -> Voted:
    """Set the round up through the domain, cast every ballot through gunicorn (four tablets at once), close, open
    the box."""
    folder = tmp_path_factory.mktemp("secrecy-server")
    env = init_instance(db_url, folder / "instance")
    with quick_password_hashing(), instance_sessions(engine, folder / "instance")() as session:
        world = build_world(session)
        add_members(session, world.commune, EXTRA_CANDIDATES)
        voting = make_round(session, world, until="open", convened=BALLOTS, present=BALLOTS)
    round_, secrets = voting.round, voting.secrets
    candidates = len(round_.candidates)
    assert 4 ** candidates > BALLOTS
    patterns = random.Random(7).sample(list(itertools.product(range(4), repeat=candidates)), BALLOTS)
    submissions = [random_source.token_urlsafe(random.choice((12, 18, 30))) for _ in range(BALLOTS)]

    log = folder / "gunicorn.log"
    cast_order: list[bytes] = []  # the marks of each ballot, in the order its cast was acknowledged
    lock = threading.Lock()

    def tablet(numbers) -> None:
        for number in numbers:
            code, marks = _as_sent(secrets[number], number), patterns[number]
            status, body = post_json(f"{server.base}/api/v1/ballots/open", {"code": code})
            assert status == 200, body
            sent = {"code": code, "marks": "".join(map(str, marks)) if number % 2 else list(marks),
                    "submission": submissions[number]}
            if number % 3 == 0:
                sent["round"] = round_.id
            status, body = post_json(f"{server.base}/api/v1/ballots", sent)
            assert (status, body.get("status")) == (201, casting.RECORDED), body
            with lock:
                cast_order.append(bytes(marks))

    with Gunicorn(env, log) as server:
        with ThreadPoolExecutor(TABLETS) as pool:
            for done in [pool.submit(tablet, range(n, BALLOTS, TABLETS)) for n in range(TABLETS)]:
                done.result()
        server.stop()  # gracefully, so that its log is complete
    assert server.process.returncode == 0, log.read_text()
    assert len(cast_order) == BALLOTS

    with instance_sessions(engine, folder / "instance")() as session:
        closing = session.get(Round, round_.id)
        casting.close_voting(session, closing, actor="teller")
        ballot_box.open_box(session, closing, account=session.merge(voting.board[0]), cards=voting.cards())
        session.commit()
    return Voted(engine=engine, round_id=round_.id, secrets=secrets, submissions=submissions,
                 log=log.read_bytes(), cast_order={marks: n for n, marks in enumerate(cast_order)})


@pytest.mark.parametrize("written", [
    lambda secret: secret,
    lambda secret: secret.hex().upper().encode(),
    lambda secret: tokens.grouped(tokens.code_of(secret)).lower().encode(),
    lambda secret: tokens.qr_payload(BASE_URL, secret).encode(),
    lambda secret: base64.urlsafe_b64encode(secret),
    lambda secret: base64.b32encode(secret).lower(),
], ids=["raw", "hex", "grouped-lower", "qr", "base64url", "base32"])
def test_the_search_finds_a_secret_written_in_any_form(written):
    secret, submission = tokens.new_secret(), random_source.token_urlsafe(18)
    haystack = b"INSERT INTO x VALUES ('" + written(secret) + b"');"
    assert _secrets_found([secret], [submission], [haystack])
    assert _secrets_found([tokens.new_secret()], [submission], [haystack + submission.upper().encode()])
    assert not _secrets_found([tokens.new_secret()], [submission], [haystack])


@pytest.fixture
def reader(voted):
    with make_sessionmaker(voted.engine)() as session:
        yield session


def test_no_secret_or_submission_id_is_in_the_database_dump(voted):
    engine = voted.engine
    dumps = database_dump(engine)
    assert dumps and all(dumps[:2])  # the dump, and SQLite's file (its WAL is empty: truncated at the opening)
    assert _secrets_found(voted.secrets, voted.submissions, dumps) == []
    # the search finds what is there: a token's hash and a submission's hash, as hex in the dump
    assert tokens.hash_secret(voted.secrets[0]).hex().encode() in dumps[0].lower()
    assert casting.submission_hash(voted.submissions[0]).hex().encode() in dumps[0].lower()


def test_no_secret_or_submission_id_is_in_the_server_log(voted):
    log = voted.log
    # the log is real: one line for every request, with its path
    assert log.count(b'"POST /api/v1/ballots/open" 200') == BALLOTS, log.decode(errors="replace")
    assert log.count(b'"POST /api/v1/ballots" 201') == BALLOTS
    assert _secrets_found(voted.secrets, voted.submissions, [log]) == []


def test_the_ballot_table_holds_only_an_id_a_round_and_marks(voted, reader):
    schema = inspect(voted.engine)
    assert {column["name"] for column in schema.get_columns("ballot")} == {"id", "round_id", "marks"}
    assert [(key["constrained_columns"], key["referred_table"]) for key in schema.get_foreign_keys("ballot")] == [
        (["round_id"], "round")]
    ids = reader.scalars(select(Ballot.id)).all()
    assert len(ids) == len(set(ids)) == BALLOTS and {len(i) for i in ids} == {16}


def test_the_audit_log_says_a_ballot_was_cast_and_nothing_more(voted, reader):
    entries = reader.scalars(select(AuditEntry).where(AuditEntry.action == "ballot.cast")).all()
    assert logged_casts(reader) == BALLOTS
    assert {(e.at, e.actor, e.subject, tuple(json.loads(e.details))) for e in entries} == {
        (None, "kiosk", f"round:{voted.round_id}", ("ballots",))}


def test_the_opened_ballots_are_stored_in_no_relation_to_their_casting(voted, reader):
    # written at the opening in one transaction, in random order, with fresh random ids: PostgreSQL keeps them in
    # that random order, SQLite (no rowid) in the order of their ids
    rows = _storage_order(reader, "ballot", "id, marks")
    if voted.engine.dialect.name == "sqlite":
        assert [bytes(row.id) for row in rows] == sorted(bytes(row.id) for row in rows)
    positions = [voted.cast_order[bytes(row.marks)] for row in rows]
    assert sorted(positions) == list(range(BALLOTS))
    assert positions != list(range(BALLOTS))
    # random orders give |rho| of about 1/sqrt(299) = 0.058; 0.25 is 4.3 of those (a false alarm once in ~60,000 runs)
    rho = _spearman(positions, list(range(BALLOTS)))
    assert abs(rho) < 0.25, rho


def test_the_order_check_sees_a_table_kept_in_casting_order(voted, reader):
    """The check above can fail: rows inserted one by one in the casting order (as a PostgreSQL heap keeps them, and
    a SQLite table with a rowid) are seen in that order by the same measurement."""
    in_cast_order = sorted(voted.cast_order, key=voted.cast_order.get)
    blob = "bytea" if voted.engine.dialect.name == "postgresql" else "blob"
    reader.execute(text(f"CREATE TEMPORARY TABLE cast_copy (marks {blob})"))
    for marks in in_cast_order:
        reader.execute(text("INSERT INTO cast_copy (marks) VALUES (:marks)"), {"marks": marks})
    positions = [voted.cast_order[bytes(row.marks)] for row in _storage_order(reader, "cast_copy", "marks")]
    assert _spearman(positions, list(range(BALLOTS))) > 0.99
    reader.rollback()

"""Secrecy against whoever holds the database: 50 tablet ballots of 40 candidates, each with marks of its own,
cast one transaction each in a known order (through the domain's `casting.cast_ballot`), watched by a read-only
connection that polls every table between two casts; then voting closed and the box opened by the board's card.
Then every channel DESIGN.md names is read as an insider reads it, on SQLite and on PostgreSQL:

(a) the live poller, between casts: every row of every table (and on SQLite the bytes of the files);
(b) after opening, the rows and what joins them: PostgreSQL's `xmin` and `ctid`; SQLite's rowid (none) and where
    the cells of the ballot table and of its index lie inside their pages (the b-tree pages parsed from the file);
(c) the write-ahead log: SQLite's `-wal` replayed frame by frame (copied right after the opening's commit, before
    the checkpoint that truncates it); PostgreSQL's WAL segments of the whole vote, read through
    pg_read_binary_file, searched for the opened ballots' marks and ids;
(d) a copy taken after opening: SQLite's backup API (`.backup`) and `pg_dump`.

The statistic: Kendall's tau between the casting order and the order a channel shows the ballots in. Under
independence tau has mean 0 and sd sqrt(2(2n+5)/(9n(n-1))), 0.0976 for n = 50; a channel passes if |tau| is under
the two-sided 99.99 % bound 3.89 sd = 0.38 (a false alarm once in 10,000 runs for each order looked at). The
insider's own knowledge of the casting order (who walked to the tablet when) is what turns any order that passes
this bound into who voted what.

Every check runs twice: on the sealed box (it must pass), and as a CONTROL on the old behaviour, the same casts with
`ballot_box.seal_casts` replaced by a plain insert of the marks into `ballot` in the cast's transaction (which is
what the issue found: 30 of 30 pinned through each channel): the same assertion must fail there, with tau near 1.
"""

from __future__ import annotations

import contextlib
import random
import secrets as random_source
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url

from ballots import ballot_box, casting, tokens
from ballots.db import make_engine, make_sessionmaker
from ballots.models import Ballot, Round
from tests.conftest import unavailable
from tests.dumps import database_dump
from tests.factories import add_members, build_world, make_round

from .helpers import module_database, quick_password_hashing
from .insider import (
    allocation_order,
    assert_no_better_than_chance,
    btree_cells,
    current_lsn,
    first_in_frames,
    kendall_tau,
    pointer_order,
    tau_bound,
    tau_sd,
    wal_frames,
    wal_stream,
)

N = 50
CANDIDATES = 40
BOUND = tau_bound(N)
SEALED, PLAIN = "sealed", "plain"
# what a cast may change, seen from a poller: its token spent, one sealed ballot, one untimed audit entry, the head
A_CAST_CHANGES = {"token", "sealed_ballot", "audit_entry", "audit_head"}


def test_the_bound_is_the_one_stated():
    assert round(tau_sd(N), 4) == 0.0976 and round(BOUND, 2) == 0.38


def test_kendall_tau_measures_an_order():
    assert kendall_tau(list(range(N))) == 1.0
    assert kendall_tau(list(range(N))[::-1]) == -1.0
    assert kendall_tau([1, 0, 2, 3]) == pytest.approx(4 / 6)  # one discordant pair of six
    shuffled = list(range(N))
    random.Random(1).shuffle(shuffled)
    assert abs(kendall_tau(shuffled)) < BOUND
    with pytest.raises(AssertionError):
        assert_no_better_than_chance({"the casting order itself": list(range(N))}, N)


# --- the scenario ---------------------------------------------------------------------------------------------


@dataclass
class Poll:
    """What the poller learned from one cast: the tables whose rows changed, the new sealed ballots, whether the
    cast's marks could be read in what changed (the rows; on SQLite the files' bytes too), the ballot table's size."""

    changed: set[str]
    new_sealed: list[bytes]
    pinned: bool
    pinned_in_files: bool
    ballot_rows: int


@dataclass
class Observed:
    """One vote as the insider saw it (`variant`: SEALED, the box as built; PLAIN, the control)."""

    dialect: str
    variant: str
    marks: list[bytes]  # in casting order
    polls: list[Poll] = field(default_factory=list)
    readable_before_close: list[int] = field(default_factory=list)  # casting positions readable at the last poll
    seen_during_voting: set[bytes] = field(default_factory=set)  # every 16-byte value of every table, while voting
    files_before_close: bytes = b""  # SQLite: the file and its WAL at the last poll
    ballots: list[tuple[bytes, bytes]] = field(default_factory=list)  # the round's (id, marks) after opening
    # PostgreSQL
    ballot_xmins: list[tuple[str, bytes]] = field(default_factory=list)  # (xmin, marks) in ctid order
    token_xmins: dict[str, int] = field(default_factory=dict)  # xmin -> the casting position of the token it spent
    audit_xmins: list[tuple[str, int, str]] = field(default_factory=list)  # (xmin, seq, action)
    wal_readable: bool = True  # PostgreSQL: pg_read_binary_file needs a superuser (or pg_read_server_files)
    wal_voting: bytes = b""  # from before the first cast to the close (and its commit)
    wal_opening: bytes = b""  # from the close to after the opening and its VACUUM
    dump: bytes = b""
    # SQLite
    has_rowid: bool | None = None
    file: bytes = b""  # the database file after opening (after a checkpoint: as an insider copies it)
    roots: dict[str, int] = field(default_factory=dict)  # the ballot table's and its index's root pages
    wal_at_close: bytes = b""
    wal_at_opening: bytes = b""  # the -wal right after the opening's commit (PLAIN: after the close)
    wal_after: int | None = None  # the -wal's size once the opening is done (None: no such file)
    backup: bytes = b""

    @property
    def position(self) -> dict[bytes, int]:
        return {marks: n for n, marks in enumerate(self.marks)}


def _forms(marks: bytes) -> list[bytes]:
    """The ways a ballot's marks could be written: raw, hex, a digit a row."""
    return [marks, marks.hex().encode(), "".join(str(m) for m in marks).encode()]


def _readable(marks: bytes, haystack: bytes) -> bool:
    return any(form in haystack for form in _forms(marks))


def _value(value):
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if value is None or isinstance(value, bytes | str | int | float | bool):
        return value
    return repr(value)  # JSON documents, times: compared and searched as text


def _text(rows: Iterable[tuple]) -> bytes:
    parts = []
    for row in rows:
        for value in row:
            parts.append(value if isinstance(value, bytes) else str(value).lower().encode())
    return b"\x1f".join(parts)


class Poller:
    """A read-only connection of the insider's, which reads every row of every table (and, on SQLite, the bytes of
    the database's files) whenever asked."""

    def __init__(self, url: str, dialect: str):
        self.dialect = dialect
        if dialect == "sqlite":
            self.path = Path(make_url(url).database)
            self.connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        else:
            self.engine = make_engine(url)
            self.connection = self.engine.connect()
            self.connection.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            self.connection.commit()

    def snapshot(self) -> dict[str, frozenset]:
        if self.dialect == "sqlite":
            cursor = self.connection.cursor()
            cursor.execute("BEGIN")
            names = [n for (n,) in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            tables = {n: frozenset(tuple(map(_value, row)) for row in cursor.execute(f'SELECT * FROM "{n}"'))
                      for n in names}
            cursor.execute("COMMIT")
            return tables
        run = self.connection.exec_driver_sql
        names = [n for (n,) in run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        tables = {n: frozenset(tuple(map(_value, row)) for row in run(f'SELECT * FROM "{n}"')) for n in names}
        self.connection.commit()
        return tables

    def files(self) -> bytes:
        """SQLite: the bytes of the database file and its WAL as they are on disk now (PostgreSQL: see the WAL
        checks)."""
        if self.dialect != "sqlite":
            return b""
        return b"".join(p.read_bytes() for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def close(self) -> None:
        self.connection.close()
        if self.dialect != "sqlite":
            self.engine.dispose()


@contextlib.contextmanager
def _plain_casts():
    """The old behaviour, for the controls: each cast writes its ballot readable into `ballot`, in its own
    transaction (a random id, the round, the marks), instead of sealed."""

    def plain(session, casts):
        session.execute(insert(Ballot.__table__), [
            {"id": random_source.token_bytes(16), "round_id": round_id, "marks": marks} for round_id, marks in casts])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ballot_box, "seal_casts", plain)
        yield


def _vote(url: str, dialect: str, variant: str, folder: Path) -> Observed:
    seed = random_source.randbits(64)  # marks of this run only: the WAL holds other runs' too
    generator = random.Random(seed)
    marks = [bytes(generator.randrange(4) for _ in range(CANDIDATES)) for _ in range(N)]
    assert len(set(marks)) == N, seed
    seen = Observed(dialect, variant, marks)
    engine = make_engine(url)  # writes as the app does (SQLite: BEGIN IMMEDIATE)
    sessions = make_sessionmaker(engine)
    poller = Poller(url, dialect)
    try:
        with quick_password_hashing(), sessions() as session:
            world = build_world(session)
            add_members(session, world.commune,
                        [(f"Ứng viên số {n:02d}", "Ủy viên Ban Chấp hành") for n in range(CANDIDATES - 4)])
            built = make_round(session, world, until="open", convened=N, present=N)
            assert len(built.round.candidates) == CANDIDATES
            round_id, board = built.id, built.board[0]
        token_of = {tokens.hash_secret(secret): n for n, secret in enumerate(built.secrets)}
        with engine.connect() as connection:
            start = current_lsn(connection) if dialect == "postgresql" else 0

        before = poller.snapshot()
        with _plain_casts() if variant == PLAIN else contextlib.nullcontext():
            for n in range(N):
                with sessions() as session:
                    outcome = casting.cast_ballot(session, code=built.codes[n], marks=marks[n],
                                                  submission=f"insider-{round_id:04d}-{n:06d}")
                    assert outcome == casting.RECORDED
                    session.commit()
                after = poller.snapshot()
                added = {name: rows - before.get(name, frozenset()) for name, rows in after.items()}
                files = poller.files()
                seen.polls.append(Poll(
                    changed={name for name in after if after[name] != before.get(name)},
                    new_sealed=[row[-1] for row in added.get("sealed_ballot", ())],
                    pinned=_readable(marks[n], _text(row for rows in added.values() for row in rows)),
                    pinned_in_files=marks[n] in files,
                    ballot_rows=len(after["ballot"])))
                seen.seen_during_voting |= {v for rows in after.values() for row in rows for v in row
                                            if isinstance(v, bytes) and len(v) == 16}
                before = after
        everything = _text(row for rows in before.values() for row in rows)
        seen.files_before_close = poller.files()
        seen.readable_before_close = [n for n, m in enumerate(marks)
                                      if _readable(m, everything) or m in seen.files_before_close]

        with sessions() as session:
            round_ = session.get(Round, round_id)
            casting.close_voting(session, round_, actor="teller")
            session.commit()
        wal_path = Path(f"{make_url(url).database}-wal") if dialect == "sqlite" else None
        if wal_path is not None:
            seen.wal_at_close = wal_path.read_bytes()
        with engine.connect() as connection:
            at_close = current_lsn(connection) if dialect == "postgresql" else 0

        copied = {}
        if variant == SEALED:
            with sessions() as session:
                if wal_path is not None:  # registered before open_box's own: runs first, before the truncation
                    @event.listens_for(session, "after_commit", once=True)
                    def copy_wal(_session):
                        copied["wal"] = wal_path.read_bytes()
                round_ = session.get(Round, round_id)
                opened = ballot_box.open_box(session, round_, account=session.merge(board), cards=built.cards())
                assert opened == N
                session.commit()
        elif wal_path is not None:
            copied["wal"] = seen.wal_at_close

        with engine.connect() as connection:
            run = connection.exec_driver_sql
            if dialect == "postgresql":
                end = current_lsn(connection)
                seen.wal_readable = run("SELECT rolsuper OR pg_has_role(current_user, 'pg_read_server_files', "
                                        "'member') FROM pg_roles WHERE rolname = current_user").scalar()
                if seen.wal_readable:
                    seen.wal_voting = wal_stream(connection, start, at_close)
                    seen.wal_opening = wal_stream(connection, at_close, end)
                seen.ballot_xmins = [(x, bytes(m)) for x, m in run(
                    "SELECT xmin::text, marks FROM ballot WHERE round_id = %s ORDER BY ctid", (round_id,))]
                seen.token_xmins = {x: token_of[bytes(h)] for x, h in run(
                    "SELECT xmin::text, secret_hash FROM token WHERE round_id = %s AND state = 'cast'", (round_id,))}
                seen.audit_xmins = list(map(tuple, run("SELECT xmin::text, seq, action FROM audit_entry")))
            seen.ballots = [(bytes(i), bytes(m)) for i, m in connection.execute(
                text("SELECT id, marks FROM ballot WHERE round_id = :round ORDER BY id"), {"round": round_id})]
            connection.commit()
        if dialect == "postgresql":
            seen.dump = database_dump(engine)[0]
        else:
            seen.wal_at_opening = copied["wal"]
            seen.wal_after = wal_path.stat().st_size if wal_path.exists() else None
            _sqlite_after_opening(engine, seen, folder)
    finally:
        poller.close()
        engine.dispose()
    return seen


def _sqlite_after_opening(engine, seen: Observed, folder: Path) -> None:
    path = Path(engine.url.database)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        try:
            connection.execute("SELECT rowid FROM ballot").fetchall()
            seen.has_rowid = True
        except sqlite3.OperationalError:
            seen.has_rowid = False
        seen.roots = dict(connection.execute("SELECT name, rootpage FROM sqlite_master WHERE tbl_name = 'ballot' "
                                             "AND rootpage > 0"))
        # the file as an insider copies it: after a checkpoint (the box's opening did one; the old code had none)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seen.file = path.read_bytes()
        copy = folder / f"backup-{seen.variant}.db"
        with contextlib.closing(sqlite3.connect(copy)) as target:
            connection.backup(target)  # what `.backup` does
        seen.backup = copy.read_bytes()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def observed(request, tmp_path_factory) -> dict[str, Observed]:
    """The same vote twice on one engine, each in an empty database: SEALED (the box) and PLAIN (the control)."""
    votes = {}
    for variant in (SEALED, PLAIN):
        url, engine = module_database(request, tmp_path_factory)
        engine.dispose()
        votes[variant] = _vote(url, request.param, variant, tmp_path_factory.mktemp(f"insider-{variant}"))
    return votes


def _report(name: str, values) -> None:
    print(f"\n{name}: {values}")


# --- (a) the live poller --------------------------------------------------------------------------------------


def assert_nothing_readable_while_voting(seen: Observed) -> None:
    """Between two casts the ballot table stays empty, no marks can be read anywhere (rows, and SQLite's files),
    and what a cast adds says only that a cast happened: its token spent, one sealed row of the same length as
    every other, one audit entry."""
    assert [p.ballot_rows for p in seen.polls] == [0] * N, "the ballot table filled while voting"
    pinned = sum(p.pinned for p in seen.polls)
    in_files = sum(p.pinned_in_files for p in seen.polls)
    assert (pinned, in_files, seen.readable_before_close) == (0, 0, []), (
        f"the poller read the marks of {pinned} casts in the rows they changed, {in_files} in the files, "
        f"{len(seen.readable_before_close)} before the close")
    assert all(p.changed == A_CAST_CHANGES for p in seen.polls), [p.changed for p in seen.polls]
    assert all(len(p.new_sealed) == 1 for p in seen.polls)
    assert len({len(p.new_sealed[0]) for p in seen.polls}) == 1, "sealed ballots of different lengths"


def test_a_live_poller_learns_no_marks(observed):
    seen = observed[SEALED]
    assert_nothing_readable_while_voting(seen)
    assert all(not any(_readable(m, p.new_sealed[0]) for m in seen.marks) for p in seen.polls)
    _report("(a) pinned in rows / in files", (0, 0))


def test_a_control_a_plain_cast_lets_the_poller_pin_every_ballot(observed):
    seen = observed[PLAIN]
    with pytest.raises(AssertionError):
        assert_nothing_readable_while_voting(seen)
    pinned = sum(p.pinned for p in seen.polls)
    in_files = sum(p.pinned_in_files for p in seen.polls)
    assert pinned == N and in_files == (N if seen.dialect == "sqlite" else 0)
    assert [p.ballot_rows for p in seen.polls] == list(range(1, N + 1))
    _report("(a) control: pinned in rows / in files", (pinned, in_files))


# --- (b) after opening: columns and system columns ------------------------------------------------------------


def _positions(seen: Observed, marks: Iterable[bytes]) -> list[int]:
    where = seen.position
    return [where[m] for m in marks]


def assert_fresh_unordered_rows(seen: Observed) -> dict[str, float]:
    """The round's N ballots hold exactly the marks cast; their ids were never seen while voting (so no id joins
    an opened ballot to a sealed row, a token or a cast); their order by id says nothing of the casting order."""
    assert sorted(m for _, m in seen.ballots) == sorted(seen.marks)
    reused = [i for i, _ in seen.ballots if i in seen.seen_during_voting]
    assert reused == [], f"{len(reused)} opened ballots carry an id the poller saw while voting"
    return assert_no_better_than_chance({"id": _positions(seen, (m for _, m in seen.ballots))}, N)


def assert_no_xmin_or_ctid_link(seen: Observed) -> dict[str, float]:
    """PostgreSQL: the opened ballots share one xmin, which no token's and no cast's audit entry has (only the
    opening's own entry), so no join on xmin reaches a cast; their ctid order relates to the casting order no
    better than chance."""
    joined = [(x, m) for x, m in seen.ballot_xmins if x in seen.token_xmins]
    pinned = sum(seen.token_xmins[x] == seen.position[m] for x, m in joined)
    assert (len(joined), pinned) == (0, 0), f"xmin joins {len(joined)} ballots to tokens, {pinned} correctly"
    xmins = {x for x, _ in seen.ballot_xmins}
    assert len(xmins) == 1, f"the opened ballots were written by {len(xmins)} transactions"
    sharing = {action for x, _, action in seen.audit_xmins if x in xmins}
    assert sharing <= {"box.open"}, sharing
    return assert_no_better_than_chance({"ctid": _positions(seen, (m for _, m in seen.ballot_xmins))}, N)


def _cells(seen: Observed, data: bytes) -> dict[str, list[int]]:
    """The orders the SQLite file shows the ballots in, inside the pages of the ballot table and of its index: the
    cells as SQLite allocated them, and as each page's cell pointer array lists them."""
    by_id = dict(seen.ballots)
    orders = {}
    for name, root in seen.roots.items():
        cells = btree_cells(data, root)
        assert len(cells) == N, f"{name}: {len(cells)} cells"

        def marks_of(cell):
            blobs = [v for v in cell.values if isinstance(v, bytes)]
            found = [b for b in blobs if b in seen.position] + [by_id[b] for b in blobs if b in by_id]
            return found[0]

        orders[f"{name} cells as allocated"] = _positions(seen, map(marks_of, allocation_order(cells)))
        orders[f"{name} cell pointer array"] = _positions(seen, map(marks_of, pointer_order(cells)))
    return orders


def assert_sqlite_pages_unordered(seen: Observed, data: bytes) -> dict[str, float]:
    """SQLite: the ballot table has no rowid, and neither the ballot table's cells nor its index's, where they lie
    in their pages or in the pages' pointer arrays, follow the casting order."""
    assert seen.has_rowid is False, "the ballot table has a rowid"
    assert set(seen.roots) == {"ballot", "ix_ballot_round_id"}, seen.roots
    return assert_no_better_than_chance(_cells(seen, data), N)


def test_b_no_column_or_system_column_links_an_opened_ballot(observed):
    seen = observed[SEALED]
    taus = assert_fresh_unordered_rows(seen)
    if seen.dialect == "postgresql":
        taus |= assert_no_xmin_or_ctid_link(seen)
    else:
        taus |= assert_sqlite_pages_unordered(seen, seen.file)
    _report("(b) tau", {k: round(v, 3) for k, v in taus.items()})


def test_b_control_plain_casts_are_linked_by_their_rows(observed):
    seen = observed[PLAIN]
    assert len([i for i, _ in seen.ballots if i in seen.seen_during_voting]) == N  # every id seen at its cast
    with pytest.raises(AssertionError):
        assert_fresh_unordered_rows(seen)
    if seen.dialect == "postgresql":
        with pytest.raises(AssertionError):
            assert_no_xmin_or_ctid_link(seen)
        joined = [(x, m) for x, m in seen.ballot_xmins if x in seen.token_xmins]
        pinned = sum(seen.token_xmins[x] == seen.position[m] for x, m in joined)
        tau = kendall_tau(_positions(seen, (m for _, m in seen.ballot_xmins)))
        assert pinned == N and tau > 0.9
        _report("(b) control: xmin pins, ctid tau", (pinned, round(tau, 3)))
    else:
        with pytest.raises(AssertionError):
            assert_sqlite_pages_unordered(seen, seen.file)
        taus = {k: kendall_tau(v) for k, v in _cells(seen, seen.file).items()}
        assert taus["ballot cells as allocated"] > 0.9 and taus["ix_ballot_round_id cells as allocated"] > 0.9
        _report("(b) control: tau", {k: round(v, 3) for k, v in taus.items()})


# --- (c) the write-ahead log ----------------------------------------------------------------------------------


def _first_orders(seen: Observed, found: dict[bytes, tuple], ids: bool = True) -> dict[str, list[int]]:
    """The casting positions in the order the marks (and the ids) of the opened ballots first occur."""
    missing = [m for m in seen.marks if m not in found]
    assert missing == [], f"{len(missing)} ballots' marks are nowhere in the log"
    orders = {"marks": _positions(seen, sorted(seen.marks, key=found.get))}
    if ids:
        by_id = dict(seen.ballots)
        orders["ids"] = _positions(seen, (by_id[i] for i in sorted(by_id, key=found.get)))
    return orders


def _wal_sqlite(seen: Observed) -> dict[str, list[int]]:
    frames = wal_frames(seen.wal_at_opening)
    return _first_orders(seen, first_in_frames(frames, seen.marks + [i for i, _ in seen.ballots]))


def _wal_postgresql(seen: Observed) -> dict[str, list[int]]:
    stream = seen.wal_voting + seen.wal_opening
    needles = seen.marks + [i for i, _ in seen.ballots]
    return _first_orders(seen, {needle: stream.find(needle) for needle in needles if needle in stream})


def assert_wal_unordered(seen: Observed) -> dict[str, float]:
    """Nothing readable is logged while voting; the opening logs the ballots (marks and ids) in an order that
    relates to the casting order no better than chance; on SQLite the -wal is truncated once the box is open."""
    if seen.dialect == "postgresql":
        during = [n for n, m in enumerate(seen.marks) if _readable(m, seen.wal_voting)]
    else:
        during = [n for n, m in enumerate(seen.marks)
                  if any(m in f.data for f in wal_frames(seen.wal_at_close))]
    assert during == [], f"the marks of {len(during)} casts are in the log written while voting"
    taus = assert_no_better_than_chance(_wal_sqlite(seen) if seen.dialect == "sqlite" else _wal_postgresql(seen), N)
    if seen.dialect == "sqlite":
        assert seen.wal_after in (None, 0), f"the -wal still holds {seen.wal_after} bytes after the opening"
    return taus


def test_c_the_wal_orders_the_opened_ballots_no_better_than_chance(observed):
    seen = observed[SEALED]
    if not seen.wal_readable:
        unavailable("reading PostgreSQL's WAL needs a superuser or pg_read_server_files")
    taus = assert_wal_unordered(seen)
    if seen.dialect == "sqlite":  # the replay saw frames before the opening's: the casts' and the close's
        assert len(wal_frames(seen.wal_at_opening)) > len(wal_frames(seen.wal_at_close)) > N
    else:
        assert len(seen.wal_voting) > N * 100 and seen.wal_opening
    _report("(c) tau", {k: round(v, 3) for k, v in taus.items()})


def test_c_control_the_wal_of_plain_casts_follows_the_casting_order(observed):
    seen = observed[PLAIN]
    if not seen.wal_readable:
        unavailable("reading PostgreSQL's WAL needs a superuser or pg_read_server_files")
    with pytest.raises(AssertionError):
        assert_wal_unordered(seen)
    orders = _wal_sqlite(seen) if seen.dialect == "sqlite" else _wal_postgresql(seen)
    taus = {k: kendall_tau(v) for k, v in orders.items()}
    assert all(tau > 0.9 for tau in taus.values()), taus
    _report("(c) control: tau", {k: round(v, 3) for k, v in taus.items()})


# --- (d) a copy taken after opening ---------------------------------------------------------------------------


def _copy_orders(seen: Observed) -> dict[str, list[int]]:
    if seen.dialect == "postgresql":  # COPY's text shows a bytea as \x and its hex
        found = {m: seen.dump.find(b"\\\\x" + m.hex().encode()) for m in seen.marks}
        return _first_orders(seen, {m: at for m, at in found.items() if at >= 0}, ids=False)
    return {"file order": _first_orders(seen, {m: seen.backup.find(m) for m in seen.marks if m in seen.backup},
                                        ids=False)["marks"],
            **_cells(seen, seen.backup)}


def assert_copy_unordered(seen: Observed) -> dict[str, float]:
    """pg_dump / a `.backup` copy lists the opened ballots in an order unrelated to the casting order (the dump in
    its rows' order, the copy in its bytes and in its pages' cells)."""
    return assert_no_better_than_chance(_copy_orders(seen), N)


def test_d_a_backup_or_dump_after_opening_shows_no_order(observed):
    seen = observed[SEALED]
    taus = assert_copy_unordered(seen)
    if seen.dialect == "sqlite":
        # and secure_delete with the truncating checkpoint leave no byte of a sealed ballot in the file, its backup
        # or its WAL (the search finds them in the files as they were before the close)
        sealed = [p.new_sealed[0] for p in seen.polls]
        assert all(s in seen.files_before_close for s in sealed)
        left = [s for s in sealed if s in seen.file or s in seen.backup]
        assert left == [] and seen.wal_after in (None, 0), f"{len(left)} sealed ballots left in the file"
    _report("(d) tau", {k: round(v, 3) for k, v in taus.items()})


def test_d_control_a_backup_or_dump_of_plain_casts_shows_the_casting_order(observed):
    seen = observed[PLAIN]
    with pytest.raises(AssertionError):
        assert_copy_unordered(seen)
    taus = {k: kendall_tau(v) for k, v in _copy_orders(seen).items()}
    assert max(abs(tau) for tau in taus.values()) > 0.9, taus
    _report("(d) control: tau", {k: round(v, 3) for k, v in taus.items()})

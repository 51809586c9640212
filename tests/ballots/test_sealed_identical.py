"""The same round, counted and sealed on SQLite and on PostgreSQL, gives byte-identical signed results (issue 5).

Both databases are built in one test from nothing, through the domain, with the same fixed clock and the same
seeded token secrets, so that everything the document covers (ids, the token commitment, the audit chain's head,
the ballots digest) must come out the same; only the anonymous ballots' random ids differ, and no document
covers them. The round has tablet ballots, paper sheets keyed by two tellers (one disagreement ruled by the
board, one crossed-out name, one with an unmarked row), a paper copy of a ballot already cast on a tablet, an
unknown code, and candidates whose names carry Vietnamese diacritics.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from types import SimpleNamespace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from ballots import audit, ballot_box, box, paper_entry, sealing, signing, tokens
from ballots.db import make_engine, make_sessionmaker
from ballots.models import Result
from tests.conftest import _reset_postgres
from tests.factories import TELLERS, Paper, add_members, build_world, make_round

START = dt.datetime(2026, 12, 5, 7, 30, tzinfo=dt.timezone.utc)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # one fixed key: equal documents, equal signatures
EXTRA_CANDIDATES = [("Huỳnh Thị Ngọc Diễm", "Ủy viên Ban Chấp hành"), ("Đoàn Quốc Việt", "Ủy viên Ban Chấp hành")]
TABLET_MARKS = ["112233", "123123", "333322", "211102"]  # the last has an unmarked row: an invalid ballot
UNKNOWN_CODE = tokens.code_of(bytes.fromhex("00112233445566778899aabbccddeeff"))


# the paper pile, in the order the tellers key it: agreed; disputed, then ruled by the board; a crossed-out name
# (invalid whatever the marks); an unmarked row (invalid under the default rule set); a paper copy of a ballot
# cast on a tablet (set aside); a code this board never issued (collected, invalid)
PAPER = [(4, "123312"), (5, Paper(("111222", "111232"), ruling="111232")), (6, Paper("", flaws=("crossed_out",))),
         (7, "120333"), (1, "123123"), (UNKNOWN_CODE, "")]


def _fixed_clock_and_secrets(monkeypatch) -> None:
    """A clock that ticks one second a call from START, and token secrets and the ballot box's randomness from a
    seeded generator: all restart for each database, which makes the same calls in the same order."""
    ticks = iter(range(10**6))
    generator = random.Random(20261205)

    def clock() -> dt.datetime:
        return START + dt.timedelta(seconds=next(ticks))

    for module in (audit, paper_entry, sealing, ballot_box):
        monkeypatch.setattr(module, "utcnow", clock)
    monkeypatch.setattr(tokens, "new_secret", lambda: generator.randbytes(tokens.SECRET_BYTES))
    # the box's keys, nonces, the opened ballots' ids and order: what goes into the audit log and so the result
    monkeypatch.setattr(box, "new_key", lambda: X25519PrivateKey.from_private_bytes(generator.randbytes(32)))
    seeded = SimpleNamespace(token_bytes=generator.randbytes, SystemRandom=lambda: generator)
    monkeypatch.setattr(box, "random_source", seeded)
    monkeypatch.setattr(ballot_box, "random_source", seeded)


def _seal_a_round(url: str, monkeypatch) -> tuple[Result, list[str], list[str]]:
    """Build the world and the round on `url`, vote, count, approve, seal; return the result, its verification
    problems on this database, and the sheets' statuses."""
    _fixed_clock_and_secrets(monkeypatch)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            world = build_world(session)
            add_members(session, world.commune, EXTRA_CANDIDATES)
            built = make_round(session, world, until="sealed", title="Lấy phiếu tín nhiệm Ban Chấp hành",
                               convened=12, present=11, board=TELLERS, issue=10, tablet=TABLET_MARKS, paper=PAPER,
                               key=KEY)
            _agreed, disputed, _crossed, _unmarked, copy, stranger = (entered[-1] for entered in built.entered)
            assert disputed.status == paper_entry.DISAGREE
            assert copy.set_aside == paper_entry.TABLET
            assert stranger.flaws == "not_issued"
            # the first approval did not seal (a board of two needs both), the second did
            assert built.round.state == "sealed" and sealing.approvers(session, built.round) == ["teller", "teller2"]
            statuses = [state.status for state in paper_entry.sheet_states(session, built.round)]
            problems = sealing.verify_sealed(session, signing.public_bytes(KEY))
            assert audit.verify(session).ok
            result = session.scalars(select(Result)).one()
        return result, problems, statuses
    finally:
        engine.dispose()


def test_the_same_round_seals_to_byte_identical_json_and_signature_on_sqlite_and_postgresql(
        sqlite_template, postgres_ready, tmp_path, monkeypatch):
    path = tmp_path / "identical.db"
    shutil.copyfile(sqlite_template, path)
    on_sqlite, sqlite_problems, sqlite_statuses = _seal_a_round(f"sqlite:///{path}", monkeypatch)
    _reset_postgres(postgres_ready)
    on_postgres, postgres_problems, postgres_statuses = _seal_a_round(postgres_ready, monkeypatch)

    assert sqlite_problems == postgres_problems == []
    assert sqlite_statuses == postgres_statuses == [paper_entry.AGREED, paper_entry.RULED, paper_entry.AGREED,
                                                    paper_entry.AGREED, paper_entry.AGREED]
    doc = json.loads(on_sqlite.document)
    # field by field first, so that a difference is named; then the bytes that were signed
    assert doc == json.loads(on_postgres.document)
    assert on_sqlite.document.encode() == on_postgres.document.encode()
    assert on_sqlite.digest == on_postgres.digest
    assert on_sqlite.signature == on_postgres.signature
    assert signing.verify(signing.public_bytes(KEY), on_postgres.document.encode(), on_sqlite.signature)

    # what the round amounts to, so that "identical" is not identical emptiness: 4 tablet ballots and 5 paper
    # sheets collected (the copy of a tablet ballot counted nowhere) of 10 issued; invalid: the tablet ballot and
    # the paper sheet with an unmarked row, the crossed-out name, the unknown code
    assert doc["numbers"] == {"convened": 12, "present": 11, "absent": 1, "issued": 10, "collected": 9,
                              "not_collected": 2, "valid": 5, "invalid": 4,
                              "invalid_reasons": {"bad_marks": 2, "crossed_out": 1, "not_issued": 1}}
    assert doc["set_aside"] == {"duplicates": 1, "used_on_tablet": 1, "other_sheet": 0}
    assert doc["rulings"]["sheets"] == 1
    # the valid ballots, row by row: tablets 112233, 123123, 333322; paper 123312 and the ruled 111232
    assert [c["high"] for c in doc["candidates"]] == [4, 2, 1, 1, 1, 0]
    assert [c["trust"] for c in doc["candidates"]] == [0, 2, 1, 2, 2, 3]
    assert [c["low"] for c in doc["candidates"]] == [1, 1, 3, 2, 2, 2]
    assert [c["name"] for c in doc["candidates"]][-2:] == ["Huỳnh Thị Ngọc Diễm", "Đoàn Quốc Việt"]
    # the diacritics are the document's own UTF-8 bytes, not \\u escapes
    assert "Huỳnh Thị Ngọc Diễm".encode() in on_postgres.document.encode()
    assert "\\u" not in on_sqlite.document
    assert doc["sealed_at"].startswith("2026-12-05T") and doc["round"]["committee"] == "Đảng ủy xã Yên Bình"

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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from ballots import audit, casting, committees, counting, issuing, models, rounds, signing, tokens
from ballots.db import make_engine, make_sessionmaker
from ballots.models import Result
from tests.conftest import _reset_postgres
from tests.factories import build_world

START = dt.datetime(2026, 12, 5, 7, 30, tzinfo=dt.timezone.utc)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # one fixed key: equal documents, equal signatures
EXTRA_CANDIDATES = [("Huỳnh Thị Ngọc Diễm", "Ủy viên Ban Chấp hành"), ("Đoàn Quốc Việt", "Ủy viên Ban Chấp hành")]
TABLET_MARKS = ["112233", "123123", "333322", "211102"]  # the last has an unmarked row: an invalid ballot
UNKNOWN_CODE = tokens.code_of(bytes.fromhex("00112233445566778899aabbccddeeff"))


def _fixed_clock_and_secrets(monkeypatch) -> None:
    """A clock that ticks one second a call from START, and token secrets from a seeded generator: both restart
    for each database, which makes the same calls in the same order."""
    ticks = iter(range(10**6))
    generator = random.Random(20261205)

    def clock() -> dt.datetime:
        return START + dt.timedelta(seconds=next(ticks))

    for module in (audit, counting, casting, models):
        monkeypatch.setattr(module, "utcnow", clock)
    monkeypatch.setattr(tokens, "new_secret", lambda: generator.randbytes(tokens.SECRET_BYTES))


def _seal_a_round(url: str, monkeypatch) -> tuple[Result, list[str], list[str]]:
    """Build the world and the round on `url`, vote, count, approve, seal; return the result, its verification
    problems on this database, and the sheets' statuses."""
    _fixed_clock_and_secrets(monkeypatch)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            world = build_world(session)
            for name, post in EXTRA_CANDIDATES:
                person = committees.create_person(session, full_name=name)
                committees.add_member(session, committee=world.commune, person=person, post=post, actor="test")
            round_ = rounds.create_round(session, conference=world.conference,
                                         title="Lấy phiếu tín nhiệm Ban Chấp hành", convened=12, present=11,
                                         actor="test")
            teller, teller2 = world.accounts["teller"], world.accounts["teller2"]
            rounds.set_board(session, round_, [teller.id, teller2.id], actor="test")
            issued = issuing.issue_ballots(session, round_, count=10, actor="teller")
            codes = [tokens.code_of(secret) for secret in issued.secrets]
            casting.open_voting(session, round_, actor="test")
            session.commit()
            for index, marks in enumerate(TABLET_MARKS):
                casting.cast_ballot(session, code=codes[index], marks=bytes(int(m) for m in marks),
                                    submission=f"tablet-submission-{index:04d}")
                session.commit()
            casting.close_voting(session, round_, actor="test")
            session.commit()

            def both(code, marks="", flaws=(), second_marks=None):
                first = counting.enter_sheet(session, round_, teller=teller, code=code, marks=marks, flaws=flaws)
                second = counting.enter_sheet(session, round_, teller=teller2, code=code, flaws=flaws,
                                              marks=marks if second_marks is None else second_marks)
                session.commit()
                return first, second

            both(codes[4], "123312")  # agreed
            _, disputed = both(codes[5], "111222", second_marks="111232")  # the tellers disagree
            assert disputed.status == counting.DISAGREE
            counting.rule_sheet(session, round_, sheet=disputed.sheet, account=teller2, marks="111232")
            both(codes[6], "", flaws=["crossed_out"])  # a printed name crossed out: invalid whatever the marks
            both(codes[7], "120333")  # an unmarked row: invalid under the default rule set
            _, copy = both(codes[1], "123123")  # a paper copy of a ballot cast on a tablet: set aside
            assert copy.set_aside == counting.TABLET
            _, stranger = both(UNKNOWN_CODE)  # not issued by this board: collected, invalid
            assert stranger.flaws == "not_issued"
            counting.count_round(session, round_, account=teller)
            session.commit()
            assert counting.approve(session, round_, account=teller, key=KEY) is False
            session.commit()
            assert counting.approve(session, round_, account=teller2, key=KEY) is True
            session.commit()
            statuses = [state.status for state in counting.sheet_states(session, round_)]
            problems = counting.verify_sealed(session, signing.public_bytes(KEY))
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
    assert sqlite_statuses == postgres_statuses == [counting.AGREED, counting.RULED, counting.AGREED,
                                                    counting.AGREED, counting.AGREED]
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
    assert doc["set_aside"] == {"duplicates": 1} and doc["rulings"]["sheets"] == 1
    # the valid ballots, row by row: tablets 112233, 123123, 333322; paper 123312 and the ruled 111232
    assert [c["high"] for c in doc["candidates"]] == [4, 2, 1, 1, 1, 0]
    assert [c["trust"] for c in doc["candidates"]] == [0, 2, 1, 2, 2, 3]
    assert [c["low"] for c in doc["candidates"]] == [1, 1, 3, 2, 2, 2]
    assert [c["name"] for c in doc["candidates"]][-2:] == ["Huỳnh Thị Ngọc Diễm", "Đoàn Quốc Việt"]
    # the diacritics are the document's own UTF-8 bytes, not \\u escapes
    assert "Huỳnh Thị Ngọc Diễm".encode() in on_postgres.document.encode()
    assert "\\u" not in on_sqlite.document
    assert doc["sealed_at"].startswith("2026-12-05T") and doc["round"]["committee"] == "Đảng ủy xã Yên Bình"

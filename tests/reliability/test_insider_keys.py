"""Secrecy against an insider who WRITES to the database while voting is open (a DBA, or whoever holds the app's own
database role): the round's box is only as good as the public key the cast reads from the `ballot_box` row.

- The key swapped: the insider puts a public key of their own in the round's box; every later cast must still be
  unreadable to them (refused, or sealed to the board's key), never sealed to their key, which would let them read
  each ballot in casting order from the sealed rows (or from the WAL, or by polling).
- The box removed: the insider deletes the round's box and its card commitments; a later cast must not fall back to
  writing its ballot readable into `ballot` in the cast's transaction (the path kept for rounds issued before the
  box existed), which is the old, linkable behaviour.
Control in each: a ballot cast before the change is sealed to the board's key, and the insider cannot read it.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import select

from ballots import box, casting
from ballots.errors import BallotError
from ballots.models import Ballot, SealedBallot
from tests.conftest import fresh
from tests.factories import make_round

from .insider import as_insider

MARKS = (b"\x01\x03\x02\x03", b"\x03\x01\x03\x02")


def _cast(session, built, number: int) -> bool:
    """Cast ballot `number` with MARKS[number]; whether it was recorded (a refusal is an answer too)."""
    try:
        casting.cast_ballot(fresh(session), code=built.codes[number], marks=MARKS[number],
                            submission=f"insider-keys-{built.id:04d}-{number:06d}")
    except BallotError:
        session.rollback()
        return False
    session.commit()
    return True


def _sealed(session, round_id: int) -> list[bytes]:
    query = select(SealedBallot.sealed).where(SealedBallot.round_id == round_id)
    return [bytes(s) for s in fresh(session).scalars(query)]


def _readable_by(key, round_id: int, sealed: list[bytes]) -> list[bytes]:
    read = []
    for item in sealed:
        try:
            read.append(box.unseal(key, round_id, item))
        except box.BoxTampered:
            pass
    return read


def test_a_public_key_swapped_while_voting_does_not_let_the_insider_read_the_next_casts(session, world):
    built = make_round(session, world, until="open", issue=3)
    assert _cast(session, built, 0)
    theirs = box.new_key()
    board = box.combine([box.parse_card(card) for card in built.cards()])
    # control: the ballot cast before the swap is the board's to open, not the insider's
    assert _readable_by(board, built.id, _sealed(session, built.id)) == [MARKS[0]]
    assert _readable_by(theirs, built.id, _sealed(session, built.id)) == []

    as_insider(session.get_bind(), "UPDATE ballot_box SET public_key = :key WHERE round_id = :round",
               key=box.public_bytes(theirs), round=built.id)
    recorded = _cast(session, built, 1)
    read = _readable_by(theirs, built.id, _sealed(session, built.id))
    assert read == [], (f"the cast after the swap was {'recorded' if recorded else 'refused'} and sealed to the "
                        f"insider's key: they read {read}")


def test_a_box_removed_while_voting_does_not_make_the_next_casts_readable(session, world):
    built = make_round(session, world, until="open", issue=3)
    assert _cast(session, built, 0)
    assert fresh(session).scalars(select(Ballot.marks).where(Ballot.round_id == built.id)).all() == []  # control

    as_insider(session.get_bind(), "DELETE FROM box_card WHERE round_id = :round",
               "DELETE FROM ballot_box WHERE round_id = :round", round=built.id)
    recorded = _cast(session, built, 1)
    readable = [bytes(m) for m in fresh(session).scalars(select(Ballot.marks).where(Ballot.round_id == built.id))]
    assert readable == [], (f"the cast after the box was removed was {'recorded' if recorded else 'refused'} and "
                            f"written readable, in its own transaction: {readable}")
